/**
 * The bodies of the onion-service relay messages (issue 17), after rend-spec-v3 but in peerd's
 * terms: libp2p peer ids name relays, and fields are fixed-size where Tor uses extensions.
 *
 * - ESTABLISH_INTRO: AUTH_KEY (32) | rate (u32) | burst (u32) | SIG (64), SIG by AUTH_KEY over
 *   "peerd-hs-establish-intro" | AUTH_KEY | rate | burst | the intro relay's id (so a captured
 *   one cannot be replayed to another relay).
 * - INTRODUCE1/2: AUTH_KEY (32) | X (32) | ENCRYPTED (fixed {@link INTRO_PLAINTEXT_LEN}) | MAC (32).
 * - The encrypted plaintext: COOKIE (20) | RP onion key (32) | RP peer id (u8 length + bytes ≤ 64) |
 *   PoW nonce (16) | effort (u32) | seed head (4) | random padding to {@link INTRO_PLAINTEXT_LEN},
 *   so every INTRODUCE has one length.
 * - ESTABLISH_RENDEZVOUS: COOKIE (20). RENDEZVOUS1: COOKIE | Y (32) | AUTH (32). RENDEZVOUS2: Y | AUTH.
 * - INTRODUCE_ACK: status (u16).
 * @module
 */
import { randomFillSync } from 'node:crypto'
import { MalformedCellError } from '../errors.ts'

export const COOKIE_LEN = 20
export const AUTH_KEY_LEN = 32
const SIG_LEN = 64
const X_LEN = 32
const MAC_LEN = 32
const MAX_PEER_ID_LEN = 64
/** Bytes of an INTRODUCE's encrypted plaintext (padded). */
export const INTRO_PLAINTEXT_LEN = 246
/** Bytes of INTRODUCE1/2. */
export const INTRODUCE_LEN = AUTH_KEY_LEN + X_LEN + INTRO_PLAINTEXT_LEN + MAC_LEN
/** Bytes of RENDEZVOUS2 (and RENDEZVOUS1 after the cookie): Y | AUTH. */
export const HANDSHAKE_INFO_LEN = 64

/** INTRODUCE_ACK statuses (rend-spec-v3). */
export const INTRO_ACK = { SUCCESS: 0, UNKNOWN_SERVICE: 1, BAD_FORMAT: 2, CANT_RELAY: 3 } as const

const ESTABLISH_PREFIX = new TextEncoder().encode('peerd-hs-establish-intro')

/** A parsed ESTABLISH_INTRO. */
export interface EstablishIntro {
  authKey: Uint8Array
  rate: number
  burst: number
  signature: Uint8Array
}

/** The bytes ESTABLISH_INTRO's signature covers. */
export function encodeEstablishIntroSigned (authKey: Uint8Array, rate: number, burst: number, relayId: Uint8Array): Uint8Array {
  const out = new Uint8Array(ESTABLISH_PREFIX.length + AUTH_KEY_LEN + 8 + relayId.length)
  const view = new DataView(out.buffer)
  out.set(ESTABLISH_PREFIX, 0)
  out.set(authKey, ESTABLISH_PREFIX.length)
  view.setUint32(ESTABLISH_PREFIX.length + AUTH_KEY_LEN, rate)
  view.setUint32(ESTABLISH_PREFIX.length + AUTH_KEY_LEN + 4, burst)
  out.set(relayId, ESTABLISH_PREFIX.length + AUTH_KEY_LEN + 8)
  return out
}

export function encodeEstablishIntro (e: EstablishIntro): Uint8Array {
  const out = new Uint8Array(AUTH_KEY_LEN + 8 + SIG_LEN)
  const view = new DataView(out.buffer)
  out.set(e.authKey, 0)
  view.setUint32(AUTH_KEY_LEN, e.rate)
  view.setUint32(AUTH_KEY_LEN + 4, e.burst)
  out.set(e.signature, AUTH_KEY_LEN + 8)
  return out
}

export function parseEstablishIntro (data: Uint8Array): EstablishIntro {
  if (data.length !== AUTH_KEY_LEN + 8 + SIG_LEN) throw new MalformedCellError(`ESTABLISH_INTRO of ${data.length} bytes, not ${AUTH_KEY_LEN + 8 + SIG_LEN}`)
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength)
  return { authKey: data.slice(0, AUTH_KEY_LEN), rate: view.getUint32(AUTH_KEY_LEN), burst: view.getUint32(AUTH_KEY_LEN + 4), signature: data.slice(AUTH_KEY_LEN + 8) }
}

