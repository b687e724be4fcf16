/**
 * The ChaCha20-Poly1305 of peerd's Noise sessions: Node.js's own cipher (OpenSSL), as in
 * `@chainsafe/libp2p-noise`'s default, but with each session key imported once.
 *
 * The default passes the raw 32-byte key to `createCipheriv` for every frame of at most 64 KiB,
 * so Node.js builds a new secret-key object per frame (`getKeyObjectSlots`, `getSlots`): about a
 * third of the time spent encrypting a bulk transfer. Here the key object is cached per key
 * buffer (a Noise `CipherState` keeps one `k` for the whole session) and checked against the
 * key's bytes on every use, so a key changed in place is never used stale. Everything else
 * (hashing, HKDF, X25519, and the WebAssembly cipher below 1200 bytes, where it is faster) is
 * the default implementation.
 *
 * Nothing cryptographic is implemented here: only how Node.js's cipher is called.
 */
import { createCipheriv, createDecipheriv, createSecretKey } from 'node:crypto'
import type { KeyObject } from 'node:crypto'
import type { ICryptoInterface } from '@chainsafe/libp2p-noise'
import { defaultCrypto } from '@chainsafe/libp2p-noise/crypto'

const CIPHER = 'chacha20-poly1305'
const TAG_LENGTH = 16
/** Below this many bytes the default (WebAssembly) cipher is faster: it is used as is. */
const SMALL = 1200

interface CachedKey { bytes: Buffer, key: KeyObject }
const keys = new WeakMap<Uint8Array, CachedKey>()

/** The secret-key object of `k`, imported once per key buffer. */
function keyObject (k: Uint8Array): KeyObject {
  const hit = keys.get(k)
  if (hit != null && hit.bytes.equals(k)) return hit.key
  const bytes = Buffer.from(k) // a copy: the cache is checked against it
  const key = createSecretKey(bytes)
  keys.set(k, { bytes, key })
  return key
}

/** An empty list of the same class as `like` (Noise has its own copy of uint8arraylist). */
function emptyLike<L extends object> (like: L): L {
  return new (like.constructor as new () => L)()
}

const encrypt: ICryptoInterface['chaCha20Poly1305Encrypt'] = (plaintext, nonce, ad, k) => {
  if (plaintext.byteLength < SMALL) return defaultCrypto.chaCha20Poly1305Encrypt(plaintext, nonce, ad, k)
  const cipher = createCipheriv(CIPHER, keyObject(k), nonce, { authTagLength: TAG_LENGTH })
  cipher.setAAD(ad, { plaintextLength: plaintext.byteLength })
  if (plaintext instanceof Uint8Array) {
    const body = cipher.update(plaintext)
    const final = cipher.final()
    const tag = cipher.getAuthTag()
    return Buffer.concat([body, final, tag], body.byteLength + final.byteLength + tag.byteLength)
  }
  // the chunks as they are, each encrypted into its own buffer: no copy into one
  const output = emptyLike(plaintext)
  for (const chunk of plaintext) output.append(cipher.update(chunk))
  const final = cipher.final()
  if (final.byteLength > 0) output.append(final)
  output.append(cipher.getAuthTag())
  return output
}

const decrypt: ICryptoInterface['chaCha20Poly1305Decrypt'] = (ciphertext, nonce, ad, k, dst) => {
  if (ciphertext.byteLength < SMALL) return defaultCrypto.chaCha20Poly1305Decrypt(ciphertext, nonce, ad, k, dst)
  const end = ciphertext.byteLength - TAG_LENGTH
  const decipher = createDecipheriv(CIPHER, keyObject(k), nonce, { authTagLength: TAG_LENGTH })
  decipher.setAAD(ad, { plaintextLength: end })
  decipher.setAuthTag(ciphertext.subarray(end))
  if (ciphertext instanceof Uint8Array) {
    const body = decipher.update(ciphertext.subarray(0, end))
    const final = decipher.final() // throws when the tag does not match
    return final.byteLength > 0 ? Buffer.concat([body, final], body.byteLength + final.byteLength) : body
  }
  const output = emptyLike(ciphertext)
  for (const chunk of ciphertext.sublist(0, end)) output.append(decipher.update(chunk))
  const final = decipher.final() // throws when the tag does not match
  if (final.byteLength > 0) output.append(final)
  return output
}

/** `@chainsafe/libp2p-noise`'s default crypto with a cached ChaCha20-Poly1305 key: pass as `noise({ crypto })`. */
export const noiseCrypto: ICryptoInterface = process.versions.electron != null
  ? defaultCrypto // Electron's Node.js has no chacha20-poly1305: the default then uses WebAssembly throughout
  : { ...defaultCrypto, chaCha20Poly1305Encrypt: encrypt, chaCha20Poly1305Decrypt: decrypt }
