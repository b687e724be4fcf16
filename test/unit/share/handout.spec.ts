import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { describe, it } from 'node:test'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import * as Digest from 'multiformats/hashes/digest'
import * as dagPb from '@ipld/dag-pb'
import { blockKey } from '../../../src/share/block.ts'
import { Handout, listBlocks, OFFERS_AHEAD, UNTRADED_MAX } from '../../../src/share/handout.ts'

function leaf (i: number): CID {
  return CID.createV1(raw.code, Digest.create(0x12, createHash('sha256').update(`block ${i}`).digest()))
}

const leaves = Array.from({ length: 40 }, (_, i) => leaf(i))
const keys = leaves.map(blockKey)

/** Sends every offered block to its peer (the seeder's uplink), returns how many were sent. */
function serveOffers (h: Handout, offered: Map<string, string[]>): number {
  let sent = 0
  for (const [id, list] of offered) {
    for (const key of list.splice(0)) { h.sent(id, key); sent++ }
  }
  return sent
}

describe('super-seeding hand-out', () => {
  it('hands each block out once before any twice, while downloaders trade what they got', () => {
    const h = new Handout(leaves, [])
    const peers = ['a', 'b', 'c', 'd']
    const given = new Map<string, number>()
    const offered = new Map<string, string[]>(peers.map(p => [p, []]))
    for (const p of peers) h.join(p)
    let rounds = 0
    while (!h.handedOut && rounds++ < 200) {
      for (const p of peers) {
        for (const cid of h.next(p)) {
          const k = blockKey(cid)
          given.set(k, (given.get(k) ?? 0) + 1)
          offered.get(p)?.push(k)
        }
      }
      // the seeder sends the offers; each block sent goes on to the next downloader (a trade)
      const sentNow = [...offered].flatMap(([p, list]) => list.map(k => [p, k] as const))
      serveOffers(h, offered)
      for (const [p, k] of sentNow) h.have(peers[(peers.indexOf(p) + 1) % peers.length] as string, k)
    }
    assert.equal(h.handedOut, true)
    assert.equal(given.size, leaves.length)
    assert.ok([...given.values()].every(n => n === 1), 'no block was offered twice while some were never offered')
  })

  it('gives a downloader that passes nothing on no more than its first blocks', () => {
    const h = new Handout(leaves, [])
    h.join('free')
    h.join('honest')
    let got = 0
    for (let round = 0; round < 20; round++) {
      const offers = h.next('free')
      for (const cid of offers) { h.sent('free', blockKey(cid)); got++ }
      for (const cid of h.next('honest')) h.sent('honest', blockKey(cid))
    }
    assert.equal(got, UNTRADED_MAX, 'gated once its untraded blocks reach the limit')
    assert.ok(!h.handedOut)
  })

  it('does not count a block the seeder sent to another downloader as passed on', () => {
    const h = new Handout(leaves.slice(0, 6), [])
    h.join('free')
    h.join('b')
    for (const cid of h.next('free')) h.sent('free', blockKey(cid))
    assert.deepEqual(h.next('free'), [], 'gated: two blocks nobody else has')
    // the seeder hands the same two blocks to b (the tail, or b asked): that is no trade by free
    for (const k of keys.slice(0, 2)) h.sent('b', k as string)
    assert.deepEqual(h.next('free'), [])
  })

  it('in the tail is a second source only for a block one downloader alone holds', () => {
    const h = new Handout(leaves.slice(0, 4), [])
    for (const p of ['a', 'b', 'c']) h.join(p)
    // a and b hold everything but block 3, which only c holds; c lacks block 0
    for (const k of keys.slice(0, 3)) { h.have('a', k); h.have('b', k) }
    for (const k of keys.slice(1, 4)) h.have('c', k)
    assert.equal(h.handedOut, true)
    assert.deepEqual(h.next('a').map(blockKey), [keys[3]])
    assert.deepEqual(h.next('b').map(blockKey), [], 'block 3 is held by c and on its way to a')
    assert.deepEqual(h.next('c').map(blockKey), [], 'block 0 is held by two: the crowd trades it')
    assert.ok(OFFERS_AHEAD >= 1)
  })

  it('hands out again the blocks a departed downloader alone held', () => {
    const h = new Handout(leaves.slice(0, 3), [])
    h.join('a')
    h.join('b')
    for (const k of keys) h.have('a', k)
    assert.equal(h.handedOut, true)
    h.leave('a')
    assert.equal(h.handedOut, false)
    assert.equal(h.next('b').length, OFFERS_AHEAD)
  })

  it('lets a downloader ask for inner blocks and offered ones only', () => {
    const h = new Handout(leaves.slice(0, 5), [])
    h.join('a')
    const [first] = h.next('a')
    assert.ok(first != null)
    assert.equal(h.mayAsk('a', blockKey(first)), true)
    assert.equal(h.mayAsk('a', keys[4] as string), false)
    assert.equal(h.mayAsk('a', 'not a leaf'), true)
    assert.equal(h.mayAsk('stranger', keys[0] as string), false)
  })

  it('lists a root\'s leaves and inner nodes from the store, and refuses a missing block', async () => {
    const blocks = new Map<string, Uint8Array>()
    const links = leaves.slice(0, 3).map(cid => ({ Hash: cid, Tsize: 10 }))
    const node = dagPb.encode(dagPb.prepare({ Data: Uint8Array.of(8, 2), Links: links }))
    const root = CID.createV1(dagPb.code, Digest.create(0x12, createHash('sha256').update(node).digest()))
    blocks.set(blockKey(root), node)
    const get = async (cid: CID): Promise<Uint8Array> => {
      const b = blocks.get(blockKey(cid))
      if (b == null) throw new Error('missing')
      return b
    }
    const list = await listBlocks(root, get)
    assert.deepEqual(list?.leaves.map(blockKey), keys.slice(0, 3))
    assert.deepEqual(list?.inner.map(blockKey), [blockKey(root)])
    blocks.clear()
    assert.equal(await listBlocks(root, get), undefined)
  })
})