/** INTRODUCE1/2's parts. */
export interface Introduce {
  authKey: Uint8Array
  /** What the MAC covers before the encrypted part (Tor: the cell up to ENCRYPTED). */
  macPrefix: Uint8Array
  /** X | ENCRYPTED | MAC: what hs-ntor decrypts. */
  encrypted: Uint8Array
}

export function parseIntroduce1 (data: Uint8Array): Introduce {
  if (data.length !== INTRODUCE_LEN) throw new MalformedCellError(`INTRODUCE of ${data.length} bytes, not ${INTRODUCE_LEN}`)
  return { authKey: data.subarray(0, AUTH_KEY_LEN), macPrefix: data.subarray(0, AUTH_KEY_LEN), encrypted: data.subarray(AUTH_KEY_LEN) }
}

export function encodeIntroduce1 (authKey: Uint8Array, encrypted: Uint8Array): Uint8Array {
  if (authKey.length !== AUTH_KEY_LEN || encrypted.length !== INTRODUCE_LEN - AUTH_KEY_LEN) throw new MalformedCellError(`INTRODUCE parts of ${authKey.length} and ${encrypted.length} bytes`)
  const out = new Uint8Array(INTRODUCE_LEN)
  out.set(authKey, 0)
  out.set(encrypted, AUTH_KEY_LEN)
  return out
}

/** What a client tells the service inside INTRODUCE (encrypted to it). */
export interface IntroPlaintext {
  cookie: Uint8Array
  rpOnionKey: Uint8Array
  /** The rendezvous relay's peer id (multihash bytes). */
  rpPeerId: Uint8Array
  pow?: { nonce: Uint8Array, effort: number, seedHead: Uint8Array }
}

export function encodeIntroPlaintext (p: IntroPlaintext): Uint8Array {
  if (p.cookie.length !== COOKIE_LEN || p.rpOnionKey.length !== 32 || p.rpPeerId.length > MAX_PEER_ID_LEN) throw new MalformedCellError('INTRODUCE plaintext fields of the wrong size')
  const out = new Uint8Array(INTRO_PLAINTEXT_LEN)
  let at = 0
  out.set(p.cookie, at); at += COOKIE_LEN
  out.set(p.rpOnionKey, at); at += 32
  out[at++] = p.rpPeerId.length
  out.set(p.rpPeerId, at); at += p.rpPeerId.length
  if (p.pow != null) {
    out.set(p.pow.nonce.subarray(0, 16), at)
    new DataView(out.buffer).setUint32(at + 16, p.pow.effort)
    out.set(p.pow.seedHead.subarray(0, 4), at + 20)
  }
  at += 24
  randomFillSync(out, at)
  return out
}

export function decodeIntroPlaintext (b: Uint8Array): IntroPlaintext {
  if (b.length !== INTRO_PLAINTEXT_LEN) throw new MalformedCellError(`INTRODUCE plaintext of ${b.length} bytes`)
  let at = 0
  const cookie = b.slice(at, at + COOKIE_LEN); at += COOKIE_LEN
  const rpOnionKey = b.slice(at, at + 32); at += 32
  const idLen = b[at++] as number
  if (idLen === 0 || idLen > MAX_PEER_ID_LEN) throw new MalformedCellError(`a rendezvous peer id of ${idLen} bytes`)
  const rpPeerId = b.slice(at, at + idLen); at += idLen
  const nonce = b.slice(at, at + 16)
  const effort = new DataView(b.buffer, b.byteOffset, b.byteLength).getUint32(at + 16)
  const seedHead = b.slice(at + 20, at + 24)
  const pow = effort > 0 || nonce.some(x => x !== 0) ? { nonce, effort, seedHead } : undefined
  return { cookie, rpOnionKey, rpPeerId, pow }
}

export function encodeRendezvous1 (cookie: Uint8Array, handshakeInfo: Uint8Array): Uint8Array {
  if (cookie.length !== COOKIE_LEN || handshakeInfo.length !== HANDSHAKE_INFO_LEN) throw new MalformedCellError('RENDEZVOUS1 fields of the wrong size')
  const out = new Uint8Array(COOKIE_LEN + HANDSHAKE_INFO_LEN)
  out.set(cookie, 0)
  out.set(handshakeInfo, COOKIE_LEN)
  return out
}

export function decodeIntroduceAck (data: Uint8Array): number {
  if (data.length < 2) throw new MalformedCellError(`INTRODUCE_ACK of ${data.length} bytes`)
  return (data[0] as number) << 8 | (data[1] as number)
}
