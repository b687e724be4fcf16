/**
 * The answering side of the provider lookup protocol (`lookup-protocol.ts`): looks a root's
 * providers up in this node's DHT for whoever asks, and answers with their peer ids (and this
 * node's own, when it serves the root itself).
 *
 * A request costs this node a DHT lookup, so it is budgeted: each peer (for a request through a
 * circuit, the circuit's last relay) has a token bucket of {@link LOOKUPS_PER_SECOND} with a burst
 * of {@link LOOKUP_BURST}; at most {@link MAX_CONCURRENT_LOOKUPS} lookups run at once, over all
 * peers; a request must arrive within {@link REQUEST_TIMEOUT_MS} and a lookup ends after
 * {@link LOOKUP_TIMEOUT_MS} or {@link MAX_ANSWER_PROVIDERS} providers. A refused request has its
 * stream reset: the asker tries its other helpers.
 * @module
 */
import type { Connection, Stream } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'
import type { PeerdHost } from '../../net/host.ts'
import { PeerRateLimiter } from '../../net/rate-limit.ts'
import type { Logger } from '../../utils/logger.ts'
import { ProviderLookupError } from './errors.ts'
import { decodeLookupRequest, encodeLookupAnswer, lookupProtocol, MAX_ANSWER_PROVIDERS, MAX_REQUEST_FRAME, readOneFrame } from './lookup-protocol.ts'

/** Lookups each peer may ask for per second, on average. */
export const LOOKUPS_PER_SECOND = 0.5
/** Lookups a peer may ask for at once before its rate applies. */
export const LOOKUP_BURST = 8
/** Lookups running at once, over all peers. */
export const MAX_CONCURRENT_LOOKUPS = 8
/** How long the asker has to send its request. */
export const REQUEST_TIMEOUT_MS = 5_000
/** How long one DHT lookup may run. */
export const LOOKUP_TIMEOUT_MS = 10_000

/** Options of a {@link ProviderLookupServer}. */
export interface ProviderLookupServerInit {
  host: PeerdHost
  network: string
  log: Logger
  /** Whether this node serves `root` to anyone who asks (complete, and not fetched privately). */
  serves: (root: CID) => Promise<boolean>
}

/** Counters of what the server did. */
export interface ProviderLookupStats {
  answered: number
  /** Refused: over a peer's budget, too many at once, or a malformed request. */
  refused: number
}

/** Answers provider lookups for other nodes; see the module header. */
export class ProviderLookupServer {
  readonly protocol: string
  readonly stats: ProviderLookupStats = { answered: 0, refused: 0 }
  private readonly init: ProviderLookupServerInit
  private limiter = new PeerRateLimiter(LOOKUPS_PER_SECOND, LOOKUP_BURST)
  private running = 0
  private readonly abort = new Set<AbortController>()

  constructor (init: ProviderLookupServerInit) {
    this.init = init
    this.protocol = lookupProtocol(init.network)
  }

  async start (): Promise<void> {
    await this.init.host.handle(this.protocol, (stream, connection) => { void this.serve(stream, connection) }, {
      maxInboundStreams: 4,
      maxOutboundStreams: 4
    })
  }

  async stop (): Promise<void> {
    await this.init.host.unhandle(this.protocol)
    for (const a of this.abort) a.abort()
    this.limiter = new PeerRateLimiter(LOOKUPS_PER_SECOND, LOOKUP_BURST)
  }

  private async serve (stream: Stream, connection: Connection): Promise<void> {
    if (this.running >= MAX_CONCURRENT_LOOKUPS || !this.limiter.take(connection.remotePeer.toString())) {
      this.stats.refused++
      stream.abort(new ProviderLookupError('provider lookup refused: over budget'))
      return
    }
    this.running++
    const abort = new AbortController()
    this.abort.add(abort)
    try {
      const reading = AbortSignal.any([abort.signal, AbortSignal.timeout(REQUEST_TIMEOUT_MS)])
      const onTimeout = (): void => { stream.abort(new ProviderLookupError('no request in time')) }
      reading.addEventListener('abort', onTimeout, { once: true })
      let root: CID
      try {
        root = decodeLookupRequest(await readOneFrame(stream, MAX_REQUEST_FRAME))
      } finally {
        reading.removeEventListener('abort', onTimeout)
      }
      const ids = await this.lookup(root, AbortSignal.any([abort.signal, AbortSignal.timeout(LOOKUP_TIMEOUT_MS)]))
      stream.send(encodeLookupAnswer(ids))
      await stream.close()
      this.stats.answered++
    } catch (err) {
      this.stats.refused++
      this.init.log.debug('provider lookup request failed', { err })
      stream.abort(err as Error)
    } finally {
      this.running--
      this.abort.delete(abort)
    }
  }

  /** Providers of `root` from the DHT (this node first when it serves it), until enough or `signal`. */
  private async lookup (root: CID, signal: AbortSignal): Promise<string[]> {
    const { host } = this.init
    const self = host.peerId.toString()
    const ids = new Set<string>()
    if (await this.init.serves(root).catch(() => false)) ids.add(self)
    try {
      for await (const event of host.services.dht.findProviders(root, { signal })) {
        if (event.name !== 'PROVIDER') continue
        for (const p of event.providers) ids.add(p.id.toString())
        if (ids.size >= MAX_ANSWER_PROVIDERS) break
      }
    } catch (err) {
      // a lookup cut short by its time limit still answers with what it found
      if (!signal.aborted) throw err
    }
    return [...ids]
  }
}
