/**
 * hs-ntor, rend-spec-v3 [NTOR-WITH-EXTRA-DATA] exactly (issue 17): the end-to-end handshake of a
 * client and an onion service, run through an introduction point and a rendezvous point that
 * learn nothing from it. The client knows the introduction point's `AUTH_KEY` (Ed25519) and the
 * service's per-introduction-point encryption key `B` (X25519) from the descriptor, and the
 * subcredential from the address; it encrypts INTRODUCE's plaintext to B (no forward secrecy
 * yet) and the service's reply `Y | AUTH` proves it holds b and completes the key exchange.
 *
 *     intro_secret_hs_input = EXP(B,x) | AUTH_KEY | X | B | PROTOID
 *     hs_keys   = SHAKE-256(intro_secret_hs_input | t_hsenc | m_hsexpand | subcredential, 64)
 *               = ENC_KEY (32) | MAC_KEY (32)
 *     encrypted = X | AES-256-CTR(ENC_KEY, IV 0)(plaintext) | MAC(MAC_KEY, macPrefix | X | ciphertext)
 *     rend_secret_hs_input = EXP(X,y) | EXP(X,b) | AUTH_KEY | B | X | Y | PROTOID
 *     NTOR_KEY_SEED = MAC(rend_secret_hs_input, t_hsenc);  verify = MAC(rend_secret_hs_input, t_hsverify)
 *     AUTH = MAC(verify | AUTH_KEY | B | Y | X | PROTOID | "Server", t_hsmac)
 *     keys = SHAKE-256(NTOR_KEY_SEED | m_hsexpand, 128)            (Df | Db | Kf | Kb: splitRelayKeys)
 *
 * with MAC(k, m) = SHA3-256(u64 BE len(k) | k | m), PROTOID "tor-hs-ntor-curve25519-sha3-256-1",
 * t_hsenc = PROTOID ":hs_key_extract", t_hsverify ":hs_verify", t_hsmac ":hs_mac", m_hsexpand
 * ":hs_key_expand". `macPrefix` is every byte of INTRODUCE1 before the encrypted part (the auth
 * key and whatever else the cell carries), which the MAC covers as Tor's does.
 *
 * ```ts
 * const { encrypted, state } = hsNtorClientIntroduce({ authKey, encKey, subcredential, plaintext, macPrefix })
 * const { plaintext, reply, keys } = hsNtorServiceIntroduce({ authKey, encKeyPair, subcredential, encrypted, macPrefix })
 * const same = hsNtorClientComplete(state, reply)   // === keys
 * ```
 * @module
 */
import { createCipheriv, createHash, timingSafeEqual } from 'node:crypto'
import type { ReplayFilter } from '../replay.ts'
import { HsHandshakeError } from './hs-errors.ts'
import { X25519_KEY_BYTES, x25519KeyPair, x25519Shared } from './x25519.ts'
import type { X25519KeyPair } from './x25519.ts'

/** PROTOID of hs-ntor. */
export const HS_NTOR_PROTOID = 'tor-hs-ntor-curve25519-sha3-256-1'
/** Bytes of a MAC (SHA3-256). */
export const HS_MAC_BYTES = 32
/** Bytes the encrypted part adds to the plaintext: X before it, the MAC after it. */
export const HS_NTOR_OVERHEAD = X25519_KEY_BYTES + HS_MAC_BYTES
/** Bytes of the service's reply (RENDEZVOUS1's handshake info): `Y | AUTH`. */
export const HS_NTOR_REPLY_BYTES = X25519_KEY_BYTES + HS_MAC_BYTES
/** Bytes of end-to-end key material (`splitRelayKeys`: Df, Db, Kf, Kb). */
export const HS_NTOR_KEY_BYTES = 128
/** Longest encrypted part accepted (an INTRODUCE fits in one relay cell; this is a generous bound). */
export const MAX_HS_NTOR_ENCRYPTED = 4096
/** Most subcredentials a service tries on one introduction (current and neighbouring periods). */
export const MAX_SUBCREDENTIALS = 4

