/**
 * Relay descriptors: a signed descriptor round-trips; every single-byte change is refused (a
 * forged signature, a broken codec or a wrong network — never accepted); expired, future,
 * over-long, wrong-network and oversized descriptors are refused with their typed errors; the
 * bounds of every list hold on both sides.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import {
  MAX_CLOCK_SKEW_MS, MAX_DESCRIPTOR_BYTES, MAX_FAMILY, MAX_LIFETIME_MS, decodeDescriptor, descriptorIps, signDescriptor, verifyDescriptor
} from '../../../src/onion/descriptor.ts'
import type { DescriptorFields } from '../../../src/onion/descriptor.ts'
import {
  DescriptorError, DescriptorNetworkError, DescriptorTimeError, DescriptorTooLargeError, ExpiredDescriptorError, ForgedDescriptorError, MalformedDescriptorError
} from '../../../src/onion/directory-errors.ts'
import { ntorKeyPair } from '../../../src/onion/ntor.ts'

const NOW = 1_800_000_000_000

async function fields (over: Partial<DescriptorFields> = {}): Promise<DescriptorFields> {
  const friend = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
  return {
    network: 'main',
    onionKey: ntorKeyPair().publicKey,
    published: NOW,
    expires: NOW + 3600_000,
    bandwidth: 1_250_000,
    exit: true,
    exitPolicy: ['reject 10.0.0.0/8:*', 'accept *:80', 'accept *:443', 'reject *:*'],
    family: [friend],
    addresses: ['/ip4/198.51.100.7/tcp/9470', '/ip6/2001:db8::7/tcp/9470'],
    ...over
  }
}

describe('relay descriptors', () => {
  it('round-trip: signed, decoded and verified with every field intact', async () => {
    const key = await generateKeyPair('Ed25519')
    const f = await fields()
    const bytes = await signDescriptor(f, key)
    const d = await verifyDescriptor(bytes, { network: 'main', now: NOW + 1000 })
    assert.equal(d.peerId.toString(), peerIdFromPrivateKey(key).toString())
    assert.deepEqual(d.onionKey, f.onionKey)
    assert.equal(d.published, NOW)
    assert.equal(d.expires, NOW + 3600_000)
    assert.equal(d.bandwidth, 1_250_000)
    assert.equal(d.exit, true)
    assert.deepEqual(d.exitPolicy, f.exitPolicy)
    assert.deepEqual(d.family, f.family)
    assert.deepEqual(d.addresses, f.addresses)
    assert.deepEqual(d.bytes, bytes)
    assert.deepEqual(descriptorIps(d).sort(), ['198.51.100.7', '2001:db8:0:0:0:0:0:7'])
    // deterministic: the same fields encode to the same body (Ed25519 signatures are deterministic too)
    assert.deepEqual(await signDescriptor(f, key), bytes)
  })

  it('refuses every single-byte change of a descriptor', async () => {
    const bytes = await signDescriptor(await fields(), await generateKeyPair('Ed25519'))
    const names = new Map<string, number>()
    for (let i = 0; i < bytes.length; i++) {
      for (const flip of [0x01, 0x80]) {
        const t = Uint8Array.from(bytes)
        t[i] = (t[i] as number) ^ flip
        const err = await verifyDescriptor(t, { network: 'main', now: NOW }).then(() => undefined, (e: Error) => e)
        assert.ok(err instanceof DescriptorError, `byte ${i} ^ 0x${flip.toString(16)} was accepted (${String(err)})`)
        names.set(err.name, (names.get(err.name) ?? 0) + 1)
      }
    }
    // most changes are caught by the signature; length and key bytes by the codec
    assert.ok((names.get('ForgedDescriptorError') ?? 0) > bytes.length, JSON.stringify([...names]))
    assert.ok((names.get('MalformedDescriptorError') ?? 0) > 0, JSON.stringify([...names]))
    // truncations and an extra byte too
    for (const t of [bytes.subarray(0, bytes.length - 1), bytes.subarray(0, 40), Uint8Array.of(...bytes, 0)]) {
      await assert.rejects(verifyDescriptor(t, { network: 'main', now: NOW }), MalformedDescriptorError)
    }
  })

  it('a descriptor signed by another key than the one it names is forged', async () => {
    const a = await generateKeyPair('Ed25519')
    const b = await generateKeyPair('Ed25519')
    const good = await signDescriptor(await fields(), a)
    const other = await signDescriptor(await fields(), b)
    // a's body with b's signature (same length: Ed25519)
    const d = decodeDescriptor(good)
    const spliced = Uint8Array.from([...good.subarray(0, d.bodyLength), ...other.subarray(decodeDescriptor(other).bodyLength)])
    await assert.rejects(verifyDescriptor(spliced, { network: 'main', now: NOW }), ForgedDescriptorError)
  })

  it('refuses expired, future, over-long and wrong-network descriptors', async () => {
    const key = await generateKeyPair('Ed25519')
    const bytes = await signDescriptor(await fields(), key)
    await assert.rejects(verifyDescriptor(bytes, { network: 'main', now: NOW + 3600_000 }), ExpiredDescriptorError)
    await assert.rejects(verifyDescriptor(bytes, { network: 'regtest', now: NOW }), DescriptorNetworkError)
    // published just inside and just past the allowed clock skew
    await verifyDescriptor(bytes, { network: 'main', now: NOW - MAX_CLOCK_SKEW_MS })
    await assert.rejects(verifyDescriptor(bytes, { network: 'main', now: NOW - MAX_CLOCK_SKEW_MS - 1 }), DescriptorTimeError)
    const long = await signDescriptor(await fields({ expires: NOW + MAX_LIFETIME_MS + 1 }), key)
    await assert.rejects(verifyDescriptor(long, { network: 'main', now: NOW }), DescriptorTimeError)
    const backwards = await signDescriptor(await fields({ expires: NOW }), key)
    await assert.rejects(verifyDescriptor(backwards, { network: 'main', now: NOW - 1 }), DescriptorTimeError)
    // the scores: forged costs the sender most, expired nothing
    assert.equal(new ExpiredDescriptorError('x').score, 0)
    assert.ok(new ForgedDescriptorError('x').score >= 100)
  })

  it('bounds: oversize refused before decoding, lists over their caps refused on both sides', async () => {
    const key = await generateKeyPair('Ed25519')
    await assert.rejects(verifyDescriptor(new Uint8Array(MAX_DESCRIPTOR_BYTES + 1), { network: 'main' }), DescriptorTooLargeError)
    const many = await Promise.all(Array.from({ length: MAX_FAMILY + 1 }, async () => peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()))
    await assert.rejects(signDescriptor(await fields({ family: many }), key), MalformedDescriptorError)
    await assert.rejects(signDescriptor(await fields({ addresses: Array.from({ length: 9 }, (_, i) => `/ip4/10.0.0.${i}/tcp/1`) }), key), MalformedDescriptorError)
    await assert.rejects(signDescriptor(await fields({ addresses: ['/ip4/300.0.0.1/tcp/1'] }), key), MalformedDescriptorError)
    // addresses are signed in canonical text: one address, one encoding
    const canonical = decodeDescriptor(await signDescriptor(await fields({ addresses: ['/ip6/2001:db8:0::1/tcp/1'] }), key))
    assert.deepEqual(canonical.addresses, ['/ip6/2001:db8::1/tcp/1'])
    await assert.rejects(signDescriptor(await fields({ family: ['not-a-peer-id'] }), key), MalformedDescriptorError)
    await assert.rejects(signDescriptor(await fields({ onionKey: new Uint8Array(31) }), key), MalformedDescriptorError)
    await assert.rejects(signDescriptor(await fields({ bandwidth: -1 }), key), MalformedDescriptorError)
    // a hand-made descriptor whose family count byte says 17 is refused by the decoder
    const ok = await signDescriptor(await fields({ family: many.slice(0, 1), exitPolicy: [], addresses: [] }), key)
    const d = decodeDescriptor(ok)
    const familyCountAt = d.bodyLength - 1 /* addresses count */ - (1 + (many[0] as string).length) - 1
    assert.equal(ok[familyCountAt], 1)
    const t = Uint8Array.from(ok)
    t[familyCountAt] = MAX_FAMILY + 1
    assert.throws(() => decodeDescriptor(t), MalformedDescriptorError)
  })
})
