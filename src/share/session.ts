/**
 * A download session: fetches every block of a DAG from every peer that has it, in parallel.
 * Blocks flow one way: provider streams (session/provider-peer.ts, found by session/swarm.ts)
 * or the Bitswap fallback (session/fallback.ts) deliver verified blocks, the DAG walk
 * (session/dag-walk.ts) stores them, places them in the output and queues their children,
 * and the scheduler (session/scheduler.ts) hands the queued blocks out as wants.
 *
 * - Each peer gets its own stream and a window of outstanding wants sized to its measured
 *   rate; a peer that answers faster is handed more, so k peers give about k times the rate
 *   when their uplinks are the limit.
 * - Peers downloading the same root announce what they hold (HAVE) and trade blocks: rarest
 *   first, then an endgame (see session/scheduler.ts).
 * - Every block is verified against its CID before it is stored; a peer that sends a wrong one
 *   is reported, dropped, and its wants go to the others.
 * - Blocks already in the store are not fetched again, so an interrupted download resumes.
 */
import type { PeerId } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'
import type { Uint8ArrayList } from 'uint8arraylist'
import { PeerdError } from '../errors.ts'
import type { PeerdHost } from '../net/host.ts'
import { RateBucket } from '../net/bandwidth-limit.ts'
import type { Logger } from '../utils/logger.ts'
import type { FsBlockstore } from './blockstore.ts'
import { ContentNotFoundError, DownloadCancelledError, StoreFailedError } from './errors.ts'
import type { OutputWriter } from './output.ts'
import type { RootListener, RootWatch } from './server.ts'
import { DagWalk } from './session/dag-walk.ts'
import { Fallback } from './session/fallback.ts'
import type { FallbackFetcher } from './session/fallback.ts'
import { Tally } from './session/item.ts'
import type { Item } from './session/item.ts'
import type { BlockStream, ProviderPeer } from './session/provider-peer.ts'
import { Scheduler } from './session/scheduler.ts'
import type { EntryFilter } from './session/selection.ts'
import { Swarm } from './session/swarm.ts'
import type { StreamSlots } from './session/swarm.ts'
import type { SessionProgress } from './types.ts'

export type { BlockStream, FallbackFetcher, SessionProgress }

/** Options of a {@link Session}. */
export interface SessionInit {
  root: CID
  host: PeerdHost
  blockstore: FsBlockstore
  protocol: string
  log: Logger
  /** Candidate providers, connected or found in the DHT; called again while the session runs. */
  findProviders: (root: CID, signal: AbortSignal) => AsyncIterable<PeerId>
  /**
   * Opens a block stream to a provider (it sets its own time limit). Default: a libp2p stream
   * dialled directly; a private download passes one that goes through an onion circuit.
   */
  openStream?: (peerId: PeerId, signal: AbortSignal) => Promise<BlockStream>
  onMisbehaviour: (peerId: PeerId, reason: string) => void
  /** Block streams to each provider, shared by the node's sessions. Default: no limit. */
  streamSlots?: StreamSlots
  fallback?: FallbackFetcher
  /** Writes the content into its output file(s) as blocks arrive. */
  writer?: OutputWriter
  /** Fail when no block arrives for this long. Default 60 s. */
  stallTimeoutMs?: number
  /**
   * Spread the blocks over the providers found, for streams through onion circuits (which open a
   * few hundred ms apart, and each carry a bounded window): wants wait, for at most `gatherMs`
   * after the first provider is found, while providers found are still being reached, and fewer
   * blocks pending than the providers have room for are split evenly. Otherwise the first
   * provider to answer takes every block of a small file. Default: off.
   */
  spread?: { gatherMs: number }
  /**
   * `sequential`: fetch in DAG order (a reader streams the bytes as they come); `rarest`
   * (default): blocks the fewest peers have first, so that downloaders of one file trade.
   */
  order?: 'sequential' | 'rarest'
  signal?: AbortSignal
  /** The node's download cap (net/bandwidth-limit.ts): wants wait for it, each prepaying its block's expected size. */
  downloadCap?: RateBucket
  /** This download's own cap, bytes per second (`get --max-rate`); 0 or unset: none. */
  maxRate?: number
  /** A provider sent `bytes` of blocks (what the node's upload slots reward, choker.ts). */
  onReceived?: (peer: PeerId, bytes: number) => void
  /**
   * A selective download: only the directory entries this filter selects are fetched
   * (session/selection.ts), and the session never claims the whole root. Default: the whole DAG.
   */
  filter?: EntryFilter
}


