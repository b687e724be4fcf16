/**
 * The relay view with `verifyAddresses` (a real LevelDB in a temp dir): a descriptor that claims
 * an honest relay's IP counts against no cap until verified, so the honest relay still gets in,
 * and once verified never leaves for it; a relay proven at a full IP is refused then, the first
 * proven keep their places; a verified relay that fails a re-check frees its place; unverified
 * relays leave after three failed checks and are the first to go when the view is full; a newer
 * descriptor keeps the proof only while it names the address that answered; this node's own
 * descriptor counts at once; a reopen checks again; paths and guards are chosen from verified
 * relays only.
 */
import assert from 'node:assert/strict'
import { before, describe, it } from 'node:test'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { PeerId, PrivateKey } from '@libp2p/interface'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { signDescriptor } from '../../../src/onion/descriptor.ts'
import type { DescriptorFields } from '../../../src/onion/descriptor.ts'
import { RelayDirectory } from '../../../src/onion/directory.ts'
import type { RelayDirectoryOptions } from '../../../src/onion/directory.ts'
import { NoPathError } from '../../../src/onion/directory-errors.ts'
import { GuardSet } from '../../../src/onion/guards.ts'
import { ntorKeyPair } from '../../../src/onion/ntor.ts'
import { selectPath } from '../../../src/onion/path.ts'
import { checkableAddresses } from '../../../src/onion/reachability.ts'
import { teardown } from '../../utils/teardown.ts'

const T0 = 1_800_000_000_000
const HOUR = 3600_000
const HONEST_IP = '198.51.100.1'
const at = (ip: string, port = 9470): string => `/ip4/${ip}/tcp/${port}`

