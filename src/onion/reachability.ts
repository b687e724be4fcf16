/**
 * Reachability checks of relay descriptors (issue 16, "Finding relays without authorities"): a
 * descriptor's addresses are signed by the relay, which proves nothing about whether the relay
 * holds them. Tor's authorities connect to a relay before listing it; here each node does it for
 * its own view. For every relay the view holds unverified, the checker dials a declared address
 * as `<address>/p2p/<peer id>`: the Noise handshake succeeds only if the key the descriptor names
 * answers there, so that address's IP may count against the view's caps and the relay may be a
 * hop (`RelayDirectory.markVerified`); a relay no address of which answers is marked failed and
 * leaves the view after a few such checks (`RelayDirectory.markFailed`). A verified relay is
 * checked again every {@link REVERIFY_INTERVAL_MS}, so one that left its address (or held it only
 * for a while) loses its proof and its places.
 *
 * - Addresses tried: the declared `/ip4` and `/ip6` ones in descriptor order, public only off
 *   `regtest` (every relay may list 127.0.0.1; on regtest every node is there), never through a
 *   circuit relay (`/p2p-circuit` proves nothing about an IP); the first that answers verifies.
 * - An open connection is proof already, no dial then: an outbound one to one of those addresses
 *   (its Noise handshake was the same test), or an inbound one from the IP of one of them (the
 *   relay holds that IP, which is what the view's caps count; its port is tested when a circuit
 *   first dials it). Without one, a check dials, even when connected from elsewhere.
 * - Bounds: {@link MAX_CONCURRENT_CHECKS} checks at once, {@link CHECK_TIMEOUT_MS} per check (all
 *   its dials), one check per relay per {@link RECHECK_INTERVAL_MS}, at most
 *   {@link MAX_TRACKED_RELAYS} relays queued or remembered. Relays named by `first` (the entry
 *   guards) go to the front, so a restart's re-check reaches them before any other.
 * - The connection a check opens is left to the connection manager like any other, never closed
 *   here: libp2p hands the newest connection to a peer to the next stream on either side, so an
 *   onion link or a relay exchange may already run on it by the time the check is done, and
 *   closing it would end their circuits. The node would dial a relay anyway to extend a circuit
 *   through it, and the manager prunes past its limits. A relay that had connected to the node
 *   (inbound only) so keeps one more connection.
 *
 * ```ts
 * const directory = await RelayDirectory.open(dir, { network, verifyAddresses: true, self: host.peerId })
 * const checker = new ReachabilityChecker({ host, directory, network, first: () => guards.usable() })
 * checker.start()   // checks every unverified relay now and whenever one is added
 * ```
 * @module
 */
import type { Connection, PeerId } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'
import type { Multiaddr } from '@multiformats/multiaddr'
import { LruMap } from '../net/lru.ts'
import { descriptorIps } from './descriptor.ts'
import type { RelayDescriptor } from './descriptor.ts'
import type { RelayDirectory, RelayEntry, VerifyResult } from './directory.ts'

/** Checks running at once. */
export const MAX_CONCURRENT_CHECKS = 4
/** Least time between two checks of one relay. */
export const RECHECK_INTERVAL_MS = 10 * 60_000
/** Longest one check (every dial it makes) may take. */
export const CHECK_TIMEOUT_MS = 10_000
/** Most relays queued, and most whose last check time is remembered. */
export const MAX_TRACKED_RELAYS = 5000
/** How often the view is scanned for relays due a check (a failed one is retried so). */
export const SCAN_INTERVAL_MS = 60_000
/** How long a dial's proof stands before the relay is checked again. */
export const REVERIFY_INTERVAL_MS = 6 * 3600_000

/** The multicodec of `/p2p`. */
const P2P_CODE = 421

/** What the checker needs of a libp2p host. */
export interface ReachabilityHost {
  readonly peerId: PeerId
  dial: (address: Multiaddr, options: { signal: AbortSignal, force: boolean }) => Promise<Connection>
  getConnections: (peer?: PeerId) => Connection[]
}

/** One finished check. */
export interface ReachabilityEvent {
  peerId: string
  /** What the directory did: `verified`, `refused` (reachable, over a cap), `failed`, `dropped` (failed too often), `unknown` (left the view meanwhile). */
  status: VerifyResult['status']
  /** The declared address that answered. */
  address?: string
  /** `connection`: an open outbound connection proved it; `dial`: a new dial did. */
  via?: 'connection' | 'dial'
  /** How long the check took. */
  ms: number
  /** Why no address answered (the last dial's error). */
  error?: string
}

