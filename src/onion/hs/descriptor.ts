/**
 * Onion-service descriptors (issue 17): what a service publishes in the DHT so that clients who
 * know its address can find its introduction points, and nobody else can. After rend-spec-v3's
 * [HS-DESC-ENC] with a binary codec:
 *
 *     outer  = "peerd-hs\x01" | A' (32) | revision u64 | issuedAt u64 (s) | lifetimeSec u32
 *              | salt (16) | ctLen u16 | ciphertext | signature (64)
 *     signature = Ed25519 by the blinded key A' over "peerd-hs-descriptor-sig-v1" | everything before it
 *     ciphertext = AES-256-GCM(K1)(middle), K1 | iv = HKDF-SHA256(A' | subcredential, salt, "peerd-hs-desc-v1"),
 *                  the outer fields before ctLen as additional data
 *     middle = nClients u8 | [ephemeral X25519 key (32) | nClients × client entry (56)]
 *              | innerSalt (16) | innerLen u16 | AES-256-GCM(K2)(inner) | zeros to a multiple of 1024
 *     K2 | iv = HKDF-SHA256(A' | subcredential | cookie (with client authorization), innerSalt, "peerd-hs-desc-inner-v1")
 *     inner  = flags u8 (bit 0: proof of work) | [pow seed (32) | suggested effort u32 | expires u64 (s)]
 *              | nIntro u8 (≤ 10) | nIntro × (u8 len, peer id multihash | onion key (32) | auth key (32) | enc key (32))
 *
 * The DHT and anyone without the address see only A', the revision, the times and a padded
 * ciphertext; A' changes every period and cannot be linked to the address without it. Client
 * authorization (`client-auth.ts`) adds a descriptor cookie only authorized clients can recover.
 * Every length is checked before anything is allocated; the whole is at most
 * {@link MAX_HS_DESCRIPTOR_BYTES}; trailing bytes are refused.
 *
 * ```ts
 * const bytes = signHsDescriptor({ identitySeed, period, issuedAt, lifetimeSec: 3 * 3600, inner })
 * const outer = verifyHsDescriptor(bytes, Date.now())                   // signature and times
 * const inner = decryptHsDescriptor(outer, identityPub, { period })      // needs the address
 * ```
 * @module
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto'
import { ed25519 } from '@noble/curves/ed25519.js'
import { InvalidArgumentError } from '../../errors.ts'
import { SIGNATURE_BYTES, blindKeyPair, blindPublicKey, subcredential, verifyBlinded } from './blinding.ts'
import type { TimePeriod } from './blinding.ts'
import { CLIENT_ENTRY_BYTES, COOKIE_BYTES, MAX_AUTHORIZED_CLIENTS, clientCookieCandidates, encodeClientEntries } from './client-auth.ts'
import {
  ExpiredHsDescriptorError, ForgedHsDescriptorError, HsClientNotAuthorizedError, HsDescriptorTimeError, MalformedHsDescriptorError, UnreadableHsDescriptorError
} from './hs-errors.ts'
import { Reader, bytesEqual, checkBytes, checkInt, concat, decodeHsInner, encodeHsInner, u16, u32, u64 } from './descriptor-inner.ts'
import type { HsInnerDescriptor } from './descriptor-inner.ts'

export { MAX_INTRO_POINTS, MAX_PEER_ID_BYTES, decodeHsInner, encodeHsInner } from './descriptor-inner.ts'
export type { HsInnerDescriptor, HsIntroPoint, HsPowParams } from './descriptor-inner.ts'

/** Largest encoded descriptor, checked before decoding. */
export const MAX_HS_DESCRIPTOR_BYTES = 8192
/** Longest lifetime (Tor's: 180 minutes). */
export const MAX_HS_LIFETIME_SEC = 3 * 3600
/** How far in the future a descriptor may be issued (clock skew). */
export const MAX_HS_CLOCK_SKEW_MS = 5 * 60_000

