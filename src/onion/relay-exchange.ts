/**
 * How relay descriptors spread without directory authorities (issue 16):
 *
 * 1. The relays protocol, `/peerd/<network>/onion/relays/1.0.0`, one stream per exchange. The
 *    opener writes one frame (`frames.ts`): `0x01` asks for the peer's view, which comes back as
 *    up to {@link MAX_RESPONSE_DESCRIPTORS} frames of one descriptor each, then the stream
 *    closes; `0x02 | descriptor` pushes the opener's own descriptor. Frames are at most
 *    {@link MAX_FRAME} bytes, checked before they are read.
 * 2. On meeting a new peer a node asks for its view (at most once per peer per
 *    {@link ASK_INTERVAL_MS}, at most {@link MAX_CONCURRENT} exchanges at a time) and pushes its own
 *    descriptor; every {@link SAMPLE_INTERVAL_MS} it asks one connected peer again, so relays
 *    learned by others reach it over time. Its own descriptor is re-signed and pushed to every
 *    connected peer on start, every {@link REPUBLISH_MS}, and on {@link RelayExchange.republish}
 *    (onion key rotated, policy changed).
 * 3. The DHT: the own descriptor is put under `/peerd-onion/<peer id multihash>`; the DHT checks
 *    records with {@link descriptorValidator} (signature, network, freshness, key) and keeps the
 *    newest with {@link descriptorSelector} (both passed to `createHost`).
 *
 * A server answers each peer's view request at most once a minute and takes a few pushes a
 * minute; more resets the stream. A peer that sends a forged, malformed or oversized descriptor,
 * or more descriptors than allowed, is reported through `onMisbehaviour` (the node's peer scores)
 * and its stream is reset.
 *
 * ```ts
 * const exchange = new RelayExchange({ host, network, directory, descriptor: async () => await signDescriptor({ … }, privateKey), dht: host.services.dht, onMisbehaviour: (p, reason, score) => scores.penalise(p, reason, score) })
 * await exchange.start()
 * ```
 * @module
 */
import { randomInt } from 'node:crypto'
import type { Connection, Libp2p, PeerId, PeerStore, Stream } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'
import { FrameTooLargeError, ProtocolError, encodeFrame, readFrames } from '../net/frames.ts'
import { LruMap } from '../net/lru.ts'
import { PeerRateLimiter } from '../net/rate-limit.ts'
import { MAX_DESCRIPTOR_BYTES, decodeDescriptor, verifyDescriptor } from './descriptor.ts'
import type { AddResult, RelayDirectory } from './directory.ts'
import { DescriptorError } from './directory-errors.ts'
import { waitForDrain } from '../net/drain.ts'

/** Protocol id of the relays protocol on `network`. */
export function relaysProtocol (network: string): string {
  return `/peerd/${network}/onion/relays/1.0.0`
}

/** Most descriptors in one answer. */
export const MAX_RESPONSE_DESCRIPTORS = 2000
/** Largest frame: a type byte and one descriptor. */
export const MAX_FRAME = MAX_DESCRIPTOR_BYTES + 1
/** How often this node asks one peer for its view, at most. */
export const ASK_INTERVAL_MS = 10 * 60_000
/** How often a view request from one peer is answered, at most. */
export const SERVE_INTERVAL_MS = 60_000
/** Exchanges this node runs at once, at most. */
export const MAX_CONCURRENT = 4
/** How often the own descriptor is re-signed and pushed. */
export const REPUBLISH_MS = 3600_000
/** How often one connected peer is asked again. */
export const SAMPLE_INTERVAL_MS = 10 * 60_000
/** Prefix of descriptor keys in the DHT (also the DHT's validator namespace). */
export const DHT_NAMESPACE = 'peerd-onion'

const REQUEST = 0x01
const PUSH = 0x02
const EXCHANGE_TIMEOUT_MS = 30_000
const MAX_QUEUED = 256
const MAX_PEERS_TRACKED = 4096

/** What the exchange needs of a libp2p host. */
export type ExchangeHost = Pick<Libp2p, 'peerId' | 'handle' | 'unhandle' | 'dialProtocol' | 'getConnections' | 'addEventListener' | 'removeEventListener'>

/** What the exchange needs of the DHT (`@libp2p/kad-dht`'s `put` and `get`). */
export interface DescriptorDht {
  put: (key: Uint8Array, value: Uint8Array, options?: { signal?: AbortSignal }) => AsyncIterable<unknown>
  get: (key: Uint8Array, options?: { signal?: AbortSignal }) => AsyncIterable<{ name: string, value?: Uint8Array }>
}

