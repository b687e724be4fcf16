/**
 * The rates and caps of a relay's onion links (issue 16: `--onion-relay-rate`, and Tor-class
 * resistance to floods): the byte bucket every cell written spends from, the limits on queued
 * cells and on CREATE2 a `LinkManager` (link.ts) enforces, and the counters it keeps.
 *
 * ```ts
 * const links = new LinkManager({ host, network, rate: { bytesPerSec: 1_000_000 }, createRate: { perSec: 10, burst: 50 } })
 * links.setRate({ bytesPerSec: 2_000_000 })   // the cap can change while running
 * links.stats.bytesWritten; links.queuedCells
 * ```
 * @module
 */
import { ByteRate } from '../net/byte-budget.ts'
import type { RateBucket } from '../net/bandwidth-limit.ts'
import { CELL_LEN } from './cell.ts'

/** Default most bytes of cells queued over all links of a manager (tor's OOM handler's role). */
export const MAX_QUEUED_BYTES = 64 * 1024 * 1024
/** Default CREATE2 a peer may send a second on average, and at once. */
export const CREATE_RATE = { perSec: 10, burst: 50 }
/** Default most CREATE2 of one link whose answer is not written yet. */
export const MAX_PENDING_CREATES = 64
/** Default most cells a link joins into one stream write: 127 × 514 bytes and a Yamux header fill one Noise message (65,519 bytes of plaintext). */
export const MAX_BATCH_CELLS = 127
/** DESTROY reason RESOURCELIMIT (tor-spec): a queue or creation limit was reached. */
export const DESTROY_RESOURCELIMIT = 5

/** A bandwidth cap: bytes a second, and the most spent at once. */
export interface RateInit {
  bytesPerSec: number
  /** Default one second's worth (tor requires a burst of at least the rate). */
  burstBytes?: number
  /** The node's upload cap (`--max-upload`, net/bandwidth-limit.ts): cells are bulk traffic and wait for it too. */
  shared?: RateBucket
}

/**
 * One token bucket of bytes shared by all links of a manager: every cell written spends
 * {@link CELL_LEN}. It reuses `ByteRate` (net/byte-budget.ts) under a single key.
 */
export class CellBucket {
  private readonly rate: ByteRate
  private readonly shared: RateBucket | undefined

  constructor (init: RateInit, now: () => number = Date.now) {
    this.shared = init.shared
    if (!(init.bytesPerSec > 0)) throw new RangeError(`a relay rate of ${init.bytesPerSec} bytes/s`)
    const burst = Math.max(init.burstBytes ?? init.bytesPerSec, CELL_LEN)
    this.rate = new ByteRate({ bytesPerSecond: init.bytesPerSec, burst, maxPeers: 1 }, now)
  }

  /** Milliseconds until one more cell may be written (0: now). */
  waitMs (): number {
    return Math.max(this.rate.waitMs('', CELL_LEN), this.shared?.waitMs() ?? 0)
  }

  /** Spends one cell's bytes. */
  spend (): void {
    this.rate.spend('', CELL_LEN)
    this.shared?.prepay(CELL_LEN)
  }
}

/** Counters of a `LinkManager` (what `peerd onion status` shows). */
export interface LinkStats {
  cellsWritten: number
  /** Writes into links' streams: a write carries one cell or a batch (cellsWritten / writes is the mean batch). */
  writes: number
  bytesWritten: number
  cellsRead: number
  bytesRead: number
  /** Cells sent on a circuit id not (or no longer) registered, or dropped with a killed circuit's queue. */
  cellsDropped: number
  /** Circuits killed for their queue's length. */
  circuitsKilled: number
  /** CREATE2 refused by the per-peer rate or the in-flight cap. */
  createsRefused: number
}

/** The limits of a `LinkManager`'s links, all optional. */
export interface LinkLimits {
  /** Bandwidth cap over all links (every cell written spends `CELL_LEN` bytes); none: no cap. */
  rate?: RateInit
  /** Default `MAX_QUEUED_CELLS_PER_CIRCUIT` (link-queue.ts). */
  maxQueuedCellsPerCircuit?: number
  /** Default {@link MAX_QUEUED_BYTES}. */
  maxQueuedBytes?: number
  /** CREATE2 per peer; default {@link CREATE_RATE}. */
  createRate?: { perSec: number, burst: number }
  /** Default {@link MAX_PENDING_CREATES}. */
  maxPendingCreates?: number
  /** Most cells joined into one write to a link's stream; default {@link MAX_BATCH_CELLS}, 1 writes each cell alone. */
  maxBatchCells?: number
  /** The clock of the rate and the EWMA (tests). */
  now?: () => number
}
