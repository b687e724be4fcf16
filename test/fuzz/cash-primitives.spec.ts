/**
 * Fuzzing the consensus codecs (transactions, headers, blocks): valid values round-trip;
 * mutated encodings and random bytes decode (and then re-encode to the very same bytes, since
 * only canonical encodings are accepted) or throw `DecodeError`, never another error; a forged
 * count or length is refused before anything is allocated.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { decodeBlock, encodeBlock } from '../../src/cash/primitives/block.ts'
import type { Block } from '../../src/cash/primitives/block.ts'
import { DecodeError } from '../../src/cash/primitives/errors.ts'
import { HEADER_SIZE, decodeHeader, encodeHeader } from '../../src/cash/primitives/header.ts'
import type { BlockHeader } from '../../src/cash/primitives/header.ts'
import { decodeTx, encodeTx } from '../../src/cash/primitives/tx.ts'
import type { Transaction } from '../../src/cash/primitives/tx.ts'
import { decodeOrTyped, fuzz, hostileBytes } from '../utils/fuzz.ts'

const TYPED = ['DecodeError']
/** Plain objects (fast-check's records have a null prototype, which deepStrictEqual tells apart). */
function record<T> (model: { [K in keyof T]: fc.Arbitrary<T[K]> }): fc.Arbitrary<T> {
  return fc.record(model, { noNullPrototype: true })
}

const u32 = fc.nat({ max: 0xffffffff })
const hash = fc.uint8Array({ minLength: 32, maxLength: 32 })
const script = fc.uint8Array({ maxLength: 80 })

const txArb: fc.Arbitrary<Transaction> = record({
  version: fc.integer({ min: -0x80000000, max: 0x7fffffff }),
  // at least one input: a transaction of none is ambiguous with the BIP144 marker (as in Bitcoin)
  inputs: fc.array(record({
    prevout: record({ txid: hash, index: u32 }),
    scriptSig: script,
    sequence: u32,
    witness: fc.array(fc.uint8Array({ maxLength: 72 }), { maxLength: 3 })
  }), { minLength: 1, maxLength: 4 }),
  outputs: fc.array(record({ amount: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), script }), { maxLength: 4 }),
  lockTime: u32
})

const headerArb: fc.Arbitrary<BlockHeader> = record({
  version: fc.integer({ min: -0x80000000, max: 0x7fffffff }),
  prevHash: hash,
  merkleRoot: hash,
  time: u32,
  bits: u32,
  nonce: u32
})

const blockArb: fc.Arbitrary<Block> = record({ header: headerArb, txs: fc.array(txArb, { minLength: 1, maxLength: 4 }) })

const txBytes = txArb.map(tx => encodeTx(tx, { witness: true }))
const blockBytes = blockArb.map(encodeBlock)

/** The bytes of a CompactSize claiming `n` (the 9-byte form). */
function compact64 (n: bigint): Uint8Array {
  const out = new Uint8Array(9)
  out[0] = 0xff
  new DataView(out.buffer).setBigUint64(1, n, true)
  return out
}

/** Runs `fn`, which must throw DecodeError `reason` within 50 ms and without allocating 16 MiB. */
function refusedCheaply (fn: () => unknown, reason: string): void {
  const before = process.memoryUsage().arrayBuffers
  const t0 = performance.now()
  assert.throws(fn, (err: Error) => err instanceof DecodeError && err.reason === reason)
  assert.ok(performance.now() - t0 < 50, 'the refusal took over 50 ms')
  assert.ok(process.memoryUsage().arrayBuffers - before < 16 * 1024 * 1024, 'the refusal allocated 16 MiB or more')
}

describe('fuzz: transactions', () => {
  it('round-trips valid transactions, with and without witnesses', () => {
    fuzz(txArb, (tx) => {
      assert.deepStrictEqual(decodeTx(encodeTx(tx, { witness: true })), tx)
      const legacy = decodeTx(encodeTx(tx, { witness: false }))
      assert.deepStrictEqual(legacy, { ...tx, inputs: tx.inputs.map(i => ({ ...i, witness: [] })) })
    })
  })

  it('decodes mutated and random bytes to a canonical transaction or throws DecodeError', () => {
    fuzz(hostileBytes(txBytes), (bytes) => {
      const tx = decodeOrTyped(() => decodeTx(bytes), TYPED)
      if (tx != null) assert.deepStrictEqual(encodeTx(tx, { witness: true }), Uint8Array.from(bytes))
    })
  })

  it('never reports the scan and the parser disagreeing (tx-malformed)', () => {
    fuzz(hostileBytes(txBytes), (bytes) => {
      try {
        decodeTx(bytes)
      } catch (err) {
        assert.notEqual((err as DecodeError).reason, 'tx-malformed', (err as Error).message)
      }
    })
  })

  it('refuses a forged input or output count before allocating', () => {
    const head = Uint8Array.of(1, 0, 0, 0)
    refusedCheaply(() => decodeTx(Uint8Array.from([...head, ...compact64(2n ** 32n)])), 'tx-too-many-inputs')
    refusedCheaply(() => decodeTx(Uint8Array.from([...head, ...compact64(2n ** 63n)])), 'tx-too-many-inputs')
    // within the count limit but far beyond the bytes present
    refusedCheaply(() => decodeTx(Uint8Array.from([...head, 0xfd, 0x20, 0x4e, ...new Uint8Array(64)])), 'tx-truncated')
    // one empty input, then a script length of 2^32 - 1
    const input = [...new Uint8Array(36), 0xfe, 0xff, 0xff, 0xff, 0xff]
    refusedCheaply(() => decodeTx(Uint8Array.from([...head, 1, ...input, ...new Uint8Array(8)])), 'tx-truncated')
  })
})

describe('fuzz: block headers', () => {
  it('round-trips every header, and every 80 bytes', () => {
    fuzz(headerArb, (h) => { assert.deepStrictEqual(decodeHeader(encodeHeader(h)), h) })
    fuzz(fc.uint8Array({ minLength: HEADER_SIZE, maxLength: HEADER_SIZE }), (b) => {
      assert.deepStrictEqual(encodeHeader(decodeHeader(b)), b)
    })
  })

  it('throws DecodeError header-size for any other length', () => {
    fuzz(fc.uint8Array({ maxLength: 200 }).filter(b => b.length !== HEADER_SIZE), (b) => {
      assert.throws(() => decodeHeader(b), (err: Error) => err instanceof DecodeError && err.reason === 'header-size')
    })
  })
})

describe('fuzz: blocks', () => {
  it('round-trips valid blocks', () => {
    fuzz(blockArb, (block) => { assert.deepStrictEqual(decodeBlock(encodeBlock(block)), block) }, 0.5)
  })

  it('decodes mutated and random bytes to a canonical block or throws DecodeError', () => {
    fuzz(hostileBytes(blockBytes), (bytes) => {
      const block = decodeOrTyped(() => decodeBlock(bytes), TYPED)
      if (block != null) assert.deepStrictEqual(encodeBlock(block), Uint8Array.from(bytes))
    })
  })

  it('refuses a forged transaction count, and an oversized block, before allocating', () => {
    const header = new Uint8Array(HEADER_SIZE)
    refusedCheaply(() => decodeBlock(Uint8Array.from([...header, ...compact64(2n ** 62n)])), 'block-too-many-txs')
    refusedCheaply(() => decodeBlock(Uint8Array.from([...header, 0xfe, 0x00, 0x00, 0x01, 0x00, ...new Uint8Array(100)])), 'block-too-many-txs')
    refusedCheaply(() => decodeBlock(new Uint8Array(4_000_001)), 'block-oversize')
  })
})