/** Options of {@link RelayExchange}. */
export interface RelayExchangeInit {
  host: ExchangeHost
  network: string
  directory: RelayDirectory
  /** Signs a fresh descriptor of this node; absent when it is not a relay. */
  descriptor?: () => Promise<Uint8Array>
  dht?: DescriptorDht
  /**
   * Where a new descriptor's addresses go (the host's peer store), so that a circuit can be
   * extended to a relay this node never met: EXTEND2 names only a peer id.
   */
  peerStore?: Pick<PeerStore, 'merge'>
  /** A peer sent something only a broken or hostile peer sends. */
  onMisbehaviour?: (peer: PeerId, reason: string, score: number) => void
}

/** What one view request brought. */
export interface AskResult {
  added: number
  stale: number
  refused: number
}

/** The DHT key of `peer`'s descriptor: `/peerd-onion/` then its multihash bytes. */
export function descriptorDhtKey (peer: PeerId): Uint8Array {
  const prefix = new TextEncoder().encode(`/${DHT_NAMESPACE}/`)
  const mh = peer.toMultihash().bytes
  const key = new Uint8Array(prefix.length + mh.length)
  key.set(prefix)
  key.set(mh, prefix.length)
  return key
}

/** A DHT validator for descriptor records of `network`: throws unless the value verifies, is fresh and belongs to the key. */
export function descriptorValidator (network: string): (key: Uint8Array, value: Uint8Array) => Promise<void> {
  return async (key, value) => {
    const d = await verifyDescriptor(value, { network })
    if (Buffer.compare(descriptorDhtKey(d.peerId), key) !== 0) throw new DescriptorError(`descriptor of ${d.peerId.toString()} stored under another peer's key`, 'descriptor-wrong-key', 20)
  }
}

/** A DHT selector for descriptor records: the newest (latest `published`) one. */
export function descriptorSelector (_key: Uint8Array, records: Uint8Array[]): number {
  let best = 0
  let bestPublished = -1
  records.forEach((r, i) => {
    let published = -1
    try { published = decodeDescriptor(r).published } catch { /* a broken record never wins */ }
    if (published > bestPublished) { best = i; bestPublished = published }
  })
  return best
}

/** Spreads descriptors between peers and through the DHT; see the module header. */
export class RelayExchange {
  readonly protocol: string
  private readonly init: RelayExchangeInit
  private readonly asked = new LruMap<string, number>(MAX_PEERS_TRACKED)
  private serveLimiter = new PeerRateLimiter(1 / (SERVE_INTERVAL_MS / 1000), 1)
  private pushLimiter = new PeerRateLimiter(6 / 60, 6)
  private readonly queue: Array<() => Promise<void>> = []
  private running = 0
  private own?: Uint8Array
  private timers: NodeJS.Timeout[] = []
  private controller = new AbortController()
  private readonly onConnect = (evt: CustomEvent<PeerId>): void => { this.met(evt.detail) }

  constructor (init: RelayExchangeInit) {
    this.init = init
    this.protocol = relaysProtocol(init.network)
  }

  /** Serves the protocol, listens for new peers, publishes the own descriptor. */
  async start (): Promise<void> {
    this.controller = new AbortController()
    await this.init.host.handle(this.protocol, (stream, connection) => { void this.serve(stream, connection) }, { maxInboundStreams: 2, maxOutboundStreams: MAX_CONCURRENT })
    this.init.host.addEventListener('peer:connect', this.onConnect)
    this.timers = [
      setInterval(() => { void this.republish().catch(() => {}) }, REPUBLISH_MS),
      setInterval(() => { this.sample() }, SAMPLE_INTERVAL_MS)
    ]
    for (const t of this.timers) t.unref()
    if (this.init.descriptor != null) await this.republish() // pushes to the peers already connected
    for (const peer of this.connectedPeers()) this.met(peer, false)
  }

  async stop (): Promise<void> {
    for (const t of this.timers) clearInterval(t)
    this.timers = []
    this.init.host.removeEventListener('peer:connect', this.onConnect)
    this.controller.abort()
    this.queue.length = 0
    this.serveLimiter = new PeerRateLimiter(1 / (SERVE_INTERVAL_MS / 1000), 1)
    this.pushLimiter = new PeerRateLimiter(6 / 60, 6)
    await this.init.host.unhandle(this.protocol)
  }

