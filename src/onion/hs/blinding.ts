/**
 * Time periods and Ed25519 key blinding, exactly as rend-spec-v3 [TIME-PERIODS] and [KEYBLIND]
 * define them (issue 17). A service's descriptor is stored and signed under a blinded key A'
 * that changes every time period; anyone who knows the address (A) can compute A' for a period,
 * nobody else can link two periods' keys to each other or to A, and only the holder of A's
 * secret can sign for A'.
 *
 *     period number = floor((unix minutes − 720) / L)          (L minutes, default 1440)
 *     h  = SHA3-256("Derive temporary signing key" | 0x00 | A | s | B | N)
 *          s = "" (no secret), B = the Ed25519 basepoint as text,
 *          N = "key-blind" | u64 BE period number | u64 BE L
 *     A' = clamp(h)·A,  a' = clamp(h)·a mod l,  RH' = SHA-512("Derive temporary signing key hash input" | RH)[:32]
 *     credential    = SHA3-256("credential" | A)
 *     subcredential = SHA3-256("subcredential" | credential | A')
 *
 * Signing with the blinded key is Ed25519 signing with the expanded secret (a', RH') on
 * @noble/curves' point arithmetic, as arti's `ExpandedKeypair` does (no library signs with an
 * expanded key alone); a blinded signature is a plain Ed25519 signature under A', checked with
 * `node:crypto`.
 *
 * ```ts
 * const period = timePeriod(Date.now())
 * const blinded = blindKeyPair(identitySeed, period)            // service: publicKey, sign()
 * blinded.publicKey === blindPublicKey(identityPub, period)      // client: from the address alone
 * verifyBlinded(blinded.sign(msg), msg, blinded.publicKey)       // true
 * ```
 * @module
 */
import { createHash, createPublicKey, verify } from 'node:crypto'
import { ed25519 } from '@noble/curves/ed25519.js'
import { bytesToNumberLE, numberToBytesLE } from '@noble/curves/utils.js'
import { InvalidArgumentError } from '../../errors.ts'

/** Default length of a time period in minutes (Tor's `hsdir-interval`). */
export const DEFAULT_PERIOD_MINUTES = 1440
/** Periods start this many minutes after a multiple of L since the epoch (12:00 UTC for a day). */
export const PERIOD_OFFSET_MINUTES = 720
/** Longest period accepted (Tor's limit on `hsdir-interval`: ten days). */
export const MAX_PERIOD_MINUTES = 14400
/** Bytes of an Ed25519 signature. */
export const SIGNATURE_BYTES = 64

const KEY_BYTES = 32
const BLIND_STRING = 'Derive temporary signing key\0'
const RH_BLIND_STRING = 'Derive temporary signing key hash input'
const BASEPOINT = '(15112221349535400772501151409588531511454012693041857206046113283949847762202, 46316835694926478169428394003475163141307993866256225615783033603165251855960)'
const Point = ed25519.Point
const L = Point.Fn.ORDER

/** A time period: its number, its length, and when it starts and ends (ms since the epoch; the end is exclusive). */
export interface TimePeriod {
  readonly number: number
  readonly lengthMinutes: number
  readonly startMs: number
  readonly endMs: number
}

/** A blinded key pair: its public key A' and a signer with (a', RH'). */
export interface BlindedKeyPair {
  readonly publicKey: Uint8Array
  /** An Ed25519 signature of `msg` that verifies under {@link BlindedKeyPair.publicKey}. */
  sign: (msg: Uint8Array) => Uint8Array
}

function sha3 (...parts: Array<Uint8Array | string>): Uint8Array {
  const h = createHash('sha3-256')
  for (const p of parts) h.update(p)
  return new Uint8Array(h.digest())
}

function sha512 (...parts: Array<Uint8Array | string>): Uint8Array {
  const h = createHash('sha512')
  for (const p of parts) h.update(p)
  return new Uint8Array(h.digest())
}

function u64 (n: number): Uint8Array {
  const b = new Uint8Array(8)
  new DataView(b.buffer).setBigUint64(0, BigInt(n))
  return b
}

function checkKey (what: string, key: Uint8Array, length: number): void {
  if (!(key instanceof Uint8Array) || key.length !== length) throw new InvalidArgumentError(`${what} must be ${length} bytes, got ${key instanceof Uint8Array ? key.length : typeof key}`)
}

