/**
 * The serving side of the block exchange: answers WANTs from the local store (verified on every
 * read), in request order, each block once however often it is asked for while queued.
 * Memory is bounded against peers that ask and never read: a block is read from disk only when
 * its stream has room (no read-ahead while the send buffer waits to drain) and once its bytes
 * fit a {@link ByteBudget} held per peer and in total until they leave the stream's buffer; a
 * peer may have {@link MAX_STREAMS_PER_PEER} block streams open, more are reset, and a peer
 * that keeps opening them is penalised.
 * A peer that breaks the protocol or floods the queue is reported and its stream reset.
 * Asked about a root this node is downloading itself, it announces the blocks it holds and
 * each one it gets (HAVE), and those it is fetching (FETCHING), so that downloaders of one file
 * trade with each other. Asked about a root it has whole by two downloaders or more, it
 * super-seeds them (handout.ts). Upload slots go by reciprocity (choker.ts): a peer that is
 * not given one is told CHOKE and its wants are dropped until UNCHOKE.
 */
import type { Connection, PeerId, Stream } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'
import { ByteBudget, StreamLease } from '../net/byte-budget.ts'
import type { PeerdHost } from '../net/host.ts'
import type { RateBucket } from '../net/bandwidth-limit.ts'
import { PeerdError } from '../errors.ts'
import type { Logger } from '../utils/logger.ts'
import type { FsBlockstore } from './blockstore.ts'
import { StreamSlots } from './session/swarm.ts'
import { blockKey, MAX_BLOCK_SIZE, MAX_CID_BYTES } from './block.ts'
import { decodeMessage, encode, MAX_REQUEST_FRAME, MAX_WANTS, ProtocolError, readFrames, ROOT_STATUS } from './protocol.ts'
import type { RootStatus } from './protocol.ts'
import { waitForDrain } from '../net/drain.ts'
import { Choker, RECHOKE_MS } from './choker.ts'
import { Crowds } from './crowds.ts'
import type { Served } from './crowds.ts'

/** Block streams one peer may have open at once (a stream per root it downloads from us). */
export const MAX_STREAMS_PER_PEER = 8
/** Bytes of block data held on their way to one peer, and to all peers, by default. */
export const SEND_BUDGET = { perPeer: 8 * 1024 * 1024, total: 32 * 1024 * 1024 }
/** Refused streams a peer may open within {@link REFUSAL_WINDOW_MS} before each costs points. */
const REFUSALS_TOLERATED = 4 * MAX_STREAMS_PER_PEER
const REFUSAL_WINDOW_MS = 10_000
/** Points for each refused stream past the tolerated number. */
const REFUSAL_POINTS = 10
/** A block frame's bytes besides the block: type, CID and lengths. */
const FRAME_OVERHEAD = 16 + MAX_CID_BYTES

/** A peer had too many block streams open. */
export class TooManyStreamsError extends PeerdError {
  static override name = 'TooManyStreamsError'
}

/** Told of a download's progress: each block it stores, then that it has them all. */
export interface RootListener {
  have: (cid: CID) => void
  /** Blocks it has asked a peer for (FETCHING hints). */
  fetching?: (cids: CID[]) => void
  complete: () => void
}

/** A download followed by a {@link RootListener}. */
export interface RootWatch {
  /** The root's blocks held when the watch began. */
  held: CID[]
  stop: () => void
}

/** Options of a {@link BlockServer}. */
export interface BlockServerInit {
  host: PeerdHost
  blockstore: FsBlockstore
  protocol: string
  log: Logger
  /** What this node holds of a root. */
  rootStatus: (cid: CID) => Promise<RootStatus>
  /** Follows this node's own download of a root; undefined when none is running. */
  watch?: (root: CID, listener: RootListener) => RootWatch | undefined
  onMisbehaviour: (peerId: PeerId, reason: string, points?: number) => void
  /** Most wants queued per stream. Default 1024. */
  maxQueue?: number
  /** Bytes of block data held on their way out (shared with Bitswap). Default {@link SEND_BUDGET}. */
  budget?: ByteBudget
  /** Block streams a peer may have open. Default {@link MAX_STREAMS_PER_PEER}. */
  maxStreamsPerPeer?: number
  /** Blocks never given to peers (those of privately shared roots): answered DONT_HAVE. */
  withhold?: (cid: CID) => boolean
  /** The node's upload cap (net/bandwidth-limit.ts): each block waits for it. Default none. */
  uploadCap?: RateBucket
  /** Upload slots by reciprocity. Default a {@link Choker} with BitTorrent's defaults and {@link offers}. */
  choker?: Choker
  /** Whether this node has a block stream open to `peer` as a provider (see choker.ts). */
  offers?: (peer: string) => boolean
}

