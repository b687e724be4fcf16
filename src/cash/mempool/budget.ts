/**
 * Signature-check budgets for relayed transactions: a token bucket per peer (in a bounded
 * map) and one for all peers together, so neither one peer nor many fresh peer ids can keep
 * the signature workers busy. The mempool charges a transaction one check per input when its
 * signatures are about to be verified, not before: junk refused by a cheaper rule, or held as
 * an orphan, must not spend the total that honest peers share.
 *
 * ```ts
 * const budget = new SigCheckBudget()
 * if (!budget.take(peerId.toString(), tx.inputs.length)) throw overBudget // not verified
 * ```
 * @module
 */

import { LruMap } from '../../net/lru.ts'

/** The reason (score 0) of a transaction refused, unverified, because its sender's budget or the total is spent. */
export const SIG_BUDGET_REASON = 'sigcheck-budget'

/** Checks a second one peer earns: ~10% of one core's verification (bench:cash a′). */
export const DEFAULT_PEER_CHECKS_PER_SEC = 500
/** What one peer may spend at once: four or five transactions of the standard weight. */
export const DEFAULT_PEER_CHECKS_BURST = 2_000
/** Checks a second all peers earn together: under half a core, leaving blocks the rest. */
export const DEFAULT_TOTAL_CHECKS_PER_SEC = 2_000
/** What all peers may spend at once. */
export const DEFAULT_TOTAL_CHECKS_BURST = 8_000
/** Peers whose buckets are remembered; the least recently charged is forgotten past it. */
export const DEFAULT_MAX_PEERS = 1_024

/** Options of {@link SigCheckBudget}. */
export interface SigCheckBudgetInit {
  peerPerSec?: number
  peerBurst?: number
  totalPerSec?: number
  totalBurst?: number
  maxPeers?: number
  /** The clock, milliseconds (default `performance.now()`). */
  now?: () => number
}

interface Bucket { tokens: number, at: number }

/** Per-peer and total token buckets of signature checks. */
export class SigCheckBudget {
  private readonly peerPerSec: number
  private readonly peerBurst: number
  private readonly totalPerSec: number
  private readonly totalBurst: number
  private readonly now: () => number
  private readonly peers: LruMap<string, Bucket>
  private readonly total: Bucket

  constructor (init: SigCheckBudgetInit = {}) {
    this.peerPerSec = init.peerPerSec ?? DEFAULT_PEER_CHECKS_PER_SEC
    this.peerBurst = init.peerBurst ?? DEFAULT_PEER_CHECKS_BURST
    this.totalPerSec = init.totalPerSec ?? DEFAULT_TOTAL_CHECKS_PER_SEC
    this.totalBurst = init.totalBurst ?? DEFAULT_TOTAL_CHECKS_BURST
    this.peers = new LruMap(init.maxPeers ?? DEFAULT_MAX_PEERS)
    this.now = init.now ?? (() => performance.now())
    this.total = { tokens: this.totalBurst, at: this.now() }
  }

  /** Peers remembered. */
  get size (): number { return this.peers.size }

  /**
   * Charges `checks` to `peer` and to the total if both can pay, else charges nothing.
   * A cost above the burst can never be paid.
   */
  take (peer: string, checks: number): boolean {
    const now = this.now()
    refill(this.total, now, this.totalPerSec, this.totalBurst)
    let bucket = this.peers.get(peer)
    if (bucket === undefined) {
      bucket = { tokens: this.peerBurst, at: now }
      // Past maxPeers the least recently charged peer is forgotten: it starts again with a full
      // bucket, and the total bucket still bounds them all.
      this.peers.set(peer, bucket)
    } else {
      refill(bucket, now, this.peerPerSec, this.peerBurst)
    }
    if (bucket.tokens < checks || this.total.tokens < checks) return false
    bucket.tokens -= checks
    this.total.tokens -= checks
    return true
  }

  /** Forgets a peer (disconnected or banned). */
  forget (peer: string): void {
    this.peers.delete(peer)
  }
}

function refill (b: Bucket, now: number, perSec: number, burst: number): void {
  if (now > b.at) b.tokens = Math.min(burst, b.tokens + (now - b.at) * perSec / 1000)
  b.at = now
}