function checkPeriod (period: TimePeriod): void {
  if (!Number.isSafeInteger(period?.number) || period.number < 0) throw new InvalidArgumentError(`a time period number is a non-negative integer, got ${period?.number}`)
  checkLength(period.lengthMinutes)
}

function checkLength (lengthMinutes: number): void {
  if (!Number.isSafeInteger(lengthMinutes) || lengthMinutes < 1 || lengthMinutes > MAX_PERIOD_MINUTES) throw new InvalidArgumentError(`a time period lasts 1…${MAX_PERIOD_MINUTES} minutes, got ${lengthMinutes}`)
}

/** The identity key as a point of the prime-order subgroup (blinding any other point would be ambiguous). */
function identityPoint (pub: Uint8Array): ReturnType<typeof Point.fromBytes> {
  checkKey('an identity key', pub, KEY_BYTES)
  let p
  try {
    p = Point.fromBytes(pub)
  } catch (err) {
    throw new InvalidArgumentError('an identity key is not an Ed25519 point', { cause: err })
  }
  if (p.is0() || !p.isTorsionFree()) throw new InvalidArgumentError('an identity key is not in Ed25519\'s prime-order subgroup')
  return p
}

/** rend-spec-v3's clamping of h, reduced mod l (as curve25519-dalek's `Scalar::from_bytes_mod_order` of the clamped bytes). */
function clampedFactor (h: Uint8Array): bigint {
  const c = Uint8Array.from(h)
  c[0] = c[0]! & 248
  c[31] = (c[31]! & 63) | 64
  return bytesToNumberLE(c) % L
}

/** The time period `nowMs` falls in, for periods of `lengthMinutes` minutes. */
export function timePeriod (nowMs: number, lengthMinutes = DEFAULT_PERIOD_MINUTES): TimePeriod {
  checkLength(lengthMinutes)
  if (!Number.isFinite(nowMs)) throw new InvalidArgumentError(`a time is a finite number of ms, got ${nowMs}`)
  const minutes = Math.floor(nowMs / 60_000)
  const number = Math.floor((minutes - PERIOD_OFFSET_MINUTES) / lengthMinutes)
  if (number < 0) throw new InvalidArgumentError(`no time period before the first one (${nowMs} ms)`)
  const startMs = (number * lengthMinutes + PERIOD_OFFSET_MINUTES) * 60_000
  return { number, lengthMinutes, startMs, endMs: startMs + lengthMinutes * 60_000 }
}

/** rend-spec-v3's blinding factor h (before clamping) of identity key `identityPub` in `period`. */
export function blindingFactor (identityPub: Uint8Array, period: TimePeriod): Uint8Array {
  checkKey('an identity key', identityPub, KEY_BYTES)
  checkPeriod(period)
  return sha3(BLIND_STRING, identityPub, BASEPOINT, 'key-blind', u64(period.number), u64(period.lengthMinutes))
}

/**
 * The blinded public key A' of identity key `identityPub` in `period`: what the service's
 * descriptor is stored and signed under. Needs only the address.
 *
 * @throws {InvalidArgumentError} when `identityPub` is not an Ed25519 key of the prime-order subgroup, or `period` is invalid
 */
export function blindPublicKey (identityPub: Uint8Array, period: TimePeriod): Uint8Array {
  const A = identityPoint(identityPub)
  return A.multiply(clampedFactor(blindingFactor(identityPub, period))).toBytes()
}

function signExpanded (scalar: bigint, prefix: Uint8Array, publicKey: Uint8Array, msg: Uint8Array): Uint8Array {
  if (!(msg instanceof Uint8Array)) throw new InvalidArgumentError('a message to sign is bytes')
  // RFC 8032 §5.1.6 with the expanded key: r = H(prefix | M), S = r + H(R | A | M)·a
  const r = bytesToNumberLE(sha512(prefix, msg)) % L
  const R = Point.BASE.multiply(r === 0n ? 1n : r).toBytes()
  const k = bytesToNumberLE(sha512(R, publicKey, msg)) % L
  const S = (r + k * scalar) % L
  const sig = new Uint8Array(SIGNATURE_BYTES)
  sig.set(R)
  sig.set(numberToBytesLE(S, KEY_BYTES), KEY_BYTES)
  return sig
}

