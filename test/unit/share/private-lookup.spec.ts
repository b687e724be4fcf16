/**
 * The provider lookup protocol of private gets: its codec refuses what a hostile peer could send
 * (a request that is not one canonical CID, an answer with too many or malformed ids, frames over
 * the limits), and its server answers with the DHT's providers (and itself when it serves the
 * root) within a per-peer budget, refusing past it.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { PeerId } from '@libp2p/interface'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import * as varint from 'uint8-varint'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import type { PeerdHost } from '../../../src/net/host.ts'
import { encodeFrame, FrameTooLargeError, readFrames } from '../../../src/net/frames.ts'
import { encodePeerList } from '../../../src/net/peer-list.ts'
import { decodeLookupAnswer, decodeLookupRequest, encodeLookupAnswer, encodeLookupRequest, lookupProtocol, MAX_ANSWER_FRAME, MAX_ANSWER_PROVIDERS, MAX_REQUEST_FRAME, readOneFrame } from '../../../src/share/private/lookup-protocol.ts'
import { LOOKUP_BURST, ProviderLookupServer } from '../../../src/share/private/lookup-server.ts'
import { SILENT_LOGGER } from '../../../src/utils/logger.ts'

async function peerId (): Promise<PeerId> {
  return peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
}

async function rawCid (text: string): Promise<CID> {
  return CID.createV1(raw.code, await sha256.digest(new TextEncoder().encode(text)))
}

/** The body of a one-frame message. */
function body (frame: Uint8Array): Uint8Array {
  return frame.subarray(varint.encodingLength(varint.decode(frame)))
}

async function * chunks (...parts: Uint8Array[]): AsyncGenerator<Uint8Array> {
  for (const p of parts) yield p
}

describe('provider lookup codec', () => {
  it('round-trips a request and an answer', async () => {
    const cid = await rawCid('a')
    assert.equal(decodeLookupRequest(body(encodeLookupRequest(cid))).toString(), cid.toString())
    const ids = await Promise.all([peerId(), peerId()])
    assert.deepEqual(decodeLookupAnswer(body(encodeLookupAnswer(ids.map(String)))).map(String), ids.map(String))
  })

  it('refuses a request that is not one canonical CID', async () => {
    const cid = await rawCid('b')
    assert.throws(() => decodeLookupRequest(new Uint8Array(0)), { name: 'ProviderLookupError' })
    assert.throws(() => decodeLookupRequest(new TextEncoder().encode('not a cid')), { name: 'ProviderLookupError' })
    assert.throws(() => decodeLookupRequest(Uint8Array.of(...cid.bytes, 0)), { name: 'ProviderLookupError' }, 'trailing byte')
  })

  it('keeps at most MAX_ANSWER_PROVIDERS ids, and refuses an answer that lists more or malformed ones', async () => {
    const ids = (await Promise.all(Array.from({ length: MAX_ANSWER_PROVIDERS + 5 }, peerId))).map(String)
    assert.equal(decodeLookupAnswer(body(encodeLookupAnswer(ids))).length, MAX_ANSWER_PROVIDERS)
    // a hostile helper encodes more itself
    assert.throws(() => decodeLookupAnswer(body(encodePeerList(ids))), { name: 'ProviderLookupError' })
    const bad = Uint8Array.of(1, 4, ...new TextEncoder().encode('QmXx'))
    assert.throws(() => decodeLookupAnswer(bad), { name: 'PeerListError' })
  })

  it('refuses a frame over its limit before reading it', async () => {
    const huge = varint.encode(MAX_ANSWER_FRAME + 1)
    await assert.rejects(readOneFrame(chunks(huge, new Uint8Array(16)), MAX_ANSWER_FRAME), FrameTooLargeError)
    await assert.rejects(readOneFrame(chunks(varint.encode(MAX_REQUEST_FRAME + 1)), MAX_REQUEST_FRAME), FrameTooLargeError)
    await assert.rejects(readOneFrame(chunks(), MAX_REQUEST_FRAME), { name: 'ProviderLookupError' })
  })
})

