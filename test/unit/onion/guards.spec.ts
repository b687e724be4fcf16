/**
 * Entry guards on a real relay directory (LevelDB in a temp dir): the same guards after a
 * reopen; a failed guard is skipped until its retry time but never replaced; a new node's
 * provisional guards give way to relays seen for 8 days; slow relays are not sampled when enough
 * fast ones exist; guards rotate out after their lifetime.
 */
import assert from 'node:assert/strict'
import { before, describe, it } from 'node:test'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { signDescriptor } from '../../../src/onion/descriptor.ts'
import { RelayDirectory } from '../../../src/onion/directory.ts'
import { GUARD_LIFETIME_MS, GuardSet, decodeGuards, encodeGuards } from '../../../src/onion/guards.ts'
import { ntorKeyPair } from '../../../src/onion/ntor.ts'
import { teardown } from '../../utils/teardown.ts'

const T0 = 1_800_000_000_000
const DAY = 24 * 3600_000

describe('entry guards', () => {
  const td = teardown()
  const keys: PrivateKey[] = []
  let clock = T0
  const now = (): number => clock

  before(async () => {
    for (let i = 0; i < 12; i++) keys.push(await generateKeyPair('Ed25519'))
  })

  /** Publishes (or republishes at the current clock) relays 0…n-1; relay i declares (i+1) × 100 kB/s. */
  async function publish (dir: RelayDirectory, n = keys.length): Promise<void> {
    for (let i = 0; i < n; i++) {
      const bytes = await signDescriptor({ network: 'main', onionKey: ntorKeyPair().publicKey, published: clock, expires: clock + DAY - 1, bandwidth: (i + 1) * 100_000, addresses: [`/ip4/50.${i}.0.1/tcp/1`] }, keys[i] as PrivateKey)
      const r = await dir.add(bytes)
      assert.equal(r.status, 'added')
    }
  }

  async function openDir (location: string): Promise<RelayDirectory> {
    return await RelayDirectory.open(location, { network: 'main', now, expireIntervalMs: 0 })
  }

  it('keeps the same guards across a reopen, and a failure never replaces one', async () => {
    clock = T0
    const location = await td.dir()
    let dir = await openDir(location)
    await publish(dir)
    let guards = await GuardSet.open(dir, { network: 'main', now, minUptimeMs: 0 })
    await guards.refresh()
    const sampled = guards.sampled().map(g => g.peerId)
    const primary = guards.primary().map(g => g.peerId)
    assert.equal(sampled.length, 6) // the six at or above the median bandwidth
    assert.equal(primary.length, 3)
    assert.deepEqual(guards.usable().slice(0, 3), primary)
    await dir.close()

    dir = await openDir(location)
    td.add(async () => { await dir.close() }, 'close the directory')
    guards = await GuardSet.open(dir, { network: 'main', now, minUptimeMs: 0 })
    assert.deepEqual(guards.sampled().map(g => g.peerId), sampled)
    await guards.refresh()
    assert.deepEqual(guards.primary().map(g => g.peerId), primary, 'a refresh changed the primary guards')

    // the first primary fails: skipped for 10 minutes, still a primary guard, then tried again
    await guards.markFailed(primary[0] as string)
    assert.deepEqual(guards.usable().slice(0, 2), primary.slice(1))
    assert.deepEqual(guards.primary().map(g => g.peerId), primary)
    await guards.refresh()
    assert.deepEqual(guards.sampled().map(g => g.peerId), sampled, 'a failure changed the sample')
    clock = T0 + 10 * 60_000
    assert.equal(guards.usable()[0], primary[0])
    // all three primaries down: the next sampled guard is used, and the failures survive a reopen
    for (const p of primary) await guards.markFailed(p)
    assert.equal(guards.usable()[0], sampled[3])
    const reread = await GuardSet.open(dir, { network: 'main', now, minUptimeMs: 0 })
    assert.equal(reread.usable()[0], sampled[3])
    assert.equal(reread.sampled()[0]?.failures, 2)
    await guards.markSucceeded(primary[0] as string)
    assert.equal(guards.usable()[0], primary[0])
  })

  it('a new node takes provisional guards, replaced by relays seen for 8 days; slow relays are not sampled', async () => {
    clock = T0
    const dir = await openDir(await td.dir())
    td.add(async () => { await dir.close() }, 'close the directory')
    await publish(dir)
    const guards = await GuardSet.open(dir, { network: 'main', now })
    await guards.refresh()
    assert.ok(guards.sampled().length > 0 && guards.sampled().every(g => g.provisional), 'no provisional guards on a fresh view')
    clock = T0 + 8 * DAY
    await publish(dir) // the same relays, republished; first seen 8 days ago
    await guards.refresh()
    const sampled = guards.sampled()
    assert.ok(sampled.every(g => !g.provisional))
    // median of 100…1200 kB/s is 700 kB/s: relays 0…5 (100…600 kB/s) are below it
    const slow = new Set(keys.slice(0, 6).map(k => dir.relays().find(e => e.descriptor.publicKey.equals(k.publicKey))?.descriptor.peerId.toString()))
    assert.equal(sampled.length, 6)
    assert.ok(sampled.every(g => !slow.has(g.peerId)), 'a below-median relay became a guard')
  })

  it('skips a guard missing from the view, and drops it after 20 days unlisted', async () => {
    clock = T0
    const dir = await openDir(await td.dir())
    td.add(async () => { await dir.close() }, 'close the directory')
    await publish(dir, 4)
    const guards = await GuardSet.open(dir, { network: 'main', now, minUptimeMs: 0 })
    await guards.refresh()
    const first = guards.usable()[0] as string
    const firstKey = keys.findIndex(k => dir.get(first)?.descriptor.publicKey.equals(k.publicKey))
    // every relay but the first guard republishes for three weeks; the first guard's descriptor expires
    for (const day of [1, 2, 10, 20, 21]) {
      clock = T0 + day * DAY
      for (let i = 0; i < 4; i++) {
        if (i === firstKey) continue
        await dir.add(await signDescriptor({ network: 'main', onionKey: ntorKeyPair().publicKey, published: clock, expires: clock + DAY - 1, bandwidth: (i + 1) * 100_000, addresses: [`/ip4/50.${i}.0.1/tcp/1`] }, keys[i] as PrivateKey))
      }
      await dir.expire()
      await guards.refresh()
      assert.ok(!guards.usable().includes(first), `day ${day}: an unlisted guard is still used`)
      assert.equal(guards.sampled().some(g => g.peerId === first), day < 21, `day ${day}`)
    }
  })

  it('rotates guards out after their lifetime', async () => {
    clock = T0
    const dir = await openDir(await td.dir())
    td.add(async () => { await dir.close() }, 'close the directory')
    await publish(dir, 4)
    const guards = await GuardSet.open(dir, { network: 'main', now, minUptimeMs: 0 })
    await guards.refresh()
    assert.ok(guards.sampled().every(g => g.expiresAt >= T0 + GUARD_LIFETIME_MS * 0.75 && g.expiresAt <= T0 + GUARD_LIFETIME_MS))
    clock = T0 + GUARD_LIFETIME_MS + 1
    await publish(dir, 4)
    await guards.refresh()
    assert.equal(guards.sampled().length, 4)
    assert.ok(guards.sampled().every(g => g.addedAt === clock), 'an expired guard was kept')
    assert.deepEqual(decodeGuards(encodeGuards(guards.sampled())), guards.sampled())
  })
})
