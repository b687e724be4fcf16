/**
 * Fuzzing helpers over fast-check: how many cases each property runs, the seed, mutations of
 * valid encodings, and the check that a rejection is one of a decoder's typed errors.
 *
 * `npm test` runs each property {@link FUZZ_RUNS} times (small, so all targets together stay
 * under a minute); `npm run fuzz` sets `PEERD_FUZZ_RUNS` much higher. The seed is fixed unless
 * `PEERD_FUZZ_SEED` says otherwise, so a run is repeatable; fast-check prints the seed and the
 * shrunk counterexample of a failure (`PEERD_FUZZ_SEED=<seed>` reproduces it).
 */
import assert from 'node:assert/strict'
import * as dagPb from '@ipld/dag-pb'
import fc from 'fast-check'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import * as Digest from 'multiformats/hashes/digest'

function envInt (name: string, fallback: number): number {
  const v = process.env[name]
  if (v == null || v === '') return fallback
  const n = Number(v)
  if (!Number.isSafeInteger(n)) throw new Error(`${name} must be an integer, got "${v}"`)
  return n
}

/** Cases per property (one "weight"): `PEERD_FUZZ_RUNS`, default 500. */
export const FUZZ_RUNS = envInt('PEERD_FUZZ_RUNS', 500)
/** The seed of every property: `PEERD_FUZZ_SEED`, default a fixed one. */
export const FUZZ_SEED = envInt('PEERD_FUZZ_SEED', 0x5eed14)

/** Cases of every property run so far in this process (counted by {@link fuzz}). */
let casesRun = 0
// `npm run fuzz` (PEERD_FUZZ_RUNS set) says how many cases each file ran, and with which seed
if (process.env.PEERD_FUZZ_RUNS != null) {
  process.once('beforeExit', () => { console.log(`fuzz: ${process.argv[1]?.split('/').pop() ?? ''}: ${casesRun} cases, seed ${FUZZ_SEED}`) })
}

/**
 * fast-check parameters for one property: `weight` × {@link FUZZ_RUNS} cases (a slow target,
 * such as HTTP requests, takes a fraction), the shared seed.
 */
export function fuzzParams<T> (weight = 1): fc.Parameters<T> {
  return { numRuns: Math.max(1, Math.round(FUZZ_RUNS * weight)), seed: FUZZ_SEED }
}

/** Runs a synchronous property with {@link fuzzParams}. */
export function fuzz<T> (arb: fc.Arbitrary<T>, check: (value: T) => void, weight = 1): void {
  const params = fuzzParams<[T]>(weight)
  fc.assert(fc.property(arb, (v) => { casesRun++; check(v) }), params)
}

/** Runs an asynchronous property with {@link fuzzParams}. */
export async function fuzzAsync<T> (arb: fc.Arbitrary<T>, check: (value: T) => Promise<void>, weight = 1): Promise<void> {
  const params = fuzzParams<[T]>(weight)
  await fc.assert(fc.asyncProperty(arb, async (v) => { casesRun++; await check(v) }), params)
}

/** Cases run so far by {@link fuzz} and {@link fuzzAsync} in this process. */
export function fuzzCasesRun (): number {
  return casesRun
}

/** One edit of a byte string. */
type Edit =
  | { op: 'flip', at: number, bit: number }
  | { op: 'set', at: number, value: number }
  | { op: 'insert', at: number, bytes: Uint8Array }
  | { op: 'delete', at: number, count: number }
  | { op: 'truncate', at: number }

// Values that sit on the edges of varints and CompactSize prefixes.
const EDGE_BYTES = [0x00, 0x01, 0x7f, 0x80, 0xfc, 0xfd, 0xfe, 0xff]

const edit: fc.Arbitrary<Edit> = fc.oneof(
  fc.record({ op: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ op: fc.constant('set' as const), at: fc.nat(), value: fc.oneof(fc.constantFrom(...EDGE_BYTES), fc.integer({ min: 0, max: 255 })) }),
  fc.record({ op: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 12 }) }),
  fc.record({ op: fc.constant('delete' as const), at: fc.nat(), count: fc.integer({ min: 1, max: 12 }) }),
  fc.record({ op: fc.constant('truncate' as const), at: fc.nat() })
)

