/**
 * Which blocks a session wants from which provider next.
 *
 * - Pending blocks are kept in DAG order (depth first), so a reader streaming the file finds
 *   the next block arriving first.
 * - Each peer is handed wants up to its window; the least loaded first, so every provider gets
 *   work and one that answers faster is handed more.
 * - With peers that announce what they hold (HAVE), each is asked for the blocks it has that
 *   the fewest peers have or are fetching (rarest first, BitTorrent's policy, with the peers'
 *   FETCHING hints), so that a crowd of downloaders fetches different blocks from the seeder
 *   and trades the rest. A choked peer is asked for nothing. A session that streams in
 *   order (`cat`, the gateway) keeps to DAG order instead.
 * - Endgame: when nothing is left to hand out, idle peers duplicate the oldest outstanding
 *   wants that are overdue; the first copy to arrive cancels the others.
 */
import { MAX_WANTS } from '../protocol.ts'
import type { Item } from './item.ts'
import type { ProviderPeer } from './provider-peer.ts'

/** Pending wants among which a peer's next ones are picked at random. */
const PICK_SPREAD = 32
/** Wants a peer may duplicate at once in the endgame. */
const ENDGAME_DUPLICATES = 2

/** Hands out a session's wanted blocks to its providers. */
export class Scheduler {
  /** Items not assigned and not done, sorted by `pos`. */
  private readonly pending: Item[] = []
  private readonly items: ReadonlyMap<string, Item>
  private readonly order: 'sequential' | 'rarest'
  private readonly even: boolean

  /**
   * `items`: every block of the DAG discovered so far (endgame candidates are among them);
   * `even`: split what is pending evenly when it is less than the peers have room for.
   */
  constructor (items: ReadonlyMap<string, Item>, order: 'sequential' | 'rarest' = 'rarest', options: { even?: boolean } = {}) {
    this.items = items
    this.order = order
    this.even = options.even === true
  }

  /** Pending blocks. */
  get size (): number { return this.pending.length }

