/**
 * Fuzzing the chain protocol's requests and responses (`src/cash/sync/protocol.ts`): every
 * valid message round-trips through its frame; mutated and random frame bodies decode or throw
 * `ChainProtocolError`; a frame whose length or count claims gigabytes is refused unread.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import * as varint from 'uint8-varint'
import {
  MAX_GET_BLOCKS, MAX_HEADERS, MAX_LOCATOR, MAX_REQUEST_FRAME, MAX_RESPONSE_FRAME,
  decodeRequest, decodeResponse, encodeRequest, encodeResponse
} from '../../src/cash/sync/protocol.ts'
import type { ChainRequest, ChainResponse } from '../../src/cash/sync/protocol.ts'
import type { BlockHeader } from '../../src/cash/primitives/header.ts'
import { readFrames } from '../../src/net/frames.ts'
import { concatBytes, decodeOrTyped, decodeOrTypedAsync, fuzz, fuzzAsync, hostileBytes, splitAt } from '../utils/fuzz.ts'

const TYPED = ['ChainProtocolError']
const u32 = fc.nat({ max: 0xffffffff })
const hash = fc.uint8Array({ minLength: 32, maxLength: 32 })
const nonZeroHash = hash.filter(h => h.some(b => b !== 0))

const header: fc.Arbitrary<BlockHeader> = fc.record({
  version: fc.integer({ min: -0x80000000, max: 0x7fffffff }), prevHash: hash, merkleRoot: hash, time: u32, bits: u32, nonce: u32
}, { noNullPrototype: true })

const request: fc.Arbitrary<ChainRequest> = fc.oneof(
  fc.constant({ type: 'status' as const }),
  fc.record({ type: fc.constant('get-headers' as const), locator: fc.array(hash, { maxLength: MAX_LOCATOR }), stop: fc.option(nonZeroHash, { nil: undefined }) }, { noNullPrototype: true }),
  fc.record({ type: fc.constant('get-blocks' as const), hashes: fc.array(hash, { minLength: 1, maxLength: MAX_GET_BLOCKS }) }, { noNullPrototype: true })
)

const response: fc.Arbitrary<ChainResponse> = fc.oneof(
  fc.record({ type: fc.constant('tip' as const), height: u32, hash, chainwork: fc.bigInt({ min: 0n, max: 2n ** 256n - 1n }) }, { noNullPrototype: true }),
  // up to MAX_HEADERS now and then, so the varint count takes two bytes
  fc.record({ type: fc.constant('headers' as const), headers: fc.oneof({ arbitrary: fc.array(header, { maxLength: 4 }), weight: 9 }, { arbitrary: fc.array(header, { minLength: 128, maxLength: MAX_HEADERS }), weight: 1 }) }, { noNullPrototype: true }),
  fc.record({ type: fc.constant('block' as const), bytes: fc.uint8Array({ minLength: 1, maxLength: 300 }) }, { noNullPrototype: true }),
  fc.record({ type: fc.constant('not-found' as const), hash }, { noNullPrototype: true })
)

/** A frame's body after checking that its length prefix is exact. */
function body (frame: Uint8Array): Uint8Array {
  const len = varint.decode(frame)
  const head = varint.encodingLength(len)
  assert.equal(frame.length, head + len)
  return frame.subarray(head)
}

async function collect<T> (it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = []
  for await (const v of it) out.push(v)
  return out
}

async function * chunks (parts: Uint8Array[]): AsyncGenerator<Uint8Array> {
  for (const p of parts) yield p
}

describe('fuzz: chain protocol', () => {
  it('round-trips every request and response', () => {
    fuzz(request, (req) => { assert.deepStrictEqual(decodeRequest(body(encodeRequest(req))), req) })
    fuzz(response, (res) => { assert.deepStrictEqual(decodeResponse(body(encodeResponse(res))), res) }, 0.5)
  })

  it('decodes mutated and random request bodies or throws ChainProtocolError', () => {
    fuzz(hostileBytes(request.map(r => body(encodeRequest(r)))), (b) => {
      const req = decodeOrTyped(() => decodeRequest(b), TYPED)
      if (req != null) assert.ok(b.length <= MAX_REQUEST_FRAME)
    })
  })

  it('decodes mutated and random response bodies or throws ChainProtocolError', () => {
    fuzz(hostileBytes(response.map(r => body(encodeResponse(r)))), (b) => {
      decodeOrTyped(() => decodeResponse(b), TYPED)
    })
  })

  it('reads a stream of response frames split anywhere, and throws typed errors for a mutated one', async () => {
    const stream = fc.array(response, { minLength: 1, maxLength: 4 })
    await fuzzAsync(fc.tuple(stream, fc.array(fc.nat(), { maxLength: 12 })), async ([responses, cuts]) => {
      const bytes = concatBytes(responses.map(encodeResponse))
      const read = await collect(readFrames(chunks(splitAt(bytes, cuts)), MAX_RESPONSE_FRAME))
      assert.deepStrictEqual(read.map(decodeResponse), responses)
    }, 0.5)
    await fuzzAsync(fc.tuple(hostileBytes(stream.map(rs => concatBytes(rs.map(encodeResponse)))), fc.array(fc.nat(), { maxLength: 6 })), async ([bytes, cuts]) => {
      await decodeOrTypedAsync(async () => {
        for await (const b of readFrames(chunks(splitAt(bytes, cuts)), MAX_RESPONSE_FRAME)) decodeResponse(b)
      }, [...TYPED, 'FrameTooLargeError', 'MalformedFrameError'])
    })
  })

  it('refuses a HEADERS count or a frame length of gigabytes without allocating', async () => {
    const before = process.memoryUsage().arrayBuffers
    const headers = concatBytes([Uint8Array.of(0x82), varint.encode(2 ** 32), new Uint8Array(80)])
    assert.throws(() => decodeResponse(headers), { name: 'ChainProtocolError' })
    const frame = concatBytes([varint.encode(4 * 2 ** 30), Uint8Array.of(0x83)])
    await assert.rejects(collect(readFrames(chunks([frame]), MAX_RESPONSE_FRAME)), { name: 'FrameTooLargeError' })
    const request = concatBytes([varint.encode(MAX_REQUEST_FRAME + 1), Uint8Array.of(0x02)])
    await assert.rejects(collect(readFrames(chunks([request]), MAX_REQUEST_FRAME)), { name: 'FrameTooLargeError' })
    assert.ok(process.memoryUsage().arrayBuffers - before < 16 * 1024 * 1024)
    assert.ok(MAX_HEADERS * 80 < MAX_RESPONSE_FRAME)
  })
})