/** Counters of what was served. */
export interface ServerStats { blocksSent: number, bytesSent: number, streams: number, streamsRefused: number }

/** Serves blocks over the peerd block protocol. */
export class BlockServer {
  private readonly init: BlockServerInit
  private readonly streams = new Set<Stream>()
  /** Bytes of block data on their way out. */
  readonly budget: ByteBudget
  /** Open block streams of each peer that has any. */
  private readonly slots: StreamSlots
  /** Streams refused to a peer lately (bounded: only peers refused within the window). */
  private readonly refused = new Map<string, { count: number, since: number }>()
  readonly stats: ServerStats = { blocksSent: 0, bytesSent: 0, streams: 0, streamsRefused: 0 }
  /** Who gets upload slots. */
  readonly choker: Choker
  /** Open streams of each peer that has any. */
  private readonly byPeer = new Map<string, Set<Served>>()
  /** Downloaders of complete roots of ours, super-seeded in crowds of two or more. */
  private readonly crowds: Crowds
  private streamCount = 0
  private rechokeTimer?: ReturnType<typeof setInterval>
  private earlyRechoke?: ReturnType<typeof setTimeout>

  constructor (init: BlockServerInit) {
    this.init = init
    this.budget = init.budget ?? new ByteBudget(SEND_BUDGET)
    this.slots = new StreamSlots(init.maxStreamsPerPeer ?? MAX_STREAMS_PER_PEER)
    this.choker = init.choker ?? new Choker({ offers: init.offers })
    this.crowds = new Crowds({
      getBytes: async cid => await init.blockstore.getBytes(cid),
      isUnchoked: peer => this.choker.isUnchoked(peer)
    })
  }

  /** `peer` sent this node `bytes` of blocks it asked for: counts toward its upload slot. */
  received (peer: PeerId, bytes: number): void {
    const id = peer.toString()
    this.choker.received(id, bytes)
    // a choked peer that gives gets its slot within a second, not at the next rechoke, and a
    // slot given before anyone could give (a crowd's start) goes to one that does
    if (this.earlyRechoke == null && this.choker.stale()) {
      this.earlyRechoke = setTimeout(() => {
        this.earlyRechoke = undefined
        this.applyChokes(this.choker.rechoke())
      }, 1_000)
      this.earlyRechoke.unref?.()
    }
  }

  async start (): Promise<void> {
    // the handler enforces the limit per peer (and penalises); this bounds the streams it sees
    await this.init.host.handle(this.init.protocol, (stream, connection) => { void this.serve(stream, connection) }, {
      maxInboundStreams: 64,
      maxOutboundStreams: 64
    })
    this.rechokeTimer = setInterval(() => { this.applyChokes(this.choker.rechoke()) }, RECHOKE_MS)
    this.rechokeTimer.unref?.()
  }

  async stop (): Promise<void> {
    clearInterval(this.rechokeTimer)
    clearTimeout(this.earlyRechoke)
    await this.init.host.unhandle(this.init.protocol)
    for (const s of this.streams) s.abort(new Error('node stopping'))
    this.streams.clear()
  }

  /** Counts a new stream of `peer`; false (and the stream reset) when it has too many open. */
  private admit (peer: PeerId, stream: Stream): boolean {
    const id = peer.toString()
    if (this.slots.take(id)) return true
    this.stats.streamsRefused++
    stream.abort(new TooManyStreamsError(`more than ${this.slots.max} block streams open`))
    const now = Date.now()
    for (const [k, r] of this.refused) if (now - r.since > REFUSAL_WINDOW_MS) this.refused.delete(k)
    const r = this.refused.get(id) ?? { count: 0, since: now }
    r.count++
    this.refused.set(id, r)
    // a few refusals are a busy downloader (a gateway page of many files); many are an attack
    if (r.count > REFUSALS_TOLERATED) {
      this.init.onMisbehaviour(peer, `block protocol: kept opening streams past the limit of ${this.slots.max}`, REFUSAL_POINTS)
    }
    return false
  }

