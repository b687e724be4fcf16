/**
 * Byte budgets for what this node sends to peers.
 *
 * {@link ByteBudget} bounds the bytes held in memory on their way out (read from disk, not yet
 * handed to the muxer), per peer and in total, so peers that stop reading cannot make the node
 * buffer without limit. {@link ByteRate} is a token bucket of bytes per second per peer, so a
 * small request cannot buy an unbounded amount of upload.
 * @module
 */
import type { Stream } from '@libp2p/interface'
import { PeerdError } from '../errors.ts'
import { LruMap } from './lru.ts'

/** A wait for budget was given up (the stream closed or the node stopped). */
export class BudgetAbortedError extends PeerdError {
  static override name = 'BudgetAbortedError'

  constructor (message = 'gave up waiting for send budget') { super(message) }
}

/** Limits of a {@link ByteBudget}. */
export interface ByteBudgetInit {
  /** Most bytes held for one peer. */
  perPeer: number
  /** Most bytes held for all peers together. */
  total: number
}

interface Waiter { peer: string, bytes: number, resolve: () => void, reject: (err: Error) => void }

/**
 * Bytes held for sending, per peer and in total. {@link reserve} waits until the bytes fit
 * under both limits; a reservation larger than a limit is granted alone (when nothing else of
 * that peer, or nothing at all, is held), so one big block still goes out. The map holds only
 * peers with bytes held or a waiter queued.
 */
export class ByteBudget {
  readonly perPeer: number
  readonly total: number
  private held = 0
  private readonly peers = new Map<string, number>()
  private readonly waiters: Waiter[] = []

  constructor (init: ByteBudgetInit) {
    this.perPeer = init.perPeer
    this.total = init.total
  }

  /** Bytes held now, for `peer` or in total. */
  used (peer?: string): number {
    return peer == null ? this.held : (this.peers.get(peer) ?? 0)
  }

  private fits (peer: string, bytes: number): boolean {
    const mine = this.peers.get(peer) ?? 0
    return (mine === 0 || mine + bytes <= this.perPeer) && (this.held === 0 || this.held + bytes <= this.total)
  }

  private take (peer: string, bytes: number): void {
    this.peers.set(peer, (this.peers.get(peer) ?? 0) + bytes)
    this.held += bytes
  }

  /** Holds `bytes` for `peer` once they fit (first come, first served among those that fit). */
  async reserve (peer: string, bytes: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted === true) throw new BudgetAbortedError()
    if (this.waiters.length === 0 && this.fits(peer, bytes)) {
      this.take(peer, bytes)
      return
    }
    await new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        peer,
        bytes,
        resolve: () => { signal?.removeEventListener('abort', onAbort); resolve() },
        reject: (err) => { signal?.removeEventListener('abort', onAbort); reject(err) }
      }
      const onAbort = (): void => {
        const i = this.waiters.indexOf(waiter)
        if (i >= 0) this.waiters.splice(i, 1)
        waiter.reject(new BudgetAbortedError())
      }
      signal?.addEventListener('abort', onAbort, { once: true })
      this.waiters.push(waiter)
      // a waiter of a peer at its own limit must not hold up the others
      this.wake()
    })
  }

  /** Gives back `bytes` of `peer`'s reservations. */
  release (peer: string, bytes: number): void {
    if (bytes <= 0) return
    const mine = (this.peers.get(peer) ?? 0) - bytes
    if (mine <= 0) this.peers.delete(peer)
    else this.peers.set(peer, mine)
    this.held = Math.max(0, this.held - bytes)
    this.wake()
  }

  private wake (): void {
    for (let i = 0; i < this.waiters.length;) {
      const w = this.waiters[i] as Waiter
      if (this.fits(w.peer, w.bytes)) {
        this.waiters.splice(i, 1)
        this.take(w.peer, w.bytes)
        w.resolve()
      } else {
        i++
      }
    }
  }
}

/**
 * A reservation of `bytes` that follows them through `stream`'s write buffer: {@link sent}
 * gives back what the stream has passed on, the rest when its buffer empties or it closes.
 */