const MAGIC = Uint8Array.from([...Buffer.from('peerd-hs'), 0x01])
/** What the blinded key's signature covers before the descriptor's bytes (so it signs nothing else by mistake). */
export const HS_DESCRIPTOR_SIG_CONTEXT = 'peerd-hs-descriptor-sig-v1'

const SIG_CONTEXT = Buffer.from(HS_DESCRIPTOR_SIG_CONTEXT)
const OUTER_INFO = 'peerd-hs-desc-v1'
const INNER_INFO = 'peerd-hs-desc-inner-v1'
const KEY_BYTES = 32
const SALT_BYTES = 16
const TAG_BYTES = 16
const GCM_IV_BYTES = 12
const HEADER_BYTES = MAGIC.length + KEY_BYTES + 8 + 8 + 4 + SALT_BYTES
const MIN_BYTES = HEADER_BYTES + 2 + TAG_BYTES + SIGNATURE_BYTES
const MIDDLE_BLOCK = 1024

/** The outer layer: what everyone sees. */
export interface HsDescriptorOuter {
  /** The blinded key A' of the descriptor's period; it signs the descriptor. */
  readonly blindedKey: Uint8Array
  /** Higher replaces lower (the issue time in seconds, kept monotonic by the service). */
  readonly revision: number
  /** Unix seconds. */
  readonly issuedAt: number
  readonly lifetimeSec: number
  readonly salt: Uint8Array
  readonly ciphertext: Uint8Array
  readonly signature: Uint8Array
}

/** What {@link signHsDescriptor} needs. */
export interface SignHsDescriptorInit {
  /** The service's 32-byte Ed25519 identity seed. */
  readonly identitySeed: Uint8Array
  /** The period the descriptor is for: it chooses the blinded key. */
  readonly period: TimePeriod
  /** Defaults to `issuedAt`. */
  readonly revision?: number
  /** Unix seconds. */
  readonly issuedAt: number
  /** 1 … {@link MAX_HS_LIFETIME_SEC}. */
  readonly lifetimeSec: number
  readonly inner: HsInnerDescriptor
  /** Client authorization: the public keys (raw or `descriptor:x25519:…`) that may read the inner layer; absent or empty: anyone with the address. */
  readonly clientAuthKeys?: ReadonlyArray<string | Uint8Array> | undefined
}

/** Options of {@link decryptHsDescriptor}. */
export interface DecryptHsDescriptorOptions {
  /** The period the client looked the descriptor up for: A' must be the address's blinded key in it. */
  readonly period: TimePeriod
  /** The client's authorization secret (raw or `descriptor:x25519-private:…`), for services that restrict their descriptor. */
  readonly clientSecret?: string | Uint8Array | undefined
}

function keyAndIv (ikm: Uint8Array, salt: Uint8Array, info: string): { key: Uint8Array, iv: Uint8Array } {
  const k = new Uint8Array(hkdfSync('sha256', ikm, salt, info, KEY_BYTES + GCM_IV_BYTES))
  return { key: k.slice(0, KEY_BYTES), iv: k.slice(KEY_BYTES) }
}

function seal (ikm: Uint8Array, salt: Uint8Array, info: string, plaintext: Uint8Array, aad?: Uint8Array): Uint8Array {
  const { key, iv } = keyAndIv(ikm, salt, info)
  const c = createCipheriv('aes-256-gcm', key, iv)
  if (aad != null) c.setAAD(aad)
  const out = concat(c.update(plaintext), c.final(), c.getAuthTag())
  key.fill(0)
  return out
}

/** The plaintext, or undefined when the tag does not verify under this key. */
function open (ikm: Uint8Array, salt: Uint8Array, info: string, sealed: Uint8Array, aad?: Uint8Array): Uint8Array | undefined {
  if (sealed.length < TAG_BYTES) return undefined
  const { key, iv } = keyAndIv(ikm, salt, info)
  try {
    const d = createDecipheriv('aes-256-gcm', key, iv)
    if (aad != null) d.setAAD(aad)
    d.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES))
    return concat(d.update(sealed.subarray(0, sealed.length - TAG_BYTES)), d.final())
  } catch {
    return undefined
  } finally {
    key.fill(0)
  }
}

