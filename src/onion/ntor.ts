/**
 * The ntor handshake (tor-spec, "The ntor handshake"; Goldberg, Stebila and Ustaoglu's
 * one-way-authenticated key exchange): a client that knows a relay's identity `ID` and onion key
 * `B` sends its ephemeral X25519 key `X`; the relay answers with its ephemeral key `Y` and an
 * `AUTH` that only the holder of `B`'s private key can compute; both derive the same `KEY_LEN`
 * bytes of key material with HKDF-SHA256 (RFC 5869). X25519, HMAC-SHA256 and HKDF come from
 * `node:crypto`.
 *
 *     secret_input = EXP(X,y) | EXP(X,b) | ID | B | X | Y | PROTOID
 *     KEY_SEED     = HMAC(PROTOID | ":key_extract", secret_input)
 *     verify       = HMAC(PROTOID | ":verify", secret_input)
 *     auth_input   = verify | ID | B | Y | X | PROTOID | "Server"
 *     AUTH         = HMAC(PROTOID | ":mac", auth_input)
 *     keys         = HKDF-SHA256(salt PROTOID | ":key_extract", IKM secret_input, info PROTOID | ":key_expand")
 *
 * In peerd a relay's `ID` is 32 bytes: SHA-256 of its libp2p public key in libp2p's protobuf
 * encoding ({@link ntorRelayId}), which works for every key type a peer id can name. peerd's
 * PROTOID ({@link PEERD_NTOR}) differs from Tor's, so a peerd handshake can never be taken for a
 * Tor one or the other way round; {@link TOR_NTOR} (20-byte RSA identity digests, Tor's PROTOID
 * and 72 bytes of keys) exists so the construction is checked against Tor's test vectors.
 *
 * Every message has a fixed length, checked before any work. As tor does, both sides refuse an
 * all-zero Diffie-Hellman output, which is what a low-order or zero public key gives.
 */
import { createHash, createHmac, createPrivateKey, createPublicKey, diffieHellman, generateKeyPairSync, hkdfSync, timingSafeEqual } from 'node:crypto'
import type { KeyObject } from 'node:crypto'
import { HandshakeError, HandshakeReplayError } from './errors.ts'
import type { ReplayFilter } from './replay.ts'

/** Bytes of an X25519 public or private key. */
export const KEY_BYTES = 32
/** Bytes of AUTH (an HMAC-SHA256). */
export const AUTH_BYTES = 32
/** Bytes of a relay's reply: `Y | AUTH`. */
export const NTOR_REPLY_BYTES = KEY_BYTES + AUTH_BYTES
/** HKDF-SHA256 gives at most 255 blocks of 32 bytes. */
const MAX_KEY_LEN = 255 * 32

/** What distinguishes one use of the ntor construction from another. */
export interface NtorParams {
  /** PROTOID: mixed into every HMAC and the KDF, so different protocols never share keys. */
  readonly protoId: string
  /** Bytes of key material the handshake derives (KEY_LEN). */
  readonly keyLen: number
  /** Bytes of a relay identity (ID). */
  readonly idLen: number
}

/**
 * peerd's ntor: a 32-byte ID ({@link ntorRelayId}) and 128 bytes of keys, enough for a forward and
 * a backward 32-byte digest seed and a forward and a backward 32-byte cipher key.
 */
export const PEERD_NTOR: NtorParams = Object.freeze({ protoId: 'peerd-ntor-curve25519-sha256-1', keyLen: 128, idLen: 32 })

/** Tor's ntor (tor-spec), for its test vectors: RSA identity digests of 20 bytes, 72 bytes of keys. */
export const TOR_NTOR: NtorParams = Object.freeze({ protoId: 'ntor-curve25519-sha256-1', keyLen: 72, idLen: 20 })

/** An X25519 key pair as raw bytes (a relay's onion key). */
export interface NtorKeyPair {
  readonly publicKey: Uint8Array
  readonly privateKey: Uint8Array
}

/** What a client keeps between {@link ntorClientCreate} and {@link ntorClientComplete}. */
export interface NtorClientState {
  readonly params: NtorParams
  readonly id: Uint8Array
  readonly onionKey: Uint8Array
  readonly publicKey: Uint8Array
  readonly privateKey: KeyObject
}

/** Options of both sides. `ephemeralKey` (a raw X25519 private key) exists for test vectors only. */
export interface NtorOptions {
  readonly params?: NtorParams
  readonly ephemeralKey?: Uint8Array
}

/** Options of the relay side: {@link NtorOptions} and the replay filter of this relay's onion keys. */
export interface NtorServerOptions extends NtorOptions {
  readonly replay?: ReplayFilter
}