function apply (bytes: Uint8Array, e: Edit): Uint8Array {
  const n = bytes.length
  switch (e.op) {
    case 'flip': {
      if (n === 0) return bytes
      const out = Uint8Array.from(bytes)
      out[e.at % n] = (out[e.at % n] as number) ^ (1 << e.bit)
      return out
    }
    case 'set': {
      if (n === 0) return bytes
      const out = Uint8Array.from(bytes)
      out[e.at % n] = e.value
      return out
    }
    case 'insert': {
      const at = e.at % (n + 1)
      const out = new Uint8Array(n + e.bytes.length)
      out.set(bytes.subarray(0, at), 0)
      out.set(e.bytes, at)
      out.set(bytes.subarray(at), at + e.bytes.length)
      return out
    }
    case 'delete': {
      if (n === 0) return bytes
      const at = e.at % n
      const out = new Uint8Array(n - Math.min(e.count, n - at))
      out.set(bytes.subarray(0, at), 0)
      out.set(bytes.subarray(at + e.count), at)
      return out
    }
    case 'truncate': return bytes.slice(0, e.at % (n + 1))
  }
}

/** Applies one to four random edits (bit flips, edge bytes, inserts, deletes, truncation) to a valid encoding. */
export function mutated (valid: fc.Arbitrary<Uint8Array>): fc.Arbitrary<Uint8Array> {
  return fc.tuple(valid, fc.array(edit, { minLength: 1, maxLength: 4 })).map(([bytes, edits]) => edits.reduce(apply, bytes))
}

/** Valid encodings mutated, valid ones untouched, and random bytes: what a fuzz target decodes. */
export function hostileBytes (valid: fc.Arbitrary<Uint8Array>, maxRandom = 512): fc.Arbitrary<Uint8Array> {
  return fc.oneof(
    { arbitrary: mutated(valid), weight: 6 },
    { arbitrary: valid, weight: 1 },
    { arbitrary: fc.uint8Array({ maxLength: maxRandom }), weight: 2 }
  )
}

/**
 * Calls `decode`; returns its result, or undefined when it threw an error whose `name` is one of
 * `typed`. Any other throw (TypeError, RangeError, an assertion inside a library) fails.
 */
export function decodeOrTyped<T> (decode: () => T, typed: readonly string[]): T | undefined {
  try {
    return decode()
  } catch (err) {
    const name = (err as Error)?.name
    if (typed.includes(name)) return undefined
    assert.fail(`expected a result or one of ${typed.join(', ')}, got ${String(name)}: ${(err as Error)?.message ?? String(err)}`)
  }
}

/** Async twin of {@link decodeOrTyped}. */
export async function decodeOrTypedAsync<T> (decode: () => Promise<T>, typed: readonly string[]): Promise<T | undefined> {
  try {
    return await decode()
  } catch (err) {
    const name = (err as Error)?.name
    if (typed.includes(name)) return undefined
    assert.fail(`expected a result or one of ${typed.join(', ')}, got ${String(name)}: ${(err as Error)?.message ?? String(err)}`)
  }
}

/** Cuts `bytes` at the given offsets (any numbers; taken modulo the length, sorted, deduplicated). */
export function splitAt (bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const points = [...new Set(cuts.map(c => bytes.length === 0 ? 0 : c % (bytes.length + 1)))].sort((a, b) => a - b)
  const out: Uint8Array[] = []
  let from = 0
  for (const p of points) {
    if (p > from) out.push(bytes.slice(from, p))
    from = Math.max(from, p)
  }
  if (from < bytes.length) out.push(bytes.slice(from))
  return out
}

/** Byte strings as one buffer. */
export function concatBytes (parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let at = 0
  for (const p of parts) { out.set(p, at); at += p.length }
  return out
}

/** CIDs peerd handles: CIDv1 raw or dag-pb over sha2-256 or identity, and CIDv0. */
export const cidArb: fc.Arbitrary<CID> = fc.oneof(
  fc.tuple(fc.constantFrom(raw.code, dagPb.code), fc.uint8Array({ minLength: 32, maxLength: 32 }))
    .map(([codec, digest]) => CID.createV1(codec, Digest.create(0x12, digest))),
  fc.uint8Array({ minLength: 32, maxLength: 32 }).map(d => CID.createV0(Digest.create(0x12, d) as Digest.Digest<0x12, 32>)),
  fc.uint8Array({ maxLength: 40 }).map(d => CID.createV1(raw.code, Digest.create(0x00, d)))
)
