/**
 * The peer list protocol, `/peerd/<network>/peers/1.0.0`, and a bounded crawl over it: how the
 * dashboard draws the network around a node (in a devnet, the whole network).
 *
 * One stream per request. The asking side opens the stream and writes nothing; the answering
 * side writes one frame and closes. The frame is an unsigned varint length, then a varint
 * count (at most {@link MAX_LISTED_PEERS}) and that many peer ids, each a varint length (at most
 * {@link MAX_PEER_ID_CHARS}) and the id's base58 text. Only peer ids are told, never
 * addresses: a peer learns who its neighbour talks to, not how to reach them.
 *
 * Limits: a server answers each peer at most {@link REQUESTS_PER_SECOND} times a second (a
 * small burst allowed) and runs two answering streams per connection; a client checks the
 * frame's length before reading it. The crawl ({@link PeerListService.network}) asks only
 * peers this node is already connected to (no new dials), at most {@link MAX_QUERIED} of them,
 * three seconds each, and keeps its answer for five seconds: it sees this node (hop 0), its
 * peers (hop 1) and their peers (hop 2), and the links between those hops.
 *
 * @example
 * ```ts
 * const peerList = new PeerListService({ host, network: 'regtest', log })
 * await peerList.start()
 * const map = await peerList.network() // { nodes: [{ peerId, hops }], links: [[a, b]], … }
 * ```
 * @module
 */
import type { Connection, PeerId, Stream } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import * as varint from 'uint8-varint'
import type { Logger } from '../utils/logger.ts'
import { encodeFrame, ProtocolError, readFrames } from './frames.ts'
import type { PeerdHost } from './host.ts'
import { PeerRateLimiter } from './rate-limit.ts'

/** Protocol id of the peer list protocol on `network`. */
export function peerListProtocol (network: string): string {
  return `/peerd/${network}/peers/1.0.0`
}

/** Most peer ids in one answer. */
export const MAX_LISTED_PEERS = 64
/** Longest peer id text accepted (an Ed25519 id is 52 characters). */
export const MAX_PEER_ID_CHARS = 64
/** Largest answer frame. */
export const MAX_FRAME = 10 + MAX_LISTED_PEERS * (1 + MAX_PEER_ID_CHARS)
/** Answers per peer and second (a burst of three is allowed). */
export const REQUESTS_PER_SECOND = 1
/** Most peers one crawl asks. */
export const MAX_QUERIED = 32
/** Most nodes one crawl reports. */
export const MAX_NODES = 256

const QUERY_TIMEOUT_MS = 3_000
const CACHE_MS = 5_000
const PARALLEL = 8

/** A peer broke the peer list protocol. */
export class PeerListError extends ProtocolError {
  static override name = 'PeerListError'
}

/** Encodes an answer: the peer ids (at most {@link MAX_LISTED_PEERS} are kept). */
export function encodePeerList (ids: string[]): Uint8Array {
  const parts: Uint8Array[] = []
  const kept = ids.filter(id => id.length <= MAX_PEER_ID_CHARS).slice(0, MAX_LISTED_PEERS)
  parts.push(varint.encode(kept.length))
  for (const id of kept) {
    const bytes = new TextEncoder().encode(id)
    parts.push(varint.encode(bytes.length), bytes)
  }
  return encodeFrame(...parts)
}

/** Decodes an answer's body (without the frame length); every id must parse as a peer id. */
export function decodePeerList (body: Uint8Array): string[] {
  let at = 0
  const next = (): number => {
    let n: number
    // encodingLength throws a RangeError past 2^53: a peer's bytes must only give PeerListError
    try { n = varint.decode(body, at); at += varint.encodingLength(n) } catch { throw new PeerListError('bad varint') }
    return n
  }
  const count = next()
  if (count > MAX_LISTED_PEERS) throw new PeerListError(`${count} peers listed, over the ${MAX_LISTED_PEERS} limit`)
  const ids: string[] = []
  for (let i = 0; i < count; i++) {
    const len = next()
    if (len > MAX_PEER_ID_CHARS || at + len > body.length) throw new PeerListError('bad peer id length')
    const id = new TextDecoder().decode(body.subarray(at, at + len))
    at += len
    // canonical only: base58 decoding maps some foreign characters onto other ids' digits
    let canonical: string | undefined
    try { canonical = peerIdFromString(id).toString() } catch { canonical = undefined }
    if (canonical !== id) throw new PeerListError(`not a peer id: ${JSON.stringify(id.slice(0, 64))}`)
    ids.push(id)
  }
  if (at !== body.length) throw new PeerListError('trailing bytes')
  return ids
}

/** A node of the crawled network. */
export interface NetworkNode {
  peerId: string
  /** 0: this node; 1: a peer of this node; 2: a peer of a peer. */
  hops: number
  /** Whether this node was asked and answered (hop 0 always is). */
  answered: boolean
}

