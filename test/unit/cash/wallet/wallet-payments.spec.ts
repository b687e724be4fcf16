/**
 * Wallets on a real regtest Chain (LevelDB, inline signature checks): mining to a wallet,
 * coinbase maturity, a payment between two wallets to the base unit, the errors of
 * createPayment, a reorganisation that undoes the payment and one that redoes it, a restore
 * that finds the same coins, and catching up with a reorganisation made while closed.
 */
import assert from 'node:assert/strict'
import { before, describe, it } from 'node:test'
import type { Chain } from '../../../../src/cash/chain/index.ts'
import { chainParams } from '../../../../src/cash/consensus/params.ts'
import { encodeAddress, decodeAddress } from '../../../../src/cash/primitives/address.ts'
import type { Block } from '../../../../src/cash/primitives/block.ts'
import { hashToHex } from '../../../../src/cash/primitives/hash.ts'
import { headerHash } from '../../../../src/cash/primitives/header.ts'
import { txid } from '../../../../src/cash/primitives/tx.ts'
import type { Payment, Wallet } from '../../../../src/cash/wallet/index.ts'
import { testKey } from '../../../utils/cash.ts'
import { WalletScope, blockOn, mine } from './wallet-helpers.ts'
import { teardown } from '../../../utils/teardown.ts'

const params = chainParams('regtest')
const SUBSIDY = params.initialSubsidy
const OTHER = testKey(5).script
const PASS = 'alice passphrase'

