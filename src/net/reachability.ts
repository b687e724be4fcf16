/**
 * Whether peers can dial this node, found out with AutoNAT v1 (`/libp2p/autonat/1.0.0`), and
 * what follows from it: a node that is reachable gets its public address confirmed (announced
 * to peers and in the DHT); one behind a NAT listens on `/p2p-circuit`, so the relay transport
 * takes reservations on relays among its peers and announces the relayed addresses.
 *
 * peerd runs both ends of AutoNAT itself rather than `@libp2p/autonat`: js-libp2p's identify
 * ignores observed TCP addresses (js-libp2p#2620), so its AutoNAT has nothing to verify over
 * TCP, and its server answers a request by reusing the connection the request came on, so every
 * dial-back "fails". Here:
 *
 * - the addresses peers see us at come from identify (`observedAddr`, public IPs only, a
 *   bounded table);
 * - the client asks connected peers to dial that IP at each of our listening TCP ports; two
 *   answers from peers at different IPs decide (one when only one peer can answer): any OK is
 *   public, dial errors only is private. It asks again soon when the node's own addresses
 *   change (a UPnP mapping appears). It asks peerd peers first and never js-libp2p's own
 *   AutoNAT servers (Helia's), which answer every request with a dial error. It asks again every
 *   {@link RECHECK_MS};
 * - the server dials back on a new connection (`force`), only the IP the request came from
 *   (no amplification towards third parties), at most 4 addresses, with a per-peer rate and a
 *   cap on concurrent dial-backs.
 * @module
 */
import type { Connection, PeerId, Startable, Stream } from '@libp2p/interface'
import { isPrivate } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { Logger } from '../utils/logger.ts'
import { SILENT_LOGGER } from '../utils/logger.ts'
import { encodeFrame, readFrames } from './frames.ts'
import { LruMap } from './lru.ts'
import { decodeDialRequest, decodeDialResponse, DialStatus, encodeDialRequest, encodeDialResponse, MAX_NAT_ADDRS, MAX_NAT_MESSAGE } from './nat-messages.ts'
import { PeerRateLimiter } from './rate-limit.ts'

/** AutoNAT v1's protocol id. */
export const AUTONAT_PROTOCOL = '/libp2p/autonat/1.0.0'
/** How often a decided node checks again: the answer holds until the network changes, rarely in minutes. */
export const RECHECK_MS = 15 * 60_000
const FIRST_CHECK_MS = 1_000
const RETRY_MS = 5_000
const REQUEST_TIMEOUT_MS = 15_000
// a SYN that a NAT drops is resent after 1 s and 3 s: 5 s covers both on any real path
const DIAL_BACK_TIMEOUT_MS = 5_000
const MAX_DIAL_BACKS = 4
const MAX_OBSERVED_IPS = 16

/** What this node knows of its reachability. */
export type Reachability = 'unknown' | 'public' | 'private'

/** A snapshot for status displays. */
export interface ReachabilityStatus {
  reachability: Reachability
  /** Public IPs peers see this node at, most reported first. */
  observedIps: string[]
}

/** Options of {@link reachabilityService}. */
export interface ReachabilityInit {
  log?: Logger
  /** Skip the client (tests of other parts, or a node that must not take reservations). */
  client?: boolean
}

interface Components {
  peerId: PeerId
  registrar: { handle: (p: string, h: (stream: Stream, connection: Connection) => void, o?: Record<string, unknown>) => Promise<void>, unhandle: (p: string) => Promise<void> }
  connectionManager: { openConnection: (ma: Multiaddr | Multiaddr[], o?: Record<string, unknown>) => Promise<Connection>, getConnections: (peer?: PeerId) => Connection[] }
  transportManager: { getAddrs: () => Multiaddr[], listen: (addrs: Multiaddr[]) => Promise<void> }
  addressManager: { addObservedAddr: (ma: Multiaddr) => void, confirmObservedAddr: (ma: Multiaddr) => void, removeObservedAddr: (ma: Multiaddr) => void, getAddresses: () => Multiaddr[] }
  peerStore: { get: (peer: PeerId) => Promise<{ protocols: string[], metadata?: Map<string, Uint8Array> }> }
  events: EventTarget
}

