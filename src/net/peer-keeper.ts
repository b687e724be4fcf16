/**
 * Keeps the node in the network: dials bootstrap peers (retrying with exponential backoff
 * while they are unreachable), redials the peers it knew before a restart (from the persisted
 * peer store: peerd nodes of its network first, each group most recently seen first), dials peers found by mDNS and the DHT, walks the DHT
 * for more peers while it has fewer than `minConnections`, and drops peers of other networks.
 */
import type { Connection, IdentifyResult, PeerId, PeerInfo, Startable } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import { setTimeout as sleep } from 'node:timers/promises'
import { DialError } from '../errors.ts'
import type { Logger } from '../utils/logger.ts'
import type { PeerdGater } from './gater.ts'
import type { PeerdHost } from './host.ts'
import { LruMap } from './lru.ts'
import type { NetworkParams } from './networks.ts'
import { parseMultiaddr } from './multiaddrs.ts'

/** Peer store metadata key holding the last time (ms since epoch, decimal) a peer was connected. */
export const LAST_SEEN_KEY = 'peerd/last-seen'

const TICK_MS = 1_000
const BACKOFF_BASE_MS = 1_000
const BACKOFF_MAX_MS = 60_000
const OTHER_NETWORK_BAN_MS = 10 * 60_000
// per-peer tables keyed by ids the DHT and dialers hand us: bounded, the least recent forgotten
const MAX_TRACKED_PEERS = 4096

interface Backoff { failures: number, nextAttempt: number }

/** Options of a {@link PeerKeeper}. */
export interface PeerKeeperInit {
  host: PeerdHost
  gater: PeerdGater
  network: NetworkParams
  bootstrap: string[]
  minConnections: number
  log: Logger
}

/** Delay before retry number `failures` (1-based): 1 s, 2 s, 4 s … capped at 60 s, ±20% jitter. */
export function backoffDelay (failures: number, random = Math.random): number {
  const base = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** Math.max(0, failures - 1))
  return Math.round(base * (0.8 + 0.4 * random()))
}

/** Keeps connections to the network; see the module comment. */
export class PeerKeeper implements Startable {
  private readonly init: PeerKeeperInit
  private readonly bootstrap: Array<{ addr: Multiaddr, peerId: string, state: Backoff }>
  private readonly backoff = new LruMap<string, Backoff>(MAX_TRACKED_PEERS)
  private readonly dialing = new Set<string>()
  private readonly lastSeenWritten = new LruMap<string, number>(MAX_TRACKED_PEERS)
  private readonly rtts = new Map<string, number>()
  private readonly pinging = new Map<string, Promise<number | undefined>>()
  private timer?: ReturnType<typeof setInterval>
  private running = false
  private walking = false
  private nextWalk = 0
  private walkInterval = 2_000
  private nextKnownDial = 0

  constructor (init: PeerKeeperInit) {
    this.init = init
    this.bootstrap = init.bootstrap.map(s => {
      const addr = parseMultiaddr(s, 'bootstrap address')
      const peerId = addr.getComponents().findLast(c => c.name === 'p2p')?.value ?? ''
      return { addr, peerId, state: { failures: 0, nextAttempt: 0 } }
    })
  }

  private readonly onDiscovery = (evt: CustomEvent<PeerInfo>): void => {
    const { id } = evt.detail
    if (this.isConnected(id.toString())) return
    // enough neighbours: a discovered peer stays known (for redials) but is not dialled
    if (this.init.host.getPeers().length >= 2 * this.init.minConnections) return
    void this.dialPeer(id, 'discovery')
  }

  private readonly onConnectionOpen = (evt: CustomEvent<Connection>): void => {
    const conn = evt.detail
    const id = conn.remotePeer.toString()
    this.backoff.delete(id)
    const last = this.lastSeenWritten.get(id) ?? 0
    if (Date.now() - last > 60_000) {
      this.lastSeenWritten.set(id, Date.now())
      void this.init.host.peerStore.merge(conn.remotePeer, {
        metadata: { [LAST_SEEN_KEY]: new TextEncoder().encode(String(Date.now())) }
      }).catch(err => { this.init.log.debug('could not record last-seen', { peerId: id, err }) })
    }
    // measure latency at once rather than waiting for the connection monitor's first ping
    void this.measureLatency(conn.remotePeer)
    // a new peer may know of others: look again soon
    this.walkInterval = 2_000
    this.nextWalk = Math.min(this.nextWalk, Date.now() + 500)
  }

  private readonly onIdentify = (evt: CustomEvent<IdentifyResult>): void => {
    const { peerId, protocols, connection } = evt.detail
    const foreign = this.foreignProtocol(protocols)
    if (foreign != null) this.dropForeign(peerId, connection, foreign)
  }

  private readonly onPeerDisconnect = (evt: CustomEvent<PeerId>): void => {
    this.rtts.delete(evt.detail.toString())
  }

