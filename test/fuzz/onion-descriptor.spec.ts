/**
 * Fuzzing relay descriptors (`src/onion/descriptor.ts`) and the relay view's `add`: mutated and
 * random bytes decode or fail with a typed `DescriptorError`, never another error; verification
 * accepts only bytes the relay signed (a mutation that still verifies must be the original); the
 * directory refuses every mutation that is not the original, and stays bounded.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { generateKeyPairFromSeed } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import fc from 'fast-check'
import { decodeDescriptor, signDescriptor, verifyDescriptor } from '../../src/onion/descriptor.ts'
import { RelayDirectory } from '../../src/onion/directory.ts'
import { ntorKeyPair } from '../../src/onion/ntor.ts'
import { decodeOrTyped, decodeOrTypedAsync, fuzz, fuzzAsync, hostileBytes } from '../utils/fuzz.ts'
import { tempDir } from '../utils/index.ts'

const TYPED = ['DescriptorError', 'DescriptorTooLargeError', 'MalformedDescriptorError', 'ForgedDescriptorError', 'ExpiredDescriptorError', 'DescriptorTimeError', 'DescriptorNetworkError']
const NOW = 1_800_000_000_000

describe('fuzz: relay descriptors', () => {
  let key: PrivateKey
  let valid: Uint8Array[]
  let dir: RelayDirectory
  let cleanup: () => Promise<void>

  before(async () => {
    // a fixed seed key, so a fuzz seed replays the same cases
    key = await generateKeyPairFromSeed('Ed25519', new Uint8Array(32).fill(3))
    valid = [
      await signDescriptor({ network: 'main', onionKey: ntorKeyPair(new Uint8Array(32).fill(5)).publicKey, published: NOW, expires: NOW + 3600_000, bandwidth: 1000, addresses: ['/ip4/198.51.100.1/tcp/1'] }, key),
      await signDescriptor({ network: 'main', onionKey: new Uint8Array(32).fill(9), published: NOW, expires: NOW + 3600_000, bandwidth: 7, exit: true, exitPolicy: ['accept *:443', 'reject *:*'], family: ['12D3KooWGRUVh7pW5RbnoQ5eCHAd5N4gqgJ8C7Ch1CzxkQqXqbUu'], addresses: ['/ip4/198.51.100.2/tcp/1', '/ip6/2001:db8::1/tcp/2'] }, key)
    ]
    const d = await tempDir()
    cleanup = d.cleanup
    dir = await RelayDirectory.open(d.path, { network: 'main', now: () => NOW, expireIntervalMs: 0 })
  })
  after(async () => { await dir.close(); await cleanup() })

  it('decoding gives a descriptor or a typed error', () => {
    fuzz(hostileBytes(fc.constantFrom(...valid), 600), (bytes) => {
      const d = decodeOrTyped(() => decodeDescriptor(bytes), TYPED)
      if (d != null) assert.ok(d.addresses.length <= 8 && d.family.length <= 16)
    })
  })

  it('verification and the directory accept only what the relay signed', async () => {
    await fuzzAsync(hostileBytes(fc.constantFrom(...valid), 600), async (bytes) => {
      const d = await decodeOrTypedAsync(async () => await verifyDescriptor(bytes, { network: 'main', now: NOW }), TYPED)
      const original = valid.some(v => Buffer.compare(v, bytes) === 0)
      if (d != null) assert.ok(original, 'a changed descriptor verified')
      const r = await dir.add(bytes)
      if (!original) assert.equal(r.status, 'refused')
    })
    assert.ok(dir.size <= 1)
  })
})
