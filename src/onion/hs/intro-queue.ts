/**
 * How an onion service under a flood chooses which introductions to answer (issue 17, point 4),
 * after Tor's proposal 327 as tor 0.4.8 implements it: INTRODUCE2 cells wait in a priority queue
 * by proof-of-work effort (hs_circuit.c's rend_request_pqueue), are taken at a bounded rate
 * (handle_rend_pqueue_cb's token bucket), and once a period the effort the descriptor suggests is
 * moved by what the queue saw (hs_service.c's update_suggested_effort, an AIMD loop).
 *
 *     const queue = new IntroQueue<Intro2>({ onDrop: (intro) => intro.circuit.close() })
 *     const effort = new EffortController(queue, { onChange: republishDescriptor })
 *     const drain = new IntroDrain({ queue, handle: rendezvous, ratePerSec: 10, suggestedEffort: () => effort.suggestedEffort })
 *     queue.push(intro2, proof.effort); drain.kick()
 * @module
 */
import { POW_MAX_EFFORT } from './pow.ts'

/** Default most introductions waiting (Tor's pqueue_high_level without a rate limit). */
export const INTRO_QUEUE_MAX = 16384
/** Default age past which a waiting introduction is dropped: half of Tor's MAX_REND_TIMEOUT (30 s). */
export const INTRO_MAX_AGE_MS = 15_000
/** Default length below which the queue counts as empty (Tor's pqueue_low_level). */
export const INTRO_LOW_LEVEL = 16
/** Default effort update period (Tor's HS_UPDATE_PERIOD: 300 s). */
export const EFFORT_PERIOD_MS = 300_000
/**
 * Default additive step of the suggested effort. Tor adds 1, one Equi-X solve (milliseconds of a
 * client's CPU); a peerd effort unit is one blake2b hash, so the step is 1000 hashes (about 1.5 ms,
 * bench/onion/pow.ts) to keep the loop's reaction time in the same real cost.
 */
export const EFFORT_STEP = 1000
/** Tor republishes a descriptor for a new suggested effort only past a 15 % change. */
export const EFFORT_SIGNIFICANT_CHANGE = 0.15
/** Tor's MAX_CHEAP_REND_CIRCUITS_IN_PROGRESS: past this many in flight, only worthwhile ones start. */
export const MAX_CHEAP_IN_FLIGHT = 16

/** One waiting introduction. */
export interface QueuedIntro<T> {
  item: T
  effort: number
  /** `now()` when it was pushed. */
  enqueuedAt: number
}

/** Why an introduction left the queue unanswered: pushed out by a higher effort, or too old. */
export type IntroDropReason = 'overflow' | 'expired'

/** Options of {@link IntroQueue}. */
export interface IntroQueueOptions<T> {
  /** Most entries waiting (default {@link INTRO_QUEUE_MAX}). */
  maxSize?: number
  /** Entries older than this are dropped, not answered (default {@link INTRO_MAX_AGE_MS}). */
  maxAgeMs?: number
  /** Below this length the queue counts as empty for the effort loop (default {@link INTRO_LOW_LEVEL}). */
  lowLevel?: number
  /** Monotonic clock in ms (default `performance.now`). */
  now?: () => number
  /** Told of every entry dropped, so the caller can free what it holds (a circuit, keys). */
  onDrop?: (item: T, effort: number, reason: IntroDropReason) => void
}

/** Counters since the queue was made. */
export interface IntroQueueStats {
  enqueued: number
  /** Taken by {@link IntroQueue.pop} to be answered. */
  handled: number
  /** Pushed out (or refused) because the queue was full of higher efforts. */
  dropped: number
  /** Dropped for waiting longer than `maxAgeMs`. */
  trimmed: number
  maxEffortSeen: number
  /** Sum of the efforts of all entries pushed. */
  totalEffort: number
}

/** What the queue saw in one effort period: the input of {@link EffortController.update}. */
export interface IntroPeriod {
  handled: number
  totalEffort: number
  dropped: number
  trimmed: number
  /** Highest effort of an entry dropped or trimmed (Tor's max_trimmed_effort). */
  maxTrimmedEffort: number
  /** Whether at least `lowLevel` entries were waiting at some point (Tor's had_queue). */
  hadQueue: boolean
}

/** FIFO of one effort level: an array with a moving head, compacted as the head advances. */
class Fifo<E> {
  private items: (E | undefined)[] = []
  private head = 0
  get size (): number { return this.items.length - this.head }
  first (): E | undefined { return this.items[this.head] }
  push (e: E): void { this.items.push(e) }
  popLast (): E | undefined { return this.size > 0 ? this.items.pop() : undefined }
  shift (): E | undefined {
    if (this.size === 0) return undefined
    const e = this.items[this.head]
    this.items[this.head++] = undefined
    if (this.head >= 1024 && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head)
      this.head = 0
    }
    return e
  }
}