const AUTH_KEY_BYTES = 32
const SUBCREDENTIAL_BYTES = 32
const T_HSENC = `${HS_NTOR_PROTOID}:hs_key_extract`
const T_HSVERIFY = `${HS_NTOR_PROTOID}:hs_verify`
const T_HSMAC = `${HS_NTOR_PROTOID}:hs_mac`
const M_HSEXPAND = `${HS_NTOR_PROTOID}:hs_key_expand`
const ZERO_IV = new Uint8Array(16)

/** What the client knows before introducing itself: all from the descriptor and the address. */
export interface HsNtorClientInit {
  /** The introduction point's auth key (Ed25519, 32 bytes). */
  readonly authKey: Uint8Array
  /** The service's encryption key for this introduction point (X25519, 32 bytes): B. */
  readonly encKey: Uint8Array
  /** The subcredential of the service's address and the descriptor's period (32 bytes). */
  readonly subcredential: Uint8Array
  /** INTRODUCE's plaintext (rendezvous cookie, rendezvous point, proof of work, padding). */
  readonly plaintext: Uint8Array
  /** The INTRODUCE1 bytes before the encrypted part; the MAC covers them. */
  readonly macPrefix: Uint8Array
  /** The client's ephemeral X25519 private key x: for test vectors only. */
  readonly ephemeralKey?: Uint8Array
}

/** What the client keeps between {@link hsNtorClientIntroduce} and {@link hsNtorClientComplete}. */
export interface HsNtorClientState {
  readonly authKey: Uint8Array
  readonly encKey: Uint8Array
  readonly publicKey: Uint8Array
  readonly privateKey: Uint8Array
}

/** What the service needs to take an introduction. */
export interface HsNtorServiceInit {
  /** The auth key of the introduction point the introduction came through. */
  readonly authKey: Uint8Array
  /** The service's X25519 key pair for that introduction point (b, B). */
  readonly encKeyPair: X25519KeyPair
  /** The subcredential, or the few it may be (descriptors of the current and the next period): each is tried. */
  readonly subcredential: Uint8Array | readonly Uint8Array[]
  /** The encrypted part of INTRODUCE2: `X | ciphertext | MAC`. */
  readonly encrypted: Uint8Array
  /** The INTRODUCE2 bytes before the encrypted part, as the client's INTRODUCE1 had them. */
  readonly macPrefix: Uint8Array
  /** The service's ephemeral X25519 private key y: for test vectors only. */
  readonly ephemeralKey?: Uint8Array
  /** When given, an X seen before under this encryption key is refused (checked after the MAC). */
  readonly replay?: ReplayFilter
}

/** What the service gets from a valid introduction. */
export interface HsNtorServiceResult {
  /** The decrypted INTRODUCE plaintext. */
  readonly plaintext: Uint8Array
  /** `Y | AUTH`, for RENDEZVOUS1. */
  readonly reply: Uint8Array
  /** {@link HS_NTOR_KEY_BYTES} of end-to-end key material. */
  readonly keys: Uint8Array
  /** The subcredential the introduction was made with. */
  readonly subcredential: Uint8Array
}

function concat (...parts: Array<Uint8Array | string>): Uint8Array {
  const bytes = parts.map(p => typeof p === 'string' ? Buffer.from(p) : p)
  const out = new Uint8Array(bytes.reduce((n, p) => n + p.length, 0))
  let at = 0
  for (const p of bytes) { out.set(p, at); at += p.length }
  return out
}

function check (what: string, bytes: Uint8Array, length: number): void {
  if (!(bytes instanceof Uint8Array) || bytes.length !== length) throw new HsHandshakeError(`hs-ntor: ${what} must be ${length} bytes, got ${bytes instanceof Uint8Array ? bytes.length : typeof bytes}`)
}

function checkBytes (what: string, bytes: Uint8Array): void {
  if (!(bytes instanceof Uint8Array)) throw new HsHandshakeError(`hs-ntor: ${what} must be bytes`)
}

/** rend-spec-v3's MAC: SHA3-256(u64 BE len(key) | key | msg). Not a good MAC in general; fine with secret fixed-length keys. */
export function hsMac (key: Uint8Array | string, msg: Uint8Array | string): Uint8Array {
  const k = typeof key === 'string' ? Buffer.from(key) : key
  const len = new Uint8Array(8)
  new DataView(len.buffer).setBigUint64(0, BigInt(k.length))
  return new Uint8Array(createHash('sha3-256').update(len).update(k).update(msg).digest())
}

