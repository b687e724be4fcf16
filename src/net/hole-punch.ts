/**
 * Direct connections between two nodes behind NATs, by hole punching over a relayed connection
 * (DCUtR, `/libp2p/dcutr`, https://github.com/libp2p/specs/blob/master/relay/DCUtR.md).
 *
 * The peer that received the relayed connection (B) sends CONNECT with its addresses, the other
 * (A) answers CONNECT with its own, B sends SYNC and, after half the round trip it measured,
 * both dial each other at once; the two SYNs cross and open one TCP connection (a TCP
 * simultaneous open), on which A is the libp2p initiator and B the responder.
 *
 * For TCP the addresses must be those the NAT will map each side's *new* connection to, which
 * go-libp2p gets by dialling from its listening port (SO_REUSEPORT). Node cannot set
 * SO_REUSEPORT on an outgoing socket, so each side binds its dial to a fresh local port and
 * announces its public IP (as peers see it, from identify) at that port: a NAT that keeps source
 * ports (endpoint-independent mapping, as most home routers do) maps it to the same public port.
 * Behind a NAT that picks random ports (symmetric) the dials miss and the relayed connection
 * stays. A peer that announces its own addresses (go-libp2p's) is dialled from the fresh port
 * too, so the wire format and the roles are the spec's.
 *
 * The dials go to the transport directly: libp2p's dial queue passes neither `localPort` nor
 * `initiator` on to it (the upgrader still registers the connection with the node).
 *
 * Bounded: one attempt at a time per peer, {@link MAX_ATTEMPTS} tries, at most
 * {@link MAX_CONCURRENT} peers punching at once, a pause of 1 s, then 2 s, between tries, no punch
 * when a direct connection to the peer exists already, answers rate-limited per peer, and
 * punches of either side at most 2 a second in all (each dials an address a peer named).
 * @module
 */
import { createServer } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Connection, PeerId, Startable, Stream, Upgrader } from '@libp2p/interface'
import { isPrivate } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { Logger } from '../utils/logger.ts'
import { SILENT_LOGGER } from '../utils/logger.ts'
import { encodeFrame, ProtocolError, readFrames } from './frames.ts'
import { decodeHolePunch, encodeHolePunch, HolePunchType, MAX_NAT_MESSAGE } from './nat-messages.ts'
import { PeerRateLimiter } from './rate-limit.ts'
import { isRelayed, tcpEndpoint } from './reachability.ts'

/** DCUtR's protocol id. */
export const DCUTR_PROTOCOL = '/libp2p/dcutr'
const MAX_ATTEMPTS = 3
const MAX_CONCURRENT = 8
const STEP_TIMEOUT_MS = 10_000
// the crossing SYNs need a round trip and at most one resend (1 s): a punch that has not
// connected in 5 s will not
const PUNCH_DIAL_TIMEOUT_MS = 5_000
const RETIRE_MS = 5_000
const RETRY_PAUSE_MS = 1_000

/** Counts for status displays and the bench. */
export interface HolePunchStats {
  /** Relayed connections the node tried to upgrade. */
  attempts: number
  /** Upgrades that ended in a direct connection. */
  direct: number
  /** Upgrades that gave up (the relayed connection stays). */
  failed: number
}

/** Options of {@link holePunchService}. */
export interface HolePunchInit {
  log?: Logger
}

interface Components {
  registrar: { handle: (p: string, h: (stream: Stream, connection: Connection) => void, o?: Record<string, unknown>) => Promise<void>, unhandle: (p: string) => Promise<void> }
  transportManager: {
    dial: (ma: Multiaddr, o?: Record<string, unknown>) => Promise<Connection>
    dialTransportForMultiaddr: (ma: Multiaddr) => { dial: (ma: Multiaddr, o: Record<string, unknown>) => Promise<Connection> } | undefined
  }
  upgrader: Upgrader
  connectionManager: { getConnections: (peer?: PeerId) => Connection[] }
  events: EventTarget
  reachability?: { publicIps: () => string[] }
}

