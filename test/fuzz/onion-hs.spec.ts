/**
 * Fuzzing onion-service inputs (`src/onion/hs/`): descriptors (outer codec, verification,
 * decryption, the inner layer a hostile service may fill with anything), `.peerd` addresses as
 * users type them, and hs-ntor introductions as an introduction point forwards them. Mutated
 * and random input decodes or fails with the module's typed error, never another; only the
 * bytes the service signed verify; only the client's own introduction gets through hs-ntor.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { generateKeyPairFromSeed } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { ed25519 } from '@noble/curves/ed25519.js'
import fc from 'fast-check'
import { decodeOnionAddress, encodeOnionAddress } from '../../src/onion/hs/address.ts'
import { timePeriod } from '../../src/onion/hs/blinding.ts'
import { hsClientAuthKeyPair } from '../../src/onion/hs/client-auth.ts'
import { decodeHsDescriptor, decodeHsInner, decryptHsDescriptor, encodeHsInner, signHsDescriptor, verifyHsDescriptor } from '../../src/onion/hs/descriptor.ts'
import type { HsInnerDescriptor } from '../../src/onion/hs/descriptor.ts'
import { hsNtorClientIntroduce, hsNtorServiceIntroduce } from '../../src/onion/hs/hs-ntor.ts'
import { x25519KeyPair } from '../../src/onion/hs/x25519.ts'
import { decodeOrTyped, fuzz, hostileBytes } from '../utils/fuzz.ts'

const DESCRIPTOR_ERRORS = ['MalformedHsDescriptorError', 'ForgedHsDescriptorError', 'ExpiredHsDescriptorError', 'HsDescriptorTimeError', 'UnreadableHsDescriptorError', 'HsClientNotAuthorizedError']
const NOW = Date.parse('2031-03-04T05:06:07Z')
const SEED = new Uint8Array(32).fill(31)
const A = ed25519.getPublicKey(SEED)
const PERIOD = timePeriod(NOW)

/** A string with one to three characters replaced, inserted or deleted. */
function mutatedString (valid: fc.Arbitrary<string>): fc.Arbitrary<string> {
  const edit = fc.tuple(fc.nat(), fc.constantFrom('replace', 'insert', 'delete'), fc.oneof(fc.string({ minLength: 1, maxLength: 1 }), fc.constantFrom('a', '2', '7', '1', '0', '=', 'Q', '.', 'İ', '\u0000')))
  return fc.tuple(valid, fc.array(edit, { minLength: 1, maxLength: 3 })).map(([s, edits]) => edits.reduce((acc, [at, op, ch]) => {
    const i = at % (acc.length + 1)
    if (op === 'insert') return acc.slice(0, i) + ch + acc.slice(i)
    if (op === 'delete') return acc.slice(0, i) + acc.slice(i + 1)
    return acc.slice(0, i) + ch + acc.slice(i + 1)
  }, s))
}

