/**
 * A download session: fetches every block of a DAG from every peer that has it, in parallel.
 *
 * - Blocks are wanted in DAG order (depth first), so a reader streaming the file finds the
 *   next block arriving first.
 * - Each peer gets its own stream and a window of outstanding wants sized to its measured
 *   rate; a peer that answers faster is handed more, so k peers give about k times the rate
 *   when their uplinks are the limit.
 * - Peers downloading the same root announce what they hold (HAVE); each peer is asked for the
 *   blocks it has that the fewest peers have (rarest first, BitTorrent's policy), so that a
 *   crowd of downloaders fetches different blocks from the seeder and trades the rest. A
 *   session that streams in order (`cat`, the gateway) keeps to DAG order instead.
 * - Endgame: when nothing is left to hand out, idle peers duplicate the oldest outstanding
 *   wants, and the first copy to arrive cancels the others.
 * - Every block is verified against its CID before it is stored; a peer that sends a wrong one
 *   is reported, dropped, and its wants go to the others.
 * - Blocks already in the store are not fetched again, so an interrupted download resumes.
 */
import { decode as decodeDagPb } from '@ipld/dag-pb'
import type { PeerId, Stream } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'
import { PeerdError } from '../errors.ts'
import type { PeerdHost } from '../net/host.ts'
import type { Logger } from '../utils/logger.ts'
import { blockKey, childLinks, verifyBlock } from './block.ts'
import type { FsBlockstore } from './blockstore.ts'
import type { OutputWriter, Placement } from './output.ts'
import { decodeFrame, encode, MAX_WANTS, ProtocolError, readFrameLists, ROOT_STATUS } from './protocol.ts'
import type { RootListener, RootWatch } from './server.ts'
import { Uint8ArrayList } from 'uint8arraylist'

/** Content could not be found or fetched in time. */
export class ContentNotFoundError extends PeerdError {
  constructor (message: string) { super(message, 'ContentNotFoundError', 404) }
}

/** A block source other than peerd peers (Bitswap), used when no peerd peer serves. */
export interface FallbackFetcher {
  want (cid: CID, options: { signal: AbortSignal }): Promise<Uint8Array>
}

/** Options of a {@link Session}. */
export interface SessionInit {
  root: CID
  host: PeerdHost
  blockstore: FsBlockstore
  protocol: string
  log: Logger
  /** Candidate providers, connected or found in the DHT; called again while the session runs. */
  findProviders: (root: CID, signal: AbortSignal) => AsyncIterable<PeerId>
  onMisbehaviour: (peerId: PeerId, reason: string) => void
  fallback?: FallbackFetcher
  /** Writes the content into its output file(s) as blocks arrive. */
  writer?: OutputWriter
  /** Fail when no block arrives for this long. Default 60 s. */
  stallTimeoutMs?: number
  /**
   * `sequential`: fetch in DAG order (a reader streams the bytes as they come); `rarest`
   * (default): blocks the fewest peers have first, so that downloaders of one file trade.
   */
  order?: 'sequential' | 'rarest'
  signal?: AbortSignal
}

