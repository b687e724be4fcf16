/**
 * Client authorization of onion-service descriptors (issue 17), after rend-spec-v3's
 * [CLIENT-AUTH]: the service encrypts its descriptor's inner layer with a random descriptor
 * cookie as well, and gives each authorized client (an X25519 public key) an entry holding the
 * cookie encrypted to it. Only a client whose secret key opens an entry can read the
 * introduction points.
 *
 *     shared = X25519(ephemeral secret, client public)  =  X25519(client secret, ephemeral public)
 *     clientId (8) | cookieKey (32) = HKDF-SHA256(shared, salt subcredential,
 *                                       info "peerd-hs-client-auth-v1" | ephemeral public | client public)
 *     entry = clientId | iv (16) | AES-256-CTR(cookieKey, iv)(cookie)            (56 bytes)
 *
 * Tor derives the same values with SHAKE-256; HKDF is what the shared design asks for. The
 * entries are padded with random ones to a multiple of 16 and shuffled, so a reader of the
 * middle layer learns neither the exact number of clients nor which entry is whose.
 *
 * Keys are pasted as text: the public half `descriptor:x25519:<52 base32 characters>` (Tor's
 * form for `authorized_clients`), the secret half `descriptor:x25519-private:<…>`.
 *
 * ```ts
 * const { publicKey, secretKey } = hsClientAuthKeyPair()   // give publicKey to the service, keep secretKey
 * ```
 * @module
 */
import { createCipheriv, hkdfSync, randomBytes, randomInt, timingSafeEqual } from 'node:crypto'
import { base32 } from 'multiformats/bases/base32'
import { InvalidArgumentError } from '../../errors.ts'
import { X25519_KEY_BYTES, x25519KeyPair, x25519Shared } from './x25519.ts'

/** Most authorized clients of one service. */
export const MAX_AUTHORIZED_CLIENTS = 32
/** Bytes of a descriptor cookie. */
export const COOKIE_BYTES = 32
/** Bytes of one client entry: client id, IV, encrypted cookie. */
export const CLIENT_ENTRY_BYTES = 8 + 16 + COOKIE_BYTES
/** Entries are padded with random ones to a multiple of this. */
export const CLIENT_ENTRY_BLOCK = 16

const PUBLIC_PREFIX = 'descriptor:x25519:'
const SECRET_PREFIX = 'descriptor:x25519-private:'
const INFO = 'peerd-hs-client-auth-v1'
const ID_BYTES = 8
const IV_BYTES = 16

/** A client's key pair in the text forms users paste. */
export interface HsClientAuthKeyPair {
  /** `descriptor:x25519:<base32>`: what the service lists as an authorized client. */
  readonly publicKey: string
  /** `descriptor:x25519-private:<base32>`: what the client keeps and uses to read the descriptor. */
  readonly secretKey: string
}

function parseKey (key: string | Uint8Array, prefix: string, what: string): Uint8Array {
  if (key instanceof Uint8Array) {
    if (key.length !== X25519_KEY_BYTES) throw new InvalidArgumentError(`${what} is ${X25519_KEY_BYTES} bytes, got ${key.length}`)
    return Uint8Array.from(key)
  }
  if (typeof key !== 'string') throw new InvalidArgumentError(`${what} is a string "${prefix}<base32>"`)
  const text = key.trim()
  if (!text.toLowerCase().startsWith(prefix)) throw new InvalidArgumentError(`${what} starts with "${prefix}"`)
  const body = text.slice(prefix.length).toLowerCase()
  let raw: Uint8Array
  try {
    raw = base32.baseDecode(body)
  } catch (err) {
    throw new InvalidArgumentError(`${what} is not base32 after "${prefix}"`, { cause: err })
  }
  if (raw.length !== X25519_KEY_BYTES) throw new InvalidArgumentError(`${what} encodes ${raw.length} bytes, not ${X25519_KEY_BYTES}`)
  return raw
}

/**
 * A client-authorization key pair (new, or from a raw 32-byte X25519 secret) in text form.
 */
export function hsClientAuthKeyPair (secret?: Uint8Array): HsClientAuthKeyPair {
  const pair = x25519KeyPair(secret)
  return { publicKey: PUBLIC_PREFIX + base32.baseEncode(pair.publicKey), secretKey: SECRET_PREFIX + base32.baseEncode(pair.privateKey) }
}

/**
 * The raw X25519 key of a client's public key (`descriptor:x25519:…`, or 32 raw bytes).
 *
 * @throws {InvalidArgumentError} on another form, a secret key, or a wrong length
 */