/** The network around this node, as far as one crawl saw it. */
export interface NetworkMap {
  nodes: NetworkNode[]
  /** Undirected links, each once, as pairs of peer ids. */
  links: Array<[string, string]>
  /** When the crawl finished (ISO 8601). */
  crawledAt: string
  /** Whether a cap cut the crawl short. */
  partial: boolean
}

/** Options of {@link PeerListService}. */
export interface PeerListInit {
  host: PeerdHost
  network: string
  log: Logger
}

/** Serves this node's peer list and crawls its neighbours'. */
export class PeerListService {
  readonly protocol: string
  private readonly init: PeerListInit
  private limiter = new PeerRateLimiter(REQUESTS_PER_SECOND, 3)
  private cached?: { at: number, map: Promise<NetworkMap> }

  constructor (init: PeerListInit) {
    this.init = init
    this.protocol = peerListProtocol(init.network)
  }

  async start (): Promise<void> {
    await this.init.host.handle(this.protocol, (stream, connection) => { this.serve(stream, connection) }, {
      maxInboundStreams: 2,
      maxOutboundStreams: 2
    })
  }

  async stop (): Promise<void> {
    await this.init.host.unhandle(this.protocol)
    this.limiter = new PeerRateLimiter(REQUESTS_PER_SECOND, 3)
    this.cached = undefined
  }

  /** The peer ids this node has an open connection to. */
  connectedPeers (): string[] {
    const ids = new Set<string>()
    for (const c of this.init.host.getConnections()) if (c.status === 'open') ids.add(c.remotePeer.toString())
    return [...ids]
  }

  private serve (stream: Stream, connection: Connection): void {
    if (!this.limiter.take(connection.remotePeer.toString())) {
      stream.abort(new PeerListError('rate limit'))
      return
    }
    try {
      stream.send(encodePeerList(this.connectedPeers()))
      void stream.close().catch(() => { stream.abort(new Error('close failed')) })
    } catch (err) {
      stream.abort(err as Error)
    }
  }

  /** Asks `peer` (already connected) for its peer list. */
  async ask (peer: PeerId, signal: AbortSignal = AbortSignal.timeout(QUERY_TIMEOUT_MS)): Promise<string[]> {
    const stream = await this.init.host.dialProtocol(peer, this.protocol, { signal })
    const onAbort = (): void => { stream.abort(new Error('peer list request timed out')) }
    signal.addEventListener('abort', onAbort, { once: true })
    try {
      for await (const body of readFrames(stream, MAX_FRAME)) {
        await stream.close().catch(() => {})
        return decodePeerList(body)
      }
      throw new PeerListError('stream closed before an answer')
    } catch (err) {
      stream.abort(err as Error)
      throw err
    } finally {
      signal.removeEventListener('abort', onAbort)
    }
  }

  /** The network around this node: crawled at most every five seconds, shared by callers. */
  async network (): Promise<NetworkMap> {
    if (this.cached == null || Date.now() - this.cached.at > CACHE_MS) {
      const map = this.crawl()
      this.cached = { at: Date.now(), map }
      map.catch(() => { this.cached = undefined })
    }
    return await this.cached.map
  }

  private async crawl (): Promise<NetworkMap> {
    const { host } = this.init
    const self = host.peerId.toString()
    const nodes = new Map<string, NetworkNode>([[self, { peerId: self, hops: 0, answered: true }]])
    const links = new Map<string, [string, string]>()
    let partial = false
    const link = (a: string, b: string): void => {
      if (a === b) return
      const key = a < b ? `${a} ${b}` : `${b} ${a}`
      if (!links.has(key)) links.set(key, a < b ? [a, b] : [b, a])
    }
    const add = (id: string, hops: number): boolean => {
      if (nodes.has(id)) return true
      if (nodes.size >= MAX_NODES) { partial = true; return false }
      nodes.set(id, { peerId: id, hops, answered: false })
      return true
    }
    const neighbours = this.connectedPeers()
    for (const id of neighbours) if (add(id, 1)) link(self, id)
    // ask only peers that said (in identify) they speak the protocol
    const askable: string[] = []
    for (const id of neighbours) {
      const protocols = await host.peerStore.get(peerIdFromString(id)).then(p => p.protocols, (): string[] => [])
      if (protocols.includes(this.protocol)) askable.push(id)
    }
    if (askable.length > MAX_QUERIED) partial = true
    const queue = askable.slice(0, MAX_QUERIED)
    await Promise.all(Array.from({ length: PARALLEL }, async () => {
      for (let id = queue.shift(); id != null; id = queue.shift()) {
        try {
          const listed = await this.ask(peerIdFromString(id))
          const node = nodes.get(id)
          if (node != null) node.answered = true
          for (const other of listed) if (add(other, 2)) link(id, other)
        } catch (err) {
          this.init.log.debug('peer list request failed', { peerId: id, err })
        }
      }
    }))
    return { nodes: [...nodes.values()], links: [...links.values()], crawledAt: new Date().toISOString(), partial }
  }
}
