/**
 * The inner layer of onion-service descriptors (issue 17), and the small codec helpers the
 * descriptor's other layers share: what only clients who know the address (and are authorized)
 * read, a service's proof-of-work parameters and its introduction points.
 *
 *     inner = flags u8 (bit 0: proof of work) | [pow seed (32) | suggested effort u32 | expires u64 (s)]
 *             | nIntro u8 (≤ 10) | nIntro × (u8 len, peer id multihash | onion key (32) | auth key (32) | enc key (32))
 *
 * Every length is checked before it is read; unknown flags and trailing bytes are refused.
 * @module
 */
import { peerIdFromMultihash } from '@libp2p/peer-id'
import * as Digest from 'multiformats/hashes/digest'
import { InvalidArgumentError } from '../../errors.ts'
import { MalformedHsDescriptorError } from './hs-errors.ts'

/** Most introduction points. */
export const MAX_INTRO_POINTS = 10
/** Longest peer id multihash. */
export const MAX_PEER_ID_BYTES = 64

const KEY_BYTES = 32
const FLAG_POW = 0x01

/** One introduction point, as the client needs it. */
export interface HsIntroPoint {
  /** The introduction relay's libp2p peer id, as multihash bytes (`peerId.toMultihash().bytes`). */
  readonly peerId: Uint8Array
  /** The relay's ntor onion key (32). */
  readonly onionKey: Uint8Array
  /** The service's Ed25519 auth key at this introduction point (32). */
  readonly authKey: Uint8Array
  /** The service's X25519 encryption key at this introduction point, hs-ntor's B (32). */
  readonly encKey: Uint8Array
}

/** The service's proof-of-work parameters. */
export interface HsPowParams {
  readonly seed: Uint8Array
  readonly suggestedEffort: number
  /** When the seed expires, in unix seconds. */
  readonly expiresAt: number
}

/** The inner layer: what only clients who know the address (and are authorized) read. */
export interface HsInnerDescriptor {
  readonly pow?: HsPowParams | undefined
  readonly introPoints: readonly HsIntroPoint[]
}

/** A bounds-checked reader of big-endian fields; every overrun is a `MalformedHsDescriptorError`. */
export class Reader {
  at = 0
  private readonly b: Uint8Array
  private readonly what: string
  constructor (b: Uint8Array, what: string) {
    this.b = b
    this.what = what
  }

  take (n: number, field: string): Uint8Array {
    if (this.at + n > this.b.length) throw new MalformedHsDescriptorError(`${this.what}: ${field} runs past the end`)
    // a copy, even of a Buffer (whose slice is a view into a shared pool: `.buffer` would be the pool)
    const out = Uint8Array.prototype.slice.call(this.b, this.at, this.at + n)
    this.at += n
    return out
  }

  u8 (field: string): number { return this.take(1, field)[0] as number }
  u16 (field: string): number { return new DataView(this.take(2, field).buffer).getUint16(0) }
  u32 (field: string): number { return new DataView(this.take(4, field).buffer).getUint32(0) }
  u64 (field: string): number {
    const v = new DataView(this.take(8, field).buffer).getBigUint64(0)
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new MalformedHsDescriptorError(`${this.what}: ${field} ${v} is out of range`)
    return Number(v)
  }

  end (): void {
    if (this.at !== this.b.length) throw new MalformedHsDescriptorError(`${this.what}: ${this.b.length - this.at} trailing bytes`)
  }
}

/** A u16, big-endian. */
export function u16 (n: number): Uint8Array { const b = new Uint8Array(2); new DataView(b.buffer).setUint16(0, n); return b }
/** A u32, big-endian. */
export function u32 (n: number): Uint8Array { const b = new Uint8Array(4); new DataView(b.buffer).setUint32(0, n); return b }
/** A u64, big-endian. */
export function u64 (n: number): Uint8Array { const b = new Uint8Array(8); new DataView(b.buffer).setBigUint64(0, BigInt(n)); return b }
/** The parts one after the other. */
export function concat (...parts: Uint8Array[]): Uint8Array { return new Uint8Array(Buffer.concat(parts)) }
/** Whether two byte strings are equal. */
export function bytesEqual (a: Uint8Array, b: Uint8Array): boolean { return a.length === b.length && Buffer.compare(a, b) === 0 }

