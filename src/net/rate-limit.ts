import { LruMap } from './lru.ts'

/** Peers whose buckets a {@link PeerRateLimiter} keeps by default. */
export const RATE_LIMIT_PEERS = 4096

/**
 * A token bucket per peer: `rate` requests a second on average, `burst` at once. Peers that
 * ask faster are refused until tokens refill. Bounded: past `maxPeers` the least recently
 * seen peer's bucket is forgotten, so a flood of new peer ids cannot reset an active peer's.
 */
export class PeerRateLimiter {
  private readonly rate: number
  private readonly burst: number
  private readonly buckets: LruMap<string, { tokens: number, at: number }>

  constructor (rate: number, burst: number, maxPeers = RATE_LIMIT_PEERS) {
    this.rate = rate
    this.burst = burst
    this.buckets = new LruMap(maxPeers)
  }

  /** Peers with a bucket. */
  get size (): number {
    return this.buckets.size
  }

  /** Takes one token for `peer`; false when it has none left. */
  take (peer: string): boolean {
    const now = Date.now()
    const b = this.buckets.get(peer) ?? { tokens: this.burst, at: now }
    b.tokens = Math.min(this.burst, b.tokens + (now - b.at) / 1000 * this.rate)
    b.at = now
    this.buckets.set(peer, b)
    if (b.tokens < 1) return false
    b.tokens -= 1
    return true
  }
}