function shake (input: Uint8Array, length: number): Uint8Array {
  return new Uint8Array(createHash('shake256', { outputLength: length }).update(input).digest())
}

function aesCtr (key: Uint8Array, data: Uint8Array): Uint8Array {
  const c = createCipheriv('aes-256-ctr', key, ZERO_IV)
  return new Uint8Array(Buffer.concat([c.update(data), c.final()]))
}

function dh (privateKey: Uint8Array, publicKey: Uint8Array): Uint8Array {
  const shared = x25519Shared(privateKey, publicKey)
  if (shared == null) throw new HsHandshakeError('hs-ntor: a low-order or invalid X25519 key')
  return shared
}

/** ENC_KEY and MAC_KEY of an introduction. */
function introKeys (bx: Uint8Array, authKey: Uint8Array, X: Uint8Array, B: Uint8Array, sub: Uint8Array): { encKey: Uint8Array, macKey: Uint8Array } {
  const input = concat(bx, authKey, X, B, HS_NTOR_PROTOID, T_HSENC, M_HSEXPAND, sub)
  const k = shake(input, 64)
  input.fill(0)
  return { encKey: k.slice(0, 32), macKey: k.slice(32) }
}

/** AUTH and the key material of the rendezvous. */
function rendKeys (xy: Uint8Array, xb: Uint8Array, authKey: Uint8Array, B: Uint8Array, X: Uint8Array, Y: Uint8Array): { auth: Uint8Array, keys: Uint8Array } {
  const secret = concat(xy, xb, authKey, B, X, Y, HS_NTOR_PROTOID)
  const seed = hsMac(secret, T_HSENC)
  const verify = hsMac(secret, T_HSVERIFY)
  secret.fill(0)
  const auth = hsMac(concat(verify, authKey, B, Y, X, HS_NTOR_PROTOID, 'Server'), T_HSMAC)
  const keys = shake(concat(seed, M_HSEXPAND), HS_NTOR_KEY_BYTES)
  seed.fill(0)
  return { auth, keys }
}

/**
 * The client's first step: the encrypted part of INTRODUCE1, `X | ciphertext | MAC`, to follow
 * `macPrefix` in the cell, and the state {@link hsNtorClientComplete} needs.
 *
 * @throws {HsHandshakeError} on a wrong length or a low-order `encKey`
 */
export function hsNtorClientIntroduce (init: HsNtorClientInit): { encrypted: Uint8Array, state: HsNtorClientState } {
  check('an auth key', init.authKey, AUTH_KEY_BYTES)
  check('an encryption key', init.encKey, X25519_KEY_BYTES)
  check('a subcredential', init.subcredential, SUBCREDENTIAL_BYTES)
  checkBytes('the plaintext', init.plaintext)
  checkBytes('the MAC prefix', init.macPrefix)
  if (init.plaintext.length + HS_NTOR_OVERHEAD > MAX_HS_NTOR_ENCRYPTED) throw new HsHandshakeError(`hs-ntor: a plaintext of ${init.plaintext.length} bytes is too long`)
  if (init.ephemeralKey != null) check('an ephemeral key', init.ephemeralKey, X25519_KEY_BYTES)
  const { publicKey: X, privateKey: x } = x25519KeyPair(init.ephemeralKey)
  const authKey = Uint8Array.from(init.authKey)
  const B = Uint8Array.from(init.encKey)
  const bx = dh(x, B)
  const { encKey, macKey } = introKeys(bx, authKey, X, B, init.subcredential)
  bx.fill(0)
  const ciphertext = aesCtr(encKey, init.plaintext)
  const mac = hsMac(macKey, concat(init.macPrefix, X, ciphertext))
  encKey.fill(0)
  macKey.fill(0)
  return { encrypted: concat(X, ciphertext, mac), state: { authKey, encKey: B, publicKey: X, privateKey: x } }
}

/**
 * The service's step: checks the MAC under each subcredential, decrypts the plaintext, and
 * answers with `Y | AUTH` and the end-to-end key material.
 *
 * @throws {HsHandshakeError} on a wrong length, a MAC that verifies under no subcredential, a
 *   low-order X, or (with `replay`) an X seen before
 */
