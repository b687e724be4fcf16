/**
 * The outbound side of an onion link: per-circuit cell queues, the order they are written in,
 * and the byte bucket that caps a relay's bandwidth (issue 16, point 1).
 *
 * A link writes its cells into a libp2p stream; when the stream's buffer is full (`send()`
 * returned false, `writableNeedsDrain`), cells wait here until its 'drain', so a fast sender
 * fills bounded queues instead of the process's memory. The order is tor's EWMA circuitmux
 * (proposal 2009 "cell EWMA", `circuitmux_ewma.c`): each circuit carries an exponentially
 * decaying count of the cells it wrote (half-life 30 s, tor's default), and the queued circuit
 * with the lowest count goes next, so an interactive circuit's cell overtakes a bulk transfer's
 * backlog instead of waiting behind it as round-robin would make it wait one turn per busy
 * circuit. DESTROY cells go in a control queue ahead of every circuit (queueing one drops its
 * circuit's data cells, as tor clears a closing circuit's queue).
 *
 * ```ts
 * const bucket = new CellBucket({ bytesPerSec: 1e6 })  // relay-rate.ts
 * const q = new LinkQueue({ sink: stream, bucket: () => bucket, onWritten: cell => count(cell) })
 * q.push(circId, encodeCell(cell))   // false: past the circuit's cap, the caller kills it
 * ```
 * @module
 */
import { CELL_LEN, CIRCID_LEN } from './cell.ts'
import type { CellBucket } from './relay-rate.ts'

/** Default most cells queued for one circuit (≈ 500 KiB); past it the circuit is killed. */
export const MAX_QUEUED_CELLS_PER_CIRCUIT = 1000
/** Default most control cells (DESTROY) queued on one link; past it the peer is not reading and the link closes. */
export const MAX_CONTROL_CELLS = 4096
/** Half-life of a circuit's EWMA cell count (tor's CircuitPriorityHalflifeMsec default). */
export const EWMA_HALFLIFE_MS = 30_000

/** What a {@link LinkQueue} writes into: the parts of a libp2p `Stream` it uses. */
export interface CellSink {
  readonly writableNeedsDrain: boolean
  send: (bytes: Uint8Array) => boolean
  onDrain: () => Promise<void>
  /** A libp2p stream's events: when present the queue waits for 'drain' itself (see {@link LinkQueue}'s waitForDrain). */
  addEventListener?: (type: 'drain' | 'close', listener: (evt: Event) => void) => void
  removeEventListener?: (type: 'drain' | 'close', listener: (evt: Event) => void) => void
}

/** A FIFO of cells with O(1) shift. */
class Fifo {
  private items: Uint8Array[] = []
  private head = 0

  get length (): number { return this.items.length - this.head }

  push (cell: Uint8Array): void { this.items.push(cell) }

  shift (): Uint8Array | undefined {
    if (this.head >= this.items.length) return undefined
    const cell = this.items[this.head++]
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head)
      this.head = 0
    }
    return cell
  }

  clear (): number {
    const n = this.length
    this.items = []
    this.head = 0
    return n
  }
}

interface CircuitQueue { cells: Fifo, ewma: number, at: number }

/**
 * Tor's EWMA circuitmux, without I/O: per-circuit FIFOs and the choice of which circuit writes
 * next. Counts decay continuously (`ewma · 2^(-Δt/halflife)`) rather than in tor's 10 s ticks.
 */
export class CircuitMux {
  private readonly control = new Fifo()
  private readonly circuits = new Map<number, CircuitQueue>()
  private readonly halflifeMs: number
  private cells = 0

  constructor (halflifeMs = EWMA_HALFLIFE_MS) {
    this.halflifeMs = halflifeMs
  }

  /** Cells queued (control and circuits). */
  get size (): number { return this.cells }

  /** Cells queued for `circId`. */
  sizeOf (circId: number): number { return this.circuits.get(circId)?.cells.length ?? 0 }

  /** Control cells queued. */
  get controlSize (): number { return this.control.length }

  /** Queues a circuit's cell; returns that circuit's queue length. */
  push (circId: number, cell: Uint8Array): number {
    let q = this.circuits.get(circId)
    if (q == null) { q = { cells: new Fifo(), ewma: 0, at: 0 }; this.circuits.set(circId, q) }
    q.cells.push(cell)
    this.cells++
    return q.cells.length
  }

  /** Queues a control cell, written before any circuit's. */
  pushControl (cell: Uint8Array): void {
    this.control.push(cell)
    this.cells++
  }

  /** Forgets `circId`'s queue and history; returns the cells dropped. */
  drop (circId: number): number {
    const q = this.circuits.get(circId)
    if (q == null) return 0
    this.circuits.delete(circId)
    const n = q.cells.clear()
    this.cells -= n
    return n
  }