/** A fake host: records the handler; its DHT finds `providers` for any key. */
function fakeHost (self: PeerId, providers: PeerId[], calls: string[]): { host: PeerdHost, handler: () => ((stream: unknown, conn: unknown) => void) } {
  let handler: ((stream: unknown, conn: unknown) => void) | undefined
  const host = {
    peerId: self,
    handle: async (_p: string, h: (stream: unknown, conn: unknown) => void) => { handler = h },
    unhandle: async () => {},
    services: {
      dht: {
        async * findProviders (key: CID) {
          calls.push(key.toString())
          yield { name: 'PROVIDER', providers: providers.map(id => ({ id, multiaddrs: [] })) }
        }
      }
    }
  } as unknown as PeerdHost
  return { host, handler: () => handler as (stream: unknown, conn: unknown) => void }
}

/** A fake stream carrying `request`; resolves with what the server sent, or 'aborted'. */
function fakeStream (request: Uint8Array): { stream: unknown, result: Promise<Uint8Array | 'aborted'> } {
  let resolve: (v: Uint8Array | 'aborted') => void = () => {}
  const result = new Promise<Uint8Array | 'aborted'>(r => { resolve = r })
  const sent: Uint8Array[] = []
  const stream = {
    async * [Symbol.asyncIterator] () { yield request; await new Promise(() => {}) },
    send: (d: Uint8Array) => { sent.push(d); return true },
    close: async () => { resolve(Buffer.concat(sent)) },
    abort: () => { resolve('aborted') }
  }
  return { stream, result }
}

describe('provider lookup server', () => {
  it('answers with the DHT\'s providers and itself when it serves the root; refuses past a peer\'s budget', async () => {
    const [self, a, b, asker, other] = await Promise.all([peerId(), peerId(), peerId(), peerId(), peerId()])
    const calls: string[] = []
    const fake = fakeHost(self, [a, b, a], calls)
    const served = await rawCid('served')
    const server = new ProviderLookupServer({ host: fake.host, network: 'regtest', log: SILENT_LOGGER, serves: async cid => cid.equals(served) })
    assert.equal(server.protocol, lookupProtocol('regtest'))
    await server.start()
    const ask = async (cid: CID, from: PeerId): Promise<Uint8Array | 'aborted'> => {
      const { stream, result } = fakeStream(encodeLookupRequest(cid))
      fake.handler()(stream, { remotePeer: from })
      return await result
    }
    const answer = async (cid: CID, from: PeerId): Promise<string[]> => {
      const r = await ask(cid, from)
      assert.notEqual(r, 'aborted')
      for await (const f of readFrames(chunks(r as Uint8Array), MAX_ANSWER_FRAME)) return decodeLookupAnswer(f).map(String)
      throw new Error('no frame')
    }
    assert.deepEqual(await answer(served, asker), [self, a, b].map(String))
    assert.deepEqual(await answer(await rawCid('other'), asker), [a, b].map(String))
    // the budget: a burst of LOOKUP_BURST, then refused; another peer still has its own
    for (let i = 2; i < LOOKUP_BURST; i++) await answer(served, asker)
    assert.equal(await ask(served, asker), 'aborted')
    assert.deepEqual(await answer(served, other), [self, a, b].map(String))
    assert.equal(server.stats.refused, 1)
    assert.equal(calls.length, LOOKUP_BURST + 1)
    // a request that is not a CID is refused, and costs no lookup
    const { stream, result } = fakeStream(encodeFrame(new TextEncoder().encode('garbage')))
    fake.handler()(stream, { remotePeer: other })
    assert.equal(await result, 'aborted')
    assert.equal(calls.length, LOOKUP_BURST + 1)
    await server.stop()
  })
})