  /**
   * Pings `peerId` now and records the round-trip time; undefined when the ping fails. Calls
   * for a peer whose ping is still running share it: the ping protocol allows one outbound
   * stream per connection, and a second one would fail and could leave the connection
   * monitor's next ping failing too (which aborts the connection).
   */
  async measureLatency (peerId: PeerId): Promise<number | undefined> {
    const id = peerId.toString()
    const running = this.pinging.get(id)
    if (running != null) return await running
    const ping = (async () => {
      try {
        const ms = await this.init.host.services.ping.ping(peerId, { signal: AbortSignal.timeout(5_000) })
        this.rtts.set(id, ms)
        return ms
      } catch {
        return undefined
      } finally {
        this.pinging.delete(id)
      }
    })()
    this.pinging.set(id, ping)
    return await ping
  }

  /** Keeps the keeper from dialling `peerId` for `ms` milliseconds. */
  holdOff (peerId: string, ms: number): void {
    this.backoff.set(peerId, { failures: 0, nextAttempt: Date.now() + ms })
  }

  /**
   * Runs identify on `conn` and returns the peer's network name if it is a peerd node of
   * another network (the connection is then dropped and the peer banned), else undefined.
   */
  async foreignNetworkOf (conn: Connection): Promise<string | undefined> {
    let protocols: string[]
    try {
      protocols = (await this.init.host.services.identify.identify(conn, { signal: AbortSignal.timeout(5_000) })).protocols
    } catch (err) {
      // Either libp2p's own identify is running on this connection (one outbound identify
      // stream is allowed), or a simultaneous dial replaced the connection, or the peer hung
      // up (another network, a ban, its limits). Wait a moment for the first two to show in
      // the peer store over any open connection; only a peer with none left dropped us.
      const open = (): boolean => this.init.host.getConnections(conn.remotePeer).some(c => c.status === 'open')
      const isNode = (p: string): boolean => /^\/peerd\/[^/]+\/node\//.test(p)
      let known: string[] = []
      for (let i = 0; i < 40; i++) {
        known = (await this.init.host.peerStore.get(conn.remotePeer).catch(() => undefined))?.protocols ?? []
        // a peerd node's protocols are in once its node protocol is (of whatever network)
        if (known.some(isNode) && open()) break
        if (!open() && i >= 10) break
        await sleep(50)
      }
      if (!open()) throw new DialError(`the peer closed the connection right after the handshake (it may be on another network, or refusing connections): ${(err as Error).message}`)
      protocols = known
    }
    const foreign = this.foreignProtocol(protocols)
    if (foreign == null) return undefined
    this.dropForeign(conn.remotePeer, conn, foreign)
    return /^\/peerd\/([^/]+)\//.exec(foreign)?.[1] ?? foreign
  }