function header (o: Pick<HsDescriptorOuter, 'blindedKey' | 'revision' | 'issuedAt' | 'lifetimeSec' | 'salt'>): Uint8Array {
  return concat(MAGIC, o.blindedKey, u64(o.revision), u64(o.issuedAt), u32(o.lifetimeSec), o.salt)
}

/**
 * The bytes of a descriptor's outer layer, signature included (no check of the signature).
 *
 * @throws {InvalidArgumentError} on a field of the wrong size or range
 */
export function encodeHsDescriptor (outer: HsDescriptorOuter): Uint8Array {
  checkBytes('the blinded key', outer.blindedKey, KEY_BYTES)
  checkInt('the revision', outer.revision, Number.MAX_SAFE_INTEGER)
  checkInt('issuedAt', outer.issuedAt, Number.MAX_SAFE_INTEGER)
  checkInt('the lifetime', outer.lifetimeSec, 0xffffffff)
  checkBytes('the salt', outer.salt, SALT_BYTES)
  checkBytes('the signature', outer.signature, SIGNATURE_BYTES)
  if (!(outer.ciphertext instanceof Uint8Array) || outer.ciphertext.length < TAG_BYTES || MIN_BYTES - TAG_BYTES + outer.ciphertext.length > MAX_HS_DESCRIPTOR_BYTES) throw new InvalidArgumentError('the ciphertext does not fit a descriptor')
  return concat(header(outer), u16(outer.ciphertext.length), outer.ciphertext, outer.signature)
}

/**
 * Decodes a descriptor's outer layer without checking its signature or times (everything from
 * the network goes through {@link verifyHsDescriptor}).
 *
 * @throws {MalformedHsDescriptorError} over {@link MAX_HS_DESCRIPTOR_BYTES} (before decoding) or on any codec violation
 */
export function decodeHsDescriptor (bytes: Uint8Array): HsDescriptorOuter {
  if (!(bytes instanceof Uint8Array)) throw new MalformedHsDescriptorError('a descriptor is bytes')
  if (bytes.length > MAX_HS_DESCRIPTOR_BYTES) throw new MalformedHsDescriptorError(`a descriptor of ${bytes.length} bytes, over ${MAX_HS_DESCRIPTOR_BYTES}`)
  if (bytes.length < MIN_BYTES) throw new MalformedHsDescriptorError(`a descriptor of ${bytes.length} bytes, under ${MIN_BYTES}`)
  const r = new Reader(bytes, 'descriptor')
  if (!bytesEqual(r.take(MAGIC.length, 'magic'), MAGIC)) throw new MalformedHsDescriptorError('not a peerd onion-service descriptor (version 1)')
  const blindedKey = r.take(KEY_BYTES, 'blinded key')
  const revision = r.u64('revision')
  const issuedAt = r.u64('issuedAt')
  const lifetimeSec = r.u32('lifetime')
  const salt = r.take(SALT_BYTES, 'salt')
  const ctLen = r.u16('ciphertext length')
  if (ctLen < TAG_BYTES || r.at + ctLen + SIGNATURE_BYTES !== bytes.length) throw new MalformedHsDescriptorError(`descriptor: a ciphertext of ${ctLen} bytes in ${bytes.length}`)
  const ciphertext = r.take(ctLen, 'ciphertext')
  const signature = r.take(SIGNATURE_BYTES, 'signature')
  r.end()
  return { blindedKey, revision, issuedAt, lifetimeSec, salt, ciphertext, signature }
}

/**
 * Decodes a descriptor and checks its signature under the blinded key it names and its times
 * at `nowMs`: lifetime 1 … {@link MAX_HS_LIFETIME_SEC}, issued at most
 * {@link MAX_HS_CLOCK_SKEW_MS} ahead, not expired.
 *
 * @throws {MalformedHsDescriptorError} on bad bytes
 * @throws {ForgedHsDescriptorError} when the signature does not verify
 * @throws {HsDescriptorTimeError} on a lifetime over the limit or an issue time in the future
 * @throws {ExpiredHsDescriptorError} when it has expired
 */
