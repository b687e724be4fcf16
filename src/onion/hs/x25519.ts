/**
 * Raw-byte X25519 on `node:crypto` for onion services (hs-ntor and client authorization): key
 * pairs as 32-byte strings, and a Diffie-Hellman that reports a low-order peer key instead of
 * throwing, so each caller raises its own typed error.
 */
import { createPrivateKey, createPublicKey, diffieHellman, generateKeyPairSync } from 'node:crypto'
import type { KeyObject } from 'node:crypto'

/** Bytes of an X25519 key. */
export const X25519_KEY_BYTES = 32

/** An X25519 key pair as raw bytes. */
export interface X25519KeyPair {
  readonly publicKey: Uint8Array
  readonly privateKey: Uint8Array
}

// DER prefixes of an X25519 key (RFC 8410): the raw 32 bytes follow them
const SPKI_PREFIX = Uint8Array.from([0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x03, 0x21, 0x00])
const PKCS8_PREFIX = Uint8Array.from([0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x04, 0x22, 0x04, 0x20])

function der (prefix: Uint8Array, raw: Uint8Array): Buffer {
  const out = Buffer.alloc(prefix.length + raw.length)
  out.set(prefix)
  out.set(raw, prefix.length)
  return out
}

function privateKeyObject (raw: Uint8Array): KeyObject {
  return createPrivateKey({ key: der(PKCS8_PREFIX, raw), format: 'der', type: 'pkcs8' })
}

/** A new X25519 key pair, or the one of raw private key `privateKey` (any 32 bytes; X25519 clamps). */
export function x25519KeyPair (privateKey?: Uint8Array): X25519KeyPair {
  if (privateKey != null && (!(privateKey instanceof Uint8Array) || privateKey.length !== X25519_KEY_BYTES)) {
    throw new RangeError(`an X25519 private key is ${X25519_KEY_BYTES} bytes`)
  }
  const key = privateKey == null ? generateKeyPairSync('x25519').privateKey : privateKeyObject(privateKey)
  const pub = createPublicKey(key).export({ format: 'der', type: 'spki' })
  const priv = key.export({ format: 'der', type: 'pkcs8' })
  return { publicKey: new Uint8Array(pub.subarray(SPKI_PREFIX.length)), privateKey: new Uint8Array(priv.subarray(PKCS8_PREFIX.length)) }
}

/**
 * X25519(privateKey, publicKey), or undefined when `publicKey` is not 32 bytes or is of low order
 * (an all-zero shared secret, refused as tor refuses it).
 */
export function x25519Shared (privateKey: Uint8Array, publicKey: Uint8Array): Uint8Array | undefined {
  if (!(publicKey instanceof Uint8Array) || publicKey.length !== X25519_KEY_BYTES) return undefined
  if (!(privateKey instanceof Uint8Array) || privateKey.length !== X25519_KEY_BYTES) return undefined
  let shared: Uint8Array
  try {
    shared = diffieHellman({ privateKey: privateKeyObject(privateKey), publicKey: createPublicKey({ key: der(SPKI_PREFIX, publicKey), format: 'der', type: 'spki' }) })
  } catch {
    return undefined
  }
  if (shared.every(b => b === 0)) return undefined
  return new Uint8Array(shared)
}
