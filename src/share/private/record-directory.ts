/**
 * Share records (`onion-record.ts`) reach the DHT through a stranger, as onion-service
 * descriptors do (`src/net/dht-proxy.ts`): a node's own DHT put or get would show the DHT nodes
 * its peer id next to the root, which is what a private share hides. So a sharer or a downloader
 * opens `/peerd/<network>/share-hs/1.0.0` on a random peer through a circuit of its own, and that
 * peer does the DHT put or get for it.
 *
 * The wire format and the answering side are hsdir's (one frame each way, GET/PUT, the record
 * checked with the DHT's validator, a rate per remote peer, bounded concurrent work), under this
 * protocol id and this namespace's validator and selector.
 * @module
 */
import { randomInt } from 'node:crypto'
import type { PeerId } from '@libp2p/interface'
import type { PeerdHost } from '../../net/host.ts'
import { DhtProxyServer, dhtProxyGet, dhtProxyPut } from '../../net/dht-proxy.ts'
import type { ProxiedDht } from '../../net/dht-proxy.ts'
import type { Logger } from '../../utils/logger.ts'
import { SHARE_HS_NAMESPACE, shareRecordSelector, shareRecordValidator } from './onion-record.ts'
import type { OnionDialer } from './types.ts'

/** The protocol id on `network`. */
export function shareHsProtocol (network: string): string {
  return `/peerd/${network}/share-hs/1.0.0`
}

/** Peers tried per request before giving up. */
const TRIES = 3
/** How long one request may take, circuit included. */
const REQUEST_TIMEOUT_MS = 45_000
/** Peers the peer store is searched among, at most. */
const MAX_CANDIDATES = 1024

/** The answering side: an hsdir server for share records under {@link shareHsProtocol}. */
export function shareRecordServer (host: PeerdHost, network: string, dht: ProxiedDht): DhtProxyServer {
  return new DhtProxyServer({
    host,
    protocol: shareHsProtocol(network),
    dht,
    validate: shareRecordValidator(network),
    select: shareRecordSelector,
    namespace: SHARE_HS_NAMESPACE
  })
}

/** Options of a {@link ShareRecordDirectory}. */
export interface ShareRecordDirectoryInit {
  host: PeerdHost
  dialer: OnionDialer
  network: string
  log: Logger
}

/** The asking side: puts and gets share records through a random peer, each through a circuit of its own. */
export class ShareRecordDirectory {
  private readonly init: ShareRecordDirectoryInit
  private readonly protocol: string

  constructor (init: ShareRecordDirectoryInit) {
    this.init = init
    this.protocol = shareHsProtocol(init.network)
  }

  /** Stores `value` under `key`; true when a DHT node took it. */
  async put (key: Uint8Array, value: Uint8Array, signal?: AbortSignal): Promise<boolean> {
    return await this.via('put', async d => await dhtProxyPut(d, key, value, signal) ? true : undefined, signal) === true
  }

  /** The record under `key` (the best of those found), or undefined. */
  async get (key: Uint8Array, signal?: AbortSignal): Promise<Uint8Array | undefined> {
    return await this.via('get', async d => await dhtProxyGet(d, key, signal), signal)
  }

  private async via<T> (op: string, request: (duplex: Awaited<ReturnType<OnionDialer['dial']>>) => Promise<T | undefined>, outer?: AbortSignal): Promise<T | undefined> {
    const { dialer, log } = this.init
    let lastError: unknown
    for (const peer of await this.pick()) {
      // a circuit per request, retired after: a put and a later get are not linkable by their exit
      const isolation = `share-hs-${op}:${randomInt(2 ** 47)}`
      const signal = AbortSignal.any([...(outer != null ? [outer] : []), AbortSignal.timeout(REQUEST_TIMEOUT_MS)])
      try {
        const duplex = await dialer.dial(peer, this.protocol, { isolation, signal })
        duplex.on('error', () => {})
        const answer = await request(duplex)
        if (answer !== undefined) return answer
      } catch (err) {
        lastError = err
        if (outer?.aborted === true) throw err
      } finally {
        dialer.release?.(isolation)
      }
    }
    if (lastError != null) log.debug(`share record ${op} failed`, { error: (lastError as Error).message })
    return undefined
  }

  /** Up to {@link TRIES} peers, at random, among those known to speak the protocol. */
  private async pick (): Promise<PeerId[]> {
    const { host } = this.init
    const self = host.peerId.toString()
    const peers = await host.peerStore.all({ filters: [p => p.protocols.includes(this.protocol)], limit: MAX_CANDIDATES }).catch(() => [])
    const ids = peers.map(p => p.id).filter(id => id.toString() !== self)
    for (let i = ids.length - 1; i > 0; i--) {
      const j = randomInt(i + 1)
      const t = ids[i] as PeerId
      ids[i] = ids[j] as PeerId
      ids[j] = t
    }
    return ids.slice(0, TRIES)
  }
}