export function verifyHsDescriptor (bytes: Uint8Array, nowMs: number = Date.now()): HsDescriptorOuter {
  const outer = decodeHsDescriptor(bytes)
  const signed = concat(SIG_CONTEXT, bytes.subarray(0, bytes.length - SIGNATURE_BYTES))
  if (!verifyBlinded(outer.signature, signed, outer.blindedKey)) throw new ForgedHsDescriptorError('the descriptor\'s signature does not verify under its blinded key')
  if (outer.lifetimeSec < 1 || outer.lifetimeSec > MAX_HS_LIFETIME_SEC) throw new HsDescriptorTimeError(`a descriptor lifetime of ${outer.lifetimeSec} s (1…${MAX_HS_LIFETIME_SEC})`)
  if (outer.issuedAt * 1000 > nowMs + MAX_HS_CLOCK_SKEW_MS) throw new HsDescriptorTimeError(`a descriptor issued ${Math.round(outer.issuedAt - nowMs / 1000)} s in the future`)
  if ((outer.issuedAt + outer.lifetimeSec) * 1000 <= nowMs) throw new ExpiredHsDescriptorError(`a descriptor expired ${Math.round(nowMs / 1000 - outer.issuedAt - outer.lifetimeSec)} s ago`)
  return outer
}

/**
 * Builds, encrypts and signs the descriptor of the service with identity seed `identitySeed` for
 * `period`.
 *
 * @throws {InvalidArgumentError} on a bad field, more than {@link MAX_INTRO_POINTS} introduction
 *   points or {@link MAX_AUTHORIZED_CLIENTS} clients, or a lifetime over {@link MAX_HS_LIFETIME_SEC}
 */
export function signHsDescriptor (init: SignHsDescriptorInit): Uint8Array {
  checkBytes('the identity seed', init.identitySeed, KEY_BYTES)
  checkInt('issuedAt', init.issuedAt, Number.MAX_SAFE_INTEGER)
  const revision = init.revision ?? init.issuedAt
  checkInt('the revision', revision, Number.MAX_SAFE_INTEGER)
  checkInt('the lifetime', init.lifetimeSec, MAX_HS_LIFETIME_SEC, 1)
  const clients = init.clientAuthKeys ?? []
  if (clients.length > MAX_AUTHORIZED_CLIENTS) throw new InvalidArgumentError(`at most ${MAX_AUTHORIZED_CLIENTS} authorized clients, got ${clients.length}`)
  const inner = encodeHsInner(init.inner)
  const identityPub = ed25519.getPublicKey(init.identitySeed)
  const blinded = blindKeyPair(init.identitySeed, init.period)
  const A2 = blinded.publicKey
  const sub = subcredential(identityPub, A2)
  const parts: Uint8Array[] = []
  let cookie: Uint8Array | undefined
  if (clients.length > 0) {
    cookie = new Uint8Array(randomBytes(COOKIE_BYTES))
    const { ephemeralPub, entries } = encodeClientEntries(cookie, clients, sub)
    parts.push(Uint8Array.of(entries.length), ephemeralPub, ...entries)
  } else {
    parts.push(Uint8Array.of(0))
  }
  const innerSalt = new Uint8Array(randomBytes(SALT_BYTES))
  const innerCt = seal(concat(A2, sub, ...(cookie != null ? [cookie] : [])), innerSalt, INNER_INFO, inner)
  cookie?.fill(0)
  parts.push(innerSalt, u16(innerCt.length), innerCt)
  let middle = concat(...parts)
  // zero padding, so the ciphertext's length tells little about the number of introduction points or clients
  middle = concat(middle, new Uint8Array((MIDDLE_BLOCK - middle.length % MIDDLE_BLOCK) % MIDDLE_BLOCK))
  const salt = new Uint8Array(randomBytes(SALT_BYTES))
  const head = header({ blindedKey: A2, revision, issuedAt: init.issuedAt, lifetimeSec: init.lifetimeSec, salt })
  const ciphertext = seal(concat(A2, sub), salt, OUTER_INFO, middle, head)
  const body = concat(head, u16(ciphertext.length), ciphertext)
  const bytes = concat(body, blinded.sign(concat(SIG_CONTEXT, body)))
  if (bytes.length > MAX_HS_DESCRIPTOR_BYTES) throw new InvalidArgumentError(`a descriptor of ${bytes.length} bytes, over ${MAX_HS_DESCRIPTOR_BYTES}`)
  return bytes
}