export function hsNtorServiceIntroduce (init: HsNtorServiceInit): HsNtorServiceResult {
  check('an auth key', init.authKey, AUTH_KEY_BYTES)
  check('the encryption public key', init.encKeyPair?.publicKey, X25519_KEY_BYTES)
  check('the encryption private key', init.encKeyPair?.privateKey, X25519_KEY_BYTES)
  checkBytes('the MAC prefix', init.macPrefix)
  checkBytes('the encrypted part', init.encrypted)
  const subs = init.subcredential instanceof Uint8Array ? [init.subcredential] : [...init.subcredential]
  if (subs.length < 1 || subs.length > MAX_SUBCREDENTIALS) throw new HsHandshakeError(`hs-ntor: 1…${MAX_SUBCREDENTIALS} subcredentials, got ${subs.length}`)
  subs.forEach(s => { check('a subcredential', s, SUBCREDENTIAL_BYTES) })
  const { encrypted } = init
  if (encrypted.length < HS_NTOR_OVERHEAD || encrypted.length > MAX_HS_NTOR_ENCRYPTED) throw new HsHandshakeError(`hs-ntor: an encrypted part of ${encrypted.length} bytes (${HS_NTOR_OVERHEAD}…${MAX_HS_NTOR_ENCRYPTED})`)
  if (init.ephemeralKey != null) check('an ephemeral key', init.ephemeralKey, X25519_KEY_BYTES)
  const X = encrypted.slice(0, X25519_KEY_BYTES)
  const ciphertext = encrypted.slice(X25519_KEY_BYTES, encrypted.length - HS_MAC_BYTES)
  const macGot = encrypted.slice(encrypted.length - HS_MAC_BYTES)
  const { publicKey: B, privateKey: b } = init.encKeyPair
  const xb = dh(b, X)
  const macInput = concat(init.macPrefix, X, ciphertext)
  let found: { encKey: Uint8Array, sub: Uint8Array } | undefined
  // every subcredential is tried, so the time taken does not tell which one matched
  for (const sub of subs) {
    const { encKey, macKey } = introKeys(xb, init.authKey, X, B, sub)
    const ok = timingSafeEqual(hsMac(macKey, macInput), macGot)
    if (ok && found == null) {
      found = { encKey, sub }
    } else {
      encKey.fill(0)
    }
    macKey.fill(0)
  }
  if (found == null) {
    xb.fill(0)
    throw new HsHandshakeError('hs-ntor: the introduction\'s MAC does not verify (another service, period or introduction point, or tampering)')
  }
  if (init.replay != null && !init.replay.add(B, X)) {
    xb.fill(0)
    found.encKey.fill(0)
    throw new HsHandshakeError('hs-ntor: this introduction was seen before (a replay)')
  }
  const plaintext = aesCtr(found.encKey, ciphertext)
  found.encKey.fill(0)
  const { publicKey: Y, privateKey: y } = x25519KeyPair(init.ephemeralKey)
  const xy = dh(y, X)
  const { auth, keys } = rendKeys(xy, xb, init.authKey, B, X, Y)
  xy.fill(0)
  xb.fill(0)
  y.fill(0)
  return { plaintext, reply: concat(Y, auth), keys, subcredential: Uint8Array.from(found.sub) }
}

/**
 * The client's last step: checks the service's AUTH in `reply` (`Y | AUTH`, from RENDEZVOUS2)
 * and returns the end-to-end key material.
 *
 * @throws {HsHandshakeError} on a wrong length, a low-order Y, or an AUTH that does not verify
 */
export function hsNtorClientComplete (state: HsNtorClientState, reply: Uint8Array): Uint8Array {
  check('a reply', reply, HS_NTOR_REPLY_BYTES)
  const Y = reply.slice(0, X25519_KEY_BYTES)
  const authGot = reply.slice(X25519_KEY_BYTES)
  const xy = dh(state.privateKey, Y)
  const xb = dh(state.privateKey, state.encKey)
  const { auth, keys } = rendKeys(xy, xb, state.authKey, state.encKey, state.publicKey, Y)
  xy.fill(0)
  xb.fill(0)
  if (!timingSafeEqual(auth, authGot)) {
    keys.fill(0)
    throw new HsHandshakeError('hs-ntor: the service\'s AUTH does not verify (another service or a tampered reply)')
  }
  return keys
}
