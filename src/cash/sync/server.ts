/**
 * The serving side of the chain protocol: answers STATUS, GET_HEADERS and GET_BLOCKS from the
 * local chain, one request per stream, with a request rate limit per peer and a byte budget
 * per peer: a GET_BLOCKS of 16 hashes (~0.5 KB) may answer 64 MB, so what a peer is sent is
 * metered by a token bucket of bytes. A peer over its budget is answered more slowly (each
 * block waits for its tokens), and blocks that would wait too long are answered NOT_FOUND,
 * which sends the asker to another peer.
 * @module
 */
import type { Connection, PeerId, Stream } from '@libp2p/interface'
import { ByteRate } from '../../net/byte-budget.ts'
import { ProtocolError, readFrames } from '../../net/frames.ts'
import type { PeerdHost } from '../../net/host.ts'
import { PeerRateLimiter } from '../../net/rate-limit.ts'
import { PeerdError } from '../../errors.ts'
import type { Logger } from '../../utils/logger.ts'
import type { Chain } from '../chain/index.ts'
import { ChainProtocolError, MAX_GET_BLOCKS, MAX_HEADERS, MAX_REQUEST_FRAME, decodeRequest, encodeResponse } from './protocol.ts'
import { waitForDrain } from '../../net/drain.ts'

/** Options of {@link ChainServer}. */
export interface ChainServerInit {
  host: PeerdHost
  chain: Chain
  protocol: string
  log: Logger
  /** A peer broke the protocol or its rate limit. */
  penalize: (peer: PeerId, points: number, reason: string) => void
  /** Requests a peer may make per second on average (default 50), and in a burst (default 200). */
  requestsPerSecond?: number
  requestBurst?: number
  /** Bytes of blocks and headers a peer may be sent per second on average, and at once. Default {@link UPLOAD_BUDGET}. */
  bytesPerSecond?: number
  byteBurst?: number
  /** Longest a block waits for its peer's budget; past it the block is answered NOT_FOUND. Default 10 s. */
  maxDeferMs?: number
}

/**
 * A peer's upload budget by default: 8 MiB/s, and a burst of one full GET_BLOCKS answer
 * (16 blocks of 4 MB), so a syncing peer is never slowed below 8 MiB/s.
 */
export const UPLOAD_BUDGET = { bytesPerSecond: 8 * 1024 * 1024, byteBurst: 64 * 1024 * 1024 }

/** Counters of what was served and refused. */
export interface ChainServerStats { blocksAsked: number, blocksSent: number, bytesSent: number, refused: number }

/** Serves this node's chain to peers. */
export class ChainServer {
  private readonly init: ChainServerInit
  private readonly limiter: PeerRateLimiter
  private readonly upload: ByteRate
  private readonly streams = new Set<Stream>()
  private stopping = new AbortController()
  /** Blocks asked for and sent, and blocks or headers answers refused for want of budget. */
  readonly stats: ChainServerStats = { blocksAsked: 0, blocksSent: 0, bytesSent: 0, refused: 0 }

  constructor (init: ChainServerInit) {
    this.init = init
    this.limiter = new PeerRateLimiter(init.requestsPerSecond ?? 50, init.requestBurst ?? 200)
    this.upload = new ByteRate({ bytesPerSecond: init.bytesPerSecond ?? UPLOAD_BUDGET.bytesPerSecond, burst: init.byteBurst ?? UPLOAD_BUDGET.byteBurst })
  }

  async start (): Promise<void> {
    this.stopping = new AbortController()
    await this.init.host.handle(this.init.protocol, (stream, connection) => { void this.serve(stream, connection) }, {
      maxInboundStreams: 16,
      maxOutboundStreams: 16
    })
  }

  async stop (): Promise<void> {
    this.stopping.abort()
    await this.init.host.unhandle(this.init.protocol)
    for (const s of this.streams) s.abort(new Error('node stopping'))
    this.streams.clear()
  }

