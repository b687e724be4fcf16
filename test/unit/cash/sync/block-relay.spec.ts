/**
 * BlockRelay's topic validator against a real Chain (LevelDB) and a stand-in gossipsub: the
 * 80-byte header is judged before the body is decoded (size, proof of work, known invalid,
 * already known), a flood of blocks waiting for the chain is shed past its bounds (one peer
 * cannot take all of them), a mutated block does not stop the honest one, and blocks whose
 * parent is unknown are not decoded or kept: they ask their sender for headers, at most once a while.
 */
import assert from 'node:assert/strict'
import { before, describe, it } from 'node:test'
import { TopicValidatorResult } from '@libp2p/gossipsub'
import type { PeerId } from '@libp2p/interface'
import type { Chain } from '../../../../src/cash/chain/index.ts'
import { chainParams } from '../../../../src/cash/consensus/params.ts'
import { checkProofOfWork } from '../../../../src/cash/consensus/pow.ts'
import { DEFAULT_MAX_BLOCK_SIZE, encodeBlock } from '../../../../src/cash/primitives/block.ts'
import type { Block } from '../../../../src/cash/primitives/block.ts'
import { encodeHeader } from '../../../../src/cash/primitives/header.ts'
import { sha256d } from '../../../../src/cash/primitives/hash.ts'
import { BlockRelay, blocksTopic } from '../../../../src/cash/sync/relay.ts'
import type { BlockRelayInit } from '../../../../src/cash/sync/relay.ts'
import { createLogger } from '../../../../src/utils/logger.ts'
import { TestChain, testKey } from '../../../utils/cash.ts'
import { forge64 } from '../consensus/forgery.ts'
import { junkBlock } from '../chain/junk.ts'
import { hashOf, openTempChain } from '../chain/chain-helpers.ts'
import type { TempChain } from '../chain/chain-helpers.ts'
import { fakePubsub } from '../../../utils/gossip.ts'
import type { Validator } from '../../../utils/gossip.ts'
import { teardown } from '../../../utils/teardown.ts'

const params = chainParams('regtest')
const topic = blocksTopic('regtest')
const peerA = { toString: () => 'peer-a' } as unknown as PeerId
const peerB = { toString: () => 'peer-b' } as unknown as PeerId

