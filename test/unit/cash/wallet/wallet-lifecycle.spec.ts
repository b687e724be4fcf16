/**
 * Creating, restoring, reopening: shapes of what create returns, a wallet is never overwritten,
 * bad mnemonics are refused, addresses advance and persist, and a wallet refuses another network.
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { before, describe, it } from 'node:test'
import { chainParams } from '../../../../src/cash/consensus/params.ts'
import { decodeAddress } from '../../../../src/cash/primitives/address.ts'
import { LOOKAHEAD, Wallet } from '../../../../src/cash/wallet/index.ts'
import { tempDir } from '../../../utils/index.ts'
import { FAST_KDF, WalletScope, mine } from './wallet-helpers.ts'
import { teardown } from '../../../utils/teardown.ts'

const params = chainParams('regtest')

describe('wallet: create, restore, reopen', () => {
  const td = teardown()
  let scope: WalletScope

  before(async () => {
    scope = await WalletScope.create(td, params)
    await mine(scope.chain, new Uint8Array([0x51, 0x20, ...new Uint8Array(32).fill(3)]), 3)
  })

  it('creates a 24-word mnemonic and a regtest P2TR address, starting at the chain tip', async () => {
    const w = await scope.wallet()
    assert.equal(w.exists, false)
    const { mnemonic, address } = await w.create('pw')
    assert.equal(mnemonic.split(' ').length, 24)
    assert.match(mnemonic, /^[a-z]+( [a-z]+){23}$/)
    assert.match(address, /^pdrt1p[02-9ac-hj-np-z]{58}$/)
    assert.equal(decodeAddress(address, params.bech32Hrp).length, 32)
    assert.equal(w.exists, true)
    assert.equal(w.height, 3)
    assert.deepEqual(w.balance(), { confirmed: 0n, unconfirmed: 0n, immature: 0n })
    assert.deepEqual(w.history(), [])
  })

  it('never overwrites a wallet: create or restore on an existing one fails', async () => {
    const w = await scope.wallet()
    const { mnemonic } = await w.create('pw')
    await assert.rejects(w.create('pw'), { name: 'WalletExistsError' })
    await assert.rejects(w.restore(mnemonic, 'pw'), { name: 'WalletExistsError' })
  })

  it('refuses a bad mnemonic and stays without a wallet', async () => {
    const w = await scope.wallet()
    await assert.rejects(w.restore('abandon abandon abandon', 'pw'), { name: 'InvalidArgumentError', message: /12 or 24 words/ })
    await assert.rejects(w.restore(`${'abandon '.repeat(11)}abandon`, 'pw'), { name: 'InvalidArgumentError', message: /checksum/ })
    await assert.rejects(w.restore(`${'abandon '.repeat(11)}bitcoins`, 'pw'), { name: 'InvalidArgumentError', message: /word 12/ })
    assert.equal(w.exists, false)
    assert.throws(() => w.balance(), { name: 'WalletNotFoundError' })
    assert.throws(() => w.payoutScript(), { name: 'WalletNotFoundError' })
    await assert.rejects(w.newAddress(), { name: 'WalletNotFoundError' })
    await assert.rejects(w.create(''), { name: 'InvalidArgumentError', message: /passphrase/ })
    assert.equal(w.exists, false)
  })

  it('hands out fresh addresses, keeps the lookahead ahead of them, and remembers across a reopen', async () => {
    const dir = await tempDir('peerd-wallet-')
    const location = join(dir.path, 'wallet')
    try {
      const w = await scope.wallet({}, location)
      const first = (await w.create('pw')).address
      const seen = new Set([first])
      for (let i = 0; i < LOOKAHEAD + 5; i++) seen.add(await w.newAddress())
      assert.equal(seen.size, LOOKAHEAD + 6, 'all distinct')
      const payout = w.payoutScript()
      assert.deepEqual(w.payoutScript(), payout, 'payoutScript does not hand out')
      await scope.close(w)
      await assert.rejects(w.newAddress(), { name: 'WalletClosedError' })

      const again = await scope.wallet({}, location)
      assert.equal(again.exists, true)
      assert.deepEqual(again.payoutScript(), payout)
      const next = await again.newAddress()
      assert.equal(seen.has(next), false)
      assert.deepEqual(decodeAddress(next, params.bech32Hrp), payout.subarray(2))
      await scope.close(again)

      // The same directory opened for another network is refused.
      const main = new Wallet({ location, params: chainParams('main'), chain: scope.chain, kdf: FAST_KDF })
      await assert.rejects(main.open(), { name: 'WalletDbError', message: /another network/ })
      await main.close()
    } finally {
      await dir.cleanup()
    }
  })
})