/** Options of {@link ReachabilityChecker}. */
export interface ReachabilityInit {
  host: ReachabilityHost
  directory: RelayDirectory
  network: string
  /** Relays to check before the others (the entry guards). */
  first?: () => Iterable<PeerId | string>
  /** Called after every check. */
  onResult?: (event: ReachabilityEvent) => void
  /** Default {@link MAX_CONCURRENT_CHECKS}. */
  concurrency?: number
  /** Default {@link RECHECK_INTERVAL_MS}. */
  recheckMs?: number
  /** Default {@link CHECK_TIMEOUT_MS}. */
  timeoutMs?: number
  /** Default {@link MAX_TRACKED_RELAYS}. */
  maxTracked?: number
  /** Default {@link SCAN_INTERVAL_MS}; 0 turns the timer off. */
  scanIntervalMs?: number
  /** Default {@link REVERIFY_INTERVAL_MS}. */
  reverifyMs?: number
  /** The clock `verifiedAt` is compared with (the directory's). */
  now?: () => number
}

/** `address` without its `/p2p/…` part, for comparing where connections go. */
/** The IP of an `/ip4` or `/ip6` multiaddr. */
function ipOf (address: Multiaddr): string | undefined {
  return address.getComponents().find(c => c.name === 'ip4' || c.name === 'ip6')?.value
}

function addressKey (address: Multiaddr): string {
  return address.getComponents().some(c => c.code === P2P_CODE) ? address.decapsulateCode(P2P_CODE).toString() : address.toString()
}

/**
 * The declared addresses a check may dial for `d`, in descriptor order (see the module header),
 * each with the relay's `/p2p/<id>` appended.
 */
export function checkableAddresses (d: Pick<RelayDescriptor, 'addresses' | 'peerId'>, network: string): Array<{ declared: string, dial: Multiaddr }> {
  const id = d.peerId.toString()
  const out: Array<{ declared: string, dial: Multiaddr }> = []
  for (const declared of d.addresses) {
    let ma: Multiaddr
    try { ma = multiaddr(declared) } catch { continue }
    const parts = ma.getComponents()
    if (!parts.some(c => c.name === 'ip4' || c.name === 'ip6') || parts.some(c => c.name === 'p2p-circuit')) continue
    const named = parts.filter(c => c.code === P2P_CODE).map(c => c.value)
    if (named.some(p => p !== id)) continue
    if (network !== 'regtest' && descriptorIps({ addresses: [declared] }).length === 0) continue
    out.push({ declared, dial: named.length > 0 ? ma : ma.encapsulate(`/p2p/${id}`) })
  }
  return out
}

/** Verifies relays' declared addresses by dialing them; see the module header. */
export class ReachabilityChecker {
  readonly concurrency: number
  readonly recheckMs: number
  readonly timeoutMs: number
  readonly maxTracked: number
  readonly reverifyMs: number
  private readonly now: () => number
  private readonly init: ReachabilityInit
  private readonly lastChecked: LruMap<string, number>
  private readonly queue: string[] = []
  private readonly queued = new Set<string>()
  private readonly inFlight = new Set<string>()
  private controller = new AbortController()
  private unsubscribe?: () => void
  private timer?: NodeJS.Timeout
  private started = false

  constructor (init: ReachabilityInit) {
    this.init = init
    this.concurrency = init.concurrency ?? MAX_CONCURRENT_CHECKS
    this.recheckMs = init.recheckMs ?? RECHECK_INTERVAL_MS
    this.timeoutMs = init.timeoutMs ?? CHECK_TIMEOUT_MS
    this.maxTracked = init.maxTracked ?? MAX_TRACKED_RELAYS
    this.reverifyMs = init.reverifyMs ?? REVERIFY_INTERVAL_MS
    this.now = init.now ?? Date.now
    this.lastChecked = new LruMap(this.maxTracked)
  }

  /** Checks every unverified relay in the view, then each one added, and rescans on a timer. */
  start (): void {
    if (this.started) return
    this.started = true
    this.controller = new AbortController()
    this.unsubscribe = this.init.directory.onAdded(entry => { if (!entry.verified) this.schedule(entry.descriptor.peerId.toString()) })
    const every = this.init.scanIntervalMs ?? SCAN_INTERVAL_MS
    if (every > 0) {
      this.timer = setInterval(() => { this.scan() }, every)
      this.timer.unref()
    }
    this.scan()
  }

  /** Stops checking; checks under way are aborted (their relays stay as they were). */
  stop (): void {
    this.started = false
    clearInterval(this.timer)
    this.unsubscribe?.()
    this.controller.abort()
    this.queue.length = 0
    this.queued.clear()
  }

