/**
 * The serving side of the chain protocol: answers STATUS, GET_HEADERS and GET_BLOCKS from the
 * local chain, one request per stream, with a request rate limit per peer.
 * @module
 */
import type { Connection, PeerId, Stream } from '@libp2p/interface'
import type { PeerdHost } from '../../net/host.ts'
import { PeerRateLimiter } from '../../net/rate-limit.ts'
import { readFrames } from '../../share/protocol.ts'
import type { Logger } from '../../utils/logger.ts'
import type { Chain } from '../chain/index.ts'
import { ChainProtocolError, MAX_GET_BLOCKS, MAX_HEADERS, MAX_REQUEST_FRAME, decodeRequest, encodeResponse } from './protocol.ts'

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
}

/** Serves this node's chain to peers. */
export class ChainServer {
  private readonly init: ChainServerInit
  private readonly limiter: PeerRateLimiter
  private readonly streams = new Set<Stream>()

  constructor (init: ChainServerInit) {
    this.init = init
    this.limiter = new PeerRateLimiter(init.requestsPerSecond ?? 50, init.requestBurst ?? 200)
  }

  async start (): Promise<void> {
    await this.init.host.handle(this.init.protocol, (stream, connection) => { void this.serve(stream, connection) }, {
      maxInboundStreams: 16,
      maxOutboundStreams: 16
    })
  }

  async stop (): Promise<void> {
    await this.init.host.unhandle(this.init.protocol)
    for (const s of this.streams) s.abort(new Error('node stopping'))
    this.streams.clear()
  }

  private async serve (stream: Stream, connection: Connection): Promise<void> {
    const peer = connection.remotePeer
    const { chain } = this.init
    this.streams.add(stream)
    const send = async (data: Uint8Array): Promise<void> => {
      if (!stream.send(data)) await stream.onDrain()
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
        const headers = await chain.findHeaders(req.locator, req.stop, MAX_HEADERS)
        await send(encodeResponse({ type: 'headers', headers }))
      } else {
        for (const hash of req.hashes.slice(0, MAX_GET_BLOCKS)) {
          const bytes = await chain.getBlockBytes(hash)
          await send(encodeResponse(bytes == null ? { type: 'not-found', hash } : { type: 'block', bytes }))
        }
      }
      await stream.close().catch(() => {})
    } catch (err) {
      if (err instanceof ChainProtocolError || (err as Error).name === 'ProtocolError') {
        this.init.penalize(peer, 20, `chain protocol: ${(err as Error).message}`)
      } else {
        this.init.log.debug('chain stream ended', { peerId: peer.toString(), err })
      }
      stream.abort(err as Error)
    } finally {
      this.streams.delete(stream)
    }
  }
}
