/**
 * Fee-rate estimation from two cheap signals: the rate the next block would cut off at if it
 * were mined from the mempool now, and the rates that got into recent full blocks.
 * @module
 */
import type { Selection } from './select.ts'

/** Recent blocks remembered. */
const DEPTH = 6
/** A block filled to this share of its room counts as full. */
const FULL_SHARE = 0.9

/** The lowest rate that strictly beats `rate` at whole base units per vbyte. */
function above (rate: number): number {
  return Math.floor(rate) + 1
}

/** Tracks recent blocks' cut-off rates and turns a template selection into an estimate. */
export class FeeEstimator {
  /** Per recent block: the least rate that beat its cut-off, 0 when it had room to spare. */
  private readonly cutoffs: number[] = []

  /**
   * Records a connected block: its weight against the room it had, and the fee rates of the
   * mempool entries it confirmed (the only fees known without its coins).
   */
  addBlock (weight: number, room: number, confirmedRates: readonly number[]): void {
    const full = weight >= room * FULL_SHARE && confirmedRates.length > 0
    this.cutoffs.push(full ? above(Math.min(...confirmedRates)) : 0)
    if (this.cutoffs.length > DEPTH) this.cutoffs.shift()
  }

  /** Median of the recent cut-offs (0 with no full blocks among most of them). */
  recent (): number {
    if (this.cutoffs.length === 0) return 0
    const sorted = [...this.cutoffs].sort((a, b) => a - b)
    return sorted[Math.floor(sorted.length / 2)] as number
  }

  /**
   * The fee rate to pay to be in the next block: above the cheapest package of a full
   * template, at least the recent blocks' median cut-off, never below `minFeeRate`.
   */
  estimate (next: Selection, minFeeRate: number): number {
    const fromMempool = next.full && next.minRate !== Infinity ? above(next.minRate) : 0
    return Math.max(minFeeRate, fromMempool, this.recent())
  }
}