/**
 * A bounded priority queue of introductions: highest effort first, oldest first among equals
 * (Tor's compare_rend_request_by_effort_). When full, the lowest-effort, newest entry is
 * dropped: a new entry that would be that one is refused. Efforts are kept in buckets, one FIFO
 * per distinct effort and a sorted list of the efforts present, so both ends cost O(log n + k).
 */
export class IntroQueue<T> {
  readonly maxSize: number
  readonly maxAgeMs: number
  readonly lowLevel: number
  readonly stats: IntroQueueStats = { enqueued: 0, handled: 0, dropped: 0, trimmed: 0, maxEffortSeen: 0, totalEffort: 0 }
  private readonly now: () => number
  private readonly onDrop: IntroQueueOptions<T>['onDrop']
  private readonly buckets = new Map<number, Fifo<QueuedIntro<T>>>()
  private readonly efforts: number[] = [] // ascending, one per non-empty bucket
  private count = 0
  private prunedAt = -Infinity
  private period: IntroPeriod = IntroQueue.emptyPeriod()

  constructor (options: IntroQueueOptions<T> = {}) {
    this.maxSize = options.maxSize ?? INTRO_QUEUE_MAX
    this.maxAgeMs = options.maxAgeMs ?? INTRO_MAX_AGE_MS
    this.lowLevel = options.lowLevel ?? INTRO_LOW_LEVEL
    this.now = options.now ?? (() => performance.now())
    this.onDrop = options.onDrop
    if (!Number.isSafeInteger(this.maxSize) || this.maxSize < 1) throw new RangeError(`maxSize must be a positive integer, got ${this.maxSize}`)
    if (!(this.maxAgeMs > 0)) throw new RangeError(`maxAgeMs must be positive, got ${this.maxAgeMs}`)
  }

  private static emptyPeriod (): IntroPeriod {
    return { handled: 0, totalEffort: 0, dropped: 0, trimmed: 0, maxTrimmedEffort: 0, hadQueue: false }
  }

  /** Entries waiting. */
  get size (): number { return this.count }

  /** Effort of the entry {@link pop} would return next, if any. */
  peekEffort (): number | undefined { return this.efforts.at(-1) }

  /**
   * Adds an introduction with its (verified) effort, 0 for none. False when the queue was full
   * and this entry was the lowest: it is dropped at once (and `onDrop` told).
   */
  push (item: T, effort: number): boolean {
    if (!Number.isInteger(effort) || effort < 0 || effort > POW_MAX_EFFORT) throw new RangeError(`an effort is a u32, got ${effort}`)
    const entry: QueuedIntro<T> = { item, effort, enqueuedAt: this.now() }
    this.stats.enqueued++
    this.stats.totalEffort += effort
    this.period.totalEffort += effort
    if (effort > this.stats.maxEffortSeen) this.stats.maxEffortSeen = effort
    // a full queue first makes room from expired entries, scanning at most 16 times per maxAgeMs
    if (this.count >= this.maxSize && entry.enqueuedAt - this.prunedAt >= this.maxAgeMs / 16) this.prune()
    if (this.count >= this.maxSize) {
      const lowest = this.efforts[0] as number
      if (effort <= lowest) {
        this.drop(entry, 'overflow')
        return false
      }
      this.drop(this.takeFrom(lowest, 'last'), 'overflow')
    }
    let fifo = this.buckets.get(effort)
    if (fifo == null) {
      fifo = new Fifo()
      this.buckets.set(effort, fifo)
      this.efforts.splice(this.insertAt(effort), 0, effort)
    }
    fifo.push(entry)
    this.count++
    if (this.count >= this.lowLevel) this.period.hadQueue = true
    return true
  }

  /** Takes the highest-effort (then oldest) entry to answer; entries too old on the way are dropped. */
  pop (): QueuedIntro<T> | undefined {
    const deadline = this.now() - this.maxAgeMs
    for (;;) {
      const top = this.efforts.at(-1)
      if (top == null) return undefined
      const entry = this.takeFrom(top, 'first')
      if (entry.enqueuedAt < deadline) {
        this.drop(entry, 'expired')
        continue
      }
      this.stats.handled++
      this.period.handled++
      if (this.count >= this.lowLevel) this.period.hadQueue = true
      return entry
    }
  }

  /** Drops every entry older than `maxAgeMs`; returns how many. */
  prune (): number {
    this.prunedAt = this.now()
    const deadline = this.prunedAt - this.maxAgeMs
    let n = 0
    // downwards: emptying a bucket removes only its own index from the list
    for (let i = this.efforts.length - 1; i >= 0; i--) {
      const effort = this.efforts[i] as number
      const fifo = this.buckets.get(effort) as Fifo<QueuedIntro<T>>
      // a bucket is in push order, so its expired entries are at its head
      while (fifo.size > 0 && (fifo.first() as QueuedIntro<T>).enqueuedAt < deadline) {
        this.drop(this.takeFrom(effort, 'first'), 'expired')
        n++
      }
    }
    return n
  }