  /** The own descriptor last published, if any. */
  get ownDescriptor (): Uint8Array | undefined {
    return this.own
  }

  /**
   * Signs a fresh own descriptor, keeps it in the own view, pushes it to every connected peer and
   * puts it in the DHT (in the background). Call it when the onion key or the policy changes.
   */
  async republish (): Promise<void> {
    if (this.init.descriptor == null) return
    const bytes = await this.init.descriptor()
    this.own = bytes
    await this.init.directory.add(bytes)
    for (const peer of this.connectedPeers()) this.enqueue(async () => { await this.push(peer, bytes) })
    const dht = this.init.dht
    if (dht != null) {
      void (async () => {
        const signal = AbortSignal.any([this.controller.signal, AbortSignal.timeout(EXCHANGE_TIMEOUT_MS)])
        for await (const _ of dht.put(descriptorDhtKey(this.init.host.peerId), bytes, { signal })) { /* drain the query */ }
      })().catch(() => { /* a DHT with no peers yet: the next republish tries again */ })
    }
  }

  /** Looks `peer`'s descriptor up in the DHT and adds what it finds to the view. */
  async lookup (peer: PeerId, signal: AbortSignal = AbortSignal.timeout(EXCHANGE_TIMEOUT_MS)): Promise<AddResult | undefined> {
    if (this.init.dht == null) return undefined
    let result: AddResult | undefined
    for await (const event of this.init.dht.get(descriptorDhtKey(peer), { signal })) {
      if (event.name !== 'VALUE' || event.value == null) continue
      const r = await this.add(event.value)
      if (r.status !== 'refused') return r
      result = r
    }
    return result
  }

  /**
   * Asks `peer` (connected) for its view and adds every descriptor to this node's. A forged,
   * malformed or oversized descriptor, or too many, is reported and ends the exchange.
   */
  async ask (peer: PeerId, signal: AbortSignal = AbortSignal.timeout(EXCHANGE_TIMEOUT_MS)): Promise<AskResult> {
    this.asked.set(peer.toString(), Date.now())
    const result: AskResult = { added: 0, stale: 0, refused: 0 }
    const stream = await this.init.host.dialProtocol(peer, this.protocol, { signal: AbortSignal.any([signal, this.controller.signal]) })
    const onAbort = (): void => { stream.abort(new ProtocolError('relays request timed out')) }
    signal.addEventListener('abort', onAbort, { once: true })
    try {
      stream.send(encodeFrame(Uint8Array.of(REQUEST)))
      let count = 0
      for await (const body of readFrames(stream, MAX_FRAME)) {
        if (++count > MAX_RESPONSE_DESCRIPTORS) throw this.misbehaved(peer, 'relays-too-many', 20, `more than ${MAX_RESPONSE_DESCRIPTORS} descriptors`)
        const r = await this.add(body, peer)
        if (r.status === 'refused') {
          result.refused++
          if (r.score > 0) throw this.misbehaved(peer, r.reason, r.score, r.error.message)
        } else {
          result[r.status === 'added' ? 'added' : 'stale']++
        }
      }
      return result
    } catch (err) {
      if (err instanceof FrameTooLargeError) this.init.onMisbehaviour?.(peer, 'descriptor-too-large', 20)
      stream.abort(err as Error)
      throw err
    } finally {
      signal.removeEventListener('abort', onAbort)
    }
  }

  /** Adds a descriptor to the view and, when new, its addresses to the peer store. */
  private async add (bytes: Uint8Array, from?: PeerId): Promise<AddResult> {
    const r = await this.init.directory.add(bytes, from)
    const store = this.init.peerStore
    if (r.status === 'added' && store != null && !r.entry.descriptor.peerId.equals(this.init.host.peerId)) {
      const multiaddrs = r.entry.descriptor.addresses.map(a => multiaddr(a))
      await store.merge(r.entry.descriptor.peerId, { multiaddrs }).catch(() => {})
    }
    return r
  }

  private misbehaved (peer: PeerId, reason: string, score: number, message: string): ProtocolError {
    this.init.onMisbehaviour?.(peer, reason, score)
    return new ProtocolError(`relays protocol: ${peer.toString()} sent ${message}`)
  }

