/**
 * Upload slots by reciprocity: BitTorrent's choking algorithm in peerd's terms.
 *
 * A node serves blocks to a few peers at a time (the unchoked ones) and chokes the others.
 * Every {@link RECHOKE_MS} (and within a second when a choked peer gives something) it gives its
 * {@link UPLOAD_SLOTS} regular slots to the interested peers that gave it the most bytes lately
 * (a decayed count of what they sent it, over any of its downloads), so that peers who upload
 * get uploads back. While any interested peer has given ({@link MIN_CREDIT}), a slot that no
 * giver needs goes, on trial, to a peer that has not given, those that offer first (this node
 * has a block stream open to it as a provider: it had nothing this node lacked yet), then the
 * others (a free-rider among them): at most {@link TRIAL_QUOTA} bytes until the next rechoke, so
 * that no peer stalls while a slot is free and a free-rider takes little. When none has given
 * (a node that only seeds, or whose givers are done), all take turns without a quota: a slot is
 * held for {@link ROTATE_MS}, then goes to the peer that has waited longest. The optimistic slot moves every {@link OPTIMISTIC_MS} to a choked
 * peer (a newcomer has nothing to give until it is given something) and carries at most
 * {@link OPTIMISTIC_QUOTA} bytes per turn.
 *
 * This module decides; the block server (server.ts) applies the decisions to its streams.
 */

/** Regular upload slots (BitTorrent's default). */
export const UPLOAD_SLOTS = 4
/** How often the slots are given again. */
export const RECHOKE_MS = 10_000
/** How often the optimistic slot moves. */
export const OPTIMISTIC_MS = 30_000
/** How long a regular slot is held before peers that gave as much take their turn. */
export const ROTATE_MS = 20_000
/**
 * Bytes the optimistically unchoked peer may take in one turn: one block (1 MiB chunks) to start
 * trading with; more would feed a crowd's free-riders from every uploader at once.
 */
export const OPTIMISTIC_QUOTA = 1024 * 1024
/** Bytes a peer that has not given may take in a slot on trial, per rechoke. */
export const TRIAL_QUOTA = 1024 * 1024
/** Bytes (decayed) a peer must have given to count as giving. */
export const MIN_CREDIT = 64 * 1024
/** Half-life of the count of bytes a peer gave. */
const CREDIT_HALF_LIFE_MS = 20_000
/** Peers whose credit is remembered (the ones that gave most are kept). */
const MAX_CREDITS = 4096

/** Options of a {@link Choker}. */
export interface ChokerInit {
  slots?: number
  optimisticQuota?: number
  /** Whether this node has a block stream open to `peer` as a provider (it offers what it has). Default: none does. */
  offers?: (peer: string) => boolean
  /** The clock (tests pass their own). */
  now?: () => number
}

interface Slot {
  /** When its current regular slot was given, or undefined when it holds none. */
  since?: number
  /** Bytes sent in a slot held on trial (it has not given while others have), this rechoke. */
  trial?: number
  /** When it last lost a slot or became interested (longest waiting goes first). */
  waiting: number
}

/** The choking decisions of one node (see the module comment). */
export class Choker {
  readonly slots: number
  readonly optimisticQuota: number
  private readonly offers: (peer: string) => boolean
  private readonly now: () => number
  /** Bytes each peer gave, decayed: `value` at time `t`. */
  private readonly credits = new Map<string, { value: number, t: number }>()
  /** Interested peers (those with an open block stream to this node). */
  private readonly interested = new Map<string, Slot>()
  private optimistic?: { id: string, since: number, sent: number }

  constructor (init: ChokerInit = {}) {
    this.slots = init.slots ?? UPLOAD_SLOTS
    this.optimisticQuota = init.optimisticQuota ?? OPTIMISTIC_QUOTA
    this.offers = init.offers ?? (() => false)
    this.now = init.now ?? Date.now
  }

  /** `peer` sent this node `bytes` of blocks it wanted. */
  received (peer: string, bytes: number): void {
    const now = this.now()
    const c = this.credits.get(peer)
    this.credits.set(peer, { value: (c == null ? 0 : decay(c, now)) + bytes, t: now })
    if (this.credits.size > MAX_CREDITS) this.forgetSmallest(now)
  }

  /** What `peer` gave lately (decayed bytes). */
  credit (peer: string): number {
    const c = this.credits.get(peer)
    return c == null ? 0 : decay(c, this.now())
  }

  /**
   * `peer` opened a block stream (it wants something). Returns whether it is unchoked at once:
   * when a regular slot is free, so that a lone downloader never waits for the next rechoke.
   */
  join (peer: string): boolean {
    if (this.interested.has(peer)) return this.isUnchoked(peer)
    const now = this.now()
    const slot: Slot = { waiting: now }
    this.interested.set(peer, slot)
    const gave = this.credit(peer) >= MIN_CREDIT
    const givers = this.anyGiver()
    if (this.regular() < this.slots) {
      slot.since = now
      if (!gave && givers) slot.trial = 0
      return true
    }
    return false
  }

  /** `peer` has no block stream open any more. */
  leave (peer: string): void {
    this.interested.delete(peer)
    if (this.optimistic?.id === peer) this.optimistic = undefined
  }

