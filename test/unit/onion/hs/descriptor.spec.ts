/**
 * Onion-service descriptors (`src/onion/hs/descriptor.ts`, `client-auth.ts`, `dht.ts`): a
 * descriptor round-trips through sign, verify and decrypt; every changed byte, a lifetime over
 * 3 h, an issue time > 5 min ahead and expiry are refused with typed errors; the bytes the DHT
 * holds show no introduction point and not the address; another address or period cannot
 * decrypt; with client authorization only listed clients read it; the DHT validator and
 * selector keep verified records under their own key, highest revision first.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { generateKeyPairFromSeed } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { ed25519 } from '@noble/curves/ed25519.js'
import { InvalidArgumentError } from '../../../../src/errors.ts'
import { blindKeyPair, blindPublicKey, timePeriod } from '../../../../src/onion/hs/blinding.ts'
import { hsClientAuthKeyPair, parseHsClientPublicKey, parseHsClientSecretKey } from '../../../../src/onion/hs/client-auth.ts'
import {
  HS_DESCRIPTOR_SIG_CONTEXT, MAX_HS_DESCRIPTOR_BYTES, decodeHsDescriptor, decryptHsDescriptor, encodeHsDescriptor, signHsDescriptor, verifyHsDescriptor
} from '../../../../src/onion/hs/descriptor.ts'
import type { HsInnerDescriptor, HsIntroPoint } from '../../../../src/onion/hs/descriptor.ts'
import { HS_DHT_NAMESPACE, hsDescriptorDhtKey, hsDescriptorSelector, hsDescriptorValidator } from '../../../../src/onion/hs/dht.ts'
import { HsDescriptorError } from '../../../../src/onion/hs/hs-errors.ts'

const NOW = Date.parse('2031-03-04T05:06:07Z')
const ISSUED = Math.floor(NOW / 1000)
const SEED = new Uint8Array(32).fill(21)
const A = ed25519.getPublicKey(SEED)
const PERIOD = timePeriod(NOW)

function typed (name: string): (err: unknown) => boolean {
  return (err) => err instanceof HsDescriptorError && err.name === name
}

async function introPoint (i: number): Promise<HsIntroPoint> {
  const key = await generateKeyPairFromSeed('Ed25519', new Uint8Array(32).fill(100 + i))
  return { peerId: peerIdFromPrivateKey(key).toMultihash().bytes, onionKey: new Uint8Array(32).fill(i + 1), authKey: new Uint8Array(32).fill(i + 50), encKey: new Uint8Array(32).fill(i + 150) }
}

async function inner (n: number, pow = true): Promise<HsInnerDescriptor> {
  const introPoints = await Promise.all(Array.from({ length: n }, async (_, i) => await introPoint(i)))
  return pow ? { pow: { seed: new Uint8Array(32).fill(9), suggestedEffort: 250, expiresAt: ISSUED + 7200 }, introPoints } : { introPoints }
}

function sign (innerLayer: HsInnerDescriptor, extra: Partial<Parameters<typeof signHsDescriptor>[0]> = {}): Uint8Array {
  return signHsDescriptor({ identitySeed: SEED, period: PERIOD, issuedAt: ISSUED, lifetimeSec: 3 * 3600, inner: innerLayer, ...extra })
}

function includes (haystack: Uint8Array, needle: Uint8Array): boolean {
  return Buffer.from(haystack).includes(Buffer.from(needle))
}

describe('onion-service descriptors', () => {
  it('round-trips through sign, verify and decrypt', async () => {
    for (const [n, pow] of [[0, false], [1, true], [3, false], [10, true]] as const) {
      const want = await inner(n, pow)
      const bytes = sign(want, { revision: ISSUED + n })
      assert.ok(bytes.length <= MAX_HS_DESCRIPTOR_BYTES)
      const outer = verifyHsDescriptor(bytes, NOW)
      assert.deepEqual(outer.blindedKey, blindPublicKey(A, PERIOD))
      assert.equal(outer.revision, ISSUED + n)
      assert.equal(outer.issuedAt, ISSUED)
      assert.equal(outer.lifetimeSec, 3 * 3600)
      assert.deepEqual(encodeHsDescriptor(decodeHsDescriptor(bytes)), bytes)
      assert.deepEqual(decryptHsDescriptor(outer, A, { period: PERIOD }), want)
    }
    assert.equal(verifyHsDescriptor(sign(await inner(1)), NOW).revision, ISSUED, 'the revision defaults to the issue time')
  })

  it('decodes a descriptor that sits inside a larger Buffer (as the DHT hands records over)', async () => {
    const want = await inner(3, true)
    const bytes = sign(want)
    // Buffer.slice is a view into a shared pool: a codec that reads `.buffer` from offset 0 misreads it
    const pool = Buffer.alloc(bytes.length + 113)
    pool.set(bytes, 57)
    const view = pool.subarray(57, 57 + bytes.length)
    const outer = verifyHsDescriptor(view, NOW)
    assert.equal(outer.revision, ISSUED)
    assert.deepEqual(decryptHsDescriptor(outer, A, { period: PERIOD }), want)
  })

  it('shows the DHT no introduction point, not the address, and not how many there are', async () => {
    const small = sign(await inner(1))
    const full = sign(await inner(3))
    assert.equal(small.length, full.length, 'padded to the same length')
    for (const ip of (await inner(3)).introPoints) {
      for (const field of [ip.peerId, ip.onionKey, ip.authKey, ip.encKey]) assert.ok(!includes(full, field))
    }
    assert.ok(!includes(full, A))
    // two signings of the same content share nothing but the header
    const again = sign(await inner(3))
    assert.notDeepEqual(again.subarray(100, 200), full.subarray(100, 200))
  })

  it('refuses every changed byte', async () => {
    const bytes = sign(await inner(2))
    for (let i = 0; i < bytes.length; i++) {
      const bad = Uint8Array.from(bytes)
      bad[i] = bad[i]! ^ 0x01
      assert.throws(() => verifyHsDescriptor(bad, NOW), (err: unknown) => err instanceof HsDescriptorError && ['ForgedHsDescriptorError', 'MalformedHsDescriptorError'].includes(err.name), `byte ${i}`)
    }
    assert.throws(() => verifyHsDescriptor(bytes.subarray(0, bytes.length - 1), NOW), typed('MalformedHsDescriptorError'))
    assert.throws(() => verifyHsDescriptor(Uint8Array.from([...bytes, 0]), NOW), typed('MalformedHsDescriptorError'))
    assert.throws(() => verifyHsDescriptor(new Uint8Array(MAX_HS_DESCRIPTOR_BYTES + 1), NOW), /over 8192/)
  })

  it('refuses a lifetime over 3 h, an issue time over 5 min ahead, and expiry', async () => {
    const bytes = sign(await inner(1), { lifetimeSec: 600 })
    verifyHsDescriptor(bytes, NOW + 599_000)
    assert.throws(() => verifyHsDescriptor(bytes, NOW + 600_000), typed('ExpiredHsDescriptorError'))
    verifyHsDescriptor(bytes, NOW - 299_000)
    assert.throws(() => verifyHsDescriptor(bytes, NOW - 301_000), typed('HsDescriptorTimeError'))
    const one = await inner(1)
    assert.throws(() => sign(one, { lifetimeSec: 3 * 3600 + 1 }), InvalidArgumentError)
    // one signed by the blinded key but claiming 3 h and 1 s, as a hostile service could make it
    const outer = decodeHsDescriptor(bytes)
    const long = encodeHsDescriptor({ ...outer, lifetimeSec: 3 * 3600 + 1 })
    const resigned = encodeHsDescriptor({ ...outer, lifetimeSec: 3 * 3600 + 1, signature: blindKeyPair(SEED, PERIOD).sign(Buffer.concat([Buffer.from(HS_DESCRIPTOR_SIG_CONTEXT), long.subarray(0, long.length - 64)])) })
    assert.throws(() => verifyHsDescriptor(resigned, NOW), typed('HsDescriptorTimeError'))
  })

  it('cannot be decrypted with another address or for another period', async () => {
    const outer = verifyHsDescriptor(sign(await inner(2)), NOW)
    const other = ed25519.getPublicKey(new Uint8Array(32).fill(22))
    assert.throws(() => decryptHsDescriptor(outer, other, { period: PERIOD }), typed('UnreadableHsDescriptorError'))
    assert.throws(() => decryptHsDescriptor(outer, A, { period: timePeriod(PERIOD.endMs) }), typed('UnreadableHsDescriptorError'))
    // another service's descriptor offered for this address (under its own A'): refused before decryption
    const foreign = verifyHsDescriptor(signHsDescriptor({ identitySeed: new Uint8Array(32).fill(22), period: PERIOD, issuedAt: ISSUED, lifetimeSec: 3600, inner: await inner(1) }), NOW)
    assert.throws(() => decryptHsDescriptor(foreign, A, { period: PERIOD }), typed('UnreadableHsDescriptorError'))
    // the right A' with a ciphertext swapped in from another descriptor of the same service
    const twin = decodeHsDescriptor(sign(await inner(2)))
    assert.throws(() => decryptHsDescriptor({ ...outer, ciphertext: twin.ciphertext }, A, { period: PERIOD }), typed('UnreadableHsDescriptorError'))
  })

  it('with client authorization, only listed clients read it', async () => {
    const alice = hsClientAuthKeyPair()
    const bob = hsClientAuthKeyPair()
    const mallory = hsClientAuthKeyPair()
    assert.match(alice.publicKey, /^descriptor:x25519:[a-z2-7]{52}$/)
    assert.match(alice.secretKey, /^descriptor:x25519-private:[a-z2-7]{52}$/)
    const want = await inner(2)
    const bytes = sign(want, { clientAuthKeys: [alice.publicKey, parseHsClientPublicKey(bob.publicKey)] })
    const outer = verifyHsDescriptor(bytes, NOW)
    assert.deepEqual(decryptHsDescriptor(outer, A, { period: PERIOD, clientSecret: alice.secretKey }), want)
    assert.deepEqual(decryptHsDescriptor(outer, A, { period: PERIOD, clientSecret: parseHsClientSecretKey(bob.secretKey) }), want)
    assert.throws(() => decryptHsDescriptor(outer, A, { period: PERIOD, clientSecret: mallory.secretKey }), typed('HsClientNotAuthorizedError'))
    assert.throws(() => decryptHsDescriptor(outer, A, { period: PERIOD }), typed('HsClientNotAuthorizedError'))
    // a listed client still needs the address
    assert.throws(() => decryptHsDescriptor(outer, ed25519.getPublicKey(new Uint8Array(32).fill(23)), { period: PERIOD, clientSecret: alice.secretKey }), typed('UnreadableHsDescriptorError'))
    // the number of clients is hidden within blocks of 16
    assert.equal(sign(want, { clientAuthKeys: [mallory.publicKey] }).length, bytes.length)
    // the text forms: the two halves are never taken for each other
    assert.throws(() => parseHsClientPublicKey(alice.secretKey), InvalidArgumentError)
    assert.throws(() => parseHsClientSecretKey(alice.publicKey), InvalidArgumentError)
    assert.deepEqual(parseHsClientPublicKey(alice.publicKey.toUpperCase().replace('DESCRIPTOR:X25519:', 'descriptor:x25519:')), parseHsClientPublicKey(alice.publicKey))
    assert.throws(() => parseHsClientPublicKey('descriptor:x25519:abc'), InvalidArgumentError)
    assert.throws(() => sign(want, { clientAuthKeys: [new Uint8Array(32)] }), InvalidArgumentError, 'a low-order client key')
  })

  it('fits 10 introduction points and 32 clients in 8 KiB, and refuses more', async () => {
    const clients = Array.from({ length: 32 }, () => hsClientAuthKeyPair())
    const want = await inner(10)
    const bytes = sign(want, { clientAuthKeys: clients.map(c => c.publicKey) })
    assert.ok(bytes.length <= MAX_HS_DESCRIPTOR_BYTES, `${bytes.length} bytes`)
    const outer = verifyHsDescriptor(bytes, NOW)
    for (const c of [clients[0]!, clients[31]!]) assert.deepEqual(decryptHsDescriptor(outer, A, { period: PERIOD, clientSecret: c.secretKey }), want)
    assert.throws(() => sign(want, { clientAuthKeys: [...clients, hsClientAuthKeyPair()].map(c => c.publicKey) }), InvalidArgumentError)
    const eleventh = await introPoint(10)
    assert.throws(() => sign({ introPoints: [...want.introPoints, eleventh] }), InvalidArgumentError)
    assert.throws(() => sign({ introPoints: [{ ...want.introPoints[0]!, peerId: new Uint8Array(34) }] }), InvalidArgumentError)
    assert.throws(() => sign({ introPoints: [{ ...want.introPoints[0]!, encKey: new Uint8Array(31) }] }), InvalidArgumentError)
  })
})

describe('onion-service descriptors in the DHT', () => {
  const validate = hsDescriptorValidator('main', () => NOW)

  it('keys records by network and blinded key', () => {
    const A2 = blindPublicKey(A, PERIOD)
    const key = hsDescriptorDhtKey('main', A2)
    assert.equal(Buffer.from(key.subarray(0, 15)).toString(), `/${HS_DHT_NAMESPACE}/main/`)
    assert.deepEqual(key.subarray(15), A2)
    assert.notDeepEqual(hsDescriptorDhtKey('test', A2), key)
    assert.notDeepEqual(hsDescriptorDhtKey('main', blindPublicKey(A, timePeriod(PERIOD.endMs))), key)
  })

  it('the validator takes a verified record under its own key only', async () => {
    const bytes = sign(await inner(1), { lifetimeSec: 600 })
    const key = hsDescriptorDhtKey('main', blindPublicKey(A, PERIOD))
    await validate(key, bytes)
    await assert.rejects(validate(hsDescriptorDhtKey('main', blindPublicKey(A, timePeriod(PERIOD.endMs))), bytes), typed('ForgedHsDescriptorError'))
    await assert.rejects(validate(hsDescriptorDhtKey('other', blindPublicKey(A, PERIOD)), bytes), typed('ForgedHsDescriptorError'))
    const bad = Uint8Array.from(bytes)
    bad[200] = bad[200]! ^ 1
    await assert.rejects(validate(key, bad), typed('ForgedHsDescriptorError'))
    await assert.rejects(hsDescriptorValidator('main', () => NOW + 601_000)(key, bytes), typed('ExpiredHsDescriptorError'))
    await assert.rejects(validate(key, new Uint8Array(9000)), typed('MalformedHsDescriptorError'))
  })

  it('the selector keeps the highest revision, and a broken record never wins', async () => {
    const i = await inner(1)
    const r1 = sign(i, { revision: ISSUED })
    const r2 = sign(i, { revision: ISSUED + 5 })
    const r3 = sign(i, { revision: ISSUED + 2 })
    const key = new Uint8Array(0)
    assert.equal(hsDescriptorSelector(key, [r1, r2, r3]), 1)
    assert.equal(hsDescriptorSelector(key, [r2, r1]), 0)
    assert.equal(hsDescriptorSelector(key, [new Uint8Array(5), r1]), 1)
    assert.equal(hsDescriptorSelector(key, [r3, r3]), 0)
  })
})
