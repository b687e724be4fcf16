/**
 * Payments across real regtest nodes on loopback: mine to a wallet, pay A → B → C with every
 * balance exact to the base unit (fees included), unconfirmed then confirmed; a double spend
 * sent to the two halves of a partitioned network leaves exactly one payment after healing;
 * a reorg that drops a payment's block shows it unconfirmed again, then confirmed; restoring a
 * mnemonic on a new node finds the same coins.
 */
import assert from 'node:assert/strict'
import { before, describe, it } from 'node:test'
import { COIN } from '../../src/cash/consensus/subsidy.ts'
import { hashToHex, hexToHash } from '../../src/cash/primitives/hash.ts'
import { txid } from '../../src/cash/primitives/tx.ts'
import { blocksTopic } from '../../src/cash/sync/relay.ts'
import type { PeerdNode } from '../../src/node/node.ts'
import { waitFor } from '../utils/index.ts'
import { linkOnTopic } from '../utils/gossip.ts'
import { teardown } from '../utils/teardown.ts'

const TEST = { timeout: 120_000 }
const SUBSIDY = 5n * COIN

interface Bal { confirmed: bigint, unconfirmed: bigint, immature: bigint }
const bal = (n: PeerdNode): Bal => n.cash.wallet.balance()
const total = (b: Bal): bigint => b.confirmed + b.unconfirmed + b.immature
const tip = (n: PeerdNode): string => n.cash.info().tip

/** Connects two nodes (lifting a ban either had put on the other) and waits for the gossip mesh. */
async function link (a: PeerdNode, b: PeerdNode): Promise<void> {
  a.unban(b.peerId)
  b.unban(a.peerId)
  await linkOnTopic(a, b, blocksTopic('regtest'))
}

async function cut (a: PeerdNode, b: PeerdNode): Promise<void> {
  await a.disconnect(b.peerId)
  await b.disconnect(a.peerId)
}

async function sameTip (nodes: PeerdNode[], what = 'one tip'): Promise<string> {
  return await waitFor(() => {
    const t = tip(nodes[0] as PeerdNode)
    return nodes.every((n) => tip(n) === t) ? t : undefined
  }, { timeoutMs: 30_000, what })
}

