/**
 * Fetching a session's blocks over Bitswap, when no peerd peer serves them: the slower,
 * interop path (IPFS nodes), used only once a provider search found no peerd provider.
 */
import type { CID } from 'multiformats/cid'
import type { Item } from './item.ts'
import type { Scheduler } from './scheduler.ts'

/** A block source other than peerd peers (Bitswap), used when no peerd peer serves. */
export interface FallbackFetcher {
  want (cid: CID, options: { signal: AbortSignal }): Promise<Uint8Array>
}

/** Wants sent to the fallback at once. */
const MAX_INFLIGHT = 16

/** What the fallback reports to the session it serves. */
export interface FallbackOwner {
  /** A block arrived (the fetcher verified and stored it). */
  received: (item: Item, bytes: Uint8Array) => Promise<void>
  /** Wants may be handed out again. */
  changed: () => void
}

/** Hands a session's pending blocks to the fallback fetcher. */
export class Fallback {
  private readonly fetcher: FallbackFetcher
  private readonly owner: FallbackOwner
  private readonly signal: AbortSignal
  private inflight = 0

  constructor (fetcher: FallbackFetcher, owner: FallbackOwner, signal: AbortSignal) {
    this.fetcher = fetcher
    this.owner = owner
    this.signal = signal
  }

  /** Asks for the first pending blocks, up to {@link MAX_INFLIGHT} at once. */
  pump (scheduler: Scheduler): void {
    while (this.inflight < MAX_INFLIGHT && scheduler.size > 0) {
      const item = scheduler.shift() as Item
      item.state = 'assigned'
      this.inflight++
      void this.fetcher.want(item.cid, { signal: this.signal })
        .then(async bytes => {
          item.state = 'pending'
          await this.owner.received(item, bytes)
        }, () => { if (item.state === 'assigned' && item.holders.size === 0) scheduler.enqueue(item) })
        .finally(() => { this.inflight--; this.owner.changed() })
    }
  }
}