describe('BlockRelay', () => {
  const td = teardown()
  let t: TempChain
  let chain: Chain
  const tc = new TestChain(params)
  let relay: BlockRelay
  let validate: Validator
  let penalties: Array<[string, number, string]>
  let headerRequests: string[]

  const open = (options: Partial<BlockRelayInit> = {}): void => {
    relay?.stop()
    const fake = fakePubsub()
    penalties = []
    headerRequests = []
    relay = new BlockRelay({
      pubsub: fake.pubsub,
      topic,
      chain,
      log: createLogger({ level: 'silent' }),
      penalize: (peer, points, reason) => { penalties.push([peer.toString(), points, reason]) },
      onUnknownParent: (peer) => { headerRequests.push(peer.toString()) },
      ...options
    })
    relay.start()
    validate = fake.validators.get(topic) as Validator
  }

  before(async () => {
    t = await openTempChain(params)
    td.add(t.cleanup, 'close the chain')
    td.add(() => { relay?.stop() }, 'stop the relay')
    chain = t.chain
    for (const block of tc.mineEmpty(params.coinbaseMaturity + 2)) assert.equal(await chain.addBlock(block), 'connected')
  })

  it('rejects a header without its proof of work before decoding the rest', async () => {
    open()
    const block = tc.makeBlock()
    while (checkProofOfWork(hashOf(block), block.header.bits, params.powLimit)) block.header.nonce++
    // a decodable block, and the same header followed by junk
    const junk = new Uint8Array(1000).fill(0xff)
    junk.set(encodeHeader(block.header), 0)
    for (const data of [encodeBlock(block), junk]) {
      assert.equal(await validate(peerA, { data }), TopicValidatorResult.Reject)
    }
    assert.deepEqual(penalties, [['peer-a', 100, 'invalid block: high-hash'], ['peer-a', 100, 'invalid block: high-hash']])
    assert.equal(relay.stats.decoded, 0)
    // too short to hold a header and a count, or too large: refused by size alone
    for (const data of [new Uint8Array(80), new Uint8Array(DEFAULT_MAX_BLOCK_SIZE + 1)]) {
      assert.equal(await validate(peerA, { data }), TopicValidatorResult.Reject)
    }
    assert.deepEqual(penalties.slice(2).map(p => p[2]), ['gossiped block: block-truncated', 'gossiped block: block-oversize'])
    assert.equal(relay.stats.decoded, 0)
  })

  it('does not decode a block it has, or one it knows is invalid', async () => {
    open()
    const block = tc.makeBlock()
    assert.equal(await validate(peerA, { data: encodeBlock(block) }), TopicValidatorResult.Accept)
    tc.connect(block)
    assert.equal(relay.stats.decoded, 1)
    assert.equal(await validate(peerA, { data: encodeBlock(block) }), TopicValidatorResult.Ignore)
    assert.equal(relay.stats.decoded, 1)

    // a coinbase that claims too much: stored, then found invalid when connected
    const greedy = tc.makeBlock([], { fees: 1n })
    assert.equal(await validate(peerA, { data: encodeBlock(greedy) }), TopicValidatorResult.Reject)
    assert.equal(chain.isKnownInvalid(hashOf(greedy)), true)
    assert.equal(relay.stats.decoded, 2)
    assert.equal(await validate(peerB, { data: encodeBlock(greedy) }), TopicValidatorResult.Reject)
    assert.deepEqual(penalties.at(-1), ['peer-b', 100, 'invalid block: duplicate-invalid'])
    assert.equal(relay.stats.decoded, 2)
  })

  it('a mutated block costs its sender and leaves the honest one free to connect', async () => {
    open()
    const { honest, forged } = forge64(tc, tc.coinbaseCoin(1), testKey(2))
    assert.equal(await validate(peerA, { data: encodeBlock(forged) }), TopicValidatorResult.Reject)
    assert.deepEqual(penalties, [['peer-a', 100, 'invalid block: bad-txns-64byte']])
    assert.equal(await validate(peerB, { data: encodeBlock(honest) }), TopicValidatorResult.Accept)
    assert.equal(penalties.length, 1)
    tc.connect(honest)
  })

  it('sheds a flood past its bounds; one peer gets its share only', async () => {
    open({ maxPending: 4, peerShare: 0.5 })
    // ten blocks on the tip from peer A (they differ by time), then a child of the first from B
    const flood: Block[] = []
    for (let i = 0; i < 10; i++) flood.push(tc.makeBlock([], { time: tc.tip.header.time + 60 + i }))
    const first = flood[0] as Block
    tc.connect(first)
    const child = tc.makeBlock()
    const results = await Promise.all([
      ...flood.map(async (b) => await validate(peerA, { data: encodeBlock(b) })),
      validate(peerB, { data: encodeBlock(child) })
    ])
    assert.equal(results[0], TopicValidatorResult.Accept)
    assert.equal(results[10], TopicValidatorResult.Accept, 'the other peer still has room')
    assert.equal(relay.stats.dropped, 8)
    assert.equal(relay.lastDrop, 'peer-pending-full')
    assert.equal(relay.stats.decoded, 3)
    assert.deepEqual(penalties, [])
    assert.deepEqual(relay.pendingStatus(), { blocks: 0, bytes: 0, peers: 0 })
    tc.connect(child)
    assert.equal(chain.tip.height, tc.height)

    // the byte bound: room for two blocks of this size in all
    const size = encodeBlock(tc.makeBlock()).length
    open({ maxPendingBytes: 2 * size, peerShare: 1 })
    const more: Block[] = []
    for (let i = 0; i < 5; i++) more.push(tc.makeBlock([], { time: tc.tip.header.time + 60 + i }))
    await Promise.all(more.map(async (b) => await validate(peerA, { data: encodeBlock(b) })))
    assert.equal(relay.stats.dropped, 3)
    assert.equal(relay.lastDrop, 'pending-full')
    assert.deepEqual(relay.pendingStatus(), { blocks: 0, bytes: 0, peers: 0 })
  })

  it('a flood of blocks with unknown parents is not decoded or kept: one header request per peer a while', async () => {
    open({ maxUnknownParentPeers: 2 })
    // valid proof of work on a parent this node never saw, ~300 KB of well-formed junk each
    const other = new TestChain(params, testKey(7))
    other.mineEmpty(1)
    const flood: Uint8Array[] = []
    for (let i = 0; i < 12; i++) flood.push(encodeBlock(junkBlock(other.tip.header, 1, params, 1800)))
    assert.ok((flood[0] as Uint8Array).length > 290_000, `${(flood[0] as Uint8Array).length} bytes`)
    const results = await Promise.all(flood.map(async (data, i) => await validate(i % 2 === 0 ? peerA : peerB, { data })))
    assert.ok(results.every((r) => r === TopicValidatorResult.Ignore))
    assert.equal(relay.stats.decoded, 0, 'no unknown-parent block decoded')
    assert.equal(relay.stats.unknownParent, 12)
    assert.deepEqual(headerRequests.sort(), ['peer-a', 'peer-b'])
    assert.deepEqual(penalties, [])
    for (const data of flood) assert.equal(await chain.getEntry(sha256d(data.subarray(0, 80))), undefined)
    assert.deepEqual(relay.pendingStatus(), { blocks: 0, bytes: 0, peers: 0 })
    // the per-peer map is bounded: a third peer pushes out the oldest, which may ask again
    const peerC = { toString: () => 'peer-c' } as unknown as PeerId
    await validate(peerC, { data: flood[0] as Uint8Array })
    await validate(peerB, { data: flood[0] as Uint8Array })
    await validate(peerA, { data: flood[0] as Uint8Array })
    assert.deepEqual(headerRequests.slice(2), ['peer-c', 'peer-a'])
  })
})