/** A relay's identity and current onion key. */
export interface NtorRelayKeys {
  readonly id: Uint8Array
  readonly onionKeyPair: NtorKeyPair
}

// DER prefixes of an X25519 key (RFC 8410): the raw 32 bytes follow them
const SPKI_PREFIX = Uint8Array.from([0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x03, 0x21, 0x00])
const PKCS8_PREFIX = Uint8Array.from([0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x04, 0x22, 0x04, 0x20])
const enc = new TextEncoder()

function concat (...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let at = 0
  for (const p of parts) { out.set(p, at); at += p.length }
  return out
}

function privateKeyObject (raw: Uint8Array): KeyObject {
  return createPrivateKey({ key: Buffer.from(concat(PKCS8_PREFIX, raw)), format: 'der', type: 'pkcs8' })
}

/** A peer's raw X25519 public key as a KeyObject (every 32 bytes are one; a refusal is typed all the same). */
function publicKeyObject (raw: Uint8Array): KeyObject {
  try {
    return createPublicKey({ key: Buffer.from(concat(SPKI_PREFIX, raw)), format: 'der', type: 'spki' })
  } catch (err) {
    throw new HandshakeError('ntor: the peer\'s key is not an X25519 key', { cause: err })
  }
}

function rawPublicKey (publicKey: KeyObject): Uint8Array {
  const der = publicKey.export({ format: 'der', type: 'spki' })
  return new Uint8Array(der.subarray(SPKI_PREFIX.length))
}

/** X25519, refusing an all-zero result (OpenSSL already fails on it; the check stays, as in tor). */
function exp (privateKey: KeyObject, publicKey: KeyObject): Uint8Array {
  let shared: Uint8Array
  try {
    shared = diffieHellman({ privateKey, publicKey })
  } catch (err) {
    throw new HandshakeError('ntor: the peer\'s key is low-order or invalid', { cause: err })
  }
  if (shared.every(b => b === 0)) throw new HandshakeError('ntor: the peer\'s key is low-order (all-zero shared secret)')
  return shared
}

function hmac (key: string, data: Uint8Array): Uint8Array {
  return createHmac('sha256', key).update(data).digest()
}

function checkParams (params: NtorParams): void {
  if (!Number.isSafeInteger(params.keyLen) || params.keyLen < 1 || params.keyLen > MAX_KEY_LEN) throw new HandshakeError(`ntor: KEY_LEN must be 1…${MAX_KEY_LEN}, got ${params.keyLen}`)
  if (!Number.isSafeInteger(params.idLen) || params.idLen < 1) throw new HandshakeError(`ntor: ID length must be positive, got ${params.idLen}`)
}

function checkLength (what: string, bytes: Uint8Array, length: number): void {
  if (!(bytes instanceof Uint8Array) || bytes.length !== length) {
    throw new HandshakeError(`ntor: ${what} must be ${length} bytes, got ${bytes instanceof Uint8Array ? bytes.length : typeof bytes}`)
  }
}

/** AUTH and the key material from both Diffie-Hellman outputs and the public values. */
function derive (params: NtorParams, xy: Uint8Array, xb: Uint8Array, id: Uint8Array, B: Uint8Array, X: Uint8Array, Y: Uint8Array): { auth: Uint8Array, keys: Uint8Array } {
  const protoId = enc.encode(params.protoId)
  const secretInput = concat(xy, xb, id, B, X, Y, protoId)
  const verify = hmac(`${params.protoId}:verify`, secretInput)
  const auth = hmac(`${params.protoId}:mac`, concat(verify, id, B, Y, X, protoId, enc.encode('Server')))
  const keys = new Uint8Array(hkdfSync('sha256', secretInput, `${params.protoId}:key_extract`, `${params.protoId}:key_expand`, params.keyLen))
  secretInput.fill(0)
  return { auth, keys }
}

function ephemeral (raw: Uint8Array | undefined): { privateKey: KeyObject, publicKey: Uint8Array } {
  if (raw == null) {
    // OpenSSL's own key generation costs less than importing random bytes as a key
    const pair = generateKeyPairSync('x25519')
    return { privateKey: pair.privateKey, publicKey: rawPublicKey(pair.publicKey) }
  }
  checkLength('an ephemeral key', raw, KEY_BYTES)
  const privateKey = privateKeyObject(raw)
  return { privateKey, publicKey: rawPublicKey(createPublicKey(privateKey)) }
}

/** A relay's ntor ID in peerd: SHA-256 of its libp2p public key in protobuf encoding (`publicKeyToProtobuf`). */
export function ntorRelayId (publicKeyProtobuf: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(publicKeyProtobuf).digest())
}