/**
 * Blinds an expanded Ed25519 secret key (`scalar (32, little-endian) | hash prefix RH (32)`, as
 * Tor stores it) with blinding factor `h` (before clamping). For test vectors and callers that
 * hold an expanded key; {@link blindKeyPair} is the usual entry.
 *
 * @returns the blinded pair, with `expandedSecret` = a' (32, little-endian, reduced) | RH' (32)
 */
export function blindExpandedKey (expandedSecret: Uint8Array, h: Uint8Array): BlindedKeyPair & { readonly expandedSecret: Uint8Array } {
  checkKey('an expanded secret key', expandedSecret, 2 * KEY_BYTES)
  checkKey('a blinding factor', h, KEY_BYTES)
  const a = bytesToNumberLE(expandedSecret.subarray(0, KEY_BYTES)) % L
  const blindedScalar = (a * clampedFactor(h)) % L
  if (blindedScalar === 0n) throw new InvalidArgumentError('an expanded secret key with a zero scalar')
  const prefix = sha512(RH_BLIND_STRING, expandedSecret.subarray(KEY_BYTES)).slice(0, KEY_BYTES)
  const publicKey = Point.BASE.multiply(blindedScalar).toBytes()
  const out = new Uint8Array(2 * KEY_BYTES)
  out.set(numberToBytesLE(blindedScalar, KEY_BYTES))
  out.set(prefix, KEY_BYTES)
  return { publicKey, expandedSecret: out, sign: (msg) => signExpanded(blindedScalar, prefix, publicKey, msg) }
}

/**
 * The blinded key pair of the service whose identity key has the 32-byte Ed25519 seed
 * `identitySeed`, in `period`: its public key equals `blindPublicKey(identityPub, period)`.
 */
export function blindKeyPair (identitySeed: Uint8Array, period: TimePeriod): BlindedKeyPair {
  checkKey('an identity seed', identitySeed, KEY_BYTES)
  const { head, prefix, pointBytes } = ed25519.utils.getExtendedPublicKey(identitySeed)
  const expanded = new Uint8Array(2 * KEY_BYTES)
  expanded.set(head)
  expanded.set(prefix, KEY_BYTES)
  const { publicKey, sign } = blindExpandedKey(expanded, blindingFactor(pointBytes, period))
  expanded.fill(0)
  return { publicKey, sign }
}

// DER prefix of an Ed25519 public key (RFC 8410): the raw 32 bytes follow it
const ED25519_SPKI_PREFIX = Uint8Array.from([0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00])

/** Whether `sig` is a valid Ed25519 signature of `msg` under the (blinded) key `blindedPub`; never throws on bad input. */
export function verifyBlinded (sig: Uint8Array, msg: Uint8Array, blindedPub: Uint8Array): boolean {
  if (!(sig instanceof Uint8Array) || sig.length !== SIGNATURE_BYTES) return false
  if (!(msg instanceof Uint8Array) || !(blindedPub instanceof Uint8Array) || blindedPub.length !== KEY_BYTES) return false
  try {
    const der = new Uint8Array(ED25519_SPKI_PREFIX.length + KEY_BYTES)
    der.set(ED25519_SPKI_PREFIX)
    der.set(blindedPub, ED25519_SPKI_PREFIX.length)
    return verify(null, msg, createPublicKey({ key: Buffer.from(der), format: 'der', type: 'spki' }), sig)
  } catch {
    return false
  }
}

/** rend-spec-v3's credential of identity key `pub`: SHA3-256("credential" | A). */
export function credential (pub: Uint8Array): Uint8Array {
  checkKey('an identity key', pub, KEY_BYTES)
  return sha3('credential', pub)
}

/** rend-spec-v3's subcredential: SHA3-256("subcredential" | credential(A) | A'); what binds hs-ntor and the descriptor's encryption to the address. */
export function subcredential (pub: Uint8Array, blindedPub: Uint8Array): Uint8Array {
  checkKey('a blinded key', blindedPub, KEY_BYTES)
  return sha3('subcredential', credential(pub), blindedPub)
}