/** The IP (v4 or v6) and TCP port of a plain TCP multiaddr, or undefined. */
export function tcpEndpoint (ma: Multiaddr): { ip: string, port: number, family: 4 | 6 } | undefined {
  const c = ma.getComponents()
  const [a, b] = c
  if (a == null || b == null || b.name !== 'tcp' || c.some(x => x.name === 'p2p-circuit' || x.name === 'ws' || x.name === 'wss')) return undefined
  if (a.name !== 'ip4' && a.name !== 'ip6') return undefined
  return { ip: a.value ?? '', port: Number(b.value), family: a.name === 'ip4' ? 4 : 6 }
}

/** Whether `conn` goes through a relay (peerd's relays set no limits, so the address tells). */
export function isRelayed (conn: Connection): boolean {
  return conn.remoteAddr.getComponents().some(c => c.name === 'p2p-circuit')
}

/** Reachability over AutoNAT; see the module comment. */
export class ReachabilityService implements Startable {
  private readonly c: Components
  private readonly log: Logger
  private readonly clientOn: boolean
  private state: Reachability = 'unknown'
  private checkedAt: number | undefined
  private relayListening = false
  private confirmed: Multiaddr[] = []
  private readonly observed = new LruMap<string, Set<string>>(MAX_OBSERVED_IPS)
  private readonly limiter = new PeerRateLimiter(0.2, 3)
  private dialBacks = 0
  private timer: ReturnType<typeof setTimeout> | undefined
  private running = false
  private checking = false
  private readonly controller = new AbortController()
  private readonly onIdentify = (evt: Event): void => {
    const detail = (evt as CustomEvent<{ peerId: PeerId, observedAddr?: Multiaddr, connection?: Connection }>).detail
    if (detail.observedAddr == null || detail.connection == null || isRelayed(detail.connection)) return
    const ep = tcpEndpoint(detail.observedAddr)
    if (ep == null || isPrivate(detail.observedAddr)) return
    const peers = this.observed.get(ep.ip) ?? new Set<string>()
    if (peers.size < 32) peers.add(detail.peerId.toString())
    this.observed.set(ep.ip, peers)
    if (this.state === 'unknown') this.schedule(FIRST_CHECK_MS)
  }

  constructor (components: Components, init: ReachabilityInit = {}) {
    this.c = components
    this.log = init.log ?? SILENT_LOGGER
    this.clientOn = init.client !== false
  }

  readonly [Symbol.toStringTag] = 'peerd/reachability'

  /**
   * The node's own addresses changed (a UPnP mapping appeared or went, a listener was added): the
   * last answer may no longer hold, so check again soon rather than at the next recheck.
   */
  private readonly onSelfUpdate = (): void => {
    const mine = this.c.addressManager.getAddresses().filter(a => tcpEndpoint(a) != null).map(String).sort().join(' ')
    if (mine === this.lastAddresses) return
    this.lastAddresses = mine
    if (this.checkedAt == null) return
    clearTimeout(this.timer)
    this.timer = undefined
    this.schedule(FIRST_CHECK_MS)
  }

  private lastAddresses = ''

  async start (): Promise<void> {
    this.running = true
    await this.c.registrar.handle(AUTONAT_PROTOCOL, (stream, connection) => { void this.serve(stream, connection) }, { maxInboundStreams: 2, maxOutboundStreams: 4 })
    if (this.clientOn) {
      this.c.events.addEventListener('peer:identify', this.onIdentify)
      this.c.events.addEventListener('self:peer:update', this.onSelfUpdate)
    }
  }

  async stop (): Promise<void> {
    this.running = false
    this.controller.abort()
    clearTimeout(this.timer)
    this.c.events.removeEventListener('peer:identify', this.onIdentify)
    this.c.events.removeEventListener('self:peer:update', this.onSelfUpdate)
    await this.c.registrar.unhandle(AUTONAT_PROTOCOL).catch(() => {})
  }

  /** The current state, for `peerd status` and the API. */
  status (): ReachabilityStatus {
    return {
      reachability: this.state,
      observedIps: this.publicIps()
    }
  }

  /** Public IPs peers see this node at, the most often reported first (hole punching predicts ports on them). */
  publicIps (): string[] {
    return [...this.observed.entries()].sort((a, b) => b[1].size - a[1].size).map(([ip]) => ip)
  }

