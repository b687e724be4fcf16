/**
 * Bandwidth caps: the token bucket paces bulk senders to its rate while charged control bytes
 * take tokens first, a rate change is in force at once, and the schedule picks the first entry
 * covering the local time (across days and midnight) and falls back to the global caps.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { BandwidthLimiter, RateBucket } from '../../../src/net/bandwidth-limit.ts'
import { activeEntry, entryMatches, parseDays, parseSchedule } from '../../../src/net/bandwidth-schedule.ts'
import { InvalidArgumentError } from '../../../src/errors.ts'
import { parseByteRate } from '../../../src/node/config.ts'

/** Local time `day` (0 Sunday … 6 Saturday) of the week of Monday 7 December 2026, at `hh:mm`. */
function at (day: number, hh: number, mm = 0): Date {
  // 6 December 2026 is a Sunday
  return new Date(2026, 11, 6 + day, hh, mm)
}

describe('RateBucket', () => {
  it('paces acquirers to its rate, and a charged byte (control traffic) leaves less for them', async () => {
    const bucket = new RateBucket(1_000_000)
    const started = Date.now()
    let sent = 0
    // 400 kB in 40 kB sends: 0.4 s at 1 MB/s, less the 50 ms burst the bucket starts without
    while (sent < 400_000) {
      await bucket.acquire(40_000)
      bucket.charge(40_000) // the wire shows the acquired bytes: not counted twice
      sent += 40_000
    }
    const paced = Date.now() - started
    assert.ok(paced >= 300 && paced < 700, `400 kB at 1 MB/s took ${paced} ms`)

    // 200 kB of control bytes charged (never waiting) delay the next bulk send by ~0.2 s
    bucket.charge(200_000)
    const t = Date.now()
    await bucket.acquire(1)
    const waited = Date.now() - t
    assert.ok(waited >= 150 && waited < 450, `waited ${waited} ms after 200 kB of control traffic`)
  })

  it('lets waiters go at once when the rate is lifted, and never waits when unlimited', async () => {
    const bucket = new RateBucket(10_000)
    bucket.charge(1_000_000) // 100 s of debt
    let done = false
    const waiting = bucket.acquire(1000).then(() => { done = true })
    await new Promise(resolve => setTimeout(resolve, 20))
    assert.equal(done, false)
    assert.equal(bucket.waiting, 1)
    bucket.setRate(0)
    await waiting
    assert.equal(bucket.waitMs(), 0)
  })

  it('gives up a wait when its signal aborts', async () => {
    const bucket = new RateBucket(10_000)
    bucket.charge(1_000_000)
    const abort = new AbortController()
    const waiting = bucket.acquire(10, abort.signal)
    abort.abort()
    await assert.rejects(waiting, { name: 'BudgetAbortedError' })
    assert.equal(bucket.waiting, 0)
  })
})

describe('bandwidth schedule', () => {
  const schedule = parseSchedule([
    { days: 'mon-fri', from: '08:00', to: '18:00', maxUpload: '500kB' },
    { days: 'fri', from: '22:00', to: '06:00', maxDownload: 1_000_000 },
    { days: 'sat,sun', from: '00:00', to: '00:00', maxUpload: 0, maxDownload: '8Mbit' }
  ], parseByteRate)

  it('parses day ranges, lists and wrapping ranges', () => {
    assert.deepEqual([...parseDays('mon-fri')].sort(), [1, 2, 3, 4, 5])
    assert.deepEqual([...parseDays('fri-mon')].sort(), [0, 1, 5, 6])
    assert.deepEqual([...parseDays('Sat, sunday')].sort(), [0, 6])
    assert.equal(parseDays('daily').size, 7)
    assert.throws(() => parseDays('weekdays'), InvalidArgumentError)
  })

  it('matches hours within a day, a window past midnight on the next morning, and whole days', () => {
    assert.equal(activeEntry(schedule, at(1, 9)), 0) // Monday 09:00
    assert.equal(activeEntry(schedule, at(1, 18)), undefined) // the end is not in the window
    assert.equal(activeEntry(schedule, at(5, 23)), 1) // Friday 23:00
    // Saturday 03:00 is Friday night's window, which comes first: the first match wins
    assert.equal(activeEntry(schedule, at(6, 3)), 1)
    assert.equal(activeEntry(schedule, at(6, 7)), 2) // Saturday 07:00: the weekend entry
    assert.equal(activeEntry(schedule, at(4, 3)), undefined) // Thursday 03:00: Wednesday is not listed for the night
    assert.equal(entryMatches(schedule[1]!, at(1, 3)), false) // Monday 03:00: Sunday is not Friday
    assert.equal(schedule[0]!.maxUpload, 500_000)
    assert.equal(schedule[2]!.maxDownload, 1_000_000)
  })

  it('refuses bad entries, naming the entry and field', () => {
    assert.throws(() => parseSchedule([{ days: 'mon', from: '25:00', to: '06:00', maxUpload: 1 }]), /bandwidthSchedule\[0\]: "from"/)
    assert.throws(() => parseSchedule([{ days: 'mon', from: '01:00', to: '06:00' }]), /sets neither/)
    assert.throws(() => parseSchedule([{ days: 'mon', from: '01:00', to: '06:00', maxUpload: -5 }]), /maxUpload must be/)
    assert.throws(() => parseSchedule([{ days: 'mon', from: '01:00', to: '06:00', maxUpload: 'fast' }], parseByteRate), /maxUpload must be/)
    assert.throws(() => parseSchedule([{ days: 'mon', from: '01:00', to: '06:00', maxUpload: 5, extra: 1 }]), /unknown field "extra"/)
    assert.throws(() => parseSchedule({}), /must be an array/)
  })
})

describe('BandwidthLimiter', () => {
  it('applies the schedule entry in force, else the global caps, and follows the clock and runtime changes', () => {
    let now = at(1, 7, 59).getTime()
    const limiter = new BandwidthLimiter({
      maxUpload: 2_000_000,
      maxDownload: 0,
      schedule: parseSchedule([{ days: 'mon-fri', from: '08:00', to: '18:00', maxUpload: 500_000 }]),
      now: () => now
    })
    assert.equal(limiter.upload.rate, 2_000_000)
    assert.equal(limiter.state().activeEntry, null)

    now = at(1, 8, 0).getTime()
    limiter.upload.waitMs() // a bucket in use looks at the schedule again
    assert.equal(limiter.upload.rate, 500_000)
    assert.equal(limiter.download.rate, 0, 'an entry without maxDownload keeps the global download cap')
    assert.deepEqual(limiter.state().effective, { maxUpload: 500_000, maxDownload: 0 })
    assert.equal(limiter.state().activeEntry, 0)

    limiter.set({ maxDownload: 3_000_000 })
    assert.equal(limiter.download.rate, 3_000_000)
    limiter.set({ schedule: [] })
    assert.equal(limiter.upload.rate, 2_000_000)
    assert.equal(limiter.state().activeEntry, null)
  })
})