/** Outcome of a finished session. */
export interface SessionResult {
  blocks: number
  bytes: number
  fetched: number
  /** Peers that delivered at least one block. */
  peers: number
  seconds: number
}

/**
 * Block writes in flight per session (16 verified blocks held in memory: 16 MiB with 1 MiB
 * chunks, at most 32 MiB with blocks of MAX_BLOCK_SIZE):
 * enough that a write held up by the page cache does not stop the reading of the next blocks
 * (`npm run bench:share` shows the get's speed).
 */
const MAX_STORING = 16
/** Wants handed out at once under a cap while its bucket has tokens (its burst). */
const MAX_PACED_WANTS = 16

function storeError (item: Item, err: Error): PeerdError {
  return err instanceof PeerdError ? err : new StoreFailedError(`cannot store block ${item.cid.toString()}: ${err.message}`, { cause: err })
}

/** One download of one root. */
export class Session {
  private readonly init: SessionInit
  private readonly abort = new AbortController()
  private readonly started = Date.now()
  private readonly tally = new Tally()
  private readonly walk: DagWalk
  private readonly scheduler: Scheduler
  private readonly swarm: Swarm
  private readonly fallback?: Fallback
  /** Peers that delivered a block ('bitswap' for the fallback). */
  private readonly served = new Set<string>()
  /** Block writes under way (they overlap with reading the network). */
  private readonly storing = new Set<Promise<void>>()
  private finish?: { resolve: (r: SessionResult) => void, reject: (e: Error) => void }
  private done = false
  private complete = false
  /** Servers announcing this download's blocks to other downloaders. */
  private readonly listeners = new Set<RootListener>()
  /** This download's own cap, when it has one. */
  private readonly cap: RateBucket | undefined
  /** Bytes prepaid for each block wanted under a cap, given back when a smaller block arrives. */
  private readonly costs = new Map<string, number>()
  /** Size expected of the next block wanted (the recent blocks'), for what a want prepays. */
  private blockEstimate = 1024 * 1024
  private paceTimer: ReturnType<typeof setTimeout> | undefined

  constructor (init: SessionInit) {
    this.init = init
    this.cap = init.maxRate != null && init.maxRate > 0 ? new RateBucket(init.maxRate) : undefined
    this.walk = new DagWalk({
      blockstore: init.blockstore,
      writer: init.writer,
      tally: this.tally,
      filter: init.filter,
      owner: {
        enqueue: item => { this.scheduler.enqueue(item) },
        unqueue: item => { this.scheduler.remove(item) },
        changed: () => { this.pump() },
        rarestFirst: () => this.scheduler.rarestFirst(this.swarm.peers),
        stored: cid => {
          for (const l of this.listeners) l.have(cid)
          this.swarm.stored(cid)
        },
        check: () => { this.checkDone() },
        fail: err => { this.fail(err) },
        ended: () => this.done
      }
    })
    this.scheduler = new Scheduler(this.walk.items, init.order, { even: init.spread != null })
    this.swarm = new Swarm({
      root: init.root,
      host: init.host,
      protocol: init.protocol,
      log: init.log,
      findProviders: init.findProviders,
      openStream: init.openStream,
      gatherMs: init.spread?.gatherMs,
      onMisbehaviour: init.onMisbehaviour,
      streamSlots: init.streamSlots,
      items: this.walk.items,
      signal: this.abort.signal,
      ended: () => this.done,
      changed: () => { this.pump() },
      delivered: (peer, item, data) => this.delivered(peer, item, data),
      orphaned: item => { this.scheduler.enqueue(item) },
      held: () => this.walk.held()
    })
    if (init.fallback != null) {
      this.fallback = new Fallback(init.fallback, {
        received: async (item, bytes) => {
          this.tally.add(bytes.length)
          this.served.add('bitswap')
          // bitswap has stored it already; a failure to place it is the download's, not the fetch's
          await this.walk.accept(item, bytes, undefined).catch((err: Error) => { this.fail(storeError(item, err)) })
        },
        changed: () => { this.pump() }
      }, this.abort.signal)
    }
  }

