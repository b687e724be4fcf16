/**
 * A token bucket per peer: `rate` requests a second on average, `burst` at once. Peers that
 * ask faster are refused until tokens refill. Bounded: past 4096 peers the table starts over.
 */
export class PeerRateLimiter {
  private readonly rate: number
  private readonly burst: number
  private readonly buckets = new Map<string, { tokens: number, at: number }>()

  constructor (rate: number, burst: number) {
    this.rate = rate
    this.burst = burst
  }

  /** Takes one token for `peer`; false when it has none left. */
  take (peer: string): boolean {
    const now = Date.now()
    const b = this.buckets.get(peer) ?? { tokens: this.burst, at: now }
    b.tokens = Math.min(this.burst, b.tokens + (now - b.at) / 1000 * this.rate)
    b.at = now
    this.buckets.set(peer, b)
    if (this.buckets.size > 4096) this.buckets.clear()
    if (b.tokens < 1) return false
    b.tokens -= 1
    return true
  }
}