  /** Pushes `bytes` (the own descriptor) to `peer`. */
  private async push (peer: PeerId, bytes: Uint8Array): Promise<void> {
    const signal = AbortSignal.any([AbortSignal.timeout(EXCHANGE_TIMEOUT_MS), this.controller.signal])
    const stream = await this.init.host.dialProtocol(peer, this.protocol, { signal })
    try {
      stream.send(encodeFrame(Uint8Array.of(PUSH), bytes))
      await stream.close({ signal })
    } catch (err) {
      stream.abort(err as Error)
    }
  }

  private async serve (stream: Stream, connection: Connection): Promise<void> {
    const peer = connection.remotePeer
    const signal = AbortSignal.any([AbortSignal.timeout(EXCHANGE_TIMEOUT_MS), this.controller.signal])
    const onAbort = (): void => { stream.abort(new ProtocolError('relays exchange timed out')) }
    signal.addEventListener('abort', onAbort, { once: true })
    try {
      let first: Uint8Array | undefined
      for await (const body of readFrames(stream, MAX_FRAME)) { first = body; break }
      if (first == null || first.length === 0) throw new ProtocolError('relays protocol: no request')
      if (first[0] === REQUEST && first.length === 1) {
        if (!this.serveLimiter.take(peer.toString())) throw new ProtocolError('relays protocol: view requested too often')
        for (const d of this.answer()) {
          if (!stream.send(encodeFrame(d))) await waitForDrain(stream, { signal })
        }
        await stream.close({ signal })
      } else if (first[0] === PUSH) {
        if (!this.pushLimiter.take(peer.toString())) throw new ProtocolError('relays protocol: pushes too often')
        const r = await this.add(first.subarray(1), peer)
        if (r.status === 'refused' && r.score > 0) throw this.misbehaved(peer, r.reason, r.score, r.error.message)
        await stream.close({ signal })
      } else {
        throw this.misbehaved(peer, 'relays-bad-request', 10, `a request of type ${first[0] ?? '?'}`)
      }
    } catch (err) {
      if (err instanceof FrameTooLargeError) this.init.onMisbehaviour?.(peer, 'descriptor-too-large', 20)
      stream.abort(err as Error)
    } finally {
      signal.removeEventListener('abort', onAbort)
    }
  }

  /** The descriptors of one answer: the whole view, or a random {@link MAX_RESPONSE_DESCRIPTORS} of it. */
  private answer (): Uint8Array[] {
    const all = this.init.directory.relays().map(e => e.descriptor.bytes)
    for (let i = all.length - 1; i > 0 && all.length > MAX_RESPONSE_DESCRIPTORS; i--) {
      const j = randomInt(i + 1)
      ;[all[i], all[j]] = [all[j] as Uint8Array, all[i] as Uint8Array]
    }
    return all.slice(0, MAX_RESPONSE_DESCRIPTORS)
  }

  /** A peer connected: ask for its view (unless asked lately) and push the own descriptor. */
  private met (peer: PeerId, push = true): void {
    const own = this.own
    // a queued task runs later: by then the peer may have gone, and the exchange must not dial it back
    const connected = (): boolean => this.init.host.getConnections(peer).some(c => c.status === 'open')
    if (own != null && push) this.enqueue(async () => { if (connected()) await this.push(peer, own) })
    const last = this.asked.peek(peer.toString())
    if (last != null && Date.now() - last < ASK_INTERVAL_MS) return
    this.asked.set(peer.toString(), Date.now())
    this.enqueue(async () => { if (connected()) await this.ask(peer).catch(() => {}) })
  }

  /** Asks one random connected peer not asked lately. */
  private sample (): void {
    const now = Date.now()
    const peers = this.connectedPeers().filter(p => now - (this.asked.peek(p.toString()) ?? 0) >= ASK_INTERVAL_MS)
    const peer = peers[randomInt(Math.max(1, peers.length))]
    if (peer != null) this.met(peer, false)
  }

  private connectedPeers (): PeerId[] {
    const seen = new Map<string, PeerId>()
    for (const c of this.init.host.getConnections()) if (c.status === 'open') seen.set(c.remotePeer.toString(), c.remotePeer)
    return [...seen.values()]
  }

  /** Runs `task` when fewer than {@link MAX_CONCURRENT} run; drops it when the queue is full. */
  private enqueue (task: () => Promise<void>): void {
    if (this.controller.signal.aborted) return
    if (this.running >= MAX_CONCURRENT) {
      if (this.queue.length < MAX_QUEUED) this.queue.push(task)
      return
    }
    this.running++
    void task().catch(() => {}).finally(() => {
      this.running--
      const next = this.queue.shift()
      if (next != null) this.enqueue(next)
    })
  }
}