describe('relay view with verified addresses', () => {
  const td = teardown()
  const keys: PrivateKey[] = []
  const ids: PeerId[] = []
  let clock = T0
  const now = (): number => clock

  before(async () => {
    for (let i = 0; i < 16; i++) { const k = await generateKeyPair('Ed25519'); keys.push(k); ids.push(peerIdFromPrivateKey(k)) }
  })

  async function descriptor (i: number, addresses: string[], over: Partial<DescriptorFields> = {}): Promise<Uint8Array> {
    return await signDescriptor({ network: 'main', onionKey: ntorKeyPair().publicKey, published: clock, expires: clock + 3 * HOUR, bandwidth: 1_000_000, addresses, ...over }, keys[i] as PrivateKey)
  }

  async function open (over: Partial<RelayDirectoryOptions> = {}, location?: string): Promise<RelayDirectory> {
    const dir = await RelayDirectory.open(location ?? await td.dir(), { network: 'main', now, expireIntervalMs: 0, verifyAddresses: true, ...over })
    td.add(async () => { await dir.close() }, 'close a directory')
    return dir
  }

  it('a false claim to an honest relay\'s IP counts for nothing and never pushes the honest relay out', async () => {
    clock = T0
    const dir = await open()
    // three attackers claim the honest relays' address first: without verification the third would already be refused
    for (const i of [0, 1, 2]) {
      const r = await dir.add(await descriptor(i, [at(HONEST_IP)]))
      assert.equal(r.status, 'added')
      assert.equal(r.status === 'added' && r.entry.verified, false)
    }
    assert.equal(dir.verifiedCount, 0)
    // the two honest relays really at that IP still get in, and are verified there
    for (const i of [3, 4]) {
      assert.equal((await dir.add(await descriptor(i, [at(HONEST_IP, 9470 + i)]))).status, 'added')
      assert.equal((await dir.markVerified(ids[i] as PeerId, at(HONEST_IP, 9470 + i))).status, 'verified')
    }
    assert.equal(dir.verifiedCount, 2)
    // an attacker that somehow answered at the address now is refused: the cap belongs to those proven first
    const late = await dir.markVerified(ids[0] as PeerId, at(HONEST_IP))
    assert.equal(late.status === 'refused' && late.reason, 'relay-address-cap')
    assert.equal(dir.get(ids[0] as PeerId), undefined, 'refused relays leave the view')
    assert.equal(dir.get(ids[3] as PeerId)?.verified, true)
    assert.equal(dir.get(ids[4] as PeerId)?.verified, true)
    // the others fail their checks and leave after the third
    assert.equal((await dir.markFailed(ids[1] as PeerId)).status, 'failed')
    assert.equal((await dir.markFailed(ids[1] as PeerId)).status, 'failed')
    assert.equal((await dir.markFailed(ids[1] as PeerId)).status, 'dropped')
    assert.equal(dir.get(ids[1] as PeerId), undefined)
    // a verified relay that fails a re-check loses its proof and frees its place
    assert.equal((await dir.markFailed(ids[3] as PeerId)).status, 'failed')
    assert.equal(dir.get(ids[3] as PeerId)?.verified, false)
    await dir.add(await descriptor(5, [at(HONEST_IP, 9999)]))
    assert.equal((await dir.markVerified(ids[5] as PeerId, at(HONEST_IP, 9999))).status, 'verified')
    assert.equal((await dir.markVerified(ids[3] as PeerId, at(HONEST_IP, 9473))).status === 'refused', true, 'its place was taken by one proven meanwhile')
    // an address the descriptor does not declare proves nothing
    assert.equal((await dir.markVerified(ids[2] as PeerId, at('203.0.113.5'))).status, 'unknown')
    assert.equal(dir.get(ids[2] as PeerId)?.verified, false)
  })

  it('counts only the IP that answered, and the /24 cap the same way', async () => {
    clock = T0
    const dir = await open()
    // relay 0 proves 198.51.100.1 but also claims 198.51.100.2: only .1 counts, so two others fit at .2
    await dir.add(await descriptor(0, [at(HONEST_IP), at('198.51.100.2')]))
    assert.equal((await dir.markVerified(ids[0] as PeerId, at(HONEST_IP))).status, 'verified')
    for (const i of [1, 2]) {
      await dir.add(await descriptor(i, [at('198.51.100.2', 9000 + i)]))
      assert.equal((await dir.markVerified(ids[i] as PeerId, at('198.51.100.2', 9000 + i))).status, 'verified')
    }
    await dir.add(await descriptor(3, [at('198.51.100.3')]))
    assert.equal((await dir.markVerified(ids[3] as PeerId, at('198.51.100.3'))).status, 'verified')
    // a fifth proven in the /24 is over the prefix cap
    await dir.add(await descriptor(4, [at('198.51.100.4')]))
    const fifth = await dir.markVerified(ids[4] as PeerId, at('198.51.100.4'))
    assert.equal(fifth.status === 'refused' && fifth.reason, 'relay-prefix-cap')
    assert.equal(dir.verifiedCount, 4)
  })

  it('a full view drops unverified relays, most failed first, never a verified one', async () => {
    clock = T0
    const dir = await open({ maxRelays: 4 })
    await dir.add(await descriptor(0, [at('203.0.113.1')]))
    await dir.markVerified(ids[0] as PeerId, at('203.0.113.1'))
    for (const i of [1, 2, 3]) await dir.add(await descriptor(i, [at(`203.0.113.${i + 1}`)]))
    await dir.markFailed(ids[2] as PeerId)
    assert.equal((await dir.add(await descriptor(4, [at('203.0.113.9')]))).status, 'added')
    assert.equal(dir.size, 4)
    assert.equal(dir.get(ids[2] as PeerId), undefined, 'the one that failed a check went first')
    assert.ok(dir.get(ids[0] as PeerId)?.verified)
    // a flood of claims replaces only unverified relays
    for (let i = 5; i < 12; i++) assert.equal((await dir.add(await descriptor(i, [at(`${150 + i}.1.1.1`)]))).status, 'added')
    assert.ok(dir.get(ids[0] as PeerId)?.verified, 'the verified relay is still there')
    assert.equal(dir.size, 4)
    // once every relay is verified, a newcomer is refused
    for (const e of dir.relays()) if (!e.verified) assert.equal((await dir.markVerified(e.descriptor.peerId, e.descriptor.addresses[0] as string)).status, 'verified')
    const full = await dir.add(await descriptor(12, [at('192.0.2.77')]))
    assert.equal(full.status === 'refused' && full.reason, 'relay-view-full')
  })

  it('a newer descriptor stays verified only while it names the address that answered; a reopen checks again', async () => {
    clock = T0
    const location = await td.dir()
    const dir = await RelayDirectory.open(location, { network: 'main', now, expireIntervalMs: 0, verifyAddresses: true, self: ids[15] })
    await dir.add(await descriptor(0, [at('203.0.113.1')]))
    await dir.markVerified(ids[0] as PeerId, at('203.0.113.1'))
    clock = T0 + HOUR
    const same = await dir.add(await descriptor(0, [at('203.0.113.1'), at('203.0.113.2')]))
    assert.equal(same.status === 'added' && same.entry.verified, true)
    clock = T0 + 2 * HOUR
    const moved = await dir.add(await descriptor(0, [at('203.0.113.3')]))
    assert.equal(moved.status === 'added' && moved.entry.verified, false)
    // this node's own descriptor counts at once
    const own = await dir.add(await descriptor(15, [at('192.0.2.15')]))
    assert.equal(own.status === 'added' && own.entry.verified, true)
    await dir.markVerified(ids[0] as PeerId, at('203.0.113.3'))
    await dir.close()
    const again = await open({ self: ids[15] }, location)
    assert.equal(again.size, 2)
    assert.deepEqual(again.relays().filter(e => e.verified).map(e => e.descriptor.peerId.toString()), [ids[15]?.toString()], 'only this node is verified after a reopen')
  })

  it('paths and guards use verified relays only', async () => {
    clock = T0
    const dir = await open()
    // relays 0-2 verified on three /16s; 3-9 unverified, the heaviest declared bandwidth
    for (let i = 0; i < 10; i++) await dir.add(await descriptor(i, [at(`${60 + i}.1.0.1`)], { bandwidth: i < 3 ? 100_000 : 10_000_000, exit: true, exitPolicy: ['accept *:*'] }))
    assert.throws(() => selectPath({ relays: dir.relays(), target: { kind: 'peerd' }, network: 'main' }), (err: Error) => err instanceof NoPathError && /has 0 usable relays .*10 more not yet reached/.test(err.message))
    for (let i = 0; i < 3; i++) await dir.markVerified(ids[i] as PeerId, at(`${60 + i}.1.0.1`))
    const verified = new Set(ids.slice(0, 3).map(String))
    for (let n = 0; n < 200; n++) {
      const path = selectPath({ relays: dir.relays(), target: { kind: 'tcp', port: 443 }, network: 'main' })
      for (const hop of path) assert.ok(verified.has(hop.peerId.toString()), `unverified ${hop.peerId.toString()} picked`)
    }
    const guards = await GuardSet.open(dir, { network: 'main', now, minUptimeMs: 0 })
    await guards.refresh()
    assert.deepEqual(new Set(guards.sampled().map(g => g.peerId)), verified)
    assert.deepEqual(new Set(guards.usable()), verified)
  })

  it('a check dials only declared IP addresses that may count: public ones off regtest, never through a circuit relay', async () => {
    const d = { peerId: ids[0] as PeerId, addresses: [at('127.0.0.1'), at('192.168.1.5'), at(HONEST_IP), `${at('203.0.113.1')}/p2p/${ids[0]?.toString() ?? ''}`, `${at('203.0.113.2')}/p2p/${ids[1]?.toString() ?? ''}`, '/dns4/relay.example/tcp/1', `${at('203.0.113.3')}/p2p/${ids[1]?.toString() ?? ''}/p2p-circuit/p2p/${ids[0]?.toString() ?? ''}`] }
    assert.deepEqual(checkableAddresses(d, 'main').map(a => a.declared), [at(HONEST_IP), d.addresses[3]])
    assert.deepEqual(checkableAddresses(d, 'main').map(a => a.dial.toString()), [`${at(HONEST_IP)}/p2p/${ids[0]?.toString() ?? ''}`, d.addresses[3]])
    assert.deepEqual(checkableAddresses(d, 'regtest').map(a => a.declared), [at('127.0.0.1'), at('192.168.1.5'), at(HONEST_IP), d.addresses[3]])
  })
})