  private async serve (stream: Stream, connection: Connection): Promise<void> {
    const peer = connection.remotePeer
    const { chain } = this.init
    this.streams.add(stream)
    const send = async (data: Uint8Array): Promise<void> => {
      if (!stream.send(data)) await waitForDrain(stream)
    }
    try {
      if (!this.limiter.take(peer.toString())) {
        this.init.penalize(peer, 5, 'chain protocol: request rate limit')
        stream.abort(new ChainProtocolError('request rate limit'))
        return
      }
      let body: Uint8Array | undefined
      for await (const frame of readFrames(stream, MAX_REQUEST_FRAME)) {
        body = frame
        break
      }
      if (body == null) { // the peer went away (or its connection dropped): not misbehaviour
        stream.abort(new Error('stream closed before a request'))
        return
      }
      const req = decodeRequest(body)
      if (req.type === 'status') {
        const tip = chain.tip
        await send(encodeResponse({ type: 'tip', height: tip.height, hash: tip.hash, chainwork: tip.chainwork }))
      } else if (req.type === 'get-headers') {
        // headers too are metered (2,000 of them are 160 KB); one that would wait too long is refused
        if (!await this.waitForBudget(peer, stream)) {
          stream.abort(new UploadBudgetError('upload budget spent'))
          return
        }
        const headers = await chain.findHeaders(req.locator, req.stop, MAX_HEADERS)
        const frame = encodeResponse({ type: 'headers', headers })
        this.upload.spend(peer.toString(), frame.length)
        await send(frame)
      } else {
        for (const hash of req.hashes.slice(0, MAX_GET_BLOCKS)) {
          this.stats.blocksAsked++
          // the block is read only once the peer has budget; its size is charged after the read
          // (the bucket may go into debt by one block, paid back before the next)
          const bytes = await this.waitForBudget(peer, stream) ? await chain.getBlockBytes(hash) : undefined
          if (bytes == null) {
            await send(encodeResponse({ type: 'not-found', hash }))
            continue
          }
          this.upload.spend(peer.toString(), bytes.length)
          this.stats.blocksSent++
          this.stats.bytesSent += bytes.length
          await send(encodeResponse({ type: 'block', bytes }))
        }
      }
      await stream.close().catch(() => {})
    } catch (err) {
      if (err instanceof ProtocolError) { // the chain protocol's or the framing's
        this.init.penalize(peer, 20, `chain protocol: ${(err as Error).message}`)
      } else {
        this.init.log.debug('chain stream ended', { peerId: peer.toString(), err })
      }
      stream.abort(err as Error)
    } finally {
      this.streams.delete(stream)
    }
  }

  /**
   * Waits until `peer` has upload budget again; false, without waiting, when that would take
   * longer than the longest deferral (then what was asked is refused).
   */
  private async waitForBudget (peer: PeerId, stream: Stream): Promise<boolean> {
    const maxDefer = this.init.maxDeferMs ?? 10_000
    for (;;) {
      const wait = this.upload.waitMs(peer.toString(), 1)
      if (wait === 0) return true
      if (wait > maxDefer) {
        this.stats.refused++
        return false
      }
      const closed = new AbortController()
      const onClose = (): void => { closed.abort() }
      stream.addEventListener('close', onClose, { once: true })
      try {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, wait)
          const signal = AbortSignal.any([closed.signal, this.stopping.signal])
          signal.addEventListener('abort', () => { clearTimeout(timer); resolve() }, { once: true })
        })
      } finally {
        stream.removeEventListener('close', onClose)
      }
      if (closed.signal.aborted || this.stopping.signal.aborted) throw new UploadBudgetError('stream closed while waiting for upload budget')
    }
  }
}

/** A request could not be answered within the peer's upload budget. */
export class UploadBudgetError extends PeerdError {
  static override name = 'UploadBudgetError'
}