  /** Whether `peer` serves this download (a provider stream to it is open). */
  hasProvider (peer: string): boolean {
    const p = this.swarm.peers.get(peer)
    return p != null && !p.closed
  }

  /** Progress so far. */
  progress (): SessionProgress {
    const t = this.tally
    return {
      bytes: t.bytes,
      total: Math.max(t.total, t.bytes),
      blocks: t.blocks,
      peers: [...this.swarm.peers.values()].filter(p => !p.closed).length,
      fetched: t.fetched,
      rate: t.rate(Date.now())
    }
  }

  /** Fetches the whole DAG; resolves when every block is in the store. */
  async run (): Promise<SessionResult> {
    const outer = this.init.signal
    const onAbort = (): void => { this.fail(new DownloadCancelledError()) }
    outer?.addEventListener('abort', onAbort, { once: true })
    const result = new Promise<SessionResult>((resolve, reject) => { this.finish = { resolve, reject } })
    result.catch(() => {}) // may fail while the walk below runs, before it is awaited
    const ticker = setInterval(() => { this.tick() }, 500)
    try {
      await this.walk.visit(this.init.root, '', this.init.writer?.rootPlacement(), this.init.filter != null ? { path: '', depth: 0 } : undefined)
      this.checkDone()
      if (!this.done) void this.swarm.discover()
      return await result
    } finally {
      clearInterval(ticker)
      if (this.paceTimer != null) clearTimeout(this.paceTimer)
      outer?.removeEventListener('abort', onAbort)
      this.abort.abort()
      this.swarm.closeAll()
    }
  }

  /**
   * The blocks held so far, and a feed of each one stored from now on and of the end: what
   * this node's server announces to other peers downloading the same root.
   */
  watch (listener: RootListener): RootWatch {
    const held = this.walk.held()
    // a selective download never holds the whole root: it only ever announces blocks
    if (this.complete && this.init.filter == null) setImmediate(() => { listener.complete() })
    else if (!this.done) this.listeners.add(listener)
    return { held, stop: () => { this.listeners.delete(listener) } }
  }

  private fail (err: Error): void {
    if (this.done) return
    this.done = true
    this.listeners.clear()
    this.finish?.reject(err)
  }

  private checkDone (): void {
    if (this.done || !this.walk.finished) return
    const problem = this.init.filter?.problem()
    if (problem != null) {
      this.fail(problem)
      return
    }
    this.done = true
    this.complete = true
    if (this.init.filter == null) for (const l of this.listeners) l.complete()
    this.listeners.clear()
    const t = this.tally
    this.finish?.resolve({
      blocks: t.blocks,
      bytes: t.bytes,
      fetched: t.fetched,
      // Bitswap does not say which peer sent a block: count it as one source only when alone
      peers: this.served.has('bitswap') && this.served.size > 1 ? this.served.size - 1 : this.served.size,
      seconds: (Date.now() - this.started) / 1000
    })
  }

