/**
 * The serving side of the block protocol over an onion service's streams (`peerd share --private`):
 * what `server.ts` does for libp2p streams, for a node `Duplex` that arrives through a rendezvous
 * circuit, as `block-stream.ts` adapted the downloading side.
 *
 * Only the blocks of privately shared roots are served here (`serves`), and only they are
 * withheld from libp2p peers: asking the service for a block of this node's public content must
 * not link its onion address to its peer id. The client is anonymous, so the bounds are global:
 * {@link MAX_ONION_STREAMS} streams at once, a queue of wants per stream, one STATUS per stream,
 * bytes in flight from the send budget the libp2p server shares (keyed per stream). A stream
 * that breaks the protocol is destroyed: there is no peer to penalise.
 * @module
 */
import type { Duplex } from 'node:stream'
import type { CID } from 'multiformats/cid'
import type { ByteBudget } from '../../net/byte-budget.ts'
import type { Logger } from '../../utils/logger.ts'
import { blockKey, MAX_BLOCK_SIZE, MAX_CID_BYTES } from '../block.ts'
import type { FsBlockstore } from '../blockstore.ts'
import { decodeMessage, encode, MAX_REQUEST_FRAME, ProtocolError, readFrames } from '../protocol.ts'
import type { RootStatus } from '../protocol.ts'

/** Onion block streams served at once, over all clients. */
export const MAX_ONION_STREAMS = 64
/** Wants queued per stream. */
const MAX_QUEUE = 1024
/** A stream with nothing asked and nothing to send for this long is closed (it holds one of the few slots). */
export const IDLE_MS = 60_000
const FRAME_OVERHEAD = 16 + MAX_CID_BYTES

/** Options of an {@link OnionBlockServer}. */
export interface OnionBlockServerInit {
  blockstore: FsBlockstore
  /** Whether this block may go out through the onion service (it belongs to a privately shared root). */
  serves: (cid: CID) => boolean
  /** What the service answers to STATUS about a root. */
  rootStatus: (cid: CID) => Promise<RootStatus>
  budget: ByteBudget
  log: Logger
}

/** Counters of what went out through the onion service. */
export interface OnionServerStats { streams: number, refused: number, blocksSent: number, bytesSent: number }

/** See the module header. */
export class OnionBlockServer {
  readonly stats: OnionServerStats = { streams: 0, refused: 0, blocksSent: 0, bytesSent: 0 }
  private readonly init: OnionBlockServerInit
  private readonly open = new Set<Duplex>()
  private next = 0

  constructor (init: OnionBlockServerInit) {
    this.init = init
  }

  /** Ends every stream (the node stops). */
  close (): void {
    for (const d of this.open) d.destroy()
    this.open.clear()
  }

  /** Serves one stream until it ends. */
  serve (duplex: Duplex): void {
    duplex.on('error', () => {})
    if (this.open.size >= MAX_ONION_STREAMS) {
      this.stats.refused++
      duplex.destroy()
      return
    }
    this.open.add(duplex)
    this.stats.streams++
    void this.run(duplex, `onion:${this.next++}`).finally(() => { this.open.delete(duplex) })
  }

  private async run (duplex: Duplex, key: string): Promise<void> {
    const { blockstore, budget, log } = this.init
    const queue = new Map<string, CID>()
    const ended = new AbortController()
    let pumping = false
    let asked = false
    let idle: ReturnType<typeof setTimeout> | undefined
    const busy = (): void => {
      if (idle != null) clearTimeout(idle)
      idle = setTimeout(() => { if (queue.size === 0 && !pumping) duplex.destroy(); else busy() }, IDLE_MS)
      idle.unref?.()
    }
    busy()
    // bytes reserved and not yet flushed: given back when written, or all at once when the stream ends
    let held = 0
    const give = (n: number): void => {
      if (ended.signal.aborted) return
      held -= n
      budget.release(key, n)
    }

    const write = async (frame: ReturnType<typeof encode.block>, reserved: number): Promise<void> => {
      const ok = duplex.write(frame.subarray(), () => { give(reserved) })
      if (!ok) await drained(duplex, ended.signal)
    }

    const pump = async (): Promise<void> => {
      if (pumping) return
      pumping = true
      try {
        while (!ended.signal.aborted && queue.size > 0) {
          const [k, cid] = queue.entries().next().value as [string, CID]
          const size = this.init.serves(cid) ? await blockstore.sizeOf(cid).catch(() => undefined) : undefined
          if (size == null) {
            queue.delete(k)
            await write(encode.dontHave(cid), 0)
            continue
          }
          const reserved = Math.min(size, MAX_BLOCK_SIZE) + FRAME_OVERHEAD
          await budget.reserve(key, reserved, ended.signal)
          if (ended.signal.aborted) { budget.release(key, reserved); break }
          held += reserved
          const data = await blockstore.getBytes(cid).catch(() => undefined)
          if (ended.signal.aborted || !queue.has(k)) { give(reserved); continue }
          queue.delete(k)
          if (data == null) {
            give(reserved)
            await write(encode.dontHave(cid), 0)
            continue
          }
          this.stats.blocksSent++
          this.stats.bytesSent += data.length
          await write(encode.block(cid, data), reserved)
        }
      } catch (err) {
        if (!ended.signal.aborted) log.debug('onion block stream send failed', { err })
        duplex.destroy()
      } finally {
        pumping = false
      }
    }

    try {
      for await (const body of readFrames(duplex, MAX_REQUEST_FRAME)) {
        busy()
        const msg = decodeMessage(body)
        if (msg.type === 'want') {
          for (const cid of msg.cids) {
            const k = blockKey(cid)
            if (queue.has(k)) continue
            if (queue.size >= MAX_QUEUE) throw new ProtocolError(`more than ${MAX_QUEUE} wants queued`)
            queue.set(k, cid)
          }
          void pump()
        } else if (msg.type === 'cancel') {
          for (const cid of msg.cids) queue.delete(blockKey(cid))
        } else if (msg.type === 'status') {
          if (asked) throw new ProtocolError('more than one STATUS on a block stream')
          asked = true
          await write(encode.root(msg.cid, await this.init.rootStatus(msg.cid)), 0)
        } else {
          throw new ProtocolError(`unexpected ${msg.type} message from a downloader`)
        }
      }
    } catch (err) {
      log.debug('onion block stream ended', { err: (err as Error).message })
    } finally {
      if (idle != null) clearTimeout(idle)
      ended.abort()
      budget.release(key, held)
      queue.clear()
      duplex.destroy()
    }
  }
}

/** Resolves when `duplex` takes more data; rejects when it closes first or `signal` aborts. */
async function drained (duplex: Duplex, signal: AbortSignal): Promise<void> {
  if (duplex.destroyed) throw new Error('the onion stream closed')
  await new Promise<void>((resolve, reject) => {
    const done = (): void => {
      duplex.off('drain', onDrain)
      duplex.off('close', onClose)
      signal.removeEventListener('abort', onClose)
    }
    const onDrain = (): void => { done(); resolve() }
    const onClose = (): void => { done(); reject(new Error('the onion stream closed')) }
    duplex.on('drain', onDrain)
    duplex.on('close', onClose)
    signal.addEventListener('abort', onClose, { once: true })
  })
}
