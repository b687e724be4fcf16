/**
 * Share records (`peerd share --private`): a record lists the onion services serving a root, each
 * entry signed by its service's key for that DHT key. The validator must refuse forged, moved,
 * duplicated, expired, far-future and malformed records, and the selector must prefer the record
 * with more live sharers; merging keeps other sharers' live entries.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { describe, it } from 'node:test'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import * as raw from 'multiformats/codecs/raw'
import {
  decodeShareRecord, encodeShareRecord, liveShareEntries, MAX_ENTRIES, MAX_RECORD_BYTES, mergeShareRecord,
  shareRecordKey, shareRecordSelector, shareRecordValidator, signShareEntry
} from '../../../src/share/private/onion-record.ts'

const now = Math.floor(Date.now() / 1000)
const root = CID.create(1, raw.code, await sha256.digest(new TextEncoder().encode('private root')))
const key = shareRecordKey('regtest', root)
const seed = (): Uint8Array => new Uint8Array(randomBytes(32))
const validate = shareRecordValidator('regtest')

describe('share records', () => {
  it('round-trips and validates a record signed by its service', async () => {
    const e = signShareEntry(key, seed(), now + 3600)
    const bytes = encodeShareRecord([e])
    assert.deepEqual(decodeShareRecord(bytes), [e])
    await validate(key, bytes)
    assert.equal(liveShareEntries(key, bytes, now).length, 1)
  })

  it('refuses a forged signature, another key, another network, a duplicate, an expired or far-future entry', async () => {
    const s = seed()
    const good = signShareEntry(key, s, now + 3600)
    const forged = { ...good, signature: good.signature.map((b, i) => i === 0 ? b ^ 1 : b) }
    await assert.rejects(validate(key, encodeShareRecord([forged])), { name: 'ShareRecordError' })
    const other = shareRecordKey('regtest', CID.create(1, raw.code, await sha256.digest(new Uint8Array([1]))))
    await assert.rejects(validate(other, encodeShareRecord([good])), { name: 'ShareRecordError' }, 'moved under another root')
    await assert.rejects(shareRecordValidator('main')(key, encodeShareRecord([good])), { name: 'ShareRecordError' }, 'another network')
    await assert.rejects(validate(key, encodeShareRecord([good, good])), { name: 'ShareRecordError' }, 'one service twice')
    await assert.rejects(validate(key, encodeShareRecord([signShareEntry(key, s, now - 3600)])), { name: 'ShareRecordError' }, 'expired')
    await assert.rejects(validate(key, encodeShareRecord([signShareEntry(key, s, now + 30 * 3600)])), { name: 'ShareRecordError' }, 'too far ahead')
  })

  it('refuses malformed bytes before decoding entries', async () => {
    const bytes = encodeShareRecord([signShareEntry(key, seed(), now + 3600)])
    await assert.rejects(validate(key, bytes.subarray(0, bytes.length - 1)), { name: 'ShareRecordError' })
    await assert.rejects(validate(key, new Uint8Array(MAX_RECORD_BYTES + 1)), { name: 'ShareRecordError' })
    const badCount = bytes.slice()
    badCount[15] = 2
    await assert.rejects(validate(key, badCount), { name: 'ShareRecordError' })
    const badMagic = bytes.slice()
    badMagic[0] = (badMagic[0] as number) ^ 0xff
    await assert.rejects(validate(key, badMagic), { name: 'ShareRecordError' })
  })

  it('merges other sharers\' live entries behind its own, at most MAX_ENTRIES, and the selector prefers more sharers', () => {
    const others = Array.from({ length: MAX_ENTRIES + 2 }, (_, i) => signShareEntry(key, seed(), now + 600 + i))
    const current = encodeShareRecord(others.slice(0, MAX_ENTRIES))
    const own = signShareEntry(key, seed(), now + 3 * 3600)
    const merged = liveShareEntries(key, mergeShareRecord(key, current, own, now), now)
    assert.equal(merged.length, MAX_ENTRIES)
    assert.deepEqual(merged[0], own)
    // a replaced own entry is not kept twice
    const again = signShareEntry(key, seed(), now + 1000)
    const once = mergeShareRecord(key, encodeShareRecord([again]), again, now)
    assert.equal(decodeShareRecord(once).length, 1)
    const one = encodeShareRecord([own])
    const two = encodeShareRecord([own, others[0] as ReturnType<typeof signShareEntry>])
    assert.equal(shareRecordSelector(key, [one, two, new Uint8Array(3)]), 1)
    assert.equal(shareRecordSelector(key, [new Uint8Array(3), one]), 1)
  })
})