/** Progress of a session. */
export interface SessionProgress {
  /** Bytes of blocks held (fetched now or found in the store). */
  bytes: number
  /** Estimated bytes of the whole DAG (grows as it is discovered; 0 before the root arrives). */
  total: number
  blocks: number
  /** Peers serving right now. */
  peers: number
  /** Bytes fetched from the network in this session. */
  fetched: number
  /** Recent download rate, bytes per second. */
  rate: number
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

interface Item {
  cid: CID
  key: string
  /** Depth-first position: sorts in DAG order. */
  pos: string
  /** `storing`: verified, being written; `done`: in the store. */
  state: 'pending' | 'assigned' | 'storing' | 'done'
  /** Where it goes in the output, when writing one. */
  place?: Placement
  /** More places for the same block (a chunk repeated in the file), written when it arrives. */
  extra?: Placement[]
  holders: Set<PeerState>
}

interface PeerState {
  id: string
  peerId: PeerId
  stream: Stream
  inflight: Map<string, { item: Item, sentAt: number }>
  dontHave: Map<string, number>
  window: number
  rate: number
  lastDelivery: number
  /** Recent deliveries (time, bytes), for the rate over the last seconds. */
  deliveries: Array<{ t: number, n: number }>
  delivered: number
  partial: boolean
  /** Of a peer that announces its blocks (ANNOUNCING): the keys of those it has. */
  has?: Set<string>
  closed: boolean
  /** Answered our STATUS question. */
  answered: boolean
}

const MAX_LINKS = 46_655 // three base-36 digits per level
// On a slow uplink every queued 1 MiB want is seconds of data that an endgame may duplicate:
// keep at least two (one on the wire, one queued), and grow from four.
const MIN_WINDOW = 2
const START_WINDOW = 4
const MAX_WINDOW = 16
const DONT_HAVE_RETRY_MS = 2_000
/** Pending wants among which a peer's next ones are picked at random. */
const PICK_SPREAD = 32
/** Deliveries over this span make a peer's rate. */
const RATE_SPAN_MS = 3_000
const PROVIDER_REFRESH_MS = 5_000
/** Wants a peer may duplicate at once in the endgame. */
const ENDGAME_DUPLICATES = 2
/**
 * Block writes in flight per session (16 verified blocks held in memory: 16 MiB with 1 MiB
 * chunks, at most 32 MiB with blocks of MAX_BLOCK_SIZE):
 * enough that a write held up by the page cache does not stop the reading of the next blocks
 * (8 → 16: a 1 GiB get 5.5–6.5 s, median 6.2, → 5.3–6.2 s, median 5.6, in four paired
 * profile runs each on two cores).
 */
const MAX_STORING = 16
/** Children of a node looked up in the store at once (see {@link Session.visitAll}). */
const VISIT_CONCURRENCY = 32
/** HAVEs a peer may send beyond the blocks of the DAG known so far (those not discovered yet). */
const MAX_UNKNOWN_HAVES = 65_536

function childPos (parent: string, index: number): string {
  return parent + index.toString(36).padStart(3, '0')
}

/** One download of one root. */
export class Session {
  private readonly init: SessionInit
  private readonly items = new Map<string, Item>()
  /** Items not assigned and not done, sorted by `pos`. */
  private readonly pending: Item[] = []
  private readonly peers = new Map<string, PeerState>()
  private readonly tried = new Set<string>()
  private readonly served = new Set<string>()
  private readonly abort = new AbortController()
  private readonly started = Date.now()
  private bytes = 0
  private fetched = 0
  private blocks = 0
  private total = 0
  private lastProgress = Date.now()
  private walking = 0
  private fallbackInflight = 0
  /** Block streams being opened (their STATUS answers are awaited before falling back). */
  private opening = 0
  /** Peers asked for STATUS that have not answered yet. */
  private asking = 0
  /** One provider search has finished (the fallback waits for it). */
  private searched = false
  private recent: Array<{ t: number, n: number }> = []
  /** Items not yet done. */
  private remaining = 0
  /** Block writes under way (they overlap with reading the network). */
  private readonly storing = new Set<Promise<void>>()
  private finish?: { resolve: (r: SessionResult) => void, reject: (e: Error) => void }
  private done = false
  private complete = false
  /** Servers announcing this download's blocks to other downloaders. */
  private readonly listeners = new Set<RootListener>()

  constructor (init: SessionInit) {
    this.init = init
  }

  /** Progress so far. */
  progress (): SessionProgress {
    const now = Date.now()
    this.recent = this.recent.filter(r => now - r.t < 3_000)
    const span = Math.max(0.25, Math.min(3, (now - (this.recent[0]?.t ?? now)) / 1000))
    return {
      bytes: this.bytes,
      total: Math.max(this.total, this.bytes),
      blocks: this.blocks,
      peers: [...this.peers.values()].filter(p => !p.closed).length,
      fetched: this.fetched,
      rate: this.recent.reduce((n, r) => n + r.n, 0) / span
    }
  }

