/**
 * Headers-first against hostile peers, real nodes on loopback TCP (regtest, issue 14 point 2):
 * a peer that claims more work and serves 2,000 valid headers of a branch with less work than
 * the victim's chain gets no block request and a penalty; a junk side block (2,000 transactions
 * spending coins that do not exist, 324 KB) gossiped below the tip is not stored; an honest
 * heavier branch is still followed.
 */
import assert from 'node:assert/strict'
import { before, describe, it } from 'node:test'
import type { Stream } from '@libp2p/interface'
import { sha256 } from '@noble/hashes/sha2.js'
import { genesisBlock } from '../../src/cash/consensus/genesis.ts'
import { chainParams } from '../../src/cash/consensus/params.ts'
import { blockWork } from '../../src/cash/consensus/pow.ts'
import { grind } from '../../src/cash/miner/template.ts'
import { encodeAddress } from '../../src/cash/primitives/address.ts'
import { encodeBlock } from '../../src/cash/primitives/block.ts'
import { hashToHex } from '../../src/cash/primitives/hash.ts'
import { headerHash } from '../../src/cash/primitives/header.ts'
import type { BlockHeader } from '../../src/cash/primitives/header.ts'
import { xOnlyPublicKey } from '../utils/schnorr.ts'
import { MAX_HEADERS, MAX_REQUEST_FRAME, chainProtocol, decodeRequest, encodeResponse } from '../../src/cash/sync/protocol.ts'
import { blocksTopic } from '../../src/cash/sync/relay.ts'
import type { PeerdNode } from '../../src/node/node.ts'
import { readFrames } from '../../src/share/protocol.ts'
import { junkBlock } from '../unit/cash/chain/junk.ts'
import { waitFor } from '../utils/index.ts'
import { linkOnTopic } from '../utils/gossip.ts'
import { teardown } from '../utils/teardown.ts'

const TEST = { timeout: 60_000 }
const params = chainParams('regtest')
const ADDRESS = encodeAddress('pdrt', xOnlyPublicKey(new Uint8Array(32).fill(7)))
const VICTIM_HEIGHT = MAX_HEADERS + 1

/**
 * `n` headers from genesis at the regtest limit, one minute apart: n blocks of work, no bodies.
 * `tweak` may change a header before it is ground.
 */
function cheapBranch (n: number, tweak?: (i: number, header: BlockHeader) => void): BlockHeader[] {
  const out: BlockHeader[] = []
  const genesis = genesisBlock('regtest').header
  let prev = genesis
  for (let i = 0; i < n; i++) {
    const header: BlockHeader = {
      version: 1,
      prevHash: headerHash(prev),
      merkleRoot: sha256(Uint8Array.of(i & 0xff, i >> 8)),
      time: genesis.time + 60 * (i + 1),
      bits: params.powLimitBits,
      nonce: 0
    }
    tweak?.(i, header)
    header.nonce = grind(header, params, 0, 1_000_000) as number
    out.push(header)
    prev = header
  }
  return out
}

/**
 * Serves the chain protocol as a liar would on `node` (its own sync stopped): STATUS claims
 * twice `claim`, GET_HEADERS answers from `branch` after the first locator hash it holds,
 * GET_BLOCKS is counted and answered NOT_FOUND.
 */
async function lieAbout (node: PeerdNode, branch: BlockHeader[], claim: bigint): Promise<{ blockRequests: number, headerRequests: number }> {
  const counts = { blockRequests: 0, headerRequests: 0 }
  const at = new Map<string, number>([[hashToHex(headerHash(genesisBlock('regtest').header)), 0]])
  branch.forEach((h, i) => at.set(hashToHex(headerHash(h)), i + 1))
  await node.cash.sync.stop()
  const serve = async (stream: Stream): Promise<void> => {
    try {
      let body: Uint8Array | undefined
      for await (const frame of readFrames(stream, MAX_REQUEST_FRAME)) { body = frame; break }
      if (body === undefined) return
      const req = decodeRequest(body)
      if (req.type === 'status') {
        const last = branch[branch.length - 1] as BlockHeader
        stream.send(encodeResponse({ type: 'tip', height: branch.length, hash: headerHash(last), chainwork: 2n * claim }))
      } else if (req.type === 'get-headers') {
        counts.headerRequests++
        const start = req.locator.map(h => at.get(hashToHex(h))).find(i => i !== undefined) ?? 0
        stream.send(encodeResponse({ type: 'headers', headers: branch.slice(start, start + MAX_HEADERS) }))
      } else {
        counts.blockRequests++
        for (const hash of req.hashes) stream.send(encodeResponse({ type: 'not-found', hash }))
      }
      await stream.close()
    } catch (err) {
      stream.abort(err as Error)
    }
  }
  await node.libp2p.handle(chainProtocol('regtest'), (stream) => { void serve(stream) })
  return counts
}