  private foreignProtocol (protocols: string[]): string | undefined {
    const ours = this.init.network.nodeProtocol
    if (protocols.includes(ours)) return undefined
    return protocols.find(p => /^\/peerd\/[^/]+\/node\//.test(p))
  }

  private dropForeign (peerId: PeerId, connection: Connection, protocol: string): void {
    this.init.log.info('dropping a peer of another network', { peerId: peerId.toString(), protocol })
    this.init.gater.ban(peerId, OTHER_NETWORK_BAN_MS)
    void connection.close().catch(() => {})
    void this.init.host.peerStore.delete(peerId).catch(() => {})
  }

  /** Round-trip time measured by a ping when the peer connected, if any. */
  latencyOf (peerId: string): number | undefined {
    return this.rtts.get(peerId)
  }

  async start (): Promise<void> {
    const { host } = this.init
    this.running = true
    host.addEventListener('peer:discovery', this.onDiscovery)
    host.addEventListener('connection:open', this.onConnectionOpen)
    host.addEventListener('peer:identify', this.onIdentify)
    host.addEventListener('peer:disconnect', this.onPeerDisconnect)
    await host.handle(this.init.network.nodeProtocol, (stream) => { void stream.close().catch(() => {}) })
    this.timer = setInterval(() => { this.tick() }, TICK_MS)
    this.timer.unref?.()
    this.tick()
  }

  async stop (): Promise<void> {
    const { host } = this.init
    this.running = false
    if (this.timer != null) clearInterval(this.timer)
    host.removeEventListener('peer:discovery', this.onDiscovery)
    host.removeEventListener('connection:open', this.onConnectionOpen)
    host.removeEventListener('peer:identify', this.onIdentify)
    host.removeEventListener('peer:disconnect', this.onPeerDisconnect)
    this.rtts.clear()
  }

  private isConnected (peerId: string): boolean {
    return this.init.host.getConnections().some(c => c.remotePeer.toString() === peerId && c.status === 'open')
  }

  private connectedPeerCount (): number {
    return this.init.host.getPeers().length
  }

  private tick (): void {
    if (!this.running) return
    const now = Date.now()
    const count = this.connectedPeerCount()
    const wanted = count < this.init.minConnections

    for (const b of this.bootstrap) {
      if (b.peerId === this.init.host.peerId.toString() || this.dialing.has(b.peerId)) continue
      if (this.isConnected(b.peerId)) continue
      // dial bootstrap peers while short of connections, and always until first reached
      if (!wanted && b.state.failures === 0 && b.state.nextAttempt !== 0) continue
      if (now < b.state.nextAttempt) continue
      void this.dialBootstrap(b)
    }

    if (wanted && now >= this.nextKnownDial) {
      this.nextKnownDial = now + 5_000
      void this.dialKnownPeers(this.init.minConnections - count)
    }

    if (wanted && count > 0 && now >= this.nextWalk && !this.walking) {
      void this.walk()
    }
  }

  private async dialBootstrap (b: { addr: Multiaddr, peerId: string, state: Backoff }): Promise<void> {
    this.dialing.add(b.peerId)
    try {
      await this.init.host.dial(b.addr, { signal: AbortSignal.timeout(10_000) })
      if (b.state.failures > 0) this.init.log.info('reached bootstrap peer', { addr: b.addr.toString(), after: b.state.failures + ' failed attempts' })
      b.state.failures = 0
      b.state.nextAttempt = Date.now() + BACKOFF_BASE_MS
    } catch (err) {
      b.state.failures++
      const delay = backoffDelay(b.state.failures)
      b.state.nextAttempt = Date.now() + delay
      const fields = { addr: b.addr.toString(), err, retryInMs: delay, attempt: b.state.failures }
      if (b.state.failures === 1) this.init.log.warn('bootstrap peer unreachable, will retry with backoff', fields)
      else this.init.log.debug('bootstrap peer still unreachable', fields)
    } finally {
      this.dialing.delete(b.peerId)
    }
  }

  /** Dials a peer by id (addresses from the peer store), respecting its backoff. */
  private async dialPeer (peerId: PeerId, why: string): Promise<void> {
    const id = peerId.toString()
    if (id === this.init.host.peerId.toString() || this.dialing.has(id) || this.init.gater.isBanned(peerId)) return
    const state = this.backoff.get(id)
    if (state != null && Date.now() < state.nextAttempt) return
    this.dialing.add(id)
    try {
      await this.init.host.dial(peerId, { signal: AbortSignal.timeout(10_000) })
      this.backoff.delete(id)
      this.init.log.debug('dialled peer', { peerId: id, why })
    } catch (err) {
      const failures = (state?.failures ?? 0) + 1
      this.backoff.set(id, { failures, nextAttempt: Date.now() + backoffDelay(failures) })
      this.init.log.debug('dial failed', { peerId: id, why, err })
    } finally {
      this.dialing.delete(id)
    }
  }

  /**
   * Dials up to `n` peers from the peer store: peerd nodes of this network first (a node on Amino
   * meets many more IPFS nodes than peerd nodes, often more recently), most recently seen first.
   */
  private async dialKnownPeers (n: number): Promise<void> {
    if (n <= 0) return
    let peers
    try {
      peers = await this.init.host.peerStore.all()
    } catch (err) {
      this.init.log.debug('could not read the peer store', { err })
      return
    }
    const self = this.init.host.peerId.toString()
    const lastSeen = (p: typeof peers[number]): number => {
      const v = p.metadata.get(LAST_SEEN_KEY)
      return v == null ? 0 : Number(new TextDecoder().decode(v)) || 0
    }
    const isNode = (p: typeof peers[number]): boolean => p.protocols.includes(this.init.network.nodeProtocol)
    const candidates = peers
      .filter(p => p.addresses.length > 0 && p.id.toString() !== self && !this.isConnected(p.id.toString()))
      .filter(p => {
        const s = this.backoff.get(p.id.toString())
        return s == null || Date.now() >= s.nextAttempt
      })
      .sort((a, b) => Number(isNode(b)) - Number(isNode(a)) || lastSeen(b) - lastSeen(a))
      .slice(0, n)
    await Promise.all(candidates.map(async p => { await this.dialPeer(p.id, 'known peer') }))
  }

  /** Looks up the peers closest to our own id, which fills the routing table and finds new peers. */
  private async walk (): Promise<void> {
    this.walking = true
    const before = this.connectedPeerCount()
    try {
      const found: PeerId[] = []
      const signal = AbortSignal.timeout(20_000)
      for await (const event of this.init.host.services.dht.getClosestPeers(this.init.host.peerId.toMultihash().bytes, { signal })) {
        if (!this.running) break
        if (event.name === 'FINAL_PEER' || event.name === 'PEER_RESPONSE') {
          const peers = event.name === 'FINAL_PEER' ? [event.peer] : event.closer
          for (const p of peers) if (!this.isConnected(p.id.toString())) found.push(p.id)
        }
      }
      await Promise.all(found.slice(0, this.init.minConnections).map(async id => { await this.dialPeer(id, 'dht') }))
    } catch (err) {
      this.init.log.debug('dht walk ended', { err })
    } finally {
      this.walking = false
      const gained = this.connectedPeerCount() > before
      this.walkInterval = gained ? 2_000 : Math.min(60_000, this.walkInterval * 2)
      this.nextWalk = Date.now() + this.walkInterval
    }
  }
}