  /** Drops everything waiting (as `expired`: the service is stopping or resetting its defence). */
  clear (): void {
    while (this.efforts.length > 0) this.drop(this.takeFrom(this.efforts[0] as number, 'first'), 'expired')
  }

  /** Returns what this period saw and starts the next one (called by {@link EffortController}). */
  takePeriod (): IntroPeriod {
    const p = this.period
    this.period = IntroQueue.emptyPeriod()
    return p
  }

  private insertAt (effort: number): number {
    let lo = 0
    let hi = this.efforts.length
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      if ((this.efforts[mid] as number) < effort) lo = mid + 1
      else hi = mid
    }
    return lo
  }

  private takeFrom (effort: number, end: 'first' | 'last'): QueuedIntro<T> {
    const fifo = this.buckets.get(effort) as Fifo<QueuedIntro<T>>
    const entry = (end === 'first' ? fifo.shift() : fifo.popLast()) as QueuedIntro<T>
    if (fifo.size === 0) {
      this.buckets.delete(effort)
      this.efforts.splice(this.insertAt(effort), 1)
    }
    this.count--
    return entry
  }

  private drop (entry: QueuedIntro<T>, reason: IntroDropReason): void {
    if (reason === 'overflow') {
      this.stats.dropped++
      this.period.dropped++
    } else {
      this.stats.trimmed++
      this.period.trimmed++
    }
    if (entry.effort > this.period.maxTrimmedEffort) this.period.maxTrimmedEffort = entry.effort
    this.onDrop?.(entry.item, entry.effort, reason)
  }
}

/** What {@link EffortController} reads of a queue (any {@link IntroQueue}, whatever it holds). */
export interface IntroQueueView {
  readonly size: number
  readonly lowLevel: number
  readonly stats: IntroQueueStats
  peekEffort: () => number | undefined
  takePeriod: () => IntroPeriod
}

/** Options of {@link EffortController}. */
export interface EffortControllerOptions {
  /** How often the suggested effort is updated (default {@link EFFORT_PERIOD_MS}). */
  periodMs?: number
  /** Additive increase (default {@link EFFORT_STEP}). */
  step?: number
  /** Starting suggestion (default 0: no puzzle until a flood). */
  initialEffort?: number
  /** Ceiling of the suggestion (default {@link POW_MAX_EFFORT}). */
  maxEffort?: number
  /** Told of a suggestion that moved more than {@link EFFORT_SIGNIFICANT_CHANGE} from the last one told: republish. */
  onChange?: (effort: number) => void
}

/**
 * The suggested effort, moved once a period by tor's update_suggested_effort (additive increase,
 * multiplicative decrease): up to max(suggested + step, effort received ÷ introductions answered
 * in the period, prop 327's TOTAL_EFFORT / capacity) when an entry of more than the suggestion
 * was dropped, or when the queue had a backlog whose top pays the suggestion; down to two thirds
 * when the queue had no backlog and is nearly empty.
 */
export class EffortController {
  readonly periodMs: number
  /** Updates run so far. */
  updates = 0
  /** What the queue saw in the last period updated from. */
  lastPeriod: IntroPeriod | undefined
  private readonly queue: IntroQueueView
  private readonly step: number
  private readonly maxEffort: number
  private readonly onChange: ((effort: number) => void) | undefined
  private effort: number
  private told: number
  private timer: ReturnType<typeof setInterval> | undefined

  constructor (queue: IntroQueueView, options: EffortControllerOptions = {}) {
    this.queue = queue
    this.periodMs = options.periodMs ?? EFFORT_PERIOD_MS
    this.step = options.step ?? EFFORT_STEP
    this.maxEffort = options.maxEffort ?? POW_MAX_EFFORT
    this.effort = this.told = options.initialEffort ?? 0
    this.onChange = options.onChange
    if (!(this.periodMs > 0)) throw new RangeError(`periodMs must be positive, got ${this.periodMs}`)
    if (!Number.isSafeInteger(this.step) || this.step < 1) throw new RangeError(`step must be a positive integer, got ${this.step}`)
  }

  /** The effort the descriptor should suggest now. */
  get suggestedEffort (): number { return this.effort }

  /** The queue's counters since it was made (handled, dropped, trimmed, maxEffortSeen, totalEffort). */
  get stats (): IntroQueueStats { return this.queue.stats }