describe('cash headers-first against hostile peers', () => {
  const td = teardown()
  let victim: PeerdNode
  before(async () => {
    victim = await td.testNode()
    await victim.cash.mine(VICTIM_HEIGHT, ADDRESS)
  })

  it('a 2,000-header branch with less work than the tip: no block asked for, its peer penalised', TEST, async () => {
    const branch = cheapBranch(MAX_HEADERS)
    const tip = victim.cash.chain.tip
    assert.ok(BigInt(MAX_HEADERS + 1) * blockWork(params.powLimitBits) < tip.chainwork, 'the branch has less work')
    const liar = await td.testNode()
    const counts = await lieAbout(liar, branch, tip.chainwork)
    await victim.connect(liar.addresses()[0] as string)
    await waitFor(() => victim.scores.score(liar.peerId) > 0, { timeoutMs: 15_000, what: 'the liar penalised' })
    assert.equal(counts.blockRequests, 0, 'no GET_BLOCKS')
    assert.ok(victim.scores.score(liar.peerId) >= 49, `score ${victim.scores.score(liar.peerId)}: 50 for a chain with less work than claimed`)
    assert.ok(counts.headerRequests >= 2, 'asked past the first 2,000 headers')
    assert.equal(victim.cash.chain.tip, tip)
    assert.equal(await victim.cash.chain.getEntry(headerHash(branch[0] as BlockHeader)), undefined)
  })

  it('a header that fails its context check (time-too-old): no block asked for, its peer banned', TEST, async () => {
    const genesis = genesisBlock('regtest').header
    const branch = cheapBranch(10, (i, h) => { if (i === 5) h.time = genesis.time })
    const liar = await td.testNode()
    const counts = await lieAbout(liar, branch, victim.cash.chain.tip.chainwork)
    // The victim may fetch the bad headers and ban the liar before connect() finishes identify.
    await victim.connect(liar.addresses()[0] as string).catch(() => {})
    await waitFor(() => victim.scores.score(liar.peerId) >= 99, { timeoutMs: 15_000, what: 'the liar penalised 100' })
    assert.equal(counts.blockRequests, 0, 'no GET_BLOCKS')
  })

  it('a junk side block gossiped below the tip is not stored', TEST, async () => {
    const sender = await td.testNode()
    await sender.cash.sync.stop() // it would download the victim's chain: not needed here
    await linkOnTopic(sender, victim, blocksTopic('regtest'))
    const parent = await victim.cash.chain.getEntryByHeight(VICTIM_HEIGHT - 5)
    assert.ok(parent !== undefined)
    const junk = junkBlock(parent.header, parent.height, params)
    const bytes = encodeBlock(junk)
    const judged = (): number => { const s = victim.cash.relay.stats; return s.accepted + s.rejected + s.ignored + s.dropped }
    const before = judged()
    const ignored = victim.cash.relay.stats.ignored
    await sender.libp2p.services.pubsub.publish(blocksTopic('regtest'), bytes)
    await waitFor(() => judged() > before, { timeoutMs: 15_000, what: 'the victim to judge the junk block' })
    assert.equal(victim.cash.relay.stats.ignored, ignored + 1, 'ignored, not forwarded')
    assert.equal(await victim.cash.chain.getEntry(headerHash(junk.header)), undefined)
    assert.equal(await victim.cash.chain.getBlockBytes(headerHash(junk.header)), undefined, 'no body in LevelDB')
    assert.equal(victim.cash.chain.tip.height, VICTIM_HEIGHT)
  })

  it('a heavier branch that out-works the tip only in its second round of headers is downloaded, and the victim reorganises', TEST, async () => {
    const honest = await td.testNode()
    await honest.cash.mine(VICTIM_HEIGHT + 2, encodeAddress('pdrt', xOnlyPublicKey(new Uint8Array(32).fill(8)))) // shares only genesis
    const want = honest.cash.chain.tip
    await victim.connect(honest.addresses()[0] as string)
    await waitFor(() => victim.cash.chain.tip.height === want.height, { timeoutMs: 30_000, what: `the victim at ${want.height}` })
    assert.equal(hashToHex(victim.cash.chain.tip.hash), hashToHex(want.hash))
    assert.equal(victim.scores.score(honest.peerId), 0)
  })
})