  /** Fetches the whole DAG; resolves when every block is in the store. */
  async run (): Promise<SessionResult> {
    const outer = this.init.signal
    const onAbort = (): void => { this.fail(new PeerdError('download cancelled', 'AbortError', 499)) }
    outer?.addEventListener('abort', onAbort, { once: true })
    const result = new Promise<SessionResult>((resolve, reject) => { this.finish = { resolve, reject } })
    result.catch(() => {}) // may fail while the walk below runs, before it is awaited
    const ticker = setInterval(() => { this.tick() }, 500)
    try {
      await this.visit(this.init.root, '', this.init.writer?.rootPlacement())
      this.checkDone()
      if (!this.done) void this.discover()
      return await result
    } finally {
      clearInterval(ticker)
      outer?.removeEventListener('abort', onAbort)
      this.abort.abort()
      for (const p of this.peers.values()) this.closePeer(p)
    }
  }

  /**
   * The blocks held so far, and a feed of each one stored from now on and of the end: what
   * this node's server announces to other peers downloading the same root.
   */
  watch (listener: RootListener): RootWatch {
    const held = [...this.items.values()].filter(i => i.state === 'done').map(i => i.cid)
    if (this.complete) setImmediate(() => { listener.complete() })
    else if (!this.done) this.listeners.add(listener)
    return { held, stop: () => { this.listeners.delete(listener) } }
  }

  private fail (err: Error): void {
    if (this.done) return
    this.done = true
    this.listeners.clear()
    this.finish?.reject(err)
  }

  /** An item is in the store: tell the listeners. */
  private stored (item: Item): void {
    item.state = 'done'
    this.remaining--
    for (const l of this.listeners) l.have(item.cid)
  }

  private checkDone (): void {
    if (this.done || this.walking > 0 || this.remaining > 0) return
    this.done = true
    this.complete = true
    for (const l of this.listeners) l.complete()
    this.listeners.clear()
    this.finish?.resolve({
      blocks: this.blocks,
      bytes: this.bytes,
      fetched: this.fetched,
      // Bitswap does not say which peer sent a block: count it as one source only when alone
      peers: this.served.has('bitswap') && this.served.size > 1 ? this.served.size - 1 : this.served.size,
      seconds: (Date.now() - this.started) / 1000
    })
  }

  /** Registers a block of the DAG: expands it from the store if there, else queues it. */
  private async visit (cid: CID, pos: string, place?: Placement): Promise<void> {
    const key = blockKey(cid)
    const existing = this.items.get(key)
    if (existing != null) {
      // the same block twice in one DAG (a repeated chunk): write the copy when it is here
      if (place != null && this.init.writer != null) await this.placeAgain(existing, place)
      return
    }
    const item: Item = { cid, key, pos, state: 'pending', holders: new Set(), place }
    this.items.set(key, item)
    this.remaining++
    this.walking++
    try {
      if (await this.init.blockstore.has(cid)) {
        // resume: a raw leaf needs no read; an inner node is read for its links
        let bytes: Uint8Array | undefined
        const writer = this.init.writer
        const ref = writer != null && place?.kind === 'file' ? await this.init.blockstore.refOf(cid) : undefined
        const inPlace = ref != null && place?.kind === 'file' && ref.path === writer?.tempPath(place.path) && ref.offset === place.offset
        // resuming into the same output: the leaf is there only if it still verifies (the partial
        // file may have been deleted or damaged since); the read drops a reference that fails
        const resumed = inPlace && await this.init.blockstore.getBytes(cid).then(() => true, () => false)
        if (cid.code === 0x55 && (writer == null || resumed)) {
          this.stored(item)
          this.blocks++
          const size = await this.init.blockstore.sizeOf(cid)
          this.bytes += size
          if (pos === '') this.total = size
          return
        }
        try {
          bytes = await this.init.blockstore.getBytes(cid)
        } catch {
          bytes = undefined // corrupt on disk: dropped by the store, fetch it again
        }
        if (bytes != null) {
          await this.accept(item, bytes, undefined)
          return
        }
      }
      this.enqueue(item)
      // with peers that hold part of the content, a node's children are handed out together,
      // after all are queued: wants picked from the first few alone would ignore which peers
      // have which (rarest first). Otherwise the order is the DAG's anyway: ask for each block
      // as soon as it is known to be missing, so the transfer starts while the rest of the
      // node's (a thousand, for a 1 GiB file) children are still being looked up in the store
      if (pos === '' || !this.rarestFirst()) this.pump()
    } finally {
      this.walking--
    }
  }