  /** Ends the current period and moves the suggestion; returns it. */
  update (): number {
    const p = this.queue.takePeriod()
    this.lastPeriod = p
    this.updates++
    const top = this.queue.peekEffort()
    let change: 'up' | 'down' | 'none' = 'none'
    if (p.maxTrimmedEffort > this.effort) change = 'up'
    else if (p.hadQueue) {
      if (top != null && top >= this.effort) change = 'up'
    } else if (this.queue.size < this.queue.lowLevel) change = 'down'
    if (change === 'up') {
      const mean = p.handled > 0 ? Math.floor(p.totalEffort / p.handled) : 0
      this.effort = Math.min(this.maxEffort, Math.max(this.effort + this.step, mean))
    } else if (change === 'down') {
      this.effort = Math.floor(2 * this.effort / 3)
    }
    const significant = this.effort < this.told * (1 - EFFORT_SIGNIFICANT_CHANGE) || this.effort > this.told * (1 + EFFORT_SIGNIFICANT_CHANGE)
    if (significant) {
      this.told = this.effort
      this.onChange?.(this.effort)
    }
    return this.effort
  }

  /** Updates every `periodMs` (an unref'd timer) until {@link stop}. */
  start (): void {
    if (this.timer != null) return
    this.timer = setInterval(() => { this.update() }, this.periodMs)
    this.timer.unref?.()
  }

  stop (): void {
    clearInterval(this.timer)
    this.timer = undefined
  }
}

/** Options of {@link IntroDrain}. */
export interface IntroDrainOptions<T> {
  queue: IntroQueue<T>
  /** Answers one introduction (builds the rendezvous circuit); in flight until it settles. */
  handle: (entry: QueuedIntro<T>) => Promise<void> | void
  /** Introductions answered a second on average; undefined: as fast as the event loop allows. */
  ratePerSec?: number
  /** Most answered at once after a quiet spell (default: one second's worth, at least 1). */
  burst?: number
  /** The current suggestion: an entry below it waits while {@link MAX_CHEAP_IN_FLIGHT} are in flight. */
  suggestedEffort?: () => number
  /** Default {@link MAX_CHEAP_IN_FLIGHT}. */
  maxCheapInFlight?: number
  /** Told of a `handle` that threw or rejected. */
  onError?: (err: unknown) => void
}

/**
 * Takes introductions from the queue one per event-loop turn at a bounded rate (tor's
 * handle_rend_pqueue_cb with its token bucket), and starts a low-effort one only while few are
 * in flight, so a flood of cheap ones cannot hold the rendezvous slots.
 */
export class IntroDrain<T> {
  private readonly o: IntroDrainOptions<T>
  private readonly burst: number
  private tokens: number
  private last = performance.now()
  private running = 0
  private timer: ReturnType<typeof setTimeout> | undefined
  private scheduled = false
  private stopped = false

  constructor (options: IntroDrainOptions<T>) {
    this.o = options
    const rate = options.ratePerSec
    if (rate != null && !(rate > 0)) throw new RangeError(`ratePerSec must be positive, got ${rate}`)
    this.burst = Math.max(1, options.burst ?? Math.ceil(rate ?? 1))
    this.tokens = this.burst
  }

  /** Handles in flight. */
  get inFlight (): number { return this.running }

  /** Call after a push: schedules taking the next entry if none is scheduled. */
  kick (): void {
    if (this.stopped || this.scheduled || this.timer != null) return
    this.scheduled = true
    setImmediate(() => { this.scheduled = false; this.step() })
  }

  /** Takes nothing more (what is in flight finishes). */
  stop (): void {
    this.stopped = true
    clearTimeout(this.timer)
    this.timer = undefined
  }

  private later (ms: number): void {
    this.timer = setTimeout(() => { this.timer = undefined; this.step() }, ms)
    this.timer.unref?.()
  }

  private step (): void {
    const { queue, ratePerSec } = this.o
    const top = queue.peekEffort()
    if (this.stopped || top == null) return
    if (this.running >= (this.o.maxCheapInFlight ?? MAX_CHEAP_IN_FLIGHT) && top < (this.o.suggestedEffort?.() ?? 0)) {
      this.later(100)
      return
    }
    if (ratePerSec != null) {
      const now = performance.now()
      this.tokens = Math.min(this.burst, this.tokens + (now - this.last) * ratePerSec / 1000)
      this.last = now
      if (this.tokens < 1) {
        this.later(Math.ceil((1 - this.tokens) * 1000 / ratePerSec))
        return
      }
      this.tokens--
    }
    const entry = queue.pop()
    if (entry != null) {
      this.running++
      void (async () => {
        try {
          await this.o.handle(entry)
        } catch (err) {
          this.o.onError?.(err)
        } finally {
          this.running--
          this.kick()
        }
      })()
    }
    this.kick()
  }
}
