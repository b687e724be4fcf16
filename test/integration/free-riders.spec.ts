/**
 * Tit-for-tat in a crowd (issue 19, point 2), short: the net bench's free-rider scenario on 8
 * hosts with shaped links (20 Mbit/s up, 200 down: the seeder's uplink is the bottleneck), one
 * seeder, 5 honest downloaders (enough to fill each other's four upload slots) and 2 that never
 * serve (`peerd daemon --no-serve`), a 24 MiB file (24 blocks: a free-rider's few blocks from
 * optimistic and trial slots are a small part of it), all starting at once. The free-riders must finish after every honest downloader.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { janitor, netUnavailable, removeStale } from '../../bench/net/harness/index.ts'
import { createBed } from '../../bench/net/scenarios/bed.ts'
import type { CrowdRun } from '../../bench/net/scenarios/free-riders.ts'
import { freeRiders } from '../../bench/net/scenarios/free-riders.ts'

// The net bench's hosts are network namespaces with tc-shaped links: root and Linux only.
const unavailable = await netUnavailable()

describe('free-riders in a crowd: separate hosts with shaped links', { skip: unavailable }, () => {
  before(() => {
    janitor.installExitHook()
    removeStale()
  })
  after(async () => { await janitor.cleanup() })

  it('1 seeder, 5 honest downloaders, 2 free-riders (24 MiB): the free-riders finish last', { timeout: 90_000 }, async () => {
    const bed = await createBed(24 * 2 ** 20, 8)
    try {
      const r = await freeRiders(bed, { riders: 2, baseline: false })
      const run = r.data.run as CrowdRun
      assert.equal(run.error, undefined, `the crowd failed: ${run.error ?? ''} ${r.notes.join(' ')}`)
      const times = run.sample?.times ?? []
      assert.equal(times.length, 7)
      // --no-serve holds: their links carried requests and TCP acknowledgements, about 3 % of what
      // each fetched (0.06 copies for the two); serving would add whole blocks to that
      assert.ok((run.sample?.ridersCopies ?? 1) < 0.1, `the free-riders sent ${run.sample?.ridersCopies ?? '?'} copies of the file`)
      const lastHonest = Math.max(...times.filter(t => !t.freeRider).map(t => t.seconds))
      for (const t of times.filter(t => t.freeRider)) {
        assert.ok(t.seconds > lastHonest, `free-rider ${t.host} finished at ${t.seconds} s, before the last honest downloader (${lastHonest} s); ${r.notes[0] ?? ''}`)
      }
    } finally {
      await bed.destroy()
    }
  })
})