describe('cash payments', () => {
  const td = teardown()
  let a: PeerdNode
  let b: PeerdNode
  let c: PeerdNode
  let mnemonicC: string

  before(async () => {
    ;[a, b, c] = await Promise.all([td.testNode(), td.testNode(), td.testNode()])
    await a.cash.walletCreate('pass-a')
    await b.cash.walletCreate('pass-b')
    mnemonicC = (await c.cash.walletCreate('pass-c')).mnemonic
    await link(a, b)
    await link(b, c)
    await link(a, c)
  })

  it('pays A → B → C, unconfirmed then confirmed, exact to the base unit', TEST, async () => {
    await a.cash.mine(12, undefined) // to A's wallet; regtest maturity is 10 blocks
    await sameTip([a, b, c])
    assert.equal(total(bal(a)), 12n * SUBSIDY)
    assert.ok(bal(a).confirmed >= SUBSIDY, 'A has no mature coins')

    // A → B 12.5 coins: B sees it unconfirmed first
    const pay1 = 1_250_000_000n
    const sent1 = await a.cash.send({ address: await b.cash.walletAddress(), amount: pay1, passphrase: 'pass-a' })
    const fee1 = BigInt(sent1.fee)
    assert.ok(fee1 > 0n)
    await waitFor(() => bal(b).unconfirmed === pay1, { what: 'B to see the payment unconfirmed' })
    assert.equal(bal(b).confirmed, 0n)
    assert.equal(total(bal(a)), 12n * SUBSIDY - pay1 - fee1)
    assert.equal(b.cash.wallet.history()[0]?.confirmations, 0)

    // C confirms it: the fee goes to C's coinbase
    await c.cash.mine(1, undefined)
    await sameTip([a, b, c])
    await waitFor(() => bal(b).confirmed === pay1 && bal(b).unconfirmed === 0n, { what: 'B to see the payment confirmed' })
    assert.equal(total(bal(a)), 12n * SUBSIDY - pay1 - fee1)
    assert.equal(bal(c).immature, SUBSIDY + fee1)
    assert.equal((await c.cash.tx(sent1.txid)).confirmations, 1)

    // B → C 3.25 coins, C confirms
    const pay2 = 325_000_000n
    const sent2 = await b.cash.send({ address: await c.cash.walletAddress(), amount: pay2, passphrase: 'pass-b' })
    const fee2 = BigInt(sent2.fee)
    await waitFor(() => bal(c).unconfirmed === pay2, { what: 'C to see B’s payment' })
    await c.cash.mine(1, undefined)
    await sameTip([a, b, c])
    await waitFor(() => bal(c).confirmed === pay2, { what: 'C’s payment confirmed' })
    assert.equal(total(bal(b)), pay1 - pay2 - fee2)
    assert.equal(total(bal(c)), 2n * SUBSIDY + fee1 + fee2 + pay2)
    assert.equal(total(bal(a)), 12n * SUBSIDY - pay1 - fee1)
  })

  it('a double spend to the two halves of a partition: one survives, the wallets agree', TEST, async () => {
    // two payments of B's one coin (its change), to C and to A, never both in one mempool
    const toC = await b.cash.wallet.createPayment({ address: await c.cash.walletAddress(), amount: COIN, passphrase: 'pass-b' })
    const toA = await b.cash.wallet.createPayment({ address: await a.cash.walletAddress(), amount: 2n * COIN, passphrase: 'pass-b' })
    assert.deepEqual(toC.tx.inputs.map((i) => hashToHex(i.prevout.txid)), toA.tx.inputs.map((i) => hashToHex(i.prevout.txid)), 'not a double spend')
    const cBefore = total(bal(c))
    const aBefore = total(bal(a))

    await cut(a, c)
    await cut(b, c)
    await c.cash.mempool.add(toC.tx)
    await b.cash.mempool.add(toA.tx)
    await waitFor(() => a.cash.mempool.has(txid(toA.tx)), { what: 'A to get the payment to A' })
    await c.cash.mine(1, undefined) // C's half: one block with toC
    await a.cash.mine(2, undefined) // A's half: two blocks with toA: more work

    await link(c, a)
    await link(c, b)
    const t = await sameTip([a, b, c], 'the partition to heal on A’s chain')
    assert.equal(t, tip(a))
    // toA is on the chain; toC is gone everywhere
    assert.equal((await c.cash.tx(toA.txid)).confirmations, 2)
    await assert.rejects(c.cash.tx(toC.txid), { name: 'NotFoundError' })
    await waitFor(() => !c.cash.mempool.has(txid(toC.tx)), { what: 'the losing spend dropped' })
    assert.ok(!c.cash.wallet.history().some((e) => e.txid === toC.txid), 'C still lists the payment that lost')
    assert.ok(a.cash.wallet.history().some((e) => e.txid === toA.txid && e.confirmations === 2))
    assert.ok(b.cash.wallet.history().some((e) => e.txid === toA.txid && e.confirmations === 2))
    // A gained the payment (plus two subsidies and the fee it mined); C lost nothing it had
    assert.equal(total(bal(a)), aBefore + 2n * COIN + 2n * SUBSIDY + toA.fee)
    assert.equal(total(bal(c)), cBefore)
  })

  it('a reorg that removes a payment shows it unconfirmed again, then confirmed', TEST, async () => {
    await cut(a, b)
    await cut(a, c)
    const pay = 50_000_000n
    const sent = await c.cash.send({ address: await b.cash.walletAddress(), amount: pay, passphrase: 'pass-c' })
    const bBefore = bal(b).confirmed
    await waitFor(() => b.cash.mempool.has(hexToHash(sent.txid)), { what: 'B to get the payment' })
    await b.cash.mine(1, undefined)
    await sameTip([b, c])
    await waitFor(() => bal(b).confirmed === bBefore + pay, { what: 'payment confirmed on the short branch' })

    await a.cash.mine(3, undefined) // a longer branch without the payment
    await link(b, a)
    await link(c, a)
    await sameTip([a, b, c], 'the reorg to A’s branch')
    // the payment is back to unconfirmed, in the mempool again
    await waitFor(() => bal(b).unconfirmed === pay, { what: 'B to show the payment unconfirmed after the reorg' })
    const entry = b.cash.wallet.history().find((e) => e.txid === sent.txid)
    assert.equal(entry?.height, null)

    await a.cash.mine(1, undefined)
    await sameTip([a, b, c])
    await waitFor(() => b.cash.wallet.history().find((e) => e.txid === sent.txid)?.confirmations === 1, { what: 'confirmed again' })
    assert.equal(bal(b).unconfirmed, 0n)
  })

  it('restoring a mnemonic on a new node finds the same coins', TEST, async () => {
    await a.cash.mine(1, undefined) // nothing left unconfirmed
    const d = await td.testNode()
    await link(d, a)
    await sameTip([a, b, c, d])
    await waitFor(() => c.cash.mempool.size === 0 && bal(c).unconfirmed === 0n, { what: 'C settled' })
    await d.cash.walletRestore(mnemonicC, 'another passphrase')
    const want = bal(c)
    const got = bal(d)
    assert.equal(got.confirmed + got.immature, want.confirmed + want.immature)
    assert.equal(d.cash.wallet.history().filter((e) => e.height != null).length, c.cash.wallet.history().filter((e) => e.height != null).length)
  })
})
