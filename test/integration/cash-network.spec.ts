/**
 * The ledger across real nodes on loopback TCP (regtest): blocks mined on one node reach the
 * others by gossip, a node that joins late catches up by headers-first sync, two nodes that
 * mined apart converge on the chain with more work, a node that missed a block catches up by
 * headers when its child arrives, a branch's blocks are fetched only from peers that announced
 * it, and a peer that sends an invalid block is penalised while the
 * block goes no further.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { assembleBlock, grind } from '../../src/cash/miner/template.ts'
import { encodeAddress } from '../../src/cash/primitives/address.ts'
import { encodeBlock } from '../../src/cash/primitives/block.ts'
import type { Block } from '../../src/cash/primitives/block.ts'
import { hashToHex } from '../../src/cash/primitives/hash.ts'
import { xOnlyPublicKey } from '../utils/schnorr.ts'
import { blocksTopic } from '../../src/cash/sync/relay.ts'
import type { PeerdNode } from '../../src/node/node.ts'
import { waitFor } from '../utils/index.ts'
import { linkOnTopic } from '../utils/gossip.ts'
import { teardown } from '../utils/teardown.ts'

const TEST = { timeout: 120_000 }
const ADDRESS = encodeAddress('pdrt', xOnlyPublicKey(new Uint8Array(32).fill(7)))
const OTHER_ADDRESS = encodeAddress('pdrt', xOnlyPublicKey(new Uint8Array(32).fill(8)))

function tipOf (n: PeerdNode): { height: number, tip: string } {
  const info = n.cash.info()
  return { height: info.height, tip: info.tip }
}

/** Waits until `node` reaches `height` with tip `tip`. */
async function waitForTip (node: PeerdNode, want: { height: number, tip: string }, timeoutMs = 60_000): Promise<void> {
  await waitFor(() => {
    const t = tipOf(node)
    return t.height === want.height && t.tip === want.tip
  }, { timeoutMs, what: `node at height ${want.height} (it is at ${tipOf(node).height})` })
}

/** A coinbase-only block on `node`'s tip, mined, whose coinbase claims `fees` on top of the subsidy. */
function nextBlock (node: PeerdNode, fees = 0n): Block {
  const ctx = node.cash.chain.nextBlockContext()
  const block = assembleBlock({
    prevHash: ctx.prevHash,
    height: ctx.height,
    time: Math.max(ctx.minTime, Math.floor(Date.now() / 1000)),
    bits: ctx.bits,
    payoutScript: node.cash.payoutScript(ADDRESS),
    txs: [],
    fees,
    params: node.cash.params
  })
  block.header.nonce = grind(block.header, node.cash.params, 0, 1_000_000) as number
  return block
}

/** Connects on `node` a block it announces to no one (the block its peers will miss). */
async function connectSilently (node: PeerdNode): Promise<void> {
  assert.equal(await node.cash.chain.addBlock(nextBlock(node)), 'connected')
}

