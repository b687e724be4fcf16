/**
 * A downloader's side of the 1.2 block exchange, one provider stream at a time: FETCHING hints
 * steer what a seeder is asked for, CHOKE hands the choked peer's wants to the others, and a
 * super-seeding peer (SEEDING) is asked only for what it offers and told what this node holds.
 */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { describe, it } from 'node:test'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import * as Digest from 'multiformats/hashes/digest'
import type { Uint8ArrayList } from 'uint8arraylist'
import { blockKey } from '../../../src/share/block.ts'
import { decodeMessage, encode, ROOT_STATUS } from '../../../src/share/protocol.ts'
import type { Message } from '../../../src/share/protocol.ts'
import type { Item } from '../../../src/share/session/item.ts'
import { ProviderPeer } from '../../../src/share/session/provider-peer.ts'
import type { ProviderPeerOwner } from '../../../src/share/session/provider-peer.ts'
import { Scheduler } from '../../../src/share/session/scheduler.ts'
import { createLogger } from '../../../src/utils/logger.ts'

function cidOf (s: string): CID {
  return CID.createV1(raw.code, Digest.create(0x12, createHash('sha256').update(s).digest()))
}

/** A stream the test feeds frames into, recording what the peer sends. */
function fakeStream (): { stream: ConstructorParameters<typeof ProviderPeer>[1], push: (frame: Uint8ArrayList | Uint8Array) => void, sent: Message[] } {
  const queue: Array<Uint8Array> = []
  let wake: (() => void) | undefined
  const sent: Message[] = []
  const stream = {
    send: (data: Uint8Array | Uint8ArrayList) => {
      const bytes = data instanceof Uint8Array ? data : data.subarray()
      sent.push(decodeMessage(bytes.subarray(1)))
      return true
    },
    abort: () => {},
    async * [Symbol.asyncIterator] () {
      while (true) {
        while (queue.length > 0) yield queue.shift() as Uint8Array
        await new Promise<void>(resolve => { wake = resolve })
      }
    }
  }
  return { stream, sent, push: frame => { queue.push(frame instanceof Uint8Array ? frame : frame.subarray()); wake?.() } }
}

const root = cidOf('root')
const blocks = ['x1', 'x2', 'x3'].map(cidOf)

function setup (): { items: Map<string, Item>, owner: ProviderPeerOwner, orphaned: Item[] } {
  const items = new Map<string, Item>()
  blocks.forEach((cid, i) => items.set(blockKey(cid), { cid, key: blockKey(cid), pos: String(i).padStart(3, '0'), state: 'pending', holders: new Set() }))
  const orphaned: Item[] = []
  const owner: ProviderPeerOwner = {
    root,
    log: createLogger({ level: 'error' }),
    items,
    held: () => [root],
    answered: () => {},
    joined: () => {},
    changed: () => {},
    delivered: () => undefined,
    orphaned: item => { orphaned.push(item) },
    closed: () => {},
    misbehaved: () => {},
    swarm: () => true
  }
  return { items, owner, orphaned }
}

async function peer (owner: ProviderPeerOwner): Promise<{ p: ProviderPeer, push: (f: Uint8ArrayList | Uint8Array) => void, sent: Message[] }> {
  const { stream, push, sent } = fakeStream()
  const p = new ProviderPeer(peerIdFromPrivateKey(await generateKeyPair('Ed25519')), stream, owner)
  p.start()
  return { p, push, sent }
}

const tick = async (): Promise<void> => { await new Promise(resolve => setImmediate(resolve)) }

describe('provider stream hints (block exchange 1.2)', () => {
  it('a seeder is not asked for a block another downloader said it is fetching', async () => {
    const { items, owner } = setup()
    const seeder = await peer(owner)
    const other = await peer(owner)
    seeder.push(encode.root(root, ROOT_STATUS.COMPLETE))
    other.push(encode.root(root, ROOT_STATUS.ANNOUNCING))
    other.push(encode.fetching([blocks[0] as CID, blocks[1] as CID]))
    await tick()
    assert.equal(other.p.isFetching(blockKey(blocks[0] as CID), Date.now()), true)
    const scheduler = new Scheduler(items)
    for (const item of items.values()) scheduler.enqueue(item)
    seeder.p.window = 1
    other.p.window = 0
    const wanted = scheduler.assign(new Map([[seeder.p.id, seeder.p], [other.p.id, other.p]]))
    assert.deepEqual(wanted.map(i => i.key), [blockKey(blocks[2] as CID)], 'the seeder was asked for the one block nobody is fetching')
    // once the other downloader has it (HAVE), the hint is gone and the block can be asked of it
    other.push(encode.have([blocks[0] as CID]))
    await tick()
    assert.equal(other.p.isFetching(blockKey(blocks[0] as CID), Date.now()), false)
    assert.equal(other.p.canAsk(items.get(blockKey(blocks[0] as CID)) as Item, Date.now()), true)
  })

  it('CHOKE hands the wants held by the peer back to the session, and nothing is asked until UNCHOKE', async () => {
    const { items, owner, orphaned } = setup()
    const s = await peer(owner)
    s.push(encode.root(root, ROOT_STATUS.COMPLETE))
    await tick()
    const list = [...items.values()]
    s.p.want(list.slice(0, 2), Date.now())
    s.push(encode.choke())
    await tick()
    assert.equal(s.p.choked, true)
    assert.equal(s.p.inflight.size, 0)
    assert.deepEqual(orphaned.map(i => i.key).sort(), list.slice(0, 2).map(i => i.key).sort())
    assert.equal(s.p.canAsk(list[2] as Item, Date.now()), false)
    s.push(encode.unchoke())
    await tick()
    assert.equal(s.p.canAsk(list[2] as Item, Date.now()), true)
  })

  it('a super-seeder is told what this node holds and asked only for what it offers', async () => {
    const { items, owner } = setup()
    const s = await peer(owner)
    s.push(encode.root(root, ROOT_STATUS.SEEDING))
    s.push(encode.have([blocks[1] as CID]))
    await tick()
    const haves = s.sent.filter(m => m.type === 'have')
    assert.deepEqual(haves.flatMap(m => m.type === 'have' ? m.cids.map(blockKey) : []), [blockKey(root)], 'it told the seeder it holds the root')
    assert.equal(s.p.canAsk(items.get(blockKey(blocks[1] as CID)) as Item, Date.now()), true)
    assert.equal(s.p.canAsk(items.get(blockKey(blocks[0] as CID)) as Item, Date.now()), false)
    s.p.announce([blocks[2] as CID])
    const last = s.sent.at(-1)
    assert.deepEqual(last?.type === 'have' ? last.cids.map(blockKey) : last, [blockKey(blocks[2] as CID)])
    // back to an ordinary seeder: anything may be asked
    s.push(encode.root(root, ROOT_STATUS.COMPLETE))
    await tick()
    assert.equal(s.p.canAsk(items.get(blockKey(blocks[0] as CID)) as Item, Date.now()), true)
  })
})