describe('fuzz: onion services', async () => {
  const peerId = peerIdFromPrivateKey(await generateKeyPairFromSeed('Ed25519', new Uint8Array(32).fill(4))).toMultihash().bytes
  const inner: HsInnerDescriptor = {
    pow: { seed: new Uint8Array(32).fill(2), suggestedEffort: 100, expiresAt: 2_000_000_000 },
    introPoints: [{ peerId, onionKey: new Uint8Array(32).fill(5), authKey: new Uint8Array(32).fill(6), encKey: new Uint8Array(32).fill(7) }]
  }
  const client = hsClientAuthKeyPair(new Uint8Array(32).fill(8))
  const base = { identitySeed: SEED, period: PERIOD, issuedAt: Math.floor(NOW / 1000), lifetimeSec: 3600, inner }
  const valid = [signHsDescriptor(base), signHsDescriptor({ ...base, clientAuthKeys: [client.publicKey] })]

  it('decoding and verifying give a descriptor or a typed error; only the signed bytes verify', () => {
    fuzz(hostileBytes(fc.constantFrom(...valid), 600), (bytes) => {
      decodeOrTyped(() => decodeHsDescriptor(bytes), DESCRIPTOR_ERRORS)
      const outer = decodeOrTyped(() => verifyHsDescriptor(bytes, NOW), DESCRIPTOR_ERRORS)
      if (outer != null) assert.ok(valid.some(v => Buffer.compare(v, bytes) === 0), 'a changed descriptor verified')
    })
  })

  it('refuses a descriptor over 8 KiB before reading it', () => {
    const huge = new Uint8Array(16 << 20)
    huge.set(valid[0] as Uint8Array)
    const before = process.memoryUsage().arrayBuffers
    const t0 = performance.now()
    assert.throws(() => verifyHsDescriptor(huge, NOW), { name: 'MalformedHsDescriptorError' })
    assert.ok(performance.now() - t0 < 50, 'refused at once')
    assert.ok(process.memoryUsage().arrayBuffers - before < 1 << 20, 'nothing allocated')
  })

  it('decrypting an unverified, mutated descriptor gives the inner layer only unchanged, or a typed error', () => {
    fuzz(hostileBytes(fc.constantFrom(...valid), 600), (bytes) => {
      const outer = decodeOrTyped(() => decodeHsDescriptor(bytes), DESCRIPTOR_ERRORS)
      if (outer == null) return
      const got = decodeOrTyped(() => decryptHsDescriptor(outer, A, { period: PERIOD, clientSecret: client.secretKey }), DESCRIPTOR_ERRORS)
      if (got != null) assert.deepEqual(got, inner)
    }, 0.2)
  })

  it('the inner layer a hostile service writes decodes or is refused, and re-encodes to itself', () => {
    fuzz(hostileBytes(fc.constant(encodeHsInner(inner)), 400), (bytes) => {
      const got = decodeOrTyped(() => decodeHsInner(bytes), DESCRIPTOR_ERRORS)
      if (got != null) assert.deepEqual(encodeHsInner(got), bytes)
    })
  })

  it('addresses: keys round-trip; typed strings give a key whose address they spell, or OnionAddressError', () => {
    const keys = fc.integer({ min: 1, max: 255 }).map(i => ed25519.getPublicKey(new Uint8Array(32).fill(i)))
    const addresses = fc.constantFrom(...[1, 2, 3, 4, 5, 6, 7, 8].map(i => encodeOnionAddress(ed25519.getPublicKey(new Uint8Array(32).fill(i)))))
    fuzz(keys, (k) => { assert.deepEqual(decodeOnionAddress(encodeOnionAddress(k).toUpperCase()), k) }, 0.1)
    const hostile = fc.oneof({ arbitrary: mutatedString(addresses), weight: 5 }, { arbitrary: addresses.map(a => `www.${a}.`), weight: 1 }, { arbitrary: fc.string({ maxLength: 80 }).map(s => s + '.peerd'), weight: 1 }, { arbitrary: fc.string({ unit: 'binary', maxLength: 100 }), weight: 1 })
    fuzz(hostile, (s) => {
      const key = decodeOrTyped(() => decodeOnionAddress(s), ['OnionAddressError'])
      if (key != null) {
        const label = s.toLowerCase().replace(/\.$/, '').split('.').slice(-2).join('.')
        assert.equal(encodeOnionAddress(key), label)
      }
    }, 0.5)
  })

  it('hs-ntor: a mutated introduction or MAC prefix is refused; only the client\'s own gets keys', () => {
    const encKeyPair = x25519KeyPair(new Uint8Array(32).fill(9))
    const f = { authKey: new Uint8Array(32).fill(10), subcredential: new Uint8Array(32).fill(11), macPrefix: new Uint8Array(32).fill(10) }
    const { encrypted } = hsNtorClientIntroduce({ ...f, encKey: encKeyPair.publicKey, plaintext: new Uint8Array(246).fill(12), ephemeralKey: new Uint8Array(32).fill(13) })
    fuzz(fc.tuple(hostileBytes(fc.constant(encrypted), 400), fc.boolean()), ([bytes, samePrefix]) => {
      const macPrefix = samePrefix ? f.macPrefix : bytes.subarray(0, 32)
      const r = decodeOrTyped(() => hsNtorServiceIntroduce({ ...f, macPrefix, encKeyPair, encrypted: bytes }), ['HsHandshakeError'])
      if (r != null) assert.ok(Buffer.compare(bytes, encrypted) === 0 && Buffer.compare(macPrefix, f.macPrefix) === 0)
    }, 0.5)
  })
})
