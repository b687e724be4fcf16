/**
 * The relay view on a real LevelDB in a temporary dir: bounded in size; at most two relays per IP
 * and four per /24 on main, relaxed on regtest; a newer descriptor replaces an older one and keeps
 * the first-seen time; expired descriptors are dropped by the timer's sweep and at load; the
 * view survives a reopen; a forged descriptor is refused with a penalty, an expired one without.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { signDescriptor } from '../../../src/onion/descriptor.ts'
import type { DescriptorFields } from '../../../src/onion/descriptor.ts'
import { RelayDirectory } from '../../../src/onion/directory.ts'
import { RelayDirectoryError } from '../../../src/onion/directory-errors.ts'
import { ntorKeyPair } from '../../../src/onion/ntor.ts'
import { teardown } from '../../utils/teardown.ts'

const T0 = 1_800_000_000_000
const HOUR = 3600_000

async function descriptor (key: PrivateKey, over: Partial<DescriptorFields> = {}): Promise<Uint8Array> {
  return await signDescriptor({ network: 'main', onionKey: ntorKeyPair().publicKey, published: T0, expires: T0 + 3 * HOUR, bandwidth: 100_000, addresses: ['/ip4/198.51.100.1/tcp/9470'], ...over }, key)
}

describe('relay directory', () => {
  const td = teardown()
  let clock = T0
  const now = (): number => clock

  async function open (location: string, network = 'main', over: { maxRelays?: number } = {}): Promise<RelayDirectory> {
    const dir = await RelayDirectory.open(location, { network, now, expireIntervalMs: 0, ...over })
    td.add(async () => { await dir.close() }, 'close a directory')
    return dir
  }

  it('keeps at most two relays per IP and four per /24 on main, and none without an IP', async () => {
    clock = T0
    const dir = await open(await td.dir())
    const results: string[] = []
    for (const last of [1, 1, 1, 2, 2, 3]) {
      const r = await dir.add(await descriptor(await generateKeyPair('Ed25519'), { addresses: [`/ip4/198.51.100.${last}/tcp/9470`] }))
      results.push(r.status === 'refused' ? r.reason : r.status)
    }
    assert.deepEqual(results, ['added', 'added', 'relay-address-cap', 'added', 'added', 'relay-prefix-cap'])
    const other = await dir.add(await descriptor(await generateKeyPair('Ed25519'), { addresses: ['/ip4/203.0.113.9/tcp/9470'] }))
    assert.equal(other.status, 'added')
    const none = await dir.add(await descriptor(await generateKeyPair('Ed25519'), { addresses: [] }))
    assert.equal(none.status === 'refused' && none.reason, 'relay-no-address')
    const lan = await dir.add(await descriptor(await generateKeyPair('Ed25519'), { addresses: ['/ip4/127.0.0.1/tcp/1', '/ip4/192.168.1.5/tcp/1'] }))
    assert.equal(lan.status === 'refused' && lan.reason, 'relay-no-address')
    // loopback and LAN addresses beside a public one are not counted: any number of relays may list them
    for (let i = 0; i < 3; i++) {
      const r = await dir.add(await descriptor(await generateKeyPair('Ed25519'), { addresses: [`/ip4/${70 + i}.1.1.1/tcp/1`, '/ip4/127.0.0.1/tcp/1', '/ip4/192.168.1.5/tcp/1'] }))
      assert.equal(r.status, 'added')
    }
    assert.equal(dir.size, 8)
  })

  it('relaxes the address caps on regtest, and still bounds the view', async () => {
    clock = T0
    const dir = await open(await td.dir(), 'regtest', { maxRelays: 6 })
    const statuses: string[] = []
    for (let i = 0; i < 8; i++) {
      const r = await dir.add(await descriptor(await generateKeyPair('Ed25519'), { network: 'regtest', addresses: ['/ip4/127.0.0.1/tcp/1'] }))
      statuses.push(r.status === 'refused' ? r.reason : r.status)
    }
    assert.deepEqual(statuses, ['added', 'added', 'added', 'added', 'added', 'added', 'relay-view-full', 'relay-view-full'])
    assert.equal(dir.size, 6)
  })

  it('a newer descriptor replaces an older one and keeps the first-seen time; an older one is stale', async () => {
    clock = T0
    const dir = await open(await td.dir())
    const key = await generateKeyPair('Ed25519')
    const first = await dir.add(await descriptor(key, { bandwidth: 1 }))
    assert.equal(first.status, 'added')
    clock = T0 + HOUR
    const newer = await dir.add(await descriptor(key, { published: T0 + HOUR, expires: T0 + 4 * HOUR, bandwidth: 2 }))
    assert.equal(newer.status, 'added')
    const entry = dir.get(first.status === 'added' ? first.entry.descriptor.peerId : '')
    assert.equal(entry?.descriptor.bandwidth, 2)
    assert.equal(entry?.firstSeen, T0)
    const older = await dir.add(await descriptor(key, { published: T0 + 1, bandwidth: 3 }))
    assert.equal(older.status, 'stale')
    assert.equal(dir.size, 1)
    // the replaced relay's address slot is its own: it may move within the cap
    clock = T0 + 2 * HOUR
    const moved = await dir.add(await descriptor(key, { published: T0 + 2 * HOUR, expires: T0 + 4 * HOUR, addresses: ['/ip4/198.51.100.1/tcp/1', '/ip4/198.51.100.1/tcp/2'] }))
    assert.equal(moved.status, 'added')
  })

  it('refuses a forged descriptor with a penalty and an expired one without', async () => {
    clock = T0
    const dir = await open(await td.dir())
    const bytes = await descriptor(await generateKeyPair('Ed25519'))
    const forged = Uint8Array.from(bytes)
    forged[forged.length - 3] = (forged[forged.length - 3] as number) ^ 1
    const f = await dir.add(forged)
    assert.equal(f.status, 'refused')
    assert.ok(f.status === 'refused' && f.score >= 100 && f.reason === 'descriptor-forged')
    clock = T0 + 3 * HOUR
    const e = await dir.add(bytes)
    assert.ok(e.status === 'refused' && e.score === 0 && e.reason === 'descriptor-expired')
    assert.equal(dir.size, 0)
  })

  it('survives a reopen; expired descriptors go on the sweep and at load', async () => {
    clock = T0
    const location = await td.dir()
    const dir = await RelayDirectory.open(location, { network: 'main', now, expireIntervalMs: 0 })
    const short = await generateKeyPair('Ed25519')
    const long = await generateKeyPair('Ed25519')
    await dir.add(await descriptor(short, { expires: T0 + HOUR, addresses: ['/ip4/192.0.2.1/tcp/1'] }))
    await dir.add(await descriptor(long, { expires: T0 + 5 * HOUR, addresses: ['/ip4/192.0.2.2/tcp/1'] }))
    await dir.close()

    const again = await RelayDirectory.open(location, { network: 'main', now, expireIntervalMs: 0 })
    assert.equal(again.size, 2)
    clock = T0 + 2 * HOUR
    assert.equal(await again.expire(), 1)
    assert.deepEqual(again.relays().map(r => r.descriptor.bytes.length > 0 && r.firstSeen), [T0])
    clock = T0 + 6 * HOUR
    await again.close()
    const late = await open(location)
    assert.equal(late.size, 0, 'the long-lived one expired while closed and is dropped at load')
    await late.close()
    await assert.rejects(RelayDirectory.open(location, { network: 'regtest', expireIntervalMs: 0 }), RelayDirectoryError)
  })
})