/** A free TCP port on this host to dial from (the kernel's pick, released at once). */
async function freePort (): Promise<number> {
  return await new Promise((resolve, reject) => {
    const s = createServer()
    s.unref()
    s.on('error', reject)
    s.listen({ port: 0, host: '0.0.0.0', exclusive: true }, () => {
      const addr = s.address()
      s.close(() => { resolve(typeof addr === 'object' && addr != null ? addr.port : 0) })
    })
  })
}

/**
 * A signal for one dial that aborts with `outer` or after `ms`, and never once `clear` is called.
 * Node's `net.connect` destroys its socket whenever the signal it was given aborts, for the
 * socket's whole life (libp2p's TCP transport passes the dial's signal on), so a plain timeout
 * signal would kill the punched connection `ms` after it opened.
 */
function dialSignal (outer: AbortSignal, ms: number): { signal: AbortSignal, clear: () => void } {
  const ctl = new AbortController()
  const onAbort = (): void => { ctl.abort(outer.reason) }
  outer.addEventListener('abort', onAbort, { once: true })
  const timer = setTimeout(() => { ctl.abort(new ProtocolError(`the hole punch did not connect within ${ms} ms`)) }, ms)
  return { signal: ctl.signal, clear: () => { clearTimeout(timer); outer.removeEventListener('abort', onAbort) } }
}

/** The first public plain-TCP address of `addrs`, with the peer id: the one address a punch dials. */
function punchTarget (addrs: Uint8Array[], peer: PeerId): Multiaddr | undefined {
  for (const a of addrs) {
    let ma: Multiaddr
    try { ma = multiaddr(a) } catch { continue }
    const ep = tcpEndpoint(ma)
    if (ep == null || ep.port === 0 || isPrivate(ma)) continue
    return multiaddr(`/${ep.family === 4 ? 'ip4' : 'ip6'}/${ep.ip}/tcp/${ep.port}/p2p/${peer.toString()}`)
  }
  return undefined
}

/** Hole punching over relayed connections; see the module comment. */
export class HolePunchService implements Startable {
  private readonly c: Components
  private readonly log: Logger
  private readonly publicIpsOf: () => string[]
  private readonly busy = new Set<string>()
  // both ends of a pair may dial each other through the relay at once: a few answers a peer
  private readonly limiter = new PeerRateLimiter(1, 5)
  // every punch dials an address a peer named: bounded in all, not only per peer id (ids are free)
  private readonly overall = new PeerRateLimiter(2, 8, 1)
  private readonly counts: HolePunchStats = { attempts: 0, direct: 0, failed: 0 }
  private readonly controller = new AbortController()
  private readonly onOpen = (evt: Event): void => {
    const conn = (evt as CustomEvent<Connection>).detail
    // B is the side the relayed connection came in to (peerd's relays set no limits, so the address tells)
    if (conn.direction !== 'inbound' || !isRelayed(conn)) return
    void this.upgrade(conn)
  }

  constructor (components: Components, init: HolePunchInit = {}) {
    this.c = components
    this.log = init.log ?? SILENT_LOGGER
    // the node's public IPs as peers see them: the reachability service (listed before this one) keeps them
    this.publicIpsOf = () => this.c.reachability?.publicIps() ?? []
  }

  readonly [Symbol.toStringTag] = 'peerd/hole-punch'

  async start (): Promise<void> {
    await this.c.registrar.handle(DCUTR_PROTOCOL, (stream, connection) => { void this.answer(stream, connection) }, { runOnLimitedConnection: true, maxInboundStreams: 2, maxOutboundStreams: 2 })
    this.c.events.addEventListener('connection:open', this.onOpen)
  }

  async stop (): Promise<void> {
    this.controller.abort()
    this.c.events.removeEventListener('connection:open', this.onOpen)
    await this.c.registrar.unhandle(DCUTR_PROTOCOL).catch(() => {})
  }

