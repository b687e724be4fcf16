/**
 * The onion key ring: its keys survive a reopen, in a 0600 file; it rotates on schedule; the
 * previous key is still found during its grace and not after; a corrupt file is refused.
 */
import assert from 'node:assert/strict'
import { stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { RelayDirectoryError } from '../../../src/onion/directory-errors.ts'
import { ntorClientComplete, ntorClientCreate, ntorServerHandshake } from '../../../src/onion/ntor.ts'
import { ONION_KEYS_FILE, OnionKeyRing } from '../../../src/onion/onion-keys.ts'
import { teardown } from '../../utils/teardown.ts'

const DAY = 24 * 3600_000
const T0 = 1_800_000_000_000

describe('onion key ring', () => {
  const td = teardown()

  it('keeps its key across a reopen, in a private file', async () => {
    const dir = join(await td.dir(), 'onion')
    const a = await OnionKeyRing.open(dir, { now: T0 })
    const b = await OnionKeyRing.open(dir, { now: T0 + DAY })
    assert.deepEqual(b.current(), a.current())
    assert.equal((await stat(join(dir, ONION_KEYS_FILE))).mode & 0o777, 0o600)
    assert.equal((await stat(dir)).mode & 0o777, 0o700)
    // the key really works in a handshake
    const id = new Uint8Array(32).fill(7)
    const { state, onionskin } = ntorClientCreate(id, b.current().publicKey)
    const { reply, keys } = ntorServerHandshake(onionskin, { id, onionKeyPair: b.find(b.current().publicKey, T0) as NonNullable<ReturnType<OnionKeyRing['find']>> })
    assert.deepEqual(ntorClientComplete(state, reply), keys)
  })

  it('rotates after 7 days; the old key is found for 7 more days, then not', async () => {
    const dir = await td.dir()
    const ring = await OnionKeyRing.open(dir, { now: T0 })
    const first = ring.current()
    assert.equal(await ring.rotateIfDue(T0 + 7 * DAY - 1), false)
    assert.equal(await ring.rotateIfDue(T0 + 7 * DAY), true)
    const second = ring.current()
    assert.notDeepEqual(second.publicKey, first.publicKey)
    assert.deepEqual(ring.find(first.publicKey, T0 + 13 * DAY), first)
    assert.deepEqual(ring.find(second.publicKey, T0 + 13 * DAY), second)
    // persisted: a reopen inside the grace still has both
    const again = await OnionKeyRing.open(dir, { now: T0 + 8 * DAY })
    assert.deepEqual(again.current(), second)
    assert.deepEqual(again.find(first.publicKey, T0 + 8 * DAY), first)
    // grace over: the old key is refused even before it is dropped from the file
    assert.equal(again.find(first.publicKey, T0 + 14 * DAY), undefined)
    assert.equal(await again.rotateIfDue(T0 + 14 * DAY), true) // second is 7 days old too
    const late = await OnionKeyRing.open(dir, { now: T0 + 14 * DAY })
    assert.equal(late.find(first.publicKey, T0 + 14 * DAY), undefined)
    assert.deepEqual(late.find(second.publicKey, T0 + 14 * DAY), second)
    assert.equal(ring.find(new Uint8Array(31)), undefined)
  })

  it('a node that was off for weeks rotates at open', async () => {
    const dir = await td.dir()
    const old = (await OnionKeyRing.open(dir, { now: T0 })).current()
    const ring = await OnionKeyRing.open(dir, { now: T0 + 30 * DAY })
    assert.notDeepEqual(ring.current().publicKey, old.publicKey)
    assert.ok(ring.find(old.publicKey, T0 + 30 * DAY) != null, 'the previous key starts its grace at the rotation')
  })

  it('refuses a file that is not a key ring instead of replacing it', async () => {
    const dir = await td.dir()
    await writeFile(join(dir, ONION_KEYS_FILE), new Uint8Array(10))
    await assert.rejects(OnionKeyRing.open(dir), RelayDirectoryError)
  })
})
