/**
 * Bandwidth caps: a node's upload and download rates (`--max-upload`, `--max-download`), a
 * schedule that replaces them during its hours, and one download's own cap (`get --max-rate`).
 *
 * Shaping is by priority. Every byte the transports read or write is charged to the bucket of
 * its direction by the {@link BandwidthMeter} (net/bandwidth.ts), control traffic included (cash
 * sync, gossipsub, DHT, identify), and control traffic never waits: it takes its tokens first.
 * Bulk traffic waits for the bucket: block and Bitswap senders {@link RateBucket.acquire} before
 * each send, onion relay cells {@link RateBucket.prepay} once it is out of debt, so a cap
 * saturated by transfers still lets a block announcement through at once, and the total (bulk
 * and control) stays at the cap. A receiver cannot stop a sender: a download session asks for
 * blocks no faster than its bucket allows (each want prepays its block's expected size), and
 * Bitswap reads its next message once the bucket is {@link RateBucket.ready}.
 *
 * ```ts
 * const limiter = new BandwidthLimiter({ maxUpload: 1_000_000 })
 * await limiter.upload.acquire(block.length, signal) // then send the block
 * limiter.set({ maxUpload: 0 })                       // unlimited, at once
 * ```
 * @module
 */
import { BudgetAbortedError } from './byte-budget.ts'
import { activeEntry, MAX_RATE } from './bandwidth-schedule.ts'
import type { BandwidthCaps, BandwidthLimitsState, ScheduleEntry } from './bandwidth-types.ts'

export type { BandwidthCaps, BandwidthLimitsState }

/**
 * The bucket holds at most this many seconds of its rate: a burst after a quiet spell, and what
 * a waiter woken late (a busy event loop) may catch up on without the cap losing it.
 */
const BURST_SECONDS = 0.25
/** ...and at least this many bytes, so small rates still pass a frame at once. */
const MIN_BURST = 16 * 1024
/** Bytes acquired and not yet seen on the wire, at most (a send given up after acquiring leaves some). */
const MAX_PREPAID = 16 * 1024 * 1024
/** The schedule is looked at again this often while the buckets are in use. */
const SCHEDULE_POLL_MS = 1_000

interface Waiter { bytes: number, resolve: () => void, reject: (err: Error) => void }

/**
 * A token bucket of bytes a second for one direction (rate 0: unlimited). Waiters are served
 * first come, first served once the bucket is out of debt; a sender's bytes may put it into
 * debt, paid back before the next waiter goes, so a block larger than the burst still goes
 * and the long-run rate is exact.
 */
export class RateBucket {
  private rateBps = 0
  private tokens = 0
  private at: number
  /** Bytes taken by {@link acquire} that the wire (via {@link charge}) has not shown yet. */
  private prepaid = 0
  private readonly waiters: Waiter[] = []
  private timer: ReturnType<typeof setTimeout> | undefined
  private readonly now: () => number
  private readonly poll: (() => void) | undefined

  /** `poll` is called at most once a second while the bucket is used (the schedule's check). */
  constructor (rate = 0, now: () => number = Date.now, poll?: () => void) {
    this.now = now
    this.at = now()
    this.poll = poll
    this.rateBps = rate
  }

  /** Bytes per second; 0: unlimited. */
  get rate (): number { return this.rateBps }

  /** Waiters queued now. */
  get waiting (): number { return this.waiters.length }

  /** Changes the rate at once (waiters are re-timed; 0 lets them all go). */
  setRate (rate: number): void {
    if (!(Number.isInteger(rate) && rate >= 0 && rate <= MAX_RATE)) throw new RangeError(`a rate of ${rate} bytes/s`)
    if (rate === this.rateBps) return
    this.refill(false)
    // a debt from before a spell without a cap is forgotten
    if (this.rateBps === 0) this.tokens = 0
    this.rateBps = rate
    this.tokens = Math.min(this.tokens, this.burst())
    this.wake()
  }

  private burst (): number {
    return Math.max(MIN_BURST, this.rateBps * BURST_SECONDS)
  }

  private lastPoll = -Infinity

  private refill (poll = true): void {
    const t = this.now()
    if (poll && this.poll != null && t - this.lastPoll >= SCHEDULE_POLL_MS) {
      this.lastPoll = t
      this.poll()
    }
    if (this.rateBps > 0) this.tokens = Math.min(this.burst(), this.tokens + (t - this.at) / 1000 * this.rateBps)
    this.at = t
  }

  /** Bytes that crossed the wire in this direction: paid by an earlier {@link acquire}, or taken now. */
  charge (bytes: number): void {
    const paid = Math.min(this.prepaid, bytes)
    this.prepaid -= paid
    if (this.rateBps === 0) return
    this.refill()
    this.tokens -= bytes - paid
    // control traffic just took tokens: a waiter's time moves later, its timer finds out
  }

  /** Milliseconds until the bucket is out of debt (0: now). */
  waitMs (): number {
    this.refill()
    if (this.rateBps === 0 || this.tokens >= 0) return 0
    return Math.ceil(-this.tokens / this.rateBps * 1000)
  }