  /** Counts so far. */
  stats (): HolePunchStats {
    return { ...this.counts }
  }

  /**
   * Closes the relayed connection once streams already on it have had {@link RETIRE_MS} to
   * finish: new streams go to the direct connection (libp2p prefers it), and a request sent
   * just before the punch is not cut.
   */
  private retire (relayed: Connection): void {
    const t = setTimeout(() => { void relayed.close().catch(() => { relayed.abort(new Error('replaced by a direct connection')) }) }, RETIRE_MS)
    t.unref?.()
  }

  /** Our public IPs at `port`: where the NAT maps a connection from that local port if it keeps ports. */
  private predicted (port: number): Uint8Array[] {
    return this.publicIpsOf().slice(0, 2).map(ip => multiaddr(`/${ip.includes(':') ? 'ip6' : 'ip4'}/${ip}/tcp/${port}`).bytes)
  }

  /** As B: up to {@link MAX_ATTEMPTS} rounds of CONNECT, CONNECT, SYNC and a simultaneous dial. */
  async upgrade (relayed: Connection): Promise<boolean> {
    const peer = relayed.remotePeer.toString()
    // both ends may dial each other through the relay at once: one punch is enough
    if (this.hasDirect(relayed.remotePeer)) { this.retire(relayed); return true }
    if (this.busy.has(peer) || this.busy.size >= MAX_CONCURRENT || !this.overall.take('all')) return false
    this.busy.add(peer)
    this.counts.attempts++
    try {
      for (let attempt = 1; attempt <= MAX_ATTEMPTS && relayed.status === 'open'; attempt++) {
        try {
          if (await this.round(relayed)) {
            this.counts.direct++
            this.log.info('hole punched: direct connection', { peer, attempt })
            this.retire(relayed)
            return true
          }
        } catch (err) {
          this.log.debug('hole punch attempt failed', { peer, attempt, error: (err as Error).message })
        }
        if (this.controller.signal.aborted) break
        if (this.hasDirect(relayed.remotePeer)) { this.counts.direct++; this.retire(relayed); return true }
        // the next round after a pause: a refused round fails at once, and the peer may be busy
        await sleep(RETRY_PAUSE_MS * attempt, undefined, { signal: this.controller.signal }).catch(() => {})
      }
      this.counts.failed++
      return false
    } finally {
      this.busy.delete(peer)
    }
  }

  private async round (relayed: Connection): Promise<boolean> {
    const localPort = await freePort()
    const mine = this.predicted(localPort)
    if (mine.length === 0) throw new ProtocolError('no public address observed yet to punch from')
    const signal = AbortSignal.any([AbortSignal.timeout(STEP_TIMEOUT_MS), this.controller.signal])
    const stream = await relayed.newStream(DCUTR_PROTOCOL, { signal, runOnLimitedConnection: true })
    const frames = readFrames(stream, MAX_NAT_MESSAGE)[Symbol.asyncIterator]()
    try {
      const started = Date.now()
      stream.send(encodeFrame(encodeHolePunch({ type: HolePunchType.CONNECT, addrs: mine })))
      const next = await frames.next()
      if (next.done === true) throw new ProtocolError('DCUtR: the peer closed the stream')
      const theirs = decodeHolePunch(next.value)
      if (theirs.type !== HolePunchType.CONNECT) throw new ProtocolError('DCUtR: expected CONNECT')
      const target = punchTarget(theirs.addrs, relayed.remotePeer)
      if (target == null) throw new ProtocolError('DCUtR: the peer sent no public TCP address')
      const rtt = Date.now() - started
      stream.send(encodeFrame(encodeHolePunch({ type: HolePunchType.SYNC, addrs: [] })))
      await sleep(rtt / 2, undefined, { signal })
      const dial = dialSignal(signal, PUNCH_DIAL_TIMEOUT_MS)
      const direct = await this.dialAsResponder(target, localPort, dial.signal).finally(dial.clear)
      return !isRelayed(direct)
    } finally {
      await stream.close().catch(() => {})
    }
  }

