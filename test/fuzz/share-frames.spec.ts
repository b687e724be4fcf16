/**
 * Fuzzing the block exchange's frames (`src/share/protocol.ts`): every message round-trips; a
 * valid stream of frames cut into arbitrary chunks reads back the same frames through the real
 * stream decoder; mutated and random bodies and streams give messages or `ProtocolError` (the
 * frame reader's `FrameTooLargeError`, `MalformedFrameError`), never another
 * error; a length prefix claiming gigabytes is refused before it is read.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { CID } from 'multiformats/cid'
import * as varint from 'uint8-varint'
import { Uint8ArrayList } from 'uint8arraylist'
import {
  MAX_FRAME, MAX_REQUEST_FRAME, MAX_WANTS, ROOT_STATUS, decodeFrame, decodeMessage, encode, readFrameLists, readFrames
} from '../../src/share/protocol.ts'
import type { Message, RootStatus } from '../../src/share/protocol.ts'
import { cidArb, concatBytes, decodeOrTyped, decodeOrTypedAsync, fuzz, fuzzAsync, hostileBytes, splitAt } from '../utils/fuzz.ts'

const TYPED = ['ProtocolError']
/** The frame reader's errors (src/net/frames.ts). */
const FRAME_ERRORS = ['FrameTooLargeError', 'MalformedFrameError']

const cids = fc.array(cidArb, { minLength: 1, maxLength: 8 })
const status = fc.constantFrom(...Object.values(ROOT_STATUS)) as fc.Arbitrary<RootStatus>

const message: fc.Arbitrary<Message> = fc.oneof(
  cids.map(c => ({ type: 'want' as const, cids: c })),
  cids.map(c => ({ type: 'cancel' as const, cids: c })),
  cids.map(c => ({ type: 'have' as const, cids: c })),
  cids.map(c => ({ type: 'fetching' as const, cids: c })),
  fc.constant({ type: 'choke' as const }),
  fc.constant({ type: 'unchoke' as const }),
  cidArb.map(cid => ({ type: 'status' as const, cid })),
  fc.tuple(cidArb, fc.uint8Array({ maxLength: 300 })).map(([cid, data]) => ({ type: 'block' as const, cid, data })),
  cidArb.map(cid => ({ type: 'dont-have' as const, cid })),
  fc.tuple(cidArb, status).map(([cid, s]) => ({ type: 'root' as const, cid, status: s }))
)

function frameOf (msg: Message): Uint8Array {
  switch (msg.type) {
    case 'want': return encode.want(msg.cids).subarray()
    case 'cancel': return encode.cancel(msg.cids).subarray()
    case 'have': return encode.have(msg.cids).subarray()
    case 'fetching': return encode.fetching(msg.cids).subarray()
    case 'choke': return encode.choke().subarray()
    case 'unchoke': return encode.unchoke().subarray()
    case 'status': return encode.status(msg.cid).subarray()
    case 'block': return encode.block(msg.cid, msg.data).subarray()
    case 'dont-have': return encode.dontHave(msg.cid).subarray()
    case 'root': return encode.root(msg.cid, msg.status).subarray()
  }
}

function bodyOf (frame: Uint8Array): Uint8Array {
  return frame.subarray(varint.encodingLength(varint.decode(frame)))
}

/** A message with CIDs as strings and bytes as hex, for comparison. */
function plain (m: { type: string }): unknown {
  return JSON.parse(JSON.stringify(m, (_k, v: unknown) => {
    if (v instanceof CID) return v.toString()
    if (v instanceof Uint8ArrayList) return Buffer.from(v.subarray()).toString('hex')
    if (v instanceof Uint8Array) return Buffer.from(v).toString('hex')
    return v
  }))
}

async function * chunks (parts: Uint8Array[]): AsyncGenerator<Uint8Array> {
  for (const p of parts) yield p
}

async function collect<T> (it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = []
  for await (const v of it) out.push(v)
  return out
}

describe('fuzz: share frames', () => {
  it('round-trips every message, with decodeMessage and with decodeFrame', () => {
    fuzz(message, (msg) => {
      const body = bodyOf(frameOf(msg))
      assert.deepStrictEqual(plain(decodeMessage(body)), plain(msg))
      assert.deepStrictEqual(plain(decodeFrame(new Uint8ArrayList(body))), plain(msg))
    })
  })

  it('decodes mutated and random bodies or throws ProtocolError, the same with both decoders', () => {
    fuzz(hostileBytes(message.map(m => bodyOf(frameOf(m)))), (body) => {
      const a = decodeOrTyped(() => decodeMessage(body), TYPED)
      // a body cut into two chunks, as a stream delivers it
      const list = new Uint8ArrayList(body.subarray(0, body.length >> 1), body.subarray(body.length >> 1))
      const b = decodeOrTyped(() => decodeFrame(list), TYPED)
      assert.deepStrictEqual(a == null ? undefined : plain(a), b == null ? undefined : plain(b))
      // only the canonical encoding of a message is accepted
      if (a != null) assert.deepStrictEqual(bodyOf(frameOf(a)), body)
    })
  })

  it('reads a valid stream of frames cut into arbitrary chunks', async () => {
    await fuzzAsync(fc.tuple(fc.array(message, { minLength: 1, maxLength: 6 }), fc.array(fc.nat(), { maxLength: 16 })), async ([msgs, cuts]) => {
      const stream = concatBytes(msgs.map(frameOf))
      const bodies = await collect(readFrames(chunks(splitAt(stream, cuts))))
      assert.deepStrictEqual(bodies.map(b => plain(decodeMessage(b))), msgs.map(plain))
      const lists = await collect(readFrameLists(chunks(splitAt(stream, cuts))))
      assert.deepStrictEqual(lists.map(l => plain(decodeFrame(l))), msgs.map(plain))
    }, 0.5)
  })

  it('reads mutated and random streams, in arbitrary chunks, to messages or typed errors', async () => {
    const streams = fc.array(message, { minLength: 1, maxLength: 4 }).map(ms => concatBytes(ms.map(frameOf)))
    await fuzzAsync(fc.tuple(hostileBytes(streams), fc.array(fc.nat(), { maxLength: 8 })), async ([bytes, cuts]) => {
      await decodeOrTypedAsync(async () => {
        for await (const l of readFrameLists(chunks(splitAt(bytes, cuts)), MAX_REQUEST_FRAME)) decodeFrame(l)
      }, [...TYPED, ...FRAME_ERRORS])
    })
  })

  it('refuses a length prefix of gigabytes, and lists over MAX_WANTS, before reading them', async () => {
    const before = process.memoryUsage().arrayBuffers
    for (const len of [MAX_FRAME + 1, 2 ** 32, 2 ** 53 - 1]) {
      await assert.rejects(collect(readFrames(chunks([varint.encode(len), Uint8Array.of(0x81)]))), { name: 'FrameTooLargeError' })
    }
    // continuation bytes past the length of MAX_FRAME's own prefix: refused without reading on
    await assert.rejects(collect(readFrames(chunks([new Uint8Array(10).fill(0xff)]))), { name: 'FrameTooLargeError' })
    assert.throws(() => decodeMessage(concatBytes([Uint8Array.of(0x01), varint.encode(MAX_WANTS + 1)])), { name: 'ProtocolError' })
    assert.throws(() => decodeMessage(concatBytes([Uint8Array.of(0x01), varint.encode(2 ** 40)])), { name: 'ProtocolError' })
    assert.ok(process.memoryUsage().arrayBuffers - before < 16 * 1024 * 1024)
  })
})