  /** A provider sent a verified block: store it in the background, so the next is read meanwhile. */
  private delivered (peer: ProviderPeer, item: Item, data: Uint8Array | Uint8ArrayList): Promise<void> | undefined {
    this.served.add(peer.id)
    this.init.onReceived?.(peer.peerId, data.byteLength)
    const storing = this.walk.accept(item, data, peer).catch((err: Error) => { this.fail(storeError(item, err)) })
    this.storing.add(storing)
    void storing.finally(() => { this.storing.delete(storing) })
    this.paid(item, data.byteLength)
    this.pump()
    // bounded: the stream waits while too many blocks are being stored
    return this.storing.size >= MAX_STORING ? Promise.race(this.storing) : undefined
  }

  /**
   * Under a cap, wants go out at its rate: each prepays its block's estimated size (the last
   * blocks' size) and waits while a bucket is in debt, so the bytes that come back, which the
   * node's meter charges as they arrive, keep to the cap; a receiver cannot make a sender
   * slow down, only ask for less.
   */
  private pace (): void {
    const global = this.init.downloadCap
    const capped = (global?.rate ?? 0) > 0 || this.cap != null
    if (!capped) {
      this.hint(this.scheduler.assign(this.swarm.peers))
      return
    }
    for (let i = 0; i < MAX_PACED_WANTS; i++) {
      const wait = Math.max(global?.waitMs() ?? 0, this.cap?.waitMs() ?? 0)
      if (wait > 0) {
        // held back by a cap is not stalled: the stall timeout counts from here
        this.tally.lastProgress = Math.max(this.tally.lastProgress, Date.now())
        if (this.paceTimer == null) this.paceTimer = setTimeout(() => { this.paceTimer = undefined; this.pump() }, wait)
        return
      }
      const [item] = this.scheduler.assign(this.swarm.peers, 1)
      if (item == null) return
      this.hint([item])
      const cost = Math.round(this.blockEstimate)
      this.costs.set(item.key, (this.costs.get(item.key) ?? 0) + cost)
      global?.prepay(cost)
      this.cap?.spend(cost)
    }
  }

  /** Tells the peers downloading from this node which blocks it is fetching (FETCHING hints). */
  private hint (items: Item[]): void {
    if (items.length === 0 || this.listeners.size === 0) return
    const cids = items.map(i => i.cid)
    for (const l of this.listeners) l.fetching?.(cids)
  }

  /** A block of `bytes` arrived: the estimate prepaid for it is corrected. */
  private paid (item: Item, bytes: number): void {
    this.blockEstimate = this.blockEstimate * 0.75 + bytes * 0.25
    const cost = this.costs.get(item.key)
    if (cost == null) {
      this.cap?.spend(bytes)
      return
    }
    this.costs.delete(item.key)
    if (cost > bytes) this.init.downloadCap?.refund(cost - bytes)
    this.cap?.spend(bytes - cost)
  }

  /** Hands out wants to the providers, or to the fallback when none serves. */
  private pump (): void {
    if (this.done || this.swarm.gathering) return
    this.pace()
    // only when a search found no peerd provider: Bitswap is the slower, interop path
    if (this.fallback != null && this.swarm.empty) this.fallback.pump(this.scheduler)
  }

  private tick (): void {
    if (this.done) return
    const now = Date.now()
    const limit = this.init.stallTimeoutMs ?? 60_000
    const peers = this.swarm.peers
    if (now - this.tally.lastProgress > limit) {
      const why = peers.size === 0 ? 'no peer that has it could be found' : `${peers.size} peer(s) have it but sent nothing`
      this.fail(new ContentNotFoundError(`${this.init.root.toString()}: no data for ${Math.round(limit / 1000)} s (${why}). Is a node that shares it online and connected, or announced in the DHT?`))
      return
    }
    // a peer whose oldest want is far overdue is stalled: give its work to others
    for (const peer of peers.values()) {
      if (peer.stalled(now)) {
        this.init.log.debug('provider stalled, reassigning its wants', { peerId: peer.id })
        peer.close()
      }
    }
    this.pump()
  }
}