  /**
   * Waits until the bucket is out of debt (behind earlier waiters), then spends `bytes`, which
   * the wire's {@link charge} will not count again. Rejects with `BudgetAbortedError` on `signal`.
   */
  async acquire (bytes: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted === true) throw new BudgetAbortedError('gave up waiting for bandwidth')
    if (this.rateBps === 0) return
    if (this.waiters.length === 0 && this.waitMs() === 0) {
      this.take(bytes)
      return
    }
    await new Promise<void>((resolve, reject) => {
      const onAbort = (): void => {
        const i = this.waiters.indexOf(waiter)
        if (i >= 0) this.waiters.splice(i, 1)
        // no timer outlives the last waiter (it would hold a process open)
        if (this.waiters.length === 0 && this.timer != null) { clearTimeout(this.timer); this.timer = undefined }
        reject(new BudgetAbortedError('gave up waiting for bandwidth'))
      }
      const waiter: Waiter = {
        bytes,
        resolve: () => { signal?.removeEventListener('abort', onAbort); resolve() },
        reject
      }
      signal?.addEventListener('abort', onAbort, { once: true })
      this.waiters.push(waiter)
      this.wake()
    })
  }

  /** Waits until the bucket is out of debt, spending nothing (a reader whose bytes the wire charges). */
  async ready (signal?: AbortSignal): Promise<void> {
    await this.acquire(0, signal)
  }

  /**
   * Gives back up to `bytes` of what was prepaid and has not crossed the wire (a download that
   * prepaid a block's estimated size, and the block was smaller).
   */
  refund (bytes: number): void {
    const back = Math.min(this.prepaid, Math.max(0, bytes))
    this.prepaid -= back
    if (this.rateBps === 0 || back === 0) return
    this.refill()
    this.tokens += back
    this.wake()
  }

  /** Spends `bytes` now, waiting or not; negative gives tokens back (a transfer's own cap corrects an estimate). */
  spend (bytes: number): void {
    if (this.rateBps === 0) return
    this.refill()
    this.tokens -= bytes
  }

  /** Spends `bytes` about to be sent without waiting (the caller checked {@link waitMs}); the wire's {@link charge} will not count them again. */
  prepay (bytes: number): void {
    if (this.rateBps === 0) return
    this.refill()
    this.take(bytes)
  }

  private take (bytes: number): void {
    if (bytes <= 0) return
    this.tokens -= bytes
    this.prepaid = Math.min(MAX_PREPAID, this.prepaid + bytes)
  }

  private wake (): void {
    if (this.timer != null) { clearTimeout(this.timer); this.timer = undefined }
    while (this.waiters.length > 0) {
      const ms = this.waitMs()
      if (ms > 0) {
        this.timer = setTimeout(() => { this.timer = undefined; this.wake() }, ms)
        return
      }
      const w = this.waiters.shift() as Waiter
      this.take(w.bytes)
      w.resolve()
    }
  }
}

/** Options of a {@link BandwidthLimiter}. */
export interface BandwidthLimiterInit extends Partial<BandwidthCaps> {
  /** Entries replacing the caps during their hours (checked: `parseSchedule`). */
  schedule?: ScheduleEntry[]
  /** The clock (tests); local time of its value decides the schedule. */
  now?: () => number
}

/** The node's upload and download buckets, their global caps and schedule (see the module comment). */
export class BandwidthLimiter {
  readonly upload: RateBucket
  readonly download: RateBucket
  private caps: BandwidthCaps
  private schedule: ScheduleEntry[]
  private readonly now: () => number

  constructor (init: BandwidthLimiterInit = {}) {
    this.now = init.now ?? Date.now
    this.caps = { maxUpload: init.maxUpload ?? 0, maxDownload: init.maxDownload ?? 0 }
    this.schedule = init.schedule ?? []
    const poll = (): void => { this.apply() }
    this.upload = new RateBucket(0, this.now, poll)
    this.download = new RateBucket(0, this.now, poll)
    this.apply()
  }

  /** Changes the global caps and/or the schedule; in force at once. */
  set (changes: Partial<BandwidthCaps> & { schedule?: ScheduleEntry[] }): void {
    this.caps = { maxUpload: changes.maxUpload ?? this.caps.maxUpload, maxDownload: changes.maxDownload ?? this.caps.maxDownload }
    if (changes.schedule != null) this.schedule = changes.schedule
    this.apply()
  }

  /** The caps, the schedule and what is in force now. */
  state (): BandwidthLimitsState {
    const { effective, active } = this.resolve()
    return { ...this.caps, schedule: this.schedule.map(e => ({ ...e })), activeEntry: active ?? null, effective }
  }

  private resolve (): { effective: BandwidthCaps, active: number | undefined } {
    const active = this.schedule.length === 0 ? undefined : activeEntry(this.schedule, new Date(this.now()))
    const entry = active == null ? undefined : this.schedule[active]
    return {
      active,
      effective: { maxUpload: entry?.maxUpload ?? this.caps.maxUpload, maxDownload: entry?.maxDownload ?? this.caps.maxDownload }
    }
  }

  private apply (): void {
    const { effective } = this.resolve()
    this.upload.setRate(effective.maxUpload)
    this.download.setRate(effective.maxDownload)
  }
}