export function parseHsClientPublicKey (key: string | Uint8Array): Uint8Array {
  return parseKey(key, PUBLIC_PREFIX, 'a client public key')
}

/**
 * The raw X25519 secret of a client's secret key (`descriptor:x25519-private:…`, or 32 raw bytes).
 *
 * @throws {InvalidArgumentError} on another form, a public key, or a wrong length
 */
export function parseHsClientSecretKey (key: string | Uint8Array): Uint8Array {
  return parseKey(key, SECRET_PREFIX, 'a client secret key')
}

function entryKeys (shared: Uint8Array, subcredential: Uint8Array, ephemeralPub: Uint8Array, clientPub: Uint8Array): { id: Uint8Array, key: Uint8Array } {
  const info = Buffer.concat([Buffer.from(INFO), ephemeralPub, clientPub])
  const k = new Uint8Array(hkdfSync('sha256', shared, subcredential, info, ID_BYTES + COOKIE_BYTES))
  return { id: k.slice(0, ID_BYTES), key: k.slice(ID_BYTES) }
}

function ctr (key: Uint8Array, iv: Uint8Array, data: Uint8Array): Uint8Array {
  const c = createCipheriv('aes-256-ctr', key, iv)
  return new Uint8Array(Buffer.concat([c.update(data), c.final()]))
}

/**
 * The service's side: an ephemeral public key and the shuffled, padded entries that give
 * `cookie` to each of `clients` (raw X25519 public keys, or their text forms).
 *
 * @throws {InvalidArgumentError} on more than {@link MAX_AUTHORIZED_CLIENTS} clients or a bad or low-order key
 */
export function encodeClientEntries (cookie: Uint8Array, clients: ReadonlyArray<string | Uint8Array>, subcredential: Uint8Array): { ephemeralPub: Uint8Array, entries: Uint8Array[] } {
  if (clients.length < 1 || clients.length > MAX_AUTHORIZED_CLIENTS) throw new InvalidArgumentError(`1…${MAX_AUTHORIZED_CLIENTS} authorized clients, got ${clients.length}`)
  const eph = x25519KeyPair()
  const entries: Uint8Array[] = []
  for (const c of clients) {
    const pub = parseHsClientPublicKey(c)
    const shared = x25519Shared(eph.privateKey, pub)
    if (shared == null) throw new InvalidArgumentError('an authorized client key is of low order')
    const { id, key } = entryKeys(shared, subcredential, eph.publicKey, pub)
    shared.fill(0)
    const iv = randomBytes(IV_BYTES)
    entries.push(Uint8Array.from(Buffer.concat([id, iv, ctr(key, iv, cookie)])))
    key.fill(0)
  }
  eph.privateKey.fill(0)
  while (entries.length % CLIENT_ENTRY_BLOCK !== 0) entries.push(new Uint8Array(randomBytes(CLIENT_ENTRY_BYTES)))
  // Fisher-Yates, so an entry's place says nothing about whose it is
  for (let i = entries.length - 1; i > 0; i--) {
    const j = randomInt(i + 1)
    const t = entries[i] as Uint8Array
    entries[i] = entries[j] as Uint8Array
    entries[j] = t
  }
  return { ephemeralPub: eph.publicKey, entries }
}

/**
 * The client's side: the cookies the entries could give `clientSecret` (normally one; an 8-byte
 * id may collide with a padding entry, so each match is a candidate the inner layer's tag decides).
 */
export function clientCookieCandidates (ephemeralPub: Uint8Array, entries: readonly Uint8Array[], clientSecret: string | Uint8Array, subcredential: Uint8Array): Uint8Array[] {
  const secret = parseHsClientSecretKey(clientSecret)
  const shared = x25519Shared(secret, ephemeralPub)
  if (shared == null) return []
  const { id, key } = entryKeys(shared, subcredential, ephemeralPub, x25519KeyPair(secret).publicKey)
  shared.fill(0)
  secret.fill(0)
  const out: Uint8Array[] = []
  for (const e of entries) {
    if (e.length !== CLIENT_ENTRY_BYTES) continue
    if (timingSafeEqual(e.subarray(0, ID_BYTES), id)) out.push(ctr(key, e.subarray(ID_BYTES, ID_BYTES + IV_BYTES), e.subarray(ID_BYTES + IV_BYTES)))
  }
  key.fill(0)
  return out
}
