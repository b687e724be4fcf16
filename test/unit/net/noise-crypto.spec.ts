import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { describe, it } from 'node:test'
import { pureJsCrypto } from '@chainsafe/libp2p-noise'
import type { ICryptoInterface } from '@chainsafe/libp2p-noise'
import { defaultCrypto } from '@chainsafe/libp2p-noise/crypto'
import { Uint8ArrayList } from 'uint8arraylist'
import { noiseCrypto } from '../../../src/net/noise-crypto.ts'

/** What Noise passes: a buffer, or a list of its own copy of uint8arraylist (the same at run time). */
type Data = Parameters<ICryptoInterface['chaCha20Poly1305Encrypt']>[0]
const bytes = (b: Data): Buffer => Buffer.from(b.subarray())
const nonce = (n: number): Uint8Array => { const b = new Uint8Array(12); new DataView(b.buffer).setUint32(4, n, true); return b }
/** `b` cut into uneven chunks, as a frame arrives from the network. */
const chunked = (b: Uint8Array): Data => {
  const list = new Uint8ArrayList()
  for (let i = 0, step = 1; i < b.length; i += step, step = step * 7 + 3) list.append(b.subarray(i, Math.min(b.length, i + step)))
  return list as unknown as Data
}
// 0 and below 1200 go to the default's WebAssembly cipher; a Noise frame carries at most 65519
const SIZES = [0, 1, 1199, 1200, 4096, 65519]

describe('noise crypto (cached ChaCha20-Poly1305 key)', () => {
  it('encrypts exactly like the default and the pure-JS implementation, for whole and chunked input', () => {
    const k = randomBytes(32)
    const ad = randomBytes(32)
    for (const size of SIZES) {
      const plaintext = randomBytes(size)
      const n = nonce(size)
      const expected = bytes(defaultCrypto.chaCha20Poly1305Encrypt(plaintext, n, ad, k))
      assert.deepEqual(bytes(pureJsCrypto.chaCha20Poly1305Encrypt(plaintext, n, ad, k)), expected, `reference implementations agree (${size} bytes)`)
      assert.deepEqual(bytes(noiseCrypto.chaCha20Poly1305Encrypt(plaintext, n, ad, k)), expected, `whole, ${size} bytes`)
      assert.deepEqual(bytes(noiseCrypto.chaCha20Poly1305Encrypt(chunked(plaintext), n, ad, k)), expected, `chunked, ${size} bytes`)
      // and again with the key object now cached
      assert.deepEqual(bytes(noiseCrypto.chaCha20Poly1305Encrypt(plaintext, n, ad, k)), expected, `cached key, ${size} bytes`)
    }
  })

  it('decrypts what the default encrypted, whole and chunked', () => {
    const k = randomBytes(32)
    const ad = randomBytes(32)
    for (const size of SIZES) {
      const plaintext = randomBytes(size)
      const n = nonce(size + 1)
      const sealed = bytes(defaultCrypto.chaCha20Poly1305Encrypt(plaintext, n, ad, k))
      assert.deepEqual(bytes(noiseCrypto.chaCha20Poly1305Decrypt(sealed, n, ad, k)), plaintext, `whole, ${size} bytes`)
      assert.deepEqual(bytes(noiseCrypto.chaCha20Poly1305Decrypt(chunked(sealed), n, ad, k)), plaintext, `chunked, ${size} bytes`)
      // the pure-JS implementation opens what ours sealed
      const ours = bytes(noiseCrypto.chaCha20Poly1305Encrypt(chunked(plaintext), n, ad, k))
      assert.deepEqual(bytes(pureJsCrypto.chaCha20Poly1305Decrypt(ours, n, ad, k)), plaintext, `pure JS opens ours, ${size} bytes`)
    }
  })

  it('rejects a bad tag, a flipped ciphertext byte, a wrong nonce, key or associated data', () => {
    const k = randomBytes(32)
    const ad = randomBytes(32)
    for (const size of [100, 65519]) {
      const plaintext = randomBytes(size)
      const n = nonce(7)
      const sealed = bytes(noiseCrypto.chaCha20Poly1305Encrypt(plaintext, n, ad, k))
      const badTag = Buffer.from(sealed)
      badTag[badTag.length - 1] = (badTag[badTag.length - 1] as number) ^ 1
      const badBody = Buffer.from(sealed)
      badBody[0] = (badBody[0] as number) ^ 0x80
      for (const [what, c, nn, kk, aa] of [
        ['tag', badTag, n, k, ad], ['ciphertext', badBody, n, k, ad], ['nonce', sealed, nonce(8), k, ad],
        ['key', sealed, n, randomBytes(32), ad], ['associated data', sealed, n, k, randomBytes(32)]
      ] as const) {
        assert.throws(() => noiseCrypto.chaCha20Poly1305Decrypt(c, nn, aa, kk), `${what}, ${size} bytes, whole`)
        assert.throws(() => noiseCrypto.chaCha20Poly1305Decrypt(chunked(c), nn, aa, kk), `${what}, ${size} bytes, chunked`)
      }
    }
  })

  it('never uses a cached key whose bytes changed in place', () => {
    const k = randomBytes(32)
    const ad = new Uint8Array(0)
    const plaintext = randomBytes(5000)
    const first = bytes(noiseCrypto.chaCha20Poly1305Encrypt(plaintext, nonce(1), ad, k))
    k[0] = (k[0] as number) ^ 1
    const second = bytes(noiseCrypto.chaCha20Poly1305Encrypt(plaintext, nonce(1), ad, k))
    assert.notDeepEqual(second, first)
    assert.deepEqual(second, bytes(defaultCrypto.chaCha20Poly1305Encrypt(plaintext, nonce(1), ad, k)))
  })
})
