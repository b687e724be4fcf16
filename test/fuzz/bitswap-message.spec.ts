/**
 * Fuzzing the Bitswap message codec (`src/share/bitswap/message.ts`): valid messages
 * round-trip; mutated and random bytes decode, and then survive another encode/decode
 * unchanged, or throw `InvalidBitswapMessageError`, never with a TypeError underneath; a length
 * field claiming gigabytes is refused without allocating.
 */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { describe, it } from 'node:test'
import * as dagPb from '@ipld/dag-pb'
import fc from 'fast-check'
import * as lp from 'it-length-prefixed'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import * as Digest from 'multiformats/hashes/digest'
import * as varint from 'uint8-varint'
import { MAX_MESSAGE_BYTES, PresenceType, WantType, decodeMessage, encodeMessage } from '../../src/share/bitswap/message.ts'
import type { BitswapMessage, MessageBlock } from '../../src/share/bitswap/message.ts'
import { cidArb, concatBytes, decodeOrTyped, decodeOrTypedAsync, fuzz, fuzzAsync, hostileBytes, splitAt } from '../utils/fuzz.ts'

const TYPED = ['InvalidBitswapMessageError']
/** it-length-prefixed's errors, which stream-io lets through (the stream is then aborted). */
const LP_ERRORS = ['InvalidMessageLengthError', 'InvalidDataLengthError', 'InvalidDataLengthLengthError', 'UnexpectedEOFError']

async function * chunks (parts: Uint8Array[]): AsyncGenerator<Uint8Array> {
  for (const p of parts) yield p
}
const int32 = fc.integer({ min: -0x80000000, max: 0x7fffffff })

function sha256 (data: Uint8Array): Uint8Array {
  return createHash('sha256').update(data).digest()
}

/** A block with the CID its bytes hash to, in each form peerd handles. */
const block: fc.Arbitrary<MessageBlock> = fc.tuple(fc.uint8Array({ maxLength: 200 }), fc.constantFrom('raw', 'pb', 'v0', 'identity')).map(([data, kind]) => {
  if (kind === 'identity') return { cid: CID.createV1(raw.code, Digest.create(0x00, data.subarray(0, 40))), data: data.subarray(0, 40) }
  const digest = Digest.create(0x12, sha256(data)) as Digest.Digest<0x12, 32>
  const cid = kind === 'v0' ? CID.createV0(digest) : CID.createV1(kind === 'pb' ? dagPb.code : raw.code, digest)
  return { cid, data }
})

const message: fc.Arbitrary<BitswapMessage> = fc.record({
  wantlist: fc.option(fc.record({
    entries: fc.array(fc.record({
      cid: cidArb,
      priority: int32,
      cancel: fc.boolean(),
      wantType: fc.constantFrom(WantType.Block, WantType.Have),
      sendDontHave: fc.boolean()
    }), { maxLength: 6 }),
    full: fc.boolean()
  }), { nil: undefined }),
  blocks: fc.array(block, { maxLength: 3 }),
  blockPresences: fc.array(fc.record({ cid: cidArb, type: fc.constantFrom(PresenceType.Have, PresenceType.DontHave) }), { maxLength: 6 }),
  pendingBytes: int32
}, { requiredKeys: ['blocks', 'blockPresences', 'pendingBytes'] })

/** A message with CIDs as strings and bytes as hex, without the decoder's `ignored` count. */
function plain (m: BitswapMessage): unknown {
  const { ignored: _ignored, ...rest } = m as BitswapMessage & { ignored?: number }
  return JSON.parse(JSON.stringify(rest, (_k, v: unknown) => {
    if (v instanceof CID) return v.toString()
    if (v instanceof Uint8Array) return Buffer.from(v).toString('hex')
    return v
  }))
}

describe('fuzz: Bitswap messages', () => {
  it('round-trips valid messages', () => {
    fuzz(message, (msg) => { assert.deepStrictEqual(plain(decodeMessage(encodeMessage(msg))), plain(msg)) })
  })

  it('decodes mutated and random bytes to a message that re-encodes to itself, or throws InvalidBitswapMessageError', () => {
    fuzz(hostileBytes(message.map(encodeMessage)), (bytes) => {
      const msg = decodeOrTyped(() => decodeMessage(bytes), TYPED)
      if (msg != null) assert.deepStrictEqual(plain(decodeMessage(encodeMessage(msg))), plain(msg))
    })
  })

  it('never wraps a TypeError: only the reader running past the end is turned into a typed error', () => {
    fuzz(hostileBytes(message.map(encodeMessage)), (bytes) => {
      try {
        decodeMessage(bytes)
      } catch (err) {
        const cause = (err as Error).cause as Error | undefined
        if (cause != null) assert.notEqual(cause.name, 'TypeError', cause.message)
      }
    })
  })

  it('reads a length-prefixed stream of messages cut anywhere, as stream-io does; mutated streams give typed errors', async () => {
    const read = async (parts: Uint8Array[]): Promise<BitswapMessage[]> => {
      const out: BitswapMessage[] = []
      for await (const frame of lp.decode(chunks(parts), { maxDataLength: MAX_MESSAGE_BYTES })) out.push(decodeMessage(frame.subarray()))
      return out
    }
    const streams = fc.array(message, { minLength: 1, maxLength: 3 })
    await fuzzAsync(fc.tuple(streams, fc.array(fc.nat(), { maxLength: 10 })), async ([msgs, cuts]) => {
      const bytes = concatBytes(msgs.map(m => lp.encode.single(encodeMessage(m)).subarray()))
      assert.deepStrictEqual((await read(splitAt(bytes, cuts))).map(plain), msgs.map(plain))
    }, 0.5)
    await fuzzAsync(fc.tuple(hostileBytes(streams.map(ms => concatBytes(ms.map(m => lp.encode.single(encodeMessage(m)).subarray())))), fc.array(fc.nat(), { maxLength: 6 })), async ([bytes, cuts]) => {
      await decodeOrTypedAsync(async () => await read(splitAt(bytes, cuts)), [...TYPED, ...LP_ERRORS])
    }, 0.5)
    // a length prefix of 4 GiB is refused from the prefix alone
    await assert.rejects(read([varint.encode(4 * 2 ** 30), new Uint8Array(16)]), { name: 'InvalidDataLengthError' })
  })

  it('refuses a field length of gigabytes, and a message over the limit, without allocating', () => {
    const before = process.memoryUsage().arrayBuffers
    for (const len of [2 ** 31, 2 ** 32 - 1]) {
      const t0 = performance.now()
      assert.throws(() => decodeMessage(concatBytes([Uint8Array.of(0x1a), varint.encode(len), new Uint8Array(8)])), { name: 'InvalidBitswapMessageError' })
      assert.ok(performance.now() - t0 < 50)
    }
    assert.throws(() => decodeMessage(new Uint8Array(MAX_MESSAGE_BYTES + 1)), { name: 'InvalidBitswapMessageError' })
    assert.ok(process.memoryUsage().arrayBuffers - before < MAX_MESSAGE_BYTES + 16 * 1024 * 1024)
  })
})