describe('cash network', () => {
  const td = teardown()

  it('blocks mined on A reach B, and C through B', TEST, async () => {
    const [a, b, c] = await Promise.all([td.testNode(), td.testNode(), td.testNode()])
    await linkOnTopic(b, a, blocksTopic('regtest'))
    await linkOnTopic(c, b, blocksTopic('regtest'))
    const hashes = await a.cash.mine(5, ADDRESS)
    assert.equal(hashes.length, 5)
    const want = tipOf(a)
    assert.equal(want.height, 5)
    assert.equal(want.tip, hashes[4])
    await waitForTip(b, want)
    await waitForTip(c, want)
    // the blocks are the same on every node
    const block = await c.cash.block('3')
    assert.equal(block.hash, hashes[2])
  })

  it('a node that joins late syncs 500 blocks', TEST, async () => {
    const a = await td.testNode()
    await a.cash.mine(500, ADDRESS)
    const want = tipOf(a)
    assert.equal(want.height, 500)
    const late = await td.testNode()
    await late.connect(a.addresses()[0] as string)
    await waitForTip(late, want)
    assert.equal((await late.cash.block('250')).hash, (await a.cash.block('250')).hash)
  })

  it('two nodes that mined apart end on the chain with more work', TEST, async () => {
    const [a, b] = await Promise.all([td.testNode(), td.testNode()])
    await a.cash.mine(12, ADDRESS)
    await b.cash.mine(20, OTHER_ADDRESS) // another payout: the two chains share no block
    const forkA = tipOf(a)
    const best = tipOf(b)
    assert.notEqual(forkA.tip, best.tip)
    await linkOnTopic(a, b, blocksTopic('regtest'))
    await waitForTip(a, best)
    assert.deepEqual(tipOf(b), best)
    // A's old blocks are no longer on its best chain
    const old = await a.cash.block(forkA.tip)
    assert.equal(old.confirmations, 0)
  })

  it('a node that missed a block catches up by headers when the next one arrives', TEST, async () => {
    const [a, b, c] = await Promise.all([td.testNode(), td.testNode(), td.testNode()])
    await linkOnTopic(b, a, blocksTopic('regtest'))
    await linkOnTopic(c, b, blocksTopic('regtest'))
    await a.cash.mine(2, ADDRESS)
    await waitForTip(c, tipOf(a))
    await connectSilently(a) // B and C miss this block
    const receivedBefore = b.cash.relay.stats.unknownParent
    const decodedBefore = b.cash.relay.stats.decoded
    await a.cash.mine(1, ADDRESS)
    const want = tipOf(a)
    assert.equal(want.height, 4)
    // its child is not kept: B asks A for headers and downloads both (well within the 20 s poll)
    await waitForTip(b, want, 5_000)
    assert.equal(b.cash.relay.stats.unknownParent, receivedBefore + 1)
    assert.equal(b.cash.relay.stats.decoded, decodedBefore, 'the child came again by sync, not decoded from gossip')
  })

  it('blocks of a branch are fetched only from peers that announced it', TEST, async () => {
    const [h, v, p] = await Promise.all([td.testNode(), td.testNode(), td.testNode()])
    await h.cash.mine(10, ADDRESS)
    await v.connect(h.addresses()[0] as string)
    await waitForTip(v, tipOf(h))
    await p.cash.mine(100, OTHER_ADDRESS) // another chain with more work, which H does not have: 7 batches
    const askedOfH = h.cash.sync.serverStats().blocksAsked
    const askedOfP = p.cash.sync.serverStats().blocksAsked
    await v.connect(p.addresses()[0] as string)
    await waitForTip(v, tipOf(p))
    // H, whose tip is not on P's branch, was not asked for its blocks (nor could be blamed for one)
    assert.equal(h.cash.sync.serverStats().blocksAsked, askedOfH)
    assert.ok(p.cash.sync.serverStats().blocksAsked - askedOfP >= 100, 'P served its branch')
  })

  it('an invalid block costs its sender and goes no further', TEST, async () => {
    const [hostile, victim, bystander] = await Promise.all([td.testNode(), td.testNode(), td.testNode()])
    await linkOnTopic(hostile, victim, blocksTopic('regtest'))
    await linkOnTopic(bystander, victim, blocksTopic('regtest'))
    await victim.cash.mine(2, ADDRESS)
    await waitForTip(hostile, tipOf(victim))
    await waitForTip(bystander, tipOf(victim))
    // the bystander may have found the hostile peer by itself: keep them apart (both ways)
    await bystander.disconnect(hostile.peerId)
    await hostile.disconnect(bystander.peerId)
    const before = tipOf(victim)
    const seenByBystander = bystander.cash.relay.stats.received

    // a block that pays its coinbase one base unit more than the subsidy (no fees to claim)
    const block = nextBlock(hostile, 1n)
    await hostile.libp2p.services.pubsub.publish(blocksTopic('regtest'), encodeBlock(block))

    await waitFor(() => victim.cash.relay.stats.rejected >= 1, { timeoutMs: 15_000, what: 'the victim to reject the block' })
    // banned (score 100) and disconnected
    await waitFor(() => !victim.peers().some((p) => p.peerId === hostile.peerId), { timeoutMs: 15_000, what: 'the hostile peer dropped' })
    // 100 points, decaying by one a minute
    assert.ok(victim.scores.score(hostile.peerId) >= 99, `score ${victim.scores.score(hostile.peerId)}`)
    assert.deepEqual(tipOf(victim), before)
    // the bystander, linked only to the victim, never saw it
    await new Promise((resolve) => setTimeout(resolve, 1_000))
    assert.equal(bystander.cash.relay.stats.received, seenByBystander)
    assert.deepEqual(tipOf(bystander), before)
    assert.equal(await victim.cash.chain.getEntry(block.header.prevHash).then((e) => e?.height), before.height)
    assert.ok(hashToHex(block.header.prevHash) === before.tip)
  })
})