  private async serve (stream: Stream, connection: Connection): Promise<void> {
    const peer = connection.remotePeer
    if (!this.admit(peer, stream)) return
    const { blockstore, log } = this.init
    const maxQueue = this.init.maxQueue ?? 1024
    const id = peer.toString()
    const lease = new StreamLease(this.budget, id, stream)
    const ended = new AbortController()
    const post = (frame: Parameters<Stream['send']>[0]): void => {
      if (s.closed) return
      try {
        stream.send(frame) // small frames: queued behind the blocks even when the buffer is full
      } catch {
        s.closed = true
      }
    }
    const s: Served = { id: `${id}/${++this.streamCount}`, peer: id, queue: new Map(), choked: false, seeding: false, closed: false, haves: 0, post, pump: () => { void pump() } }
    let pumping = false
    let unwatch: (() => void) | undefined
    this.streams.add(stream)
    this.stats.streams++
    this.join(s)

    const send = async (data: Parameters<Stream['send']>[0]): Promise<void> => {
      if (!stream.send(data)) await waitForDrain(stream)
    }

    const pump = async (): Promise<void> => {
      if (pumping) return
      pumping = true
      const queue = s.queue
      try {
        while (!s.closed && queue.size > 0) {
          // nothing is read from disk while what was sent before still waits to drain
          if (stream.writableNeedsDrain) await waitForDrain(stream)
          const [key, cid] = queue.entries().next().value as [string, CID]
          const size = this.init.withhold?.(cid) === true ? undefined : await blockstore.sizeOf(cid).catch(() => undefined)
          if (s.closed) break
          let data: Uint8Array | undefined
          let reserved = 0
          if (size != null) {
            reserved = Math.min(size, MAX_BLOCK_SIZE) + FRAME_OVERHEAD
            await lease.reserve(reserved, ended.signal)
            // bulk traffic waits for the node's upload cap (control traffic does not), before the
            // read, so that the read overlaps the wait
            await this.init.uploadCap?.acquire(reserved, ended.signal)
            data = await blockstore.getBytes(cid).catch(() => undefined)
            // cancelled (or choked) while we waited or read: give the budget back
            if (s.closed || !queue.has(key)) {
              lease.give(reserved)
              continue
            }
          }
          queue.delete(key)
          if (data == null) {
            lease.give(reserved)
            await send(encode.dontHave(cid))
          } else {
            const ok = stream.send(encode.block(cid, data))
            lease.sent()
            this.stats.blocksSent++
            this.stats.bytesSent += data.length
            this.delivered(s, key, data.length)
            if (!ok) await waitForDrain(stream)
          }
        }
      } catch (err) {
        if (!s.closed) log.debug('block stream send failed', { peerId: id, err })
        s.closed = true
      } finally {
        pumping = false
      }
    }

    let asked = false
    try {
      // a downloader's frames are small: never buffer a block-sized one from it
      for await (const body of readFrames(stream, MAX_REQUEST_FRAME)) {
        const msg = decodeMessage(body)
        if (msg.type === 'want') {
          // a choked peer's wants are dropped: it drops them too when the CHOKE arrives
          if (s.choked && !s.seeding) continue
          for (const cid of msg.cids) {
            const key = blockKey(cid)
            if (s.queue.has(key)) continue
            if (!this.crowds.mayAsk(s, key)) {
              post(encode.dontHave(cid))
              continue
            }
            if (s.queue.size >= maxQueue) throw new ProtocolError(`more than ${maxQueue} wants queued`)
            s.queue.set(key, cid)
          }
          void pump()
        } else if (msg.type === 'cancel') {
          for (const cid of msg.cids) s.queue.delete(blockKey(cid))
        } else if (msg.type === 'status') {
          // a downloader asks once per stream; each answer may queue HAVEs for every block held
          // (unawaited, small frames), so repeated questions would be a way to fill our memory
          if (asked) throw new ProtocolError('more than one STATUS on a block stream')
          asked = true
          const status = await this.init.rootStatus(msg.cid)
          if (status === ROOT_STATUS.PARTIAL) unwatch = this.announce(stream, msg.cid)
          if (status === ROOT_STATUS.COMPLETE && this.crowds.join(s, msg.cid)) continue
          if (unwatch == null) await send(encode.root(msg.cid, status))
        } else if (msg.type === 'have') {
          this.crowds.announced(s, msg.cids)
        } else {
          throw new ProtocolError(`unexpected ${msg.type} message from a downloader`)
        }
      }
      s.closed = true
      await stream.close().catch(() => {})
    } catch (err) {
      s.closed = true
      if (err instanceof ProtocolError) {
        this.init.onMisbehaviour(peer, `block protocol: ${err.message}`)
        stream.abort(err)
      } else {
        log.debug('block stream ended', { peerId: id, err })
        stream.abort(err as Error)
      }
    } finally {
      s.closed = true
      s.queue.clear()
      ended.abort()
      lease.end()
      unwatch?.()
      this.leave(s)
      this.streams.delete(stream)
      this.slots.give(id)
    }
  }

