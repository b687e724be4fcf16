/**
 * The block protocol over an onion service's streams (`OnionBlockServer`), on an in-memory duplex
 * pair: it hands out only the blocks of private shares (a held public block is DONT_HAVE), answers
 * STATUS from its own rule, ends a stream that asks STATUS twice or queues too many wants, and
 * bounds the streams it serves at once.
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { duplexPair } from 'node:stream'
import type { Duplex } from 'node:stream'
import { after, before, describe, it } from 'node:test'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { ByteBudget } from '../../../src/net/byte-budget.ts'
import { blockKey } from '../../../src/share/block.ts'
import { FsBlockstore } from '../../../src/share/blockstore.ts'
import { MAX_ONION_STREAMS, OnionBlockServer } from '../../../src/share/private/onion-server.ts'
import { decodeMessage, encode, MAX_WANTS, readFrames, ROOT_STATUS } from '../../../src/share/protocol.ts'
import type { Message } from '../../../src/share/protocol.ts'
import { createLogger } from '../../../src/utils/logger.ts'

async function rawBlock (text: string): Promise<{ cid: CID, bytes: Uint8Array }> {
  const bytes = new TextEncoder().encode(text)
  return { cid: CID.create(1, raw.code, await sha256.digest(bytes)), bytes }
}

/** Reads messages from `client` until `until` says stop or the stream ends. */
async function read (client: Duplex, until: (m: Message[]) => boolean): Promise<{ messages: Message[], ended: boolean }> {
  const messages: Message[] = []
  try {
    for await (const body of readFrames(client)) {
      messages.push(decodeMessage(body))
      if (until(messages)) return { messages, ended: false }
    }
  } catch { /* destroyed by the server */ }
  return { messages, ended: true }
}

describe('onion block server', () => {
  let dir: string
  let store: FsBlockstore
  let server: OnionBlockServer
  let secret: { cid: CID, bytes: Uint8Array }
  let open: { cid: CID, bytes: Uint8Array }

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'peerd-onion-server-'))
    store = new FsBlockstore(dir, { cacheBytes: 0 })
    await store.open()
    secret = await rawBlock('a privately shared block')
    open = await rawBlock('a block of public content')
    await store.put(secret.cid, secret.bytes)
    await store.put(open.cid, open.bytes)
    const priv = new Set([blockKey(secret.cid)])
    server = new OnionBlockServer({
      blockstore: store,
      serves: cid => priv.has(blockKey(cid)),
      rootStatus: async cid => priv.has(blockKey(cid)) ? ROOT_STATUS.COMPLETE : ROOT_STATUS.NONE,
      budget: new ByteBudget({ perPeer: 1 << 20, total: 4 << 20 }),
      log: createLogger({ level: 'silent' })
    })
  })
  after(async () => {
    server.close()
    await rm(dir, { recursive: true, force: true })
  })

  it('serves a private block, answers DONT_HAVE for a held public one, and STATUS by its rule', async () => {
    const [client, side] = duplexPair()
    server.serve(side)
    client.write(encode.status(secret.cid).subarray())
    client.write(encode.want([secret.cid, open.cid]).subarray())
    const { messages } = await read(client, m => m.length >= 3)
    client.destroy()
    assert.deepEqual(messages.map(m => m.type), ['root', 'block', 'dont-have'])
    assert.equal((messages[0] as Extract<Message, { type: 'root' }>).status, ROOT_STATUS.COMPLETE)
    assert.deepEqual(Buffer.from((messages[1] as Extract<Message, { type: 'block' }>).data), Buffer.from(secret.bytes))
    assert.equal((messages[2] as Extract<Message, { type: 'dont-have' }>).cid.toString(), open.cid.toString())
    assert.ok(server.stats.blocksSent >= 1)
  })

  it('ends a stream that asks STATUS twice', { timeout: 10_000 }, async () => {
    const [client, side] = duplexPair()
    server.serve(side)
    client.write(encode.status(open.cid).subarray())
    client.write(encode.status(open.cid).subarray())
    const { messages, ended } = await read(client, () => false)
    assert.equal(ended, true)
    assert.ok(messages.every(m => m.type === 'root' && m.status === ROOT_STATUS.NONE) && messages.length <= 1)
  })

  it('ends a stream that queues more than 1024 wants', { timeout: 10_000 }, async () => {
    const [client, side] = duplexPair()
    server.serve(side)
    // wants of blocks it does not have are answered as they come: hold the reads so they queue
    const cids = await Promise.all(Array.from({ length: 5 * MAX_WANTS }, async (_, i) => (await rawBlock(`missing ${i}`)).cid))
    for (let i = 0; i < cids.length; i += MAX_WANTS) client.write(encode.want(cids.slice(i, i + MAX_WANTS)).subarray())
    const { ended } = await read(client, () => false)
    assert.equal(ended, true)
  })

  it(`serves at most ${MAX_ONION_STREAMS} streams at once`, async () => {
    const pairs = Array.from({ length: MAX_ONION_STREAMS + 1 }, () => duplexPair())
    const before = server.stats.refused
    for (const [, side] of pairs) server.serve(side)
    assert.equal(server.stats.refused - before, 1)
    assert.equal((pairs.at(-1) as [Duplex, Duplex])[1].destroyed, true)
    for (const [client] of pairs) client.destroy()
  })
})