  private schedule (ms: number): void {
    if (!this.running || this.timer != null || this.checking) return
    this.timer = setTimeout(() => {
      this.timer = undefined
      this.checking = true
      void this.check()
        .catch(err => { this.log.debug('reachability check failed', { error: (err as Error).message }) })
        .finally(() => {
          this.checking = false
          if (this.timer == null) this.schedule(this.state === 'unknown' ? RETRY_MS : RECHECK_MS)
        })
    }, ms)
    this.timer.unref?.()
  }

  /** The addresses to have dialled: every observed public IP at each listening TCP port of its family. */
  private candidates (): Multiaddr[] {
    const ports = this.c.transportManager.getAddrs().map(tcpEndpoint).filter(e => e != null)
    const out: Multiaddr[] = []
    for (const ip of this.publicIps().slice(0, 2)) {
      const v6 = ip.includes(':')
      for (const p of ports) {
        if ((p.family === 6) !== v6) continue
        const ma = multiaddr(`/${v6 ? 'ip6' : 'ip4'}/${ip}/tcp/${p.port}`)
        if (!out.some(o => o.equals(ma))) out.push(ma)
      }
    }
    return out.slice(0, 4)
  }

  /** One round: ask up to three peers at different IPs, decide on their answers (the timer schedules the next). */
  async check (): Promise<Reachability> {
    const candidates = this.candidates()
    if (candidates.length === 0) return this.state
    // peerd peers first: js-libp2p's own AutoNAT server (Helia's) answers every request with a
    // dial error; other servers (Kubo's) only when no peerd peer can answer
    const peerd: Connection[] = []
    const others: Connection[] = []
    const ips = new Set<string>()
    for (const conn of this.c.connectionManager.getConnections()) {
      if (isRelayed(conn) || conn.status !== 'open') continue
      const ep = tcpEndpoint(conn.remoteAddr)
      if (ep == null || ips.has(ep.ip)) continue
      const peer = await this.c.peerStore.get(conn.remotePeer).catch(() => undefined)
      const protocols = peer?.protocols ?? []
      if (!protocols.includes(AUTONAT_PROTOCOL)) continue
      const agent = new TextDecoder().decode(peer?.metadata?.get('AgentVersion') ?? new Uint8Array())
      if (agent.startsWith('js-libp2p') || agent.includes('helia')) continue
      ips.add(ep.ip)
      ;(protocols.some(p => p.startsWith('/peerd/')) ? peerd : others).push(conn)
      if (peerd.length === 3) break
    }
    const servers = [...peerd, ...others].slice(0, 3)
    if (servers.length === 0) return this.state
    const answers = await Promise.all(servers.map(async conn => await this.ask(conn, candidates).catch(() => undefined)))
    const ok = answers.filter(a => a?.status === DialStatus.OK)
    const failed = answers.filter(a => a?.status === DialStatus.E_DIAL_ERROR)
    const needed = Math.min(2, servers.length)
    if (ok.length === 0 && failed.length < needed) return this.state
    this.checkedAt = Date.now()
    if (ok.length > 0) {
      const reached = ok.map(a => a?.addr).filter(a => a != null).map(a => { try { return multiaddr(a) } catch { return undefined } }).filter(a => a != null)
      await this.decide('public', reached.length > 0 ? reached : candidates)
    } else {
      await this.decide('private', [])
    }
    return this.state
  }

  private async decide (state: Reachability, reached: Multiaddr[]): Promise<void> {
    if (state !== this.state) this.log.info(state === 'public' ? 'reachable from the Internet: announcing the public address' : 'behind a NAT: taking relay reservations and announcing relayed addresses', { addresses: reached.map(String) })
    this.state = state
    for (const ma of this.confirmed) this.c.addressManager.removeObservedAddr(ma)
    this.confirmed = []
    if (state === 'public') {
      for (const ma of reached) {
        if (tcpEndpoint(ma) == null) continue
        this.c.addressManager.addObservedAddr(ma)
        this.c.addressManager.confirmObservedAddr(ma)
        this.confirmed.push(ma)
      }
    } else if (!this.relayListening) {
      // the relay transport reserves a slot on a relay among the node's peers for this listener
      this.relayListening = true
      await this.c.transportManager.listen([multiaddr('/p2p-circuit')]).catch(err => {
        this.relayListening = false
        this.log.warn('could not listen on relays', { error: (err as Error).message })
      })
    }
  }