/**
 * Decrypts a descriptor's inner layer with the service's identity key (from its address). Call
 * it on what {@link verifyHsDescriptor} returned.
 *
 * @throws {UnreadableHsDescriptorError} when A' is not the address's blinded key for
 *   `options.period`, or a layer does not decrypt (another address, or corruption)
 * @throws {HsClientNotAuthorizedError} when the service restricts its descriptor and
 *   `options.clientSecret` is absent or not one of its clients'
 * @throws {MalformedHsDescriptorError} when a decrypted layer breaks the codec
 */
export function decryptHsDescriptor (outer: HsDescriptorOuter, identityPub: Uint8Array, options: DecryptHsDescriptorOptions): HsInnerDescriptor {
  let expected: Uint8Array
  try {
    expected = blindPublicKey(identityPub, options.period)
  } catch (err) {
    throw new UnreadableHsDescriptorError('not an identity key or a time period', { cause: err })
  }
  // without this check anyone who knows the address could sign a descriptor with a key of their own
  if (!bytesEqual(expected, outer.blindedKey)) throw new UnreadableHsDescriptorError('the descriptor is not this address\'s for this time period')
  const A2 = outer.blindedKey
  const sub = subcredential(identityPub, A2)
  const middle = open(concat(A2, sub), outer.salt, OUTER_INFO, outer.ciphertext, header(outer))
  if (middle == null) throw new UnreadableHsDescriptorError('the descriptor does not decrypt with this address')
  const r = new Reader(middle, 'middle layer')
  const nClients = r.u8('client count')
  if (nClients > MAX_AUTHORIZED_CLIENTS) throw new MalformedHsDescriptorError(`middle layer: ${nClients} client entries, over ${MAX_AUTHORIZED_CLIENTS}`)
  let ephemeralPub: Uint8Array | undefined
  const entries: Uint8Array[] = []
  if (nClients > 0) {
    ephemeralPub = r.take(KEY_BYTES, 'ephemeral key')
    for (let i = 0; i < nClients; i++) entries.push(r.take(CLIENT_ENTRY_BYTES, 'client entry'))
  }
  const innerSalt = r.take(SALT_BYTES, 'inner salt')
  const innerCt = r.take(r.u16('inner length'), 'inner ciphertext')
  if (middle.subarray(r.at).some(b => b !== 0)) throw new MalformedHsDescriptorError('middle layer: non-zero padding')
  let inner: Uint8Array | undefined
  if (ephemeralPub == null) {
    inner = open(concat(A2, sub), innerSalt, INNER_INFO, innerCt)
    if (inner == null) throw new UnreadableHsDescriptorError('the descriptor\'s inner layer does not decrypt')
  } else {
    if (options.clientSecret == null) throw new HsClientNotAuthorizedError('the service only lets authorized clients read its descriptor, and no client key was given')
    for (const cookie of clientCookieCandidates(ephemeralPub, entries, options.clientSecret, sub)) {
      inner = open(concat(A2, sub, cookie), innerSalt, INNER_INFO, innerCt)
      cookie.fill(0)
      if (inner != null) break
    }
    if (inner == null) throw new HsClientNotAuthorizedError('this client\'s key is not among the service\'s authorized clients')
  }
  return decodeHsInner(inner)
}