/** A new X25519 key pair (a relay's onion key), or the one of a given raw private key. */
export function ntorKeyPair (privateKey?: Uint8Array): NtorKeyPair {
  const { privateKey: key, publicKey } = ephemeral(privateKey)
  const raw = key.export({ format: 'der', type: 'pkcs8' })
  return { publicKey, privateKey: new Uint8Array(raw.subarray(PKCS8_PREFIX.length)) }
}

/**
 * The client's first step: an onionskin `ID | B | X` for the relay with identity `relayId` and
 * onion key `onionKey`, and the state {@link ntorClientComplete} needs.
 *
 * @throws {HandshakeError} when `relayId` or `onionKey` has the wrong length
 */
export function ntorClientCreate (relayId: Uint8Array, onionKey: Uint8Array, options: NtorOptions = {}): { state: NtorClientState, onionskin: Uint8Array } {
  const params = options.params ?? PEERD_NTOR
  checkParams(params)
  checkLength('a relay id', relayId, params.idLen)
  checkLength('an onion key', onionKey, KEY_BYTES)
  const { privateKey, publicKey } = ephemeral(options.ephemeralKey)
  const id = Uint8Array.from(relayId)
  const B = Uint8Array.from(onionKey)
  return { state: { params, id, onionKey: B, publicKey, privateKey }, onionskin: concat(id, B, publicKey) }
}

/**
 * The relay's step: checks that `onionskin` names this relay's ID and onion key, refuses a
 * replayed X when given a filter, and returns the reply `Y | AUTH` with the key material.
 *
 * @throws {HandshakeError} on a wrong length, another relay's ID or key, or a low-order X
 * @throws {HandshakeReplayError} when `options.replay` saw this X under this onion key before
 */
export function ntorServerHandshake (onionskin: Uint8Array, relay: NtorRelayKeys, options: NtorServerOptions = {}): { reply: Uint8Array, keys: Uint8Array } {
  const params = options.params ?? PEERD_NTOR
  checkParams(params)
  checkLength('an onionskin', onionskin, params.idLen + 2 * KEY_BYTES)
  checkLength('the relay id', relay.id, params.idLen)
  checkLength('the onion public key', relay.onionKeyPair.publicKey, KEY_BYTES)
  checkLength('the onion private key', relay.onionKeyPair.privateKey, KEY_BYTES)
  const id = onionskin.slice(0, params.idLen)
  const B = onionskin.slice(params.idLen, params.idLen + KEY_BYTES)
  const X = onionskin.slice(params.idLen + KEY_BYTES)
  // both compared whatever the first gives, so timing tells nothing about which differed
  const idOk = timingSafeEqual(id, relay.id)
  const keyOk = timingSafeEqual(B, relay.onionKeyPair.publicKey)
  if (!idOk || !keyOk) throw new HandshakeError('ntor: the onionskin is for another relay or onion key')
  if (options.replay != null && !options.replay.add(B, X)) throw new HandshakeReplayError('ntor: this onionskin was seen before under this onion key')
  const { privateKey: y, publicKey: Y } = ephemeral(options.ephemeralKey)
  const xKey = publicKeyObject(X)
  const xy = exp(y, xKey)
  const xb = exp(privateKeyObject(relay.onionKeyPair.privateKey), xKey)
  const { auth, keys } = derive(params, xy, xb, id, B, X, Y)
  xy.fill(0)
  xb.fill(0)
  return { reply: concat(Y, auth), keys }
}

/**
 * The client's last step: checks the relay's AUTH in `reply` and returns the key material.
 *
 * @throws {HandshakeError} on a wrong length, a low-order Y or onion key, or an AUTH that does not verify
 */
export function ntorClientComplete (state: NtorClientState, reply: Uint8Array): Uint8Array {
  checkLength('a reply', reply, NTOR_REPLY_BYTES)
  const Y = reply.slice(0, KEY_BYTES)
  const authGot = reply.slice(KEY_BYTES)
  const xy = exp(state.privateKey, publicKeyObject(Y))
  const xb = exp(state.privateKey, publicKeyObject(state.onionKey))
  const { auth, keys } = derive(state.params, xy, xb, state.id, state.onionKey, state.publicKey, Y)
  xy.fill(0)
  xb.fill(0)
  if (!timingSafeEqual(auth, authGot)) {
    keys.fill(0)
    throw new HandshakeError('ntor: the relay\'s AUTH does not verify (wrong relay, wrong onion key or a tampered reply)')
  }
  return keys
}