  /** Asks the peer on `conn` to dial us at `addrs`; its answer. */
  private async ask (conn: Connection, addrs: Multiaddr[]): Promise<{ status: number, addr?: Uint8Array }> {
    const signal = AbortSignal.any([AbortSignal.timeout(REQUEST_TIMEOUT_MS), this.controller.signal])
    const stream = await conn.newStream(AUTONAT_PROTOCOL, { signal })
    try {
      stream.send(encodeFrame(encodeDialRequest(this.c.peerId.toMultihash().bytes, addrs.map(a => a.bytes))))
      const onAbort = (): void => { stream.abort(new Error('AutoNAT request timed out')) }
      signal.addEventListener('abort', onAbort, { once: true })
      try {
        for await (const frame of readFrames(stream, MAX_NAT_MESSAGE)) {
          const res = decodeDialResponse(frame)
          this.log.debug('AutoNAT answer', { peer: conn.remotePeer.toString(), status: res.status, text: res.statusText })
          return res
        }
      } finally {
        signal.removeEventListener('abort', onAbort)
      }
      throw new Error('no AutoNAT answer')
    } finally {
      await stream.close().catch(() => {})
    }
  }

  /** Server: dials the requester back on a new connection at the addresses it may ask for. */
  private async serve (stream: Stream, conn: Connection): Promise<void> {
    const signal = AbortSignal.any([AbortSignal.timeout(REQUEST_TIMEOUT_MS), this.controller.signal])
    const answer = (status: number, statusText: string, addr?: Uint8Array): void => {
      stream.send(encodeFrame(encodeDialResponse(status, statusText, addr)))
    }
    try {
      if (isRelayed(conn)) { answer(DialStatus.E_DIAL_REFUSED, 'not over a relay'); return }
      if (!this.limiter.take(conn.remotePeer.toString()) || this.dialBacks >= MAX_DIAL_BACKS) { answer(DialStatus.E_DIAL_REFUSED, 'too many requests'); return }
      let request: Uint8Array | undefined
      for await (const f of readFrames(stream, MAX_NAT_MESSAGE)) { request = f; break }
      if (request == null) return
      const asked = decodeDialRequestAddrs(request, conn.remotePeer)
      const from = tcpEndpoint(conn.remoteAddr)?.ip
      const targets = asked.filter(ma => {
        const ep = tcpEndpoint(ma)
        return ep != null && ep.ip === from && !isPrivate(ma) && ep.port > 0
      }).slice(0, 4)
      if (targets.length === 0) { answer(DialStatus.E_DIAL_REFUSED, 'no address at the IP the request came from'); return }
      this.dialBacks++
      try {
        let last = targets[0] as Multiaddr
        for (const ma of targets) {
          last = ma
          try {
            const back = await this.c.connectionManager.openConnection(ma.encapsulate(`/p2p/${conn.remotePeer.toString()}`), {
              signal: AbortSignal.any([signal, AbortSignal.timeout(DIAL_BACK_TIMEOUT_MS)]), force: true
            })
            await back.close().catch(() => {})
            answer(DialStatus.OK, '', ma.bytes)
            return
          } catch { /* try the next address */ }
        }
        answer(DialStatus.E_DIAL_ERROR, 'dial back failed', last.bytes)
      } finally {
        this.dialBacks--
      }
    } catch (err) {
      stream.abort(err as Error)
    } finally {
      await stream.close().catch(() => {})
    }
  }
}

/** The addresses of a DIAL request, if its peer id is the requester's own (else none). */
function decodeDialRequestAddrs (buf: Uint8Array, requester: PeerId): Multiaddr[] {
  const { id, addrs } = decodeDialRequest(buf)
  const mine = requester.toMultihash().bytes
  if (id.length !== mine.length || !id.every((b, i) => b === mine[i])) return []
  const out: Multiaddr[] = []
  for (const a of addrs.slice(0, MAX_NAT_ADDRS)) { try { out.push(multiaddr(a)) } catch { /* skip */ } }
  return out
}

/** A libp2p service factory for {@link ReachabilityService}. */
export function reachabilityService (init: ReachabilityInit = {}): (components: Components) => ReachabilityService {
  return (components) => new ReachabilityService(components, init)
}