  private enqueue (item: Item): void {
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

  /** A verified block arrived (or was found locally): store it, expand its links. */
  private async accept (item: Item, data: Uint8Array | Uint8ArrayList, from: PeerState | undefined): Promise<void> {
    if (item.state === 'done' || item.state === 'storing') return
    const idx = this.pending.indexOf(item)
    if (idx >= 0) this.pending.splice(idx, 1)
    item.state = 'storing'
    for (const holder of item.holders) {
      holder.inflight.delete(item.key)
      if (holder !== from && !holder.closed) this.sendQuietly(holder, encode.cancel([item.cid]))
    }
    item.holders.clear()
    const size = data.byteLength
    this.blocks++
    this.bytes += size
    this.lastProgress = Date.now()
    if (from != null) {
      this.fetched += size
      this.recent.push({ t: Date.now(), n: size })
    }
    // raw leaves stay in their chunks (written with writev); inner nodes are decoded, so joined
    const isLeaf = item.cid.code === 0x55
    const bytes = data instanceof Uint8ArrayList ? (isLeaf && this.init.writer != null ? undefined : data.subarray()) : data
    const writer = this.init.writer
    let places: Placement[][] = []
    if (writer != null) {
      const main = await writer.place(item.place, item.cid, bytes ?? data)
      places = [main.children]
      if (from != null) {
        // the leaf now lives in the output file: keep a reference, not a second copy
        if (main.ref != null) await this.init.blockstore.putRef(item.cid, main.ref, bytes ?? data)
        else await this.init.blockstore.putVerified(item.cid, bytes ?? (data as Uint8ArrayList).subarray())
      }
      // no await between the last check of `extra` and `done` below: none is missed
      for (let i = 0; i < (item.extra?.length ?? 0); i++) {
        places.push((await writer.place(item.extra?.[i], item.cid, bytes ?? data)).children)
      }
    } else if (from != null) {
      await this.init.blockstore.putVerified(item.cid, bytes ?? (data as Uint8ArrayList).subarray())
    }
    this.stored(item)
    if (isLeaf) {
      if (item.pos === '') this.total = size
      this.checkDone()
      return
    }
    const node = bytes ?? (data as Uint8ArrayList).subarray()
    // decoded once, for the links and their sizes (a 1 GiB file's root has 1,024 links)
    let pb: ReturnType<typeof decodeDagPb>
    try {
      pb = decodeDagPb(node)
    } catch (err) {
      this.fail(new PeerdError(`block ${item.cid.toString()} is not a valid dag-pb node: ${(err as Error).message}`, 'InvalidDagError', 422))
      return
    }
    const links = pb.Links.map(l => l.Hash)
    if (links.length > MAX_LINKS) {
      this.fail(new PeerdError(`block ${item.cid.toString()} has ${links.length} links, over the ${MAX_LINKS} peerd follows`, 'InvalidDagError', 422))
      return
    }
    if (item.pos === '') this.total = node.length + pb.Links.reduce((n, l) => n + (l.Tsize ?? 0), 0)
    await this.visitAll(links, item.pos, places[0])
    for (const more of places.slice(1)) {
      await this.visitAll(links, item.pos, more)
    }
    this.pump()
    this.checkDone()
  }

  /**
   * Visits a node's children, at most {@link VISIT_CONCURRENCY} at a time and in link order.
   * All at once, a thousand store lookups (a 1 GiB file's root has 1,024 children) would queue
   * in the thread pool together and the first want would wait for the last of them (~0.1 s);
   * a few at a time, the first blocks are asked for at once and the rest are looked up while
   * they arrive.
   */
  private async visitAll (links: CID[], pos: string, places: Placement[] | undefined): Promise<void> {
    let next = 0
    const worker = async (): Promise<void> => {
      while (next < links.length && !this.done) { // not after the session ended or failed
        const i = next++
        await this.visit(links[i] as CID, childPos(pos, i), places?.[i])
      }
    }
    // counted as walking throughout: children not visited yet are not in `remaining`, and the
    // session must not be found done between two visits
    this.walking++
    try {
      await Promise.all(Array.from({ length: Math.min(VISIT_CONCURRENCY, links.length) }, worker))
    } finally {
      this.walking--
    }
  }

  /** A block met again at another place in the output: write it there too. */
  private async placeAgain (item: Item, place: Placement): Promise<void> {
    const writer = this.init.writer
    if (writer == null) return
    if (item.state !== 'done') {
      (item.extra ??= []).push(place)
      return
    }
    this.walking++
    try {
      const bytes = await this.init.blockstore.getBytes(item.cid)
      const { children } = await writer.place(place, item.cid, bytes)
      const links = childLinks(item.cid, bytes)
      await this.visitAll(links, item.pos, children)
    } finally {
      this.walking--
    }
    this.pump()
    this.checkDone()
  }

  /** Finds providers and opens a stream to each new one; repeats while the session runs. */
  private async discover (): Promise<void> {
    while (!this.done && !this.abort.signal.aborted) {
      try {
        const signal = AbortSignal.any([this.abort.signal, AbortSignal.timeout(30_000)])
        const opening: Array<Promise<void>> = []
        for await (const peerId of this.init.findProviders(this.init.root, signal)) {
          if (this.done) break
          const id = peerId.toString()
          if (this.tried.has(id) || this.peers.has(id) || id === this.init.host.peerId.toString()) continue
          this.tried.add(id)
          opening.push(this.openPeer(peerId))
        }
        await Promise.all(opening)
        this.searched = true
        this.pump()
      } catch (err) {
        this.init.log.debug('provider search ended', { err })
      }
      await new Promise(resolve => setTimeout(resolve, PROVIDER_REFRESH_MS).unref?.())
      // peers that left may come back: let them be tried again
      for (const id of this.tried) if (!this.peers.has(id)) this.tried.delete(id)
    }
  }

  private async openPeer (peerId: PeerId): Promise<void> {
    let stream: Stream
    this.opening++
    try {
      stream = await this.init.host.dialProtocol(peerId, this.init.protocol, { signal: AbortSignal.any([this.abort.signal, AbortSignal.timeout(10_000)]) })
    } catch (err) {
      this.init.log.debug('could not open a block stream', { peerId: peerId.toString(), err })
      return
    } finally {
      this.opening--
    }
    const peer: PeerState = {
      id: peerId.toString(),
      peerId,
      stream,
      inflight: new Map(),
      dontHave: new Map(),
      window: START_WINDOW,
      rate: 0,
      lastDelivery: Date.now(),
      deliveries: [],
      delivered: 0,
      partial: false,
      closed: false,
      answered: false
    }
    this.asking++
    void this.readPeer(peer)
    this.sendQuietly(peer, encode.status(this.init.root))
  }

  private async readPeer (peer: PeerState): Promise<void> {
    try {
      for await (const body of readFrameLists(peer.stream)) {
        const msg = decodeFrame(body)
        if (msg.type === 'root') {
          const joined = peer.answered
          this.answered(peer)
          if (msg.status === ROOT_STATUS.NONE || blockKey(msg.cid) !== blockKey(this.init.root)) {
            this.closePeer(peer)
            return
          }
          if (joined) {
            // an update: a peer that was downloading the root now has all of it
            if (msg.status !== ROOT_STATUS.COMPLETE) throw new ProtocolError('a root status can only change to complete')
            peer.partial = false
            peer.has = undefined
          } else {
            peer.partial = msg.status !== ROOT_STATUS.COMPLETE
            if (msg.status === ROOT_STATUS.ANNOUNCING) peer.has = new Set()
            this.peers.set(peer.id, peer)
            this.init.log.debug('provider joined', { peerId: peer.id, partial: peer.partial, announcing: peer.has != null })
          }
          this.pump()
        } else if (msg.type === 'have') {
          const has = peer.has
          if (has == null) throw new ProtocolError('HAVE from a peer that did not say it announces')
          if (has.size + msg.cids.length > this.items.size + MAX_UNKNOWN_HAVES) throw new ProtocolError('announced more blocks than the content has')
          for (const cid of msg.cids) has.add(blockKey(cid))
          this.pump()
        } else if (msg.type === 'block') {
          const key = blockKey(msg.cid)
          const sent = peer.inflight.get(key)
          if (sent == null) {
            // a block we cancelled may still arrive; anything else was never asked for
            const item = this.items.get(key)
            if (item == null) throw new ProtocolError('sent a block that was not wanted')
            continue
          }
          if (!verifyBlock(sent.item.cid, msg.data)) {
            this.init.onMisbehaviour(peer.peerId, `sent a block whose bytes do not match ${sent.item.cid.toString()}`)
            this.closePeer(peer)
            return
          }
          peer.inflight.delete(key)
          this.measure(peer, msg.data.byteLength, sent.sentAt)
          this.served.add(peer.id)
          // write in the background so the next block is read meanwhile; bounded
          const storing = this.accept(sent.item, msg.data, peer).catch((err: Error) => {
            this.fail(err instanceof PeerdError ? err : new PeerdError(`cannot store block ${sent.item.cid.toString()}: ${err.message}`, 'StoreError', 500))
          })
          this.storing.add(storing)
          void storing.finally(() => { this.storing.delete(storing) })
          this.pump()
          if (this.storing.size >= MAX_STORING) await Promise.race(this.storing)
        } else if (msg.type === 'dont-have') {
          const key = blockKey(msg.cid)
          const sent = peer.inflight.get(key)
          if (sent == null) continue
          peer.inflight.delete(key)
          peer.dontHave.set(key, Date.now())
          peer.has?.delete(key)
          sent.item.holders.delete(peer)
          if (sent.item.state === 'assigned' && sent.item.holders.size === 0) this.enqueue(sent.item)
          this.pump()
        } else {
          throw new ProtocolError(`unexpected ${msg.type} message from a provider`)
        }
      }
    } catch (err) {
      if (err instanceof ProtocolError) this.init.onMisbehaviour(peer.peerId, `block protocol: ${err.message}`)
      else if (!peer.closed) this.init.log.debug('provider stream ended', { peerId: peer.id, err })
    } finally {
      this.answered(peer)
      this.closePeer(peer)
      this.pump()
    }
  }

  private answered (peer: PeerState): void {
    if (peer.answered) return
    peer.answered = true
    this.asking--
  }

  /**
   * Updates the peer's rate and sizes its window to about 300 ms of its data. The rate is the
   * bytes delivered over the last few seconds, not per-block gaps: blocks that waited in
   * buffers arrive back to back, and gaps of a millisecond would claim a slow peer is fast
   * (then its window grows and the endgame duplicates wants that are only queued).
   */
  private measure (peer: PeerState, size: number, sentAt: number): void {
    const now = Date.now()
    const d = peer.deliveries
    d.push({ t: now, n: size })
    while (d.length > 2 && now - (d[0] as { t: number }).t > RATE_SPAN_MS) d.shift()
    const first = d[0] as { t: number, n: number }
    const span = now - first.t
    if (d.length >= 2 && span >= 200) {
      let bytes = 0
      for (let i = 1; i < d.length; i++) bytes += (d[i] as { n: number }).n
      peer.rate = bytes / (span / 1000)
    } else if (peer.rate === 0) {
      peer.rate = size / (Math.max(1, now - sentAt) / 1000) // first block: its round trip
    }
    peer.lastDelivery = now
    peer.delivered++
    const blocks = Math.ceil((peer.rate * 0.3) / Math.max(size, 1))
    // in a swarm (peers that announce their blocks), a seeder is asked for one block at a time
    // when that is all its rate warrants: the next one is picked when this one arrives, knowing
    // what the other downloaders got meanwhile, so fewer of them ask it for the same block
    const swarm = !peer.partial && [...this.peers.values()].some(p => p.has != null)
    peer.window = Math.max(swarm ? 1 : MIN_WINDOW, Math.min(MAX_WINDOW, blocks))
  }

  private closePeer (peer: PeerState): void {
    if (peer.closed) return
    peer.closed = true
    this.peers.delete(peer.id)
    for (const { item } of peer.inflight.values()) {
      item.holders.delete(peer)
      if (item.state === 'assigned' && item.holders.size === 0) this.enqueue(item)
    }
    peer.inflight.clear()
    peer.stream.abort(new Error('session closed'))
  }

  private sendQuietly (peer: PeerState, frame: Parameters<Stream['send']>[0]): void {
    try {
      peer.stream.send(frame)
    } catch (err) {
      this.init.log.debug('send to provider failed', { peerId: peer.id, err })
      this.closePeer(peer)
    }
  }

  private canAsk (peer: PeerState, item: Item, now: number): boolean {
    if (peer.has != null) return peer.has.has(item.key)
    const t = peer.dontHave.get(item.key)
    if (t == null) return true
    if (peer.partial && now - t > DONT_HAVE_RETRY_MS) {
      peer.dontHave.delete(item.key)
      return true
    }
    return false
  }

  /** Hands out wants to every peer with room in its window. */
  private pump (): void {
    if (this.done) return
    const now = Date.now()
    // least-loaded first, so every provider gets work (a new one is probed with its first window)
    const peers = [...this.peers.values()].filter(p => !p.closed).sort((a, b) => a.inflight.size / a.window - b.inflight.size / b.window)
    for (const peer of peers) {
      const free = peer.window - peer.inflight.size
      if (free <= 0) continue
      const batch = this.pick(peer, Math.min(free, MAX_WANTS), now)
      if (batch.length < free && this.pending.length === 0) {
        // endgame: duplicate a few of the oldest wants still outstanding at one other peer
        const outstanding = [...this.items.values()]
          .filter(it => it.state === 'assigned' && it.holders.size === 1 && !it.holders.has(peer) && this.canAsk(peer, it, now) && this.overdue(it, now))
          .sort((x, y) => x.pos < y.pos ? -1 : 1)
        for (const it of outstanding.slice(0, Math.min(ENDGAME_DUPLICATES, free - batch.length))) batch.push(it)
      }
      if (batch.length === 0) continue
      for (const item of batch) {
        const idx = this.pending.indexOf(item)
        if (idx >= 0) this.pending.splice(idx, 1)
        item.state = 'assigned'
        item.holders.add(peer)
        peer.inflight.set(item.key, { item, sentAt: now })
      }
      this.sendQuietly(peer, encode.want(batch.map(i => i.cid)))
    }
    this.pumpFallback()
  }

  /** Whether wants are picked rarest first (peers with part of the content are serving). */
  private rarestFirst (): boolean {
    if (this.init.order === 'sequential') return false
    for (const p of this.peers.values()) if (p.partial && !p.closed) return true
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
  private pick (peer: PeerState, count: number, now: number): Item[] {
    const batch: Item[] = []
    const n = this.pending.length
    if (!this.rarestFirst()) {
      const start = Math.floor(Math.random() * Math.min(n, PICK_SPREAD))
      for (let j = 0; j < n && batch.length < count; j++) {
        const item = this.pending[(start + j) % n] as Item
        if (this.canAsk(peer, item, now)) batch.push(item)
      }
      return batch
    }
    const partial = [...this.peers.values()].filter(p => p.partial && !p.closed)
    let complete = 0
    for (const p of this.peers.values()) if (!p.closed && !p.partial) complete++
    // the `count` lowest scores (holders + a random fraction), kept sorted by insertion
    const best: Array<{ item: Item, score: number }> = []
    for (const item of this.pending) {
      if (!this.canAsk(peer, item, now)) continue
      let score = complete + Math.random()
      for (const p of partial) if (p.has?.has(item.key) === true) score++
      if (best.length === count && score >= (best[count - 1] as { score: number }).score) continue
      let i = best.length === count ? count - 1 : best.length
      if (best.length === count) best.pop()
      while (i > 0 && (best[i - 1] as { score: number }).score > score) i--
      best.splice(i, 0, { item, score })
    }
    for (const b of best) batch.push(b.item)
    return batch
  }

  /**
   * Whether an outstanding want is late for its only holder (an endgame candidate). A peer
   * answers wants in the order they were sent, so a want waits for the ones ahead of it: it is
   * due one block time after each of them, counted from the holder's last delivery, and late a
   * block time (at least 300 ms) after that. Duplicating a want that is merely queued wastes
   * the other peer's uplink, and the holder's too: its copy is often on the wire before the
   * cancel arrives.
   */
  private overdue (item: Item, now: number): boolean {
    const [holder] = item.holders
    const sent = holder?.inflight.get(item.key)
    if (holder == null || sent == null) return false
    let ahead = 0
    for (const key of holder.inflight.keys()) {
      if (key === item.key) break
      ahead++
    }
    const blockMs = holder.rate > 0 ? 1_048_576 / holder.rate * 1000 : 1_000
    const due = Math.max(holder.lastDelivery, sent.sentAt) + (ahead + 1) * blockMs
    return now > due + Math.max(300, blockMs)
  }

  /** Without peerd providers, asks the fallback (Bitswap) for the first pending blocks. */
  private pumpFallback (): void {
    const fallback = this.init.fallback
    // only when a search found no peerd provider: Bitswap is the slower, interop path
    if (fallback == null || this.peers.size > 0 || !this.searched || this.opening > 0 || this.asking > 0) return
    while (this.fallbackInflight < 16 && this.pending.length > 0) {
      const item = this.pending.shift() as Item
      item.state = 'assigned'
      this.fallbackInflight++
      void fallback.want(item.cid, { signal: this.abort.signal })
        .then(async bytes => {
          this.fetched += bytes.length
          this.recent.push({ t: Date.now(), n: bytes.length })
          this.served.add('bitswap')
          item.state = 'pending'
          // bitswap has stored it already; a failure to place it is the download's, not the fetch's
          await this.accept(item, bytes, undefined).catch((err: Error) => {
            this.fail(err instanceof PeerdError ? err : new PeerdError(`cannot store block ${item.cid.toString()}: ${err.message}`, 'StoreError', 500))
          })
        }, () => { if (item.state === 'assigned' && item.holders.size === 0) this.enqueue(item) })
        .finally(() => { this.fallbackInflight--; this.pump() })
    }
  }

  private tick (): void {
    if (this.done) return
    const now = Date.now()
    const limit = this.init.stallTimeoutMs ?? 60_000
    if (now - this.lastProgress > limit) {
      const why = this.peers.size === 0 ? 'no peer that has it could be found' : `${this.peers.size} peer(s) have it but sent nothing`
      this.fail(new ContentNotFoundError(`${this.init.root.toString()}: no data for ${Math.round(limit / 1000)} s (${why}). Is a node that shares it online and connected, or announced in the DHT?`))
      return
    }
    // a peer whose oldest want is far overdue is stalled: give its work to others
    for (const peer of this.peers.values()) {
      let oldest = Infinity
      for (const { sentAt } of peer.inflight.values()) oldest = Math.min(oldest, sentAt)
      const expected = peer.rate > 0 ? (peer.inflight.size * 1_048_576) / peer.rate * 1000 : 5_000
      if (oldest !== Infinity && now - oldest > Math.max(10_000, expected * 10)) {
        this.init.log.debug('provider stalled, reassigning its wants', { peerId: peer.id })
        this.closePeer(peer)
      }
    }
    this.pump()
  }
}