  /** Relays waiting for a check. */
  get pending (): number {
    return this.queue.length
  }

  /** Checks running now. */
  get running (): number {
    return this.inFlight.size
  }

  /** Queues every relay due a check (unverified, or proven longer than `reverifyMs` ago), `first`'s relays at the front. */
  scan (): void {
    if (!this.started) return
    const firstIds = new Set<string>()
    try {
      for (const p of this.init.first?.() ?? []) firstIds.add(p.toString())
    } catch { /* no priority this round */ }
    const now = this.now()
    const due = this.init.directory.relays().filter(e => !e.verified || (e.verifiedAt != null && now - e.verifiedAt >= this.reverifyMs))
    for (const e of due) if (firstIds.has(e.descriptor.peerId.toString())) this.schedule(e.descriptor.peerId.toString(), true)
    for (const e of due) this.schedule(e.descriptor.peerId.toString())
  }

  /** Queues `peerId` unless it is queued, being checked, or was checked within `recheckMs`. */
  private schedule (peerId: string, front = false): void {
    if (!this.started || this.inFlight.has(peerId)) return
    if (this.queued.has(peerId)) {
      if (front) { this.queue.splice(this.queue.indexOf(peerId), 1); this.queue.unshift(peerId) }
      return
    }
    const last = this.lastChecked.peek(peerId)
    if (last != null && Date.now() - last < this.recheckMs) return
    if (this.queue.length >= this.maxTracked) return
    this.queued.add(peerId)
    if (front) this.queue.unshift(peerId)
    else this.queue.push(peerId)
    this.pump()
  }

  private pump (): void {
    while (this.started && this.inFlight.size < this.concurrency && this.queue.length > 0) {
      const peerId = this.queue.shift() as string
      this.queued.delete(peerId)
      this.inFlight.add(peerId)
      this.lastChecked.set(peerId, Date.now())
      void this.check(peerId).catch(() => {}).finally(() => {
        this.inFlight.delete(peerId)
        this.pump()
      })
    }
  }

  /** One check of `peerId`: an open connection or a dial to a declared address, then the directory's verdict. */
  private async check (peerId: string): Promise<void> {
    const entry = this.init.directory.get(peerId)
    // verified without a dial (this node): nothing to check
    if (entry == null || (entry.verified && entry.verifiedAt == null)) return
    const started = performance.now()
    const proof = await this.prove(entry)
    // stopped meanwhile, or this node's own descriptor naming no address: nothing to conclude
    if (!this.started || (proof.address == null && entry.descriptor.peerId.equals(this.init.host.peerId))) return
    const result = proof.address != null
      ? await this.init.directory.markVerified(peerId, proof.address)
      : await this.init.directory.markFailed(peerId)
    this.init.onResult?.({ peerId, status: result.status, address: proof.address, via: proof.via, ms: performance.now() - started, error: proof.error })
  }

  private async prove (entry: RelayEntry): Promise<{ address?: string, via?: 'connection' | 'dial', error?: string }> {
    const { host, network } = this.init
    const peer = entry.descriptor.peerId
    const candidates = checkableAddresses(entry.descriptor, network)
    if (peer.equals(host.peerId)) return { address: candidates[0]?.declared ?? entry.descriptor.addresses[0], via: 'connection' }
    if (candidates.length === 0) return { error: 'no address this node may dial to check it' }
    const existing = host.getConnections(peer).filter(c => c.status === 'open')
    for (const c of existing) {
      if (c.limits != null) continue
      // outbound: the relay answered at that very address; inbound: it connected from that IP,
      // which is what the view's caps count (the port is tested when a circuit dials it)
      const found = c.direction === 'outbound'
        ? candidates.find(a => addressKey(a.dial) === addressKey(c.remoteAddr))
        : candidates.find(a => ipOf(a.dial) != null && ipOf(a.dial) === ipOf(c.remoteAddr))
      if (found != null) return { address: found.declared, via: 'connection' }
    }
    const signal = AbortSignal.any([this.controller.signal, AbortSignal.timeout(this.timeoutMs)])
    let error = 'no address answered'
    for (const a of candidates) {
      if (signal.aborted) break
      let conn: Connection
      try {
        conn = await host.dial(a.dial, { signal, force: true })
      } catch (err) {
        error = (err as Error).message
        continue
      }
      // a dial can join one already under way to other addresses: only a connection to this address proves it
      if (conn.remotePeer.equals(peer) && addressKey(conn.remoteAddr) === addressKey(a.dial)) return { address: a.declared, via: 'dial' }
      error = `a dial to ${a.declared} reached ${conn.remoteAddr.toString()}`
    }
    return { error }
  }
}
