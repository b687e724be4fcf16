/**
 * Unconfirmed transactions from the mempool (a stand-in with the real one's events): incoming
 * and outgoing payments before their block, confirmation, a reorganisation that sends the
 * payment back to the mempool, and its removal.
 */
import assert from 'node:assert/strict'
import { before, describe, it } from 'node:test'
import type { Chain } from '../../../../src/cash/chain/index.ts'
import { chainParams } from '../../../../src/cash/consensus/params.ts'
import type { Block } from '../../../../src/cash/primitives/block.ts'
import { headerHash } from '../../../../src/cash/primitives/header.ts'
import type { Payment, Wallet, WalletMempool } from '../../../../src/cash/wallet/index.ts'
import { testKey } from '../../../utils/cash.ts'
import { FakeMempool, WalletScope, blockOn, mine } from './wallet-helpers.ts'
import { teardown } from '../../../utils/teardown.ts'

const params = chainParams('regtest')
const SUBSIDY = params.initialSubsidy
const OTHER = testKey(5).script
const AMOUNT = 70_000_000n

describe('wallet: unconfirmed transactions from the mempool', () => {
  const td = teardown()
  let chain: Chain
  let scope: WalletScope
  const mempool = new FakeMempool()
  let alice: Wallet
  let bob: Wallet
  let payment: Payment
  let bobMnemonic: string

  before(async () => {
    scope = await WalletScope.create(td, params)
    chain = scope.chain
    // Typed as the interface, to check the real mempool's EventEmitter shape fits it.
    const mp: WalletMempool = mempool
    alice = await scope.wallet({ mempool: mp })
    bob = await scope.wallet({ mempool: mp })
    await alice.create('a')
    bobMnemonic = (await bob.create('b')).mnemonic
    await mine(chain, alice.payoutScript())
    await mine(chain, OTHER, params.coinbaseMaturity - 1)
    await alice.sync()
    assert.equal(alice.balance().confirmed, SUBSIDY)
  })

  it('counts a mempool payment as unconfirmed on both sides', async () => {
    payment = await alice.createPayment({ address: await bob.newAddress(), amount: AMOUNT, passphrase: 'a' })
    mempool.add(payment.tx, payment.fee)
    await alice.sync()
    await bob.sync()
    assert.deepEqual(alice.balance(), { confirmed: 0n, unconfirmed: payment.change, immature: 0n }, 'the spent coin left confirmed; the change is unconfirmed')
    assert.deepEqual(bob.balance(), { confirmed: 0n, unconfirmed: AMOUNT, immature: 0n })
    assert.deepEqual(alice.history()[0], {
      txid: payment.txid, height: null, time: 1_900_000_000, amount: -(AMOUNT + payment.fee), fee: payment.fee, confirmations: 0, coinbase: false
    })
    assert.equal(bob.history()[0]?.height, null)
    await assert.rejects(alice.createPayment({ address: await bob.newAddress(), amount: 1_000n, passphrase: 'a' }),
      { name: 'InsufficientFundsError' }, 'coins spent in the mempool are not spendable again')
  })

  it('moves it to confirmed when its block arrives', async () => {
    await mine(chain, OTHER, 1, [payment.tx], payment.fee)
    mempool.remove(payment.tx, 'block')
    await alice.sync()
    await bob.sync()
    assert.deepEqual(alice.balance(), { confirmed: payment.change, unconfirmed: 0n, immature: 0n })
    assert.deepEqual(bob.balance(), { confirmed: AMOUNT, unconfirmed: 0n, immature: 0n })
    assert.equal(alice.history()[0]?.height, chain.tip.height)
  })

  it('makes it unconfirmed again when a reorganisation returns it to the mempool', async () => {
    // As the real mempool does: transactions of a disconnected block come back.
    const readd = (_entry: unknown, b: Block): void => { for (const tx of b.txs.slice(1)) mempool.add(tx) }
    chain.on('disconnect', readd)
    const fork = await chain.getEntryByHeight(chain.tip.height - 1)
    assert.ok(fork)
    const f1 = blockOn(chain, fork, OTHER, [], 0n, 7)
    assert.equal(await chain.addBlock(f1), 'side')
    const f1Entry = await chain.getEntry(headerHash(f1.header))
    assert.ok(f1Entry)
    assert.equal(await chain.addBlock(blockOn(chain, f1Entry, OTHER)), 'reorganized')
    chain.off('disconnect', readd)
    await alice.sync()
    await bob.sync()
    assert.deepEqual(alice.balance(), { confirmed: 0n, unconfirmed: payment.change, immature: 0n })
    assert.deepEqual(bob.balance(), { confirmed: 0n, unconfirmed: AMOUNT, immature: 0n })
    assert.equal(alice.history()[0]?.height, null)
    assert.equal(alice.history()[0]?.fee, payment.fee)
  })

  it('forgets it when the mempool drops it (the coin is spendable again)', async () => {
    mempool.remove(payment.tx, 'expired')
    await alice.sync()
    await bob.sync()
    assert.deepEqual(alice.balance(), { confirmed: SUBSIDY, unconfirmed: 0n, immature: 0n })
    assert.deepEqual(bob.balance(), { confirmed: 0n, unconfirmed: 0n, immature: 0n })
    assert.deepEqual(bob.history(), [])
  })

  it('reads the mempool when a wallet is restored (or opened) while it holds a payment', async () => {
    mempool.add(payment.tx, payment.fee)
    const late = await scope.wallet({ mempool })
    await late.restore(bobMnemonic, 'c')
    assert.deepEqual(late.balance(), { confirmed: 0n, unconfirmed: AMOUNT, immature: 0n })
    assert.equal(late.history()[0]?.txid, payment.txid)
  })
})