export class StreamLease {
  private readonly budget: ByteBudget
  private readonly peer: string
  private readonly stream: Stream
  private held = 0
  private listening = false

  constructor (budget: ByteBudget, peer: string, stream: Stream) {
    this.budget = budget
    this.peer = peer
    this.stream = stream
  }

  /** Bytes still held. */
  get bytes (): number { return this.held }

  /** Reserves `bytes` more (waits for room). */
  async reserve (bytes: number, signal?: AbortSignal): Promise<void> {
    await this.budget.reserve(this.peer, bytes, signal)
    this.held += bytes
  }

  /** Takes over `bytes` already reserved from the budget for this peer (made before the stream was open). */
  adopt (bytes: number): void {
    this.held += bytes
  }

  /** Gives back `bytes` of the reservation now (what was reserved and not sent after all). */
  give (bytes: number): void {
    const n = Math.min(bytes, this.held)
    this.held -= n
    this.budget.release(this.peer, n)
  }

  /** Call after a send: keeps held only what still waits in the stream's write buffer. */
  sent (): void {
    this.update()
    if (this.held > 0 && !this.listening) {
      this.listening = true
      this.stream.addEventListener('idle', this.update)
      this.stream.addEventListener('drain', this.update)
      this.stream.addEventListener('close', this.update)
    }
  }

  /** Gives back everything (the stream is done). */
  end (): void {
    this.give(this.held)
    this.stopListening()
  }

  private readonly update = (): void => {
    const open = this.stream.status === 'open' || this.stream.writeStatus === 'closing'
    const waiting = open ? this.stream.writeBufferLength : 0
    if (waiting < this.held) this.give(this.held - waiting)
    if (this.held === 0) this.stopListening()
  }

  private stopListening (): void {
    if (!this.listening) return
    this.listening = false
    this.stream.removeEventListener('idle', this.update)
    this.stream.removeEventListener('drain', this.update)
    this.stream.removeEventListener('close', this.update)
  }
}

/** Limits of a {@link ByteRate}. */
export interface ByteRateInit {
  /** Bytes a second a peer earns. */
  bytesPerSecond: number
  /** Most bytes a peer may spend at once (the bucket's size). */
  burst: number
  /** Most peers tracked; the least recently seen is forgotten first. Default 4096. */
  maxPeers?: number
}

/**
 * A token bucket of bytes per peer (bounded, least recently used forgotten first: a forgotten
 * peer starts with a full bucket, which costs at most one burst).
 */
export class ByteRate {
  private readonly rate: number
  private readonly burst: number
  private readonly buckets: LruMap<string, { tokens: number, at: number }>
  private readonly now: () => number

  constructor (init: ByteRateInit, now: () => number = Date.now) {
    this.rate = init.bytesPerSecond
    this.burst = init.burst
    this.buckets = new LruMap(init.maxPeers ?? 4096)
    this.now = now
  }

  private bucket (peer: string): { tokens: number, at: number } {
    const t = this.now()
    let b = this.buckets.get(peer)
    if (b == null) {
      b = { tokens: this.burst, at: t }
      this.buckets.set(peer, b)
    } else {
      b.tokens = Math.min(this.burst, b.tokens + (t - b.at) / 1000 * this.rate)
      b.at = t
    }
    return b
  }

  /**
   * Milliseconds `peer` must wait before it may spend `bytes` (0: now). Only a peer with a full
   * bucket may spend more than the bucket holds, so a block larger than the burst still goes.
   */
  waitMs (peer: string, bytes: number): number {
    const b = this.bucket(peer)
    const need = Math.min(bytes, this.burst)
    if (b.tokens >= need) return 0
    return Math.ceil((need - b.tokens) / this.rate * 1000)
  }

  /** Spends `bytes` of `peer`'s tokens (the bucket may go into debt, paid back before the next spend). */
  spend (peer: string, bytes: number): void {
    this.bucket(peer).tokens -= bytes
  }

  /** Peers tracked. */
  get size (): number { return this.buckets.size }
}
