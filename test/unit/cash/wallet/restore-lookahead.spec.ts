/**
 * Restore extends the lookahead as it finds addresses used: a payment to receive index 34 that
 * comes, in the same block, before one to index 15 (only 0–19 are watched at first), and a later
 * one to index 52 (watched only once 34 is known used) are all found.
 */
import assert from 'node:assert/strict'
import { before, describe, it } from 'node:test'
import { chainParams } from '../../../../src/cash/consensus/params.ts'
import { decodeAddress, p2trScript } from '../../../../src/cash/primitives/address.ts'
import type { Transaction } from '../../../../src/cash/primitives/tx.ts'
import { LOOKAHEAD } from '../../../../src/cash/wallet/index.ts'
import type { Wallet } from '../../../../src/cash/wallet/index.ts'
import { outputOf, spendTx, testKey } from '../../../utils/cash.ts'
import { WalletScope, mine } from './wallet-helpers.ts'
import { teardown } from '../../../utils/teardown.ts'

const params = chainParams('regtest')
const funder = testKey(1)

describe('wallet: restore with a growing lookahead', () => {
  const td = teardown()
  let scope: WalletScope
  let original: Wallet
  let mnemonic: string
  const scripts: Uint8Array[] = []

  before(async () => {
    scope = await WalletScope.create(td, params)
    original = await scope.wallet()
    const created = await original.create('pw')
    mnemonic = created.mnemonic
    scripts.push(p2trScript(decodeAddress(created.address, params.bech32Hrp)))
    for (let i = 1; i <= 60; i++) scripts.push(p2trScript(decodeAddress(await original.newAddress(), params.bech32Hrp)))
  })

  it('finds payments past the initial lookahead, out of order within a block', async () => {
    assert.equal(LOOKAHEAD, 20)
    const [funding] = await mine(scope.chain, funder.script)
    await mine(scope.chain, testKey(5).script, params.coinbaseMaturity)
    const cb = outputOf((funding?.txs[0]) as Transaction, 0, 1, funder, true)
    const tx1 = spendTx([cb], [{ amount: 1_000_000n, script: scripts[34] as Uint8Array }, { amount: cb.coin.amount - 1_001_000n, script: funder.script }])
    const tx2 = spendTx([outputOf(tx1, 1, 12, funder)], [{ amount: 2_000_000n, script: scripts[15] as Uint8Array }, { amount: cb.coin.amount - 3_002_000n, script: funder.script }])
    await mine(scope.chain, testKey(5).script, 1, [tx1, tx2], 2_000n)
    await mine(scope.chain, scripts[52] as Uint8Array)
    await original.sync()
    const expected = { confirmed: 3_000_000n, unconfirmed: 0n, immature: params.initialSubsidy }
    assert.deepEqual(original.balance(), expected)

    const restored = await scope.wallet()
    await restored.restore(mnemonic, 'pw2')
    assert.deepEqual(restored.balance(), expected)
    assert.deepEqual(restored.history(), original.history())
    assert.equal(restored.history().length, 3)
    // The fresh address is past the highest used one (52).
    assert.deepEqual(restored.payoutScript(), scripts[53])
  })
})