  /**
   * Whether a rechoke would change the slots now, so that it need not wait up to
   * {@link RECHOKE_MS}: a choked peer has given while a regular slot is free, or a peer that has
   * not given holds one while another has given (slots given at a crowd's start, before anyone
   * had anything to give).
   */
  stale (): boolean {
    let chokedGiver = false
    let giver = false
    let idle = false
    let open = false
    let regular = 0
    for (const [id, s] of this.interested) {
      const gave = this.credit(id) >= MIN_CREDIT
      if (s.since != null) regular++
      giver ||= gave
      chokedGiver ||= gave && s.since == null
      // a slot held by a peer that has not given: on trial (a giver may take it), or given before
      // anyone had given (it goes on trial)
      open ||= !gave && s.since != null && s.trial != null
      idle ||= !gave && s.since != null && s.trial == null
    }
    return (chokedGiver && (regular < this.slots || open)) || (giver && idle)
  }

  /** Whether `peer` may be served now. */
  isUnchoked (peer: string): boolean {
    const s = this.interested.get(peer)
    if (s == null) return false
    if (s.since != null && (s.trial == null || s.trial < TRIAL_QUOTA)) return true
    const o = this.optimistic
    return o != null && o.id === peer && o.sent < this.optimisticQuota
  }

  /**
   * `bytes` went to `peer`; returns false when that used up its optimistic turn (it is choked
   * until it earns a regular slot or its next turn).
   */
  sent (peer: string, bytes: number): boolean {
    const s = this.interested.get(peer)
    if (s?.since != null) {
      if (s.trial == null) return true
      s.trial += bytes
      return s.trial < TRIAL_QUOTA
    }
    const o = this.optimistic
    if (o == null || o.id !== peer) return true
    o.sent += bytes
    return o.sent < this.optimisticQuota
  }

  /** Peers unchoked now. */
  unchoked (): Set<string> {
    const out = new Set<string>()
    for (const id of this.interested.keys()) if (this.isUnchoked(id)) out.add(id)
    return out
  }

  /** Gives the slots again (every {@link RECHOKE_MS}); returns the peers unchoked afterwards. */
  rechoke (): Set<string> {
    const now = this.now()
    const ranked = [...this.interested.entries()].map(([id, slot]) => {
      const credit = this.credit(id)
      // a slot held for less than ROTATE_MS is kept against peers that gave no more
      const holding = slot.since != null && now - slot.since < ROTATE_MS
      return { id, slot, credit, holding }
    }).map(r => ({ ...r, offers: r.credit < MIN_CREDIT && this.offers(r.id) })).sort((a, b) => {
      // credits within 10 % of each other count as equal: a peer is not dropped for a rounding
      const big = Math.max(a.credit, b.credit)
      if (big > 0 && Math.abs(a.credit - b.credit) > big * 0.1) return b.credit - a.credit
      // of the peers that have not given, those that serve this node first
      if (a.offers !== b.offers) return a.offers ? -1 : 1
      if (a.holding !== b.holding) return a.holding ? -1 : 1
      return a.slot.waiting - b.slot.waiting
    })
    const givers = ranked.some(r => r.credit >= MIN_CREDIT)
    for (const [i, r] of ranked.entries()) {
      const slot = r.slot
      if (i < this.slots) {
        slot.since ??= now
        // a new quota each rechoke for a peer that has not given while others have
        slot.trial = givers && r.credit < MIN_CREDIT ? 0 : undefined
      } else if (slot.since != null) {
        slot.since = undefined
        slot.trial = undefined
        slot.waiting = now
      }
    }
    const o = this.optimistic
    const stale = o == null || now - o.since >= OPTIMISTIC_MS || !this.interested.has(o.id) || this.interested.get(o.id)?.since != null
    if (stale) this.pickOptimistic(now)
    return this.unchoked()
  }

  private anyGiver (): boolean {
    for (const id of this.interested.keys()) if (this.credit(id) >= MIN_CREDIT) return true
    return false
  }

  private regular (): number {
    let n = 0
    for (const s of this.interested.values()) if (s.since != null) n++
    return n
  }

  /** The optimistic slot goes to the choked peer that has waited longest. */
  private pickOptimistic (now: number): void {
    let best: { id: string, waiting: number } | undefined
    for (const [id, s] of this.interested) {
      if (s.since != null || id === this.optimistic?.id) continue
      if (best == null || s.waiting < best.waiting) best = { id, waiting: s.waiting }
    }
    const last = this.optimistic
    if (best == null) {
      // the only choked peer is the one that had the turn: it keeps it, with a new quota
      this.optimistic = last != null && this.interested.has(last.id) && this.interested.get(last.id)?.since == null ? { id: last.id, since: now, sent: 0 } : undefined
      return
    }
    if (last != null) {
      const s = this.interested.get(last.id)
      if (s != null) s.waiting = now
    }
    this.optimistic = { id: best.id, since: now, sent: 0 }
  }

  private forgetSmallest (now: number): void {
    let low: string | undefined
    let value = Infinity
    for (const [id, c] of this.credits) {
      if (this.interested.has(id)) continue
      const v = decay(c, now)
      if (v < value) { value = v; low = id }
    }
    if (low != null) this.credits.delete(low)
  }
}

function decay (c: { value: number, t: number }, now: number): number {
  return c.value * 0.5 ** (Math.max(0, now - c.t) / CREDIT_HALF_LIFE_MS)
}