  /** Queues `item` (again) at its place in DAG order. */
  enqueue (item: Item): void {
    item.state = 'pending'
    let lo = 0
    let hi = this.pending.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if ((this.pending[mid] as Item).pos < item.pos) lo = mid + 1
      else hi = mid
    }
    this.pending.splice(lo, 0, item)
  }

  /** Takes `item` out of the queue (it arrived). */
  remove (item: Item): void {
    const idx = this.pending.indexOf(item)
    if (idx >= 0) this.pending.splice(idx, 1)
  }

  /** Takes the first pending block, in DAG order. */
  shift (): Item | undefined {
    return this.pending.shift()
  }

  /**
   * Hands out wants to every peer with room in its window, at most `limit` in all (a download
   * under a bandwidth cap asks for no more than its rate allows); returns the items wanted.
   */
  assign (peerMap: ReadonlyMap<string, ProviderPeer>, limit = Infinity): Item[] {
    const wanted: Item[] = []
    const now = Date.now()
    // least-loaded first, so every provider gets work (a new one is probed with its first window)
    const peers = [...peerMap.values()].filter(p => !p.closed && !p.choked).sort((a, b) => a.inflight.size / a.window - b.inflight.size / b.window)
    // with `even`, fewer blocks pending than the peers have room for are split between them, so
    // that one peer's wide window does not take every block of a small file while the others idle
    const open = peers.filter(p => p.window > p.inflight.size).length
    const fair = this.even ? Math.max(1, Math.ceil(this.pending.length / Math.max(1, open))) : MAX_WANTS
    for (const peer of peers) {
      const free = Math.min(peer.window - peer.inflight.size, limit - wanted.length)
      if (free <= 0) continue
      const batch = this.pick(peer, Math.min(free, MAX_WANTS, fair), now, peerMap)
      if (batch.length < free && this.pending.length === 0) {
        // endgame: duplicate a few of the oldest wants still outstanding at one other peer
        const outstanding = [...this.items.values()]
          .filter(it => it.state === 'assigned' && it.holders.size === 1 && !it.holders.has(peer) && peer.canAsk(it, now) && overdue(it, now))
          .sort((x, y) => x.pos < y.pos ? -1 : 1)
        for (const it of outstanding.slice(0, Math.min(ENDGAME_DUPLICATES, free - batch.length))) batch.push(it)
      }
      if (batch.length === 0) continue
      for (const item of batch) this.remove(item)
      peer.want(batch, now)
      wanted.push(...batch)
    }
    return wanted
  }

  /** Whether wants are picked rarest first (peers with part of the content are serving). */
  rarestFirst (peers: ReadonlyMap<string, ProviderPeer>): boolean {
    if (this.order === 'sequential') return false
    for (const p of peers.values()) if (p.partial && !p.closed) return true
    return false
  }

  /**
   * The next `count` pending blocks to ask `peer` for. With peers that hold only part of the
   * content (and a session that need not stream in order), rarest first: of the blocks `peer`
   * has, those the fewest connected peers have, ties broken at random, as BitTorrent does; a
   * seeder is then asked for what nobody else has yet. Otherwise DAG order, from a random place
   * among the first pending blocks, so that many downloaders of one file still fetch different
   * blocks first while a stream reading in order is served roughly front to back.
   */
  private pick (peer: ProviderPeer, count: number, now: number, peers: ReadonlyMap<string, ProviderPeer>): Item[] {
    const batch: Item[] = []
    const n = this.pending.length
    if (!this.rarestFirst(peers)) {
      const start = Math.floor(Math.random() * Math.min(n, PICK_SPREAD))
      for (let j = 0; j < n && batch.length < count; j++) {
        const item = this.pending[(start + j) % n] as Item
        if (peer.canAsk(item, now)) batch.push(item)
      }
      return batch
    }
    const partial = [...peers.values()].filter(p => p.partial && !p.closed)
    let complete = 0
    for (const p of peers.values()) if (!p.closed && !p.partial) complete++
    // the `count` lowest scores (holders + a random fraction), kept sorted by insertion
    const best: Array<{ item: Item, score: number }> = []
    for (const item of this.pending) {
      if (!peer.canAsk(item, now)) continue
      let score = complete + Math.random()
      // a block another downloader is fetching counts as held: it will have it soon
      for (const p of partial) if (p.has?.has(item.key) === true || p.isFetching(item.key, now)) score++
      if (best.length === count && score >= (best[count - 1] as { score: number }).score) continue
      let i = best.length === count ? count - 1 : best.length
      if (best.length === count) best.pop()
      while (i > 0 && (best[i - 1] as { score: number }).score > score) i--
      best.splice(i, 0, { item, score })
    }
    for (const b of best) batch.push(b.item)
    return batch
  }
}

/**
 * Whether an outstanding want is late for its only holder (an endgame candidate). A peer
 * answers wants in the order they were sent, so a want waits for the ones ahead of it: it is
 * due one block time after each of them, counted from the holder's last delivery, and late a
 * block time (at least 300 ms) after that; a block time is {@link ProviderPeer.blockMs} (1 s
 * while the holder's rate says nothing of its bandwidth). Duplicating a want that is merely
 * queued wastes the other peer's uplink, and the holder's too: its copy is often on the wire
 * before the cancel arrives.
 */
function overdue (item: Item, now: number): boolean {
  const [holder] = item.holders
  const sent = holder?.inflight.get(item.key)
  if (holder == null || sent == null) return false
  let ahead = 0
  for (const key of holder.inflight.keys()) {
    if (key === item.key) break
    ahead++
  }
  const blockMs = holder.blockMs()
  const due = Math.max(holder.lastDelivery, sent.sentAt) + (ahead + 1) * blockMs
  return now > due + Math.max(300, blockMs)
}