  /** A stream opened: its peer is interested; told CHOKE at once when no slot is free. */
  private join (s: Served): void {
    let set = this.byPeer.get(s.peer)
    if (set == null) {
      set = new Set()
      this.byPeer.set(s.peer, set)
      this.choker.join(s.peer)
    }
    set.add(s)
    if (!this.choker.isUnchoked(s.peer)) {
      s.choked = true
      s.post(encode.choke())
    }
  }

  private leave (s: Served): void {
    this.crowds.leave(s)
    const set = this.byPeer.get(s.peer)
    set?.delete(s)
    if (set == null || set.size > 0) return
    this.byPeer.delete(s.peer)
    this.choker.leave(s.peer)
    // its slot goes to a peer that waits, now rather than at the next rechoke
    this.applyChokes(this.choker.rechoke())
  }

  /** Tells every stream whether its peer is unchoked now. */
  private applyChokes (unchoked: Set<string>): void {
    for (const [peer, set] of this.byPeer) {
      const open = unchoked.has(peer)
      for (const s of set) {
        if (s.seeding || s.choked === !open) continue
        s.choked = !open
        if (open) {
          s.post(encode.unchoke())
        } else {
          s.queue.clear()
          s.post(encode.choke())
        }
      }
    }
  }

  /** A block of `bytes` went out on `s`. */
  private delivered (s: Served, key: string, bytes: number): void {
    if (this.crowds.sent(s, key)) return
    // an optimistic turn ends with its quota
    if (!this.choker.sent(s.peer, bytes)) this.applyChokes(this.choker.unchoked())
  }

  /**
   * Answers ANNOUNCING for a root this node is downloading, then HAVE for its blocks, now and
   * as they arrive (gathered per turn of the event loop), and COMPLETE at the end. Returns the
   * stop function, or undefined when no download of the root is running.
   */
  private announce (stream: Stream, root: CID): (() => void) | undefined {
    let pending: CID[] = []
    let scheduled = false
    let stopped = false
    const send = (frame: Parameters<Stream['send']>[0]): void => {
      if (stopped) return
      try {
        stream.send(frame) // small frames: queued behind the blocks even when the buffer is full
      } catch {
        stopped = true
      }
    }
    const flush = (): void => {
      scheduled = false
      while (pending.length > 0) send(encode.have(pending.splice(0, MAX_WANTS)))
    }
    const watch = this.init.watch?.(root, {
      have: cid => {
        pending.push(cid)
        if (!scheduled) {
          scheduled = true
          setImmediate(flush)
        }
      },
      // sent at once: a hint is worth something only before the block arrives
      fetching: cids => { for (let i = 0; i < cids.length; i += MAX_WANTS) send(encode.fetching(cids.slice(i, i + MAX_WANTS))) },
      complete: () => {
        flush()
        send(encode.root(root, ROOT_STATUS.COMPLETE))
      }
    })
    if (watch == null) return undefined
    send(encode.root(root, ROOT_STATUS.ANNOUNCING))
    pending = [...watch.held, ...pending]
    flush()
    return () => {
      stopped = true
      pending = []
      watch.stop()
    }
  }
}
