/**
 * Private broadcast of payments (issue 17): seven regtest nodes on loopback, every one an onion
 * relay and all connected to each other. A wallet node pays with private broadcast on (the
 * default): the payment reaches every node's mempool, and no node first hears of it from the
 * sender — each first copy comes from a circuit's exit (a push) or from a node that took a push
 * (gossip); the sender's own tx relay announces nothing, and its history shows the payment seen
 * back from the network. A node with `privateBroadcast: false` pays the old way and some node
 * does first hear of that payment from its sender, which is what the first test rules out.
 */
import assert from 'node:assert/strict'
import { before, describe, it } from 'node:test'
import { COIN } from '../../src/cash/consensus/subsidy.ts'
import { hashToHex, hexToHash } from '../../src/cash/primitives/hash.ts'
import { txid } from '../../src/cash/primitives/tx.ts'
import { txsTopic } from '../../src/cash/sync/tx-relay.ts'
import type { PeerdNode } from '../../src/node/node.ts'
import { waitFor } from '../utils/index.ts'
import { linkOnTopic } from '../utils/gossip.ts'
import { teardown } from '../utils/teardown.ts'

const TEST = { timeout: 45_000 }
const RATE = 50_000_000

/** Where each node first got each transaction: the peer its first `mempool.add` named, or 'local'. */
function recordFirstSources (nodes: PeerdNode[]): Map<string, Map<string, string>> {
  const all = new Map<string, Map<string, string>>()
  for (const n of nodes) {
    const first = new Map<string, string>()
    all.set(n.peerId, first)
    const mempool = n.cash.mempool
    const add = mempool.add.bind(mempool)
    // every way in (gossip, push, the wallet) goes through the mempool's add, with the sending peer
    mempool.add = async (tx, options) => {
      const id = hashToHex(txid(tx))
      if (!first.has(id)) first.set(id, options?.peer ?? 'local')
      return await add(tx, options)
    }
  }
  return all
}

async function sameTip (nodes: PeerdNode[]): Promise<void> {
  await waitFor(() => nodes.every(n => n.cash.info().tip === nodes[0]?.cash.info().tip), { timeoutMs: 20_000, what: 'every node on one tip' })
}

async function confirmedBalance (n: PeerdNode): Promise<bigint> {
  await n.cash.wallet.sync()
  return n.cash.wallet.balance().confirmed
}

describe('private broadcast of payments over onion circuits', () => {
  const td = teardown()
  let nodes: PeerdNode[]
  let sender: PeerdNode
  let plain: PeerdNode
  let firstFrom: Map<string, Map<string, string>>

  before(async () => {
    const first = await td.testNode({ onionRelayRate: RATE })
    const bootstrap = first.addresses()
    const relays = await Promise.all([1, 2, 3, 4].map(async () => await td.testNode({ bootstrap, onionRelayRate: RATE })))
    sender = await td.testNode({ bootstrap, onionRelayRate: RATE })
    plain = await td.testNode({ bootstrap, onionRelayRate: RATE, privateBroadcast: false })
    nodes = [first, ...relays, sender, plain]
    // every pair connected: the sender forwards nothing of its own payment, so the others must reach each other without it
    const topic = txsTopic('regtest')
    for (let i = 0; i < nodes.length; i++) {
      for (let j = i + 1; j < nodes.length; j++) await linkOnTopic(nodes[i] as PeerdNode, nodes[j] as PeerdNode, topic)
    }
    await Promise.all([sender.cash.walletCreate('pass-sender'), plain.cash.walletCreate('pass-plain')])
    // regtest maturity is 10 blocks: one coinbase to the sender, then eleven to the plain node
    await sender.cash.mine(1)
    await sameTip(nodes)
    await plain.cash.mine(11)
    await sameTip(nodes)
    await waitFor(async () => await confirmedBalance(sender) > 0n && await confirmedBalance(plain) > 0n, { what: 'mature coins in both wallets' })
    await waitFor(() => sender.onion.status().relaysKnown >= 5, { timeoutMs: 30_000, what: 'the sender to learn 5 relay descriptors' })
    firstFrom = recordFirstSources(nodes)
  })

  it('a payment reaches every mempool, no node first hears it from the sender, and the sender sees it back', TEST, async () => {
    const publishedBefore = sender.cash.txRelay.stats.published
    const sent = await sender.cash.send({ address: await plain.cash.walletAddress(), amount: COIN, passphrase: 'pass-sender' })
    assert.deepEqual(sent.privateBroadcast, { sentVia: 0 }, 'send answers before the pushes')
    const id = hexToHash(sent.txid)
    await waitFor(() => nodes.every(n => n.cash.mempool.has(id)), { timeoutMs: 30_000, what: 'the payment in every mempool' })

    assert.equal(firstFrom.get(sender.peerId)?.get(sent.txid), 'local')
    for (const n of nodes.filter(n => n !== sender)) {
      const source = firstFrom.get(n.peerId)?.get(sent.txid)
      assert.ok(source != null && source !== 'local', `${n.peerId} recorded where the payment came from`)
      assert.notEqual(source, sender.peerId, `${n.peerId} first got the payment from the sender's own connection`)
    }
    // pushes went through circuits and were taken
    const pushed = nodes.reduce((sum, n) => sum + n.cash.txPush.stats.accepted, 0)
    assert.ok(pushed >= 1, `${pushed} pushes accepted`)

    const entry = await waitFor(async () => {
      const e = (await sender.cash.walletHistory()).find(h => h.txid === sent.txid)
      return e?.privateBroadcast?.seenBackAt != null ? e : undefined
    }, { timeoutMs: 15_000, what: 'the sender to see its payment back' })
    assert.ok((entry.privateBroadcast?.sentVia ?? 0) >= 1, `sent via ${entry.privateBroadcast?.sentVia ?? 0} peers`)
    assert.ok(Math.abs((entry.privateBroadcast?.seenBackAt ?? 0) - Date.now() / 1000) < 60)
    assert.equal(entry.privateBroadcast?.fellBackAt, undefined, 'no fallback to gossip')
    assert.equal(sender.cash.txRelay.stats.published, publishedBefore, "the sender's tx relay announced nothing")
    assert.equal(sender.cash.privateBroadcast?.holds(id), false, 'no longer held once seen back')
  })

  it('with privateBroadcast: false a payment is gossiped from the sender, and some node first hears it from there', TEST, async () => {
    assert.equal(plain.cash.privateBroadcast, undefined)
    const sent = await plain.cash.send({ address: await sender.cash.walletAddress(), amount: COIN, passphrase: 'pass-plain' })
    assert.equal(sent.privateBroadcast, undefined)
    const id = hexToHash(sent.txid)
    await waitFor(() => nodes.every(n => n.cash.mempool.has(id)), { timeoutMs: 30_000, what: 'the payment in every mempool' })
    const fromSender = nodes.filter(n => firstFrom.get(n.peerId)?.get(sent.txid) === plain.peerId)
    assert.ok(fromSender.length >= 1, 'the old path: the sender is the first relayer of its own payment')
    const entry = (await plain.cash.walletHistory()).find(h => h.txid === sent.txid)
    assert.ok(entry != null && entry.privateBroadcast === undefined)
  })
})