  /**
   * Dials `target` from `localPort` as the libp2p responder (Noise responder, multistream
   * listener, yamux server) of the connection the simultaneous open makes. libp2p's upgrader
   * takes `initiator: false` for Noise and multistream but yamux picks its role from the raw
   * connection's direction, so that is set to inbound before the upgrade.
   */
  private async dialAsResponder (target: Multiaddr, localPort: number, signal: AbortSignal): Promise<Connection> {
    const transport = this.c.transportManager.dialTransportForMultiaddr(target)
    if (transport == null) throw new ProtocolError(`no transport dials ${target.toString()}`)
    const upgrader = this.c.upgrader
    const asResponder = new Proxy(upgrader, {
      get: (t, key) => {
        if (key === 'upgradeOutbound') {
          return async (maConn: { direction: string }, opts: Record<string, unknown>) => {
            maConn.direction = 'inbound'
            return await t.upgradeOutbound(maConn as never, { ...opts, initiator: false } as never)
          }
        }
        const v = Reflect.get(t, key, t) as unknown
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(t) : v
      }
    })
    return await transport.dial(target, { signal, localPort, upgrader: asResponder })
  }

  /** Whether an open direct connection to `peer` exists (a punch already made one). */
  private hasDirect (peer: PeerId): boolean {
    return this.c.connectionManager.getConnections(peer).some(c => c.status === 'open' && !isRelayed(c))
  }

  /** As A: answer CONNECT with our addresses, dial on SYNC. */
  private async answer (stream: Stream, relayed: Connection): Promise<void> {
    const peer = relayed.remotePeer.toString()
    const signal = AbortSignal.any([AbortSignal.timeout(STEP_TIMEOUT_MS), this.controller.signal])
    const onAbort = (): void => { stream.abort(new ProtocolError('DCUtR timed out')) }
    signal.addEventListener('abort', onAbort, { once: true })
    try {
      if (this.hasDirect(relayed.remotePeer)) { this.retire(relayed); return }
      if (!this.limiter.take(peer) || !this.overall.take('all')) throw new ProtocolError('DCUtR: too many attempts')
      const frames = readFrames(stream, MAX_NAT_MESSAGE)[Symbol.asyncIterator]()
      const first = await frames.next()
      if (first.done === true) return
      const theirs = decodeHolePunch(first.value)
      if (theirs.type !== HolePunchType.CONNECT) throw new ProtocolError('DCUtR: expected CONNECT')
      const target = punchTarget(theirs.addrs, relayed.remotePeer)
      const localPort = await freePort()
      stream.send(encodeFrame(encodeHolePunch({ type: HolePunchType.CONNECT, addrs: this.predicted(localPort) })))
      const sync = await frames.next()
      if (sync.done === true || decodeHolePunch(sync.value).type !== HolePunchType.SYNC) throw new ProtocolError('DCUtR: expected SYNC')
      if (target == null) return
      const dial = dialSignal(signal, PUNCH_DIAL_TIMEOUT_MS)
      const direct = await this.c.transportManager.dial(target, { signal: dial.signal, localPort }).finally(dial.clear)
      if (!isRelayed(direct)) {
        this.log.info('hole punched: direct connection', { peer, side: 'A' })
        this.retire(relayed)
      }
    } catch (err) {
      this.log.debug('hole punch (answering) failed', { peer, error: (err as Error).message })
      stream.abort(err as Error)
    } finally {
      signal.removeEventListener('abort', onAbort)
      await stream.close().catch(() => {})
    }
  }
}

/** A libp2p service factory for {@link HolePunchService}. */
export function holePunchService (init: HolePunchInit = {}): (components: Components) => HolePunchService {
  return (components) => new HolePunchService(components, init)
}