/** Throws `InvalidArgumentError` unless `n` is an integer `min`…`max`. */
export function checkInt (what: string, n: number, max: number, min = 0): void {
  if (!Number.isSafeInteger(n) || n < min || n > max) throw new InvalidArgumentError(`${what} must be an integer ${min}…${max}, got ${n}`)
}

/** Throws `InvalidArgumentError` unless `b` is `length` bytes. */
export function checkBytes (what: string, b: Uint8Array, length: number): void {
  if (!(b instanceof Uint8Array) || b.length !== length) throw new InvalidArgumentError(`${what} must be ${length} bytes`)
}

function checkPeerId (bytes: Uint8Array): boolean {
  try {
    peerIdFromMultihash(Digest.decode(bytes))
    return true
  } catch {
    return false
  }
}

/**
 * The inner layer's bytes (exported for tests and fuzzing: a hostile service can put any bytes there).
 *
 * @throws {InvalidArgumentError} on a field of the wrong size or too many introduction points
 */
export function encodeHsInner (inner: HsInnerDescriptor): Uint8Array {
  const parts: Uint8Array[] = [Uint8Array.of(inner.pow != null ? FLAG_POW : 0)]
  if (inner.pow != null) {
    checkBytes('the pow seed', inner.pow.seed, KEY_BYTES)
    checkInt('the suggested effort', inner.pow.suggestedEffort, 0xffffffff)
    checkInt('the pow expiry', inner.pow.expiresAt, Number.MAX_SAFE_INTEGER)
    parts.push(inner.pow.seed, u32(inner.pow.suggestedEffort), u64(inner.pow.expiresAt))
  }
  checkInt('the number of introduction points', inner.introPoints?.length, MAX_INTRO_POINTS)
  parts.push(Uint8Array.of(inner.introPoints.length))
  for (const ip of inner.introPoints) {
    if (!(ip.peerId instanceof Uint8Array) || ip.peerId.length < 1 || ip.peerId.length > MAX_PEER_ID_BYTES || !checkPeerId(ip.peerId)) throw new InvalidArgumentError('an introduction point\'s peer id must be a peer id multihash')
    checkBytes('an onion key', ip.onionKey, KEY_BYTES)
    checkBytes('an auth key', ip.authKey, KEY_BYTES)
    checkBytes('an encryption key', ip.encKey, KEY_BYTES)
    parts.push(Uint8Array.of(ip.peerId.length), ip.peerId, ip.onionKey, ip.authKey, ip.encKey)
  }
  return concat(...parts)
}

/**
 * Decodes an inner layer (exported for tests and fuzzing).
 *
 * @throws {MalformedHsDescriptorError} on any codec violation
 */
export function decodeHsInner (bytes: Uint8Array): HsInnerDescriptor {
  const r = new Reader(bytes, 'inner layer')
  const flags = r.u8('flags')
  if ((flags & ~FLAG_POW) !== 0) throw new MalformedHsDescriptorError(`inner layer: unknown flags 0x${flags.toString(16)}`)
  const pow = (flags & FLAG_POW) !== 0 ? { seed: r.take(KEY_BYTES, 'pow seed'), suggestedEffort: r.u32('suggested effort'), expiresAt: r.u64('pow expiry') } : undefined
  const n = r.u8('introduction point count')
  if (n > MAX_INTRO_POINTS) throw new MalformedHsDescriptorError(`inner layer: ${n} introduction points, over ${MAX_INTRO_POINTS}`)
  const introPoints: HsIntroPoint[] = []
  for (let i = 0; i < n; i++) {
    const len = r.u8('peer id length')
    if (len < 1 || len > MAX_PEER_ID_BYTES) throw new MalformedHsDescriptorError(`inner layer: a peer id of ${len} bytes`)
    const peerId = r.take(len, 'peer id')
    if (!checkPeerId(peerId)) throw new MalformedHsDescriptorError('inner layer: an introduction point\'s peer id is not a peer id multihash')
    introPoints.push({ peerId, onionKey: r.take(KEY_BYTES, 'onion key'), authKey: r.take(KEY_BYTES, 'auth key'), encKey: r.take(KEY_BYTES, 'encryption key') })
  }
  r.end()
  return pow != null ? { pow, introPoints } : { introPoints }
}