describe('wallet: mining, payments and reorganisations on a real chain', () => {
  const td = teardown()
  let chain: Chain
  let scope: WalletScope
  let alice: Wallet
  let bob: Wallet
  let aliceMnemonic: string
  let bobAddress: string
  let payment: Payment
  let paymentBlock: Block | undefined
  const AMOUNT = 150_000_000n
  const FEE_RATE = 2

  before(async () => {
    scope = await WalletScope.create(td, params)
    chain = scope.chain
    alice = await scope.wallet()
    bob = await scope.wallet()
    aliceMnemonic = (await alice.create(PASS)).mnemonic
    bobAddress = (await bob.create('bob passphrase')).address
  })

  it('sees a mined coinbase as immature until coinbaseMaturity, then confirmed', async () => {
    await mine(chain, alice.payoutScript())
    await alice.sync()
    assert.deepEqual(alice.balance(), { confirmed: 0n, unconfirmed: 0n, immature: SUBSIDY })
    const [cb] = alice.history()
    assert.equal(cb?.coinbase, true)
    assert.equal(cb?.amount, SUBSIDY)
    assert.equal(cb?.height, 1)
    assert.equal(cb?.confirmations, 1)

    // The coin of height 1 is spendable in a block of height ≥ 1 + 10, i.e. once the tip is 10.
    await mine(chain, OTHER, params.coinbaseMaturity - 2)
    await alice.sync()
    assert.equal(chain.tip.height, params.coinbaseMaturity - 1)
    assert.deepEqual(alice.balance(), { confirmed: 0n, unconfirmed: 0n, immature: SUBSIDY })
    await mine(chain, OTHER)
    await alice.sync()
    assert.deepEqual(alice.balance(), { confirmed: SUBSIDY, unconfirmed: 0n, immature: 0n })
    assert.equal(alice.history()[0]?.confirmations, params.coinbaseMaturity)
  })

  it('pays another wallet: after the block both balances are exact, fee included', async () => {
    payment = await alice.createPayment({ address: bobAddress, amount: AMOUNT, feeRate: FEE_RATE, passphrase: PASS })
    const vsize = 154 // one P2TR input, payee and change outputs
    assert.equal(payment.vsize, vsize)
    assert.equal(payment.fee, BigInt(FEE_RATE * vsize))
    assert.equal(payment.change, SUBSIDY - AMOUNT - payment.fee)
    assert.equal(payment.txid, hashToHex(txid(payment.tx)))
    const payee = payment.tx.outputs.find((o) => o.amount === AMOUNT)
    assert.deepEqual(payee?.script.subarray(2), decodeAddress(bobAddress, params.bech32Hrp))

    ;[paymentBlock] = await mine(chain, OTHER, 1, [payment.tx], payment.fee) // the chain's consensus accepts it
    await alice.sync()
    await bob.sync()
    assert.deepEqual(alice.balance(), { confirmed: SUBSIDY - AMOUNT - payment.fee, unconfirmed: 0n, immature: 0n })
    assert.deepEqual(bob.balance(), { confirmed: AMOUNT, unconfirmed: 0n, immature: 0n })
    const [sent] = alice.history()
    assert.deepEqual(sent, {
      txid: payment.txid, height: 11, time: paymentBlock?.header.time, amount: -(AMOUNT + payment.fee), fee: payment.fee, confirmations: 1, coinbase: false
    })
    const [received] = bob.history()
    assert.equal(received?.amount, AMOUNT)
    assert.equal(received?.fee, undefined)
    assert.equal(bob.history().length, 1)
  })

  it('refuses what it cannot pay, with the spendable amount', async () => {
    const available = SUBSIDY - AMOUNT - payment.fee
    await assert.rejects(alice.createPayment({ address: bobAddress, amount: available, passphrase: PASS }), (err: Error & { available?: bigint, needed?: bigint }) => {
      assert.equal(err.name, 'InsufficientFundsError')
      assert.equal(err.available, available)
      assert.equal(err.needed, available + 111n)
      return true
    })
    // Exactly all of it minus a one-output fee at the default rate of 1 works.
    const all = await alice.createPayment({ address: bobAddress, amount: available - 111n, passphrase: PASS })
    assert.equal(all.fee, 111n)
    assert.equal(all.change, 0n)
    assert.equal(all.tx.outputs.length, 1)
  })

  it('refuses a wrong passphrase, a non-positive amount and a bad fee rate', async () => {
    await assert.rejects(alice.createPayment({ address: bobAddress, amount: 1_000n, passphrase: 'wrong' }), { name: 'WrongPassphraseError' })
    for (const amount of [0n, -5n, 1000 as unknown as bigint]) {
      await assert.rejects(alice.createPayment({ address: bobAddress, amount, passphrase: PASS }), { name: 'InvalidArgumentError', message: /amount/ })
    }
    await assert.rejects(alice.createPayment({ address: bobAddress, amount: 1_000n, feeRate: -1, passphrase: PASS }), { name: 'InvalidArgumentError', message: /fee rate/ })
  })

  it('refuses an address of another network or with a wrong checksum, saying which', async () => {
    const mainAddress = encodeAddress('pd', decodeAddress(bobAddress, params.bech32Hrp))
    await assert.rejects(alice.createPayment({ address: mainAddress, amount: 1_000n, passphrase: PASS }),
      { name: 'InvalidArgumentError', message: /invalid regtest address.*another network/ })
    const typo = bobAddress.slice(0, -1) + (bobAddress.endsWith('q') ? 'p' : 'q')
    await assert.rejects(alice.createPayment({ address: typo, amount: 1_000n, passphrase: PASS }),
      { name: 'InvalidArgumentError', message: /checksum/ })
  })

  it('undoes the payment when a reorganisation disconnects its block, and redoes it when it comes back', async () => {
    const fork = await chain.getEntryByHeight(10)
    assert.ok(fork)
    const f11 = blockOn(chain, fork, testKey(6).script)
    assert.equal(await chain.addBlock(f11), 'side')
    const f11Entry = await chain.getEntry(headerHash(f11.header))
    assert.ok(f11Entry)
    assert.equal(await chain.addBlock(blockOn(chain, f11Entry, testKey(6).script)), 'reorganized')
    await alice.sync()
    await bob.sync()
    assert.deepEqual(alice.balance(), { confirmed: SUBSIDY, unconfirmed: 0n, immature: 0n }, 'the spent coin is back')
    assert.deepEqual(bob.balance(), { confirmed: 0n, unconfirmed: 0n, immature: 0n })
    assert.equal(alice.history().some((h) => h.txid === payment.txid), false)
    assert.deepEqual(bob.history(), [])

    // The old branch grows past the new one: the payment is confirmed again.
    let tip = await chain.getEntry(headerHash((paymentBlock as Block).header))
    assert.ok(tip)
    for (let i = 0; i < 2; i++) {
      const b = blockOn(chain, tip, OTHER)
      await chain.addBlock(b)
      tip = await chain.getEntry(headerHash(b.header))
      assert.ok(tip)
    }
    assert.equal(chain.tip.height, 13)
    await alice.sync()
    await bob.sync()
    assert.deepEqual(alice.balance(), { confirmed: SUBSIDY - AMOUNT - payment.fee, unconfirmed: 0n, immature: 0n })
    assert.deepEqual(bob.balance(), { confirmed: AMOUNT, unconfirmed: 0n, immature: 0n })
    assert.equal(alice.history()[0]?.txid, payment.txid)
    assert.equal(alice.history()[0]?.confirmations, 3)
  })

  it('restores the same coins and history from the mnemonic into a new wallet', async () => {
    const restored = await scope.wallet()
    const { address } = await restored.restore(aliceMnemonic.toUpperCase(), 'another passphrase')
    assert.ok(address.startsWith('pdrt1p'))
    assert.deepEqual(restored.balance(), alice.balance())
    assert.deepEqual(restored.history(), alice.history())
    // The restored wallet signs with the same keys.
    const again = await restored.createPayment({ address: bobAddress, amount: 1_000n, passphrase: 'another passphrase' })
    assert.equal(again.tx.inputs.length, 1)
  })

  it('catches up at open with a reorganisation made while it was closed', async () => {
    const location = (bob as unknown as { options: { location: string } }).options.location
    await scope.close(bob)
    // A fork from height 10 longer than the current chain (13): the payment's block leaves.
    let tip = await chain.getEntryByHeight(10)
    for (let i = 0; i < 4; i++) {
      assert.ok(tip)
      const b = blockOn(chain, tip, testKey(7).script, [], 0n, 1)
      await chain.addBlock(b)
      tip = await chain.getEntry(headerHash(b.header))
    }
    assert.equal(chain.tip.height, 14)
    const reopened = await scope.wallet({}, location)
    assert.equal(reopened.height, 14)
    assert.deepEqual(reopened.balance(), { confirmed: 0n, unconfirmed: 0n, immature: 0n })
    assert.deepEqual(reopened.history(), [])
    await alice.sync()
    assert.deepEqual(alice.balance(), { confirmed: SUBSIDY, unconfirmed: 0n, immature: 0n })
  })
})