  /** The next cell to write at time `now`: a control cell, else the quietest queued circuit's. */
  shift (now: number): Uint8Array | undefined {
    const c = this.control.shift()
    if (c != null) { this.cells--; return c }
    let best: CircuitQueue | undefined
    let bestValue = Infinity
    for (const q of this.circuits.values()) {
      if (q.cells.length === 0) continue
      const value = q.at === now ? q.ewma : this.decayed(q, now) // no decay within one instant (a batch)
      if (value < bestValue) { best = q; bestValue = value }
    }
    if (best == null) return undefined
    best.ewma = bestValue + 1
    best.at = now
    this.cells--
    return best.cells.shift()
  }

  /** The circuit with the most cells queued, if any has some. */
  largest (): { circId: number, cells: number } | undefined {
    let out: { circId: number, cells: number } | undefined
    for (const [circId, q] of this.circuits) if (q.cells.length > (out?.cells ?? 0)) out = { circId, cells: q.cells.length }
    return out
  }

  private decayed (q: CircuitQueue, now: number): number {
    return q.ewma === 0 ? 0 : q.ewma * Math.pow(2, -(now - q.at) / this.halflifeMs)
  }
}

/** Options of {@link LinkQueue}. */
export interface LinkQueueInit {
  sink: CellSink
  /** The bucket shared by the manager's links, read at each write (the cap may change); none: no cap. */
  bucket?: () => CellBucket | undefined
  now?: () => number
  /** Sees each cell as it is handed to the sink. */
  onWritten?: (cell: Uint8Array) => void
  /** The sink failed (its stream closed): the link closes. */
  onError?: (err: Error) => void
  /** Called when a cell was written or dropped, so a manager can keep a total. */
  onSizeChange?: (delta: number) => void
  /**
   * Most circuit cells joined into one `send` (default 1: each cell its own send, written as it
   * is pushed). Above 1, writing waits for the current task to end (a relay dispatches a whole
   * read's cells first), then queued cells go out in batches.
   */
  maxBatchCells?: number
  /** Sees each chunk handed to the sink: one cell, or a batch of whole cells. */
  onSent?: (chunk: Uint8Array) => void
}

/**
 * A link's outbound queue: a {@link CircuitMux} pumped into a {@link CellSink} while the sink
 * accepts more and the bucket has tokens. It waits for the sink's drain or the bucket's refill
 * with one pending wake-up at a time.
 *
 * Batching (`maxBatchCells` > 1): each `send` into a libp2p stream costs a Yamux frame, a Noise
 * message and a socket write whatever its size, so one send per cell made a relay CPU-bound far
 * below its link's rate; cells drawn in EWMA order are joined into one send instead. The bucket
 * is still spent and checked per cell, and control cells (DESTROY, rare) still go one per send.
 * An observer of the link sees only whole multiples of `CELL_LEN`, so no message lengths.
 */
export class LinkQueue {
  readonly mux = new CircuitMux()
  private readonly init: LinkQueueInit
  private readonly now: () => number
  private readonly maxBatch: number
  private waiting = false
  private scheduled = false
  private timer?: NodeJS.Timeout
  private closed = false

  constructor (init: LinkQueueInit) {
    this.init = init
    this.now = init.now ?? Date.now
    this.maxBatch = Math.max(1, Math.floor(init.maxBatchCells ?? 1))
  }

  /** Cells waiting. */
  get size (): number { return this.mux.size }

  /** Queues a circuit's cell and writes what it can; returns the circuit's queue length. */
  push (circId: number, cell: Uint8Array): number {
    const n = this.mux.push(circId, cell)
    this.init.onSizeChange?.(1)
    this.schedule()
    return n
  }

  /** Queues a control cell (DESTROY) ahead of every circuit's and writes what it can. */
  pushControl (cell: Uint8Array): void {
    this.mux.pushControl(cell)
    this.init.onSizeChange?.(1)
    this.schedule()
  }

  /** Drops `circId`'s queued cells; returns how many. */
  drop (circId: number): number {
    const n = this.mux.drop(circId)
    if (n > 0) this.init.onSizeChange?.(-n)
    return n
  }

  /** Stops writing; what is queued goes to `flush` (a clean close), else is dropped. */
  close (flush?: (cell: Uint8Array) => void): void {
    if (this.closed) return
    this.closed = true
    clearTimeout(this.timer)
    const n = this.mux.size
    const now = this.now() // not 0: a circuit's decayed count at time 0 is Infinity, and shift() would skip it
    for (let cell = this.mux.shift(now); cell != null; cell = this.mux.shift(now)) flush?.(cell)
    if (n > 0) this.init.onSizeChange?.(-n)
  }

