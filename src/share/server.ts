/**
 * The serving side of the block exchange: answers WANTs from the local store (verified on every
 * read), in request order, with a little read-ahead so the disk and the network overlap.
 * A peer that breaks the protocol or floods the queue is reported and its stream reset.
 * Asked about a root this node is downloading itself, it announces the blocks it holds and
 * each one it gets (HAVE), so that downloaders of one file trade with each other.
 */
import type { Connection, PeerId, Stream } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'
import type { PeerdHost } from '../net/host.ts'
import type { Logger } from '../utils/logger.ts'
import type { FsBlockstore } from './blockstore.ts'
import { blockKey } from './block.ts'
import { decodeMessage, encode, MAX_REQUEST_FRAME, MAX_WANTS, ProtocolError, readFrames, ROOT_STATUS } from './protocol.ts'
import type { RootStatus } from './protocol.ts'

/** Told of a download's progress: each block it stores, then that it has them all. */
export interface RootListener {
  have: (cid: CID) => void
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
  onMisbehaviour: (peerId: PeerId, reason: string) => void
  /** Most wants queued per stream. Default 1024. */
  maxQueue?: number
  /** Blocks read ahead of the network per stream. Default 4. */
  readAhead?: number
}

/** Counters of what was served. */
export interface ServerStats { blocksSent: number, bytesSent: number, streams: number }

/** Serves blocks over the peerd block protocol. */
export class BlockServer {
  private readonly init: BlockServerInit
  private readonly streams = new Set<Stream>()
  readonly stats: ServerStats = { blocksSent: 0, bytesSent: 0, streams: 0 }

  constructor (init: BlockServerInit) {
    this.init = init
  }

  async start (): Promise<void> {
    await this.init.host.handle(this.init.protocol, (stream, connection) => { void this.serve(stream, connection) }, {
      maxInboundStreams: 64,
      maxOutboundStreams: 64
    })
  }

  async stop (): Promise<void> {
    await this.init.host.unhandle(this.init.protocol)
    for (const s of this.streams) s.abort(new Error('node stopping'))
    this.streams.clear()
  }

  private async serve (stream: Stream, connection: Connection): Promise<void> {
    const { blockstore, log } = this.init
    const maxQueue = this.init.maxQueue ?? 1024
    const readAhead = this.init.readAhead ?? 4
    const peer = connection.remotePeer
    const queue: CID[] = []
    const cancelled = new Set<string>()
    let pumping = false
    let closed = false
    let unwatch: (() => void) | undefined
    this.streams.add(stream)
    this.stats.streams++

    const send = async (data: Parameters<Stream['send']>[0]): Promise<void> => {
      if (!stream.send(data)) await stream.onDrain()
    }

    const pump = async (): Promise<void> => {
      if (pumping) return
      pumping = true
      try {
        const reads: Array<{ cid: CID, read: Promise<Uint8Array | undefined> }> = []
        const fill = (): void => {
          while (reads.length < readAhead && queue.length > 0) {
            const cid = queue.shift() as CID
            if (cancelled.delete(blockKey(cid))) continue
            reads.push({ cid, read: blockstore.getBytes(cid).catch(() => undefined) })
          }
        }
        while (!closed) {
          // refill on every turn: wants that came in while we were sending must not be stranded
          fill()
          if (reads.length === 0) break
          const { cid, read } = reads.shift() as { cid: CID, read: Promise<Uint8Array | undefined> }
          const data = await read
          fill()
          if (cancelled.delete(blockKey(cid))) continue
          if (data == null) {
            await send(encode.dontHave(cid))
          } else {
            await send(encode.block(cid, data))
            this.stats.blocksSent++
            this.stats.bytesSent += data.length
          }
        }
      } catch (err) {
        if (!closed) log.debug('block stream send failed', { peerId: peer.toString(), err })
        closed = true
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
          if (queue.length + msg.cids.length > maxQueue) throw new ProtocolError(`more than ${maxQueue} wants queued`)
          for (const cid of msg.cids) cancelled.delete(blockKey(cid))
          queue.push(...msg.cids)
          void pump()
        } else if (msg.type === 'cancel') {
          for (const cid of msg.cids) cancelled.add(blockKey(cid))
          if (cancelled.size > maxQueue * 2) cancelled.clear()
        } else if (msg.type === 'status') {
          // a downloader asks once per stream; each answer may queue HAVEs for every block held
          // (unawaited, small frames), so repeated questions would be a way to fill our memory
          if (asked) throw new ProtocolError('more than one STATUS on a block stream')
          asked = true
          const status = await this.init.rootStatus(msg.cid)
          if (status === ROOT_STATUS.PARTIAL) unwatch = this.announce(stream, msg.cid)
          if (unwatch == null) await send(encode.root(msg.cid, status))
        } else {
          throw new ProtocolError(`unexpected ${msg.type} message from a downloader`)
        }
      }
      closed = true
      await stream.close().catch(() => {})
    } catch (err) {
      closed = true
      if (err instanceof ProtocolError) {
        this.init.onMisbehaviour(peer, `block protocol: ${err.message}`)
        stream.abort(err)
      } else {
        log.debug('block stream ended', { peerId: peer.toString(), err })
        stream.abort(err as Error)
      }
    } finally {
      unwatch?.()
      this.streams.delete(stream)
    }
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