  /** Pumps now (no batching) or once the current task has queued all it will. */
  private schedule (): void {
    if (this.maxBatch === 1) { this.pump(); return }
    if (this.scheduled || this.waiting) return
    this.scheduled = true
    setImmediate(() => { this.scheduled = false; this.pump() })
  }

  /** Writes queued cells until the queue empties, the sink is full or the bucket is empty. */
  pump (): void {
    if (this.waiting || this.closed) return
    const sink = this.init.sink
    while (this.mux.size > 0) {
      if (sink.writableNeedsDrain) { this.waitForDrain(); return }
      const bucket = this.init.bucket?.()
      const wait = bucket?.waitMs() ?? 0
      if (wait > 0) { this.waitForTokens(wait); return }
      if (this.mux.controlSize > 0 || this.maxBatch === 1) {
        const cell = this.mux.shift(this.now()) as Uint8Array
        bucket?.spend()
        this.init.onSizeChange?.(-1)
        if (!this.write(cell)) return
        this.init.onWritten?.(cell)
        continue
      }
      const cells = this.take(bucket)
      const batch = joined(cells)
      this.init.onSizeChange?.(-cells.length)
      if (!this.write(batch)) return
      for (const cell of cells) this.init.onWritten?.(cell)
    }
  }

  /** Up to `maxBatch` circuit cells in EWMA order, each spending from the bucket (at least one: the caller checked). */
  private take (bucket: CellBucket | undefined): Uint8Array[] {
    const cells: Uint8Array[] = []
    const now = this.now()
    while (cells.length < this.maxBatch && this.mux.size > 0 && (cells.length === 0 || (bucket?.waitMs() ?? 0) === 0)) {
      cells.push(this.mux.shift(now) as Uint8Array)
      bucket?.spend()
    }
    return cells
  }

  /** Hands a chunk to the sink; false (and the queue closed) when the sink failed. */
  private write (chunk: Uint8Array): boolean {
    try {
      this.init.sink.send(chunk)
    } catch (err) {
      this.close()
      this.init.onError?.(err as Error)
      return false
    }
    this.init.onSent?.(chunk)
    return true
  }

  private waitForTokens (ms: number): void {
    this.waiting = true
    this.timer = setTimeout(() => { this.waiting = false; this.pump() }, ms)
  }

  private waitForDrain (): void {
    this.waiting = true
    const sink = this.init.sink
    if (sink.addEventListener != null && sink.removeEventListener != null) {
      // not onDrain(): @libp2p/utils 7's keeps returning its first, resolved promise after a
      // first drain, so pump and wait would spin in microtasks and starve the socket of I/O
      const remove = sink.removeEventListener.bind(sink)
      const drained = (): void => {
        remove('drain', drained)
        remove('close', closed)
        this.waiting = false
        this.pump()
      }
      const closed = (evt: Event): void => {
        remove('drain', drained)
        remove('close', closed)
        this.waiting = false
        if (this.closed) return
        this.close()
        this.init.onError?.((evt as Event & { error?: Error }).error ?? new Error('stream closed'))
      }
      sink.addEventListener('drain', drained)
      sink.addEventListener('close', closed)
      return
    }
    sink.onDrain().then(() => {
      this.waiting = false
      this.pump()
    }, (err: Error) => {
      this.waiting = false
      if (this.closed) return
      this.close()
      this.init.onError?.(err)
    })
  }
}

/** The cells as one chunk: a view when they already lie back to back in one buffer (a relayed run), else a copy. */
function joined (cells: Uint8Array[]): Uint8Array {
  const first = cells[0] as Uint8Array
  let contiguous = true
  for (let i = 1; i < cells.length && contiguous; i++) {
    const c = cells[i] as Uint8Array
    contiguous = c.buffer === first.buffer && c.byteOffset === first.byteOffset + i * CELL_LEN
  }
  if (contiguous) return new Uint8Array(first.buffer, first.byteOffset, cells.length * CELL_LEN)
  const batch = new Uint8Array(cells.length * CELL_LEN)
  for (let i = 0; i < cells.length; i++) batch.set(cells[i] as Uint8Array, i * CELL_LEN)
  return batch
}

/** The circuit id and command of an encoded cell. */
export function cellHeader (cell: Uint8Array): { circId: number, command: number } {
  const circId = ((cell[0] as number) * 0x1000000) + (((cell[1] as number) << 16) | ((cell[2] as number) << 8) | (cell[3] as number))
  return { circId, command: cell[CIRCID_LEN] as number }
}
