/**
 * The client's circuits (issue 16): which circuit a new stream uses, when a circuit is built,
 * retired and torn down. Tor's rules, simplified (path-spec "Handling failure", tor's
 * `MaxCircuitDirtiness`, `IsolateSOCKSAuth`):
 *
 * - A stream goes on an open circuit of the same purpose and isolation key whose exit accepts its
 *   target, first used less than {@link MAX_DIRTINESS_MS} ago; otherwise a new circuit is built.
 *   Streams with different SOCKS credentials never share a circuit.
 * - A circuit that dies under a stream being opened (a relay killed, DESTROY, a tampered cell) is
 *   dropped and the stream is tried once more on a new circuit, so the user's next request
 *   succeeds. A refusal by the exit (its policy, a refused connect) is the answer, not retried.
 * - A build tries the first hop's link separately: a guard that cannot be reached is marked down
 *   in the guard set (which retries it later and never replaces it for failing once); a later
 *   hop that fails gets left out of the next attempt. Three attempts per stream.
 * - `retireAll()` (Tor's NEWNYM) marks every circuit dirty: no new streams, torn down when its
 *   streams end. A sweep tears down dirty idle circuits and circuits unused for an hour.
 * @module
 */
import { isIP } from 'node:net'
import type { PeerId } from '@libp2p/interface'
import { LruMap } from '../net/lru.ts'
import { buildCircuit } from './circuit.ts'
import type { Circuit, OpenTarget } from './circuit.ts'
import type { RelayDescriptor } from './descriptor.ts'
import type { RelayDirectory } from './directory.ts'
import { NoPathError } from './directory-errors.ts'
import { CircuitClosedError } from './errors.ts'
import type { GuardSet } from './guards.ts'
import type { LinkManager } from './link.ts'
import { canExitTo, selectPath, selectPathTo } from './path.ts'
import type { PathTarget } from './path.ts'
import type { OnionStream } from './stream.ts'
import { EndReason, StreamClosedError } from './stream-errors.ts'
import type { CircuitInfo } from './types.ts'

/** How long after its first stream a circuit takes new streams (tor's MaxCircuitDirtiness). */
export const MAX_DIRTINESS_MS = 10 * 60_000
/** An open circuit no stream ever used is torn down after this long. */
export const MAX_IDLE_MS = 60 * 60_000
/** Builds tried for one stream. */
export const BUILD_ATTEMPTS = 3
/** How long one build may take (tor's circuit build timeout tops out near a minute; three hops at 10 s each). */
export const BUILD_TIMEOUT_MS = 30_000
/** How long a stream may wait for CONNECTED before its circuit is given up for another. */
export const STREAM_TIMEOUT_MS = 15_000
/** How long a build waits for relays being checked when the view has no path yet. */
export const PATH_WAIT_MS = 10_000
/** Most circuits this client keeps (open or building): a bound on what a runaway caller costs. */
export const MAX_CIRCUITS = 64
const SWEEP_MS = 15_000
/** How long a relay that failed a build is left out of new paths (it may be gone; its descriptor lives on for hours). */
export const FAILED_RELAY_MS = 10 * 60_000
/** Relays remembered as failed, at most. */
const MAX_FAILED = 256

/** What a circuit is for. */
export type CircuitPurpose = CircuitInfo['purpose']

/** One client circuit and its bookkeeping. */
interface Entry {
  id: string
  purpose: CircuitPurpose
  isolation: string
  path: RelayDescriptor[]
  circuit?: Circuit
  state: CircuitInfo['state']
  createdAt: number
  firstUsedAt?: number
  dirty: boolean
  /** Not swept for idleness (an onion service's introduction and rendezvous circuits: their other end decides). */
  pinned?: boolean
}

/** Options of {@link CircuitPool}. */
export interface CircuitPoolInit {
  links: LinkManager
  directory: RelayDirectory
  guards: GuardSet
  network: string
  self: PeerId
  /** A known address of a relay, for `peerd onion circuits` (the first hop's connection). */
  addressOf?: (peer: PeerId) => string | undefined
  /** Relays waiting for or in a reachability check: while there are some, a missing path may appear soon. */
  checking?: () => number
  /** Told of each build, success or not (logs). */
  onBuild?: (event: { ok: boolean, ms: number, hops: string[], error?: Error }) => void
}

/** The stream's destination as path selection needs it. */
function pathTarget (target: OpenTarget): PathTarget {
  if ('peer' in target) return { kind: 'peerd' }
  const host = target.host.replace(/^\[|\]$/g, '')
  // a name is resolved at the exit: only an IP literal narrows the choice of exit
  return { kind: 'tcp', address: isIP(host) !== 0 ? host : undefined, port: target.port }
}

/** Whether an error means the circuit failed (so another circuit may succeed), not that the exit refused. */
function circuitFailed (err: unknown): boolean {
  if (err instanceof StreamClosedError) return err.reason === EndReason.DESTROY
  return err instanceof CircuitClosedError || (err as Error)?.name === 'TimeoutError'
}

function isAborted (signal?: AbortSignal): boolean {
  return signal?.aborted === true
}

/** The client's circuits; see the module header. */
export class CircuitPool {
  private readonly init: CircuitPoolInit
  private readonly entries = new Map<string, Entry>()
  /** Relays that failed a build lately, and when. */
  private readonly failed = new LruMap<string, number>(MAX_FAILED)
  private nextId = 1
  private timer?: NodeJS.Timeout

  constructor (init: CircuitPoolInit) {
    this.init = init
  }

  start (): void {
    this.timer = setInterval(() => { this.sweep() }, SWEEP_MS)
    this.timer.unref()
  }

  stop (): void {
    clearInterval(this.timer)
    for (const e of this.entries.values()) e.circuit?.destroy()
    this.entries.clear()
  }

  /**
   * Opens a stream to `target` through a circuit of `purpose` and `isolation`, reusing one when the
   * rules allow; a circuit that dies on the way is replaced once.
   *
   * @throws {NoPathError} when the relay view cannot make a path to the target
   * @throws {StreamRefusedError} when the exit refuses (policy, refused connect, unknown name)
   * @throws {CircuitClosedError} when circuits keep failing
   */
  async openStream (target: OpenTarget, options: { purpose: CircuitPurpose, isolation?: string, signal?: AbortSignal }): Promise<OnionStream> {
    const isolation = options.isolation ?? ''
    let lastError: unknown
    for (let round = 0; round < 2; round++) {
      const entry = this.find(target, options.purpose, isolation) ?? await this.build(target, options.purpose, isolation, options.signal)
      const circuit = entry.circuit as Circuit
      entry.firstUsedAt ??= Date.now()
      try {
        const signal = AbortSignal.any([AbortSignal.timeout(STREAM_TIMEOUT_MS), ...(options.signal != null ? [options.signal] : [])])
        return await circuit.openStream(target, { signal })
      } catch (err) {
        lastError = err
        if (options.signal?.aborted === true || !(circuitFailed(err) || circuit.closed)) throw err
        // the circuit is gone or stuck: drop it and try a new one once
        entry.dirty = true
        circuit.destroy()
      }
    }
    throw lastError
  }

  /** Builds a circuit now (a preemptive circuit, or the bench's build time). */
  async prebuild (target: OpenTarget, purpose: CircuitPurpose, isolation = ''): Promise<CircuitInfo> {
    return this.info(await this.build(target, purpose, isolation))
  }

  /**
   * Builds a circuit of `hops` hops that ends at `last` (an onion service's introduction or
   * rendezvous point), for `purpose`; a failed build is retried with other middles, up to
   * {@link BUILD_ATTEMPTS}. `pinned` circuits are never torn down for idleness.
   *
   * @throws {NoPathError} when the relay view has too few relays
   * @throws {CircuitClosedError} when builds keep failing
   */
  async buildTo (last: { peerId: PeerId, onionKey: Uint8Array }, options: { hops: 3 | 4, purpose: CircuitPurpose, pinned?: boolean, signal?: AbortSignal }): Promise<Circuit> {
    this.sweep()
    if (this.entries.size >= MAX_CIRCUITS) throw new CircuitClosedError(`this node has ${this.entries.size} circuits, the most it keeps; wait for some to close or retire them (peerd onion new-circuits)`)
    const descriptor = this.init.directory.get(last.peerId)?.descriptor
    const lastHop: RelayDescriptor = descriptor ?? ({ peerId: last.peerId, onionKey: last.onionKey, addresses: [], family: [], bandwidth: 0 } as unknown as RelayDescriptor)
    const exclude: string[] = []
    const now = Date.now()
    for (const [peer, at] of this.failed.entries()) if (now - at < FAILED_RELAY_MS) exclude.push(peer)
    let lastError: Error | undefined
    for (let attempt = 0; attempt < BUILD_ATTEMPTS; attempt++) {
      if (options.signal?.aborted === true) throw options.signal.reason
      const before = await this.waitForPath(() => selectPathTo({ relays: this.init.directory.relays(), guards: this.init.guards.usable(), network: this.init.network, self: this.init.self, exclude, last: { peerId: last.peerId, descriptor }, hops: options.hops }), options.signal)
      const path = descriptor != null ? before : [...before, lastHop]
      const entry: Entry = { id: String(this.nextId++), purpose: options.purpose, isolation: '', path, state: 'building', createdAt: Date.now(), dirty: false, pinned: options.pinned }
      this.entries.set(entry.id, entry)
      const hops = path.map(d => d.peerId.toString())
      let built = 0
      const started = performance.now()
      try {
        const timeout = AbortSignal.any([AbortSignal.timeout(BUILD_TIMEOUT_MS), ...(options.signal != null ? [options.signal] : [])])
        const pathHops = path.map((d, i) => i === path.length - 1 ? { peerId: last.peerId, onionKey: last.onionKey } : d)
        const circuit = await buildCircuit(this.init.links, pathHops, { signal: timeout, onHop: n => { built = n } })
        await this.init.guards.markSucceeded(path[0]?.peerId as PeerId).catch(() => {})
        entry.circuit = circuit
        entry.state = 'open'
        entry.firstUsedAt = Date.now()
        circuit.onClose = () => { entry.state = 'closed'; this.entries.delete(entry.id) }
        this.init.onBuild?.({ ok: true, ms: circuit.buildMs, hops })
        return circuit
      } catch (err) {
        this.entries.delete(entry.id)
        lastError = err as Error
        this.init.onBuild?.({ ok: false, ms: performance.now() - started, hops, error: lastError })
        if (isAborted(options.signal)) throw err
        const culprit = hops[built]
        // the fixed last hop is not excluded: the caller decides to try another introduction point
        if (culprit != null && built < hops.length - 1) { this.failed.set(culprit, Date.now()); exclude.push(culprit) }
        if (built === hops.length - 1) break
      }
    }
    throw new CircuitClosedError(`could not build a circuit to ${last.peerId.toString()}: ${lastError?.message ?? 'unknown error'}`, { cause: lastError })
  }

  private async waitForPath (select: () => RelayDescriptor[], signal?: AbortSignal): Promise<RelayDescriptor[]> {
    const deadline = Date.now() + PATH_WAIT_MS
    for (;;) {
      try {
        return select()
      } catch (err) {
        if (!(err instanceof NoPathError) || (this.init.checking?.() ?? 0) === 0 || Date.now() > deadline || isAborted(signal)) throw err
        await new Promise(resolve => setTimeout(resolve, 100))
      }
    }
  }

  /** Marks the circuits of `isolation` dirty and tears down those without streams (a caller done with a one-off circuit). */
  release (isolation: string, options: { prefix?: boolean } = {}): void {
    for (const e of [...this.entries.values()]) {
      const match = options.prefix === true ? e.isolation.startsWith(isolation) : e.isolation === isolation
      if (!match || e.pinned === true) continue
      e.dirty = true
      if (e.state === 'open' && e.circuit != null && e.circuit.streamsOpen === 0) {
        e.circuit.destroy()
        this.entries.delete(e.id)
      }
    }
  }

  /** Marks every circuit dirty (no new streams); returns how many open ones were retired. */
  retireAll (): number {
    let n = 0
    for (const e of this.entries.values()) {
      if (e.state === 'open' && !e.dirty) n++
      e.dirty = true
    }
    this.sweep()
    return n
  }

  /** Every circuit, as the API shows it. */
  list (): CircuitInfo[] {
    return [...this.entries.values()].map(e => this.info(e))
  }

  /** Open circuits now. */
  get open (): number {
    let n = 0
    for (const e of this.entries.values()) if (e.state === 'open') n++
    return n
  }

  private info (e: Entry): CircuitInfo {
    const c = e.circuit
    return {
      id: e.id,
      purpose: e.purpose,
      state: e.state,
      hops: e.path.map((d, i) => ({ peerId: d.peerId.toString(), address: (i === 0 ? this.init.addressOf?.(d.peerId) : undefined) ?? d.addresses[0] })),
      createdAt: new Date(e.createdAt).toISOString(),
      ageSeconds: Math.floor((Date.now() - e.createdAt) / 1000),
      buildMs: c != null && e.state !== 'building' ? Math.round(c.buildMs) : null,
      bytesSent: c?.bytesSent ?? 0,
      bytesReceived: c?.bytesReceived ?? 0,
      streams: c?.streamsOpen ?? 0,
      dirty: e.dirty,
      ...(e.isolation !== '' ? { isolation: e.isolation.slice(0, 16) } : {})
    }
  }

  private find (target: OpenTarget, purpose: CircuitPurpose, isolation: string): Entry | undefined {
    const t = pathTarget(target)
    const now = Date.now()
    const avoid = 'peer' in target ? target.peer.toString() : undefined
    for (const e of this.entries.values()) {
      if (e.state !== 'open' || e.dirty || e.purpose !== purpose || e.isolation !== isolation) continue
      if (e.firstUsedAt != null && now - e.firstUsedAt > MAX_DIRTINESS_MS) { e.dirty = true; continue }
      const exit = e.path[e.path.length - 1] as RelayDescriptor
      if (avoid != null && e.path.some(d => d.peerId.toString() === avoid)) continue
      if (canExitTo(exit, t)) return e
    }
    return undefined
  }

  private async build (target: OpenTarget, purpose: CircuitPurpose, isolation: string, signal?: AbortSignal): Promise<Entry> {
    this.sweep()
    if (this.entries.size >= MAX_CIRCUITS) throw new CircuitClosedError(`this node has ${this.entries.size} circuits, the most it keeps; wait for some to close or retire them (peerd onion new-circuits)`)
    const now = Date.now()
    const exclude: string[] = []
    for (const [peer, at] of this.failed.entries()) if (now - at < FAILED_RELAY_MS) exclude.push(peer)
    if ('peer' in target) exclude.push(target.peer.toString())
    let lastError: Error | undefined
    for (let attempt = 0; attempt < BUILD_ATTEMPTS; attempt++) {
      if (signal?.aborted === true) throw signal.reason
      const path = await this.selectPath(target, exclude, signal)
      const entry: Entry = { id: String(this.nextId++), purpose, isolation, path, state: 'building', createdAt: Date.now(), dirty: false }
      this.entries.set(entry.id, entry)
      const started = performance.now()
      const hops = path.map(d => d.peerId.toString())
      const guard = path[0] as RelayDescriptor
      let built = 0
      try {
        const timeout = AbortSignal.any([AbortSignal.timeout(BUILD_TIMEOUT_MS), ...(signal != null ? [signal] : [])])
        try {
          await this.init.links.get(guard.peerId, { signal: timeout })
        } catch (err) {
          await this.init.guards.markFailed(guard.peerId).catch(() => {})
          throw new CircuitClosedError(`cannot reach entry guard ${hops[0] ?? ''}: ${(err as Error).message}`, { cause: err })
        }
        const circuit = await buildCircuit(this.init.links, path, { signal: timeout, onHop: n => { built = n } })
        await this.init.guards.markSucceeded(guard.peerId).catch(() => {})
        entry.circuit = circuit
        entry.state = 'open'
        circuit.onClose = () => {
          entry.state = 'closed'
          this.entries.delete(entry.id)
        }
        this.init.onBuild?.({ ok: true, ms: circuit.buildMs, hops })
        return entry
      } catch (err) {
        this.entries.delete(entry.id)
        lastError = err as Error
        this.init.onBuild?.({ ok: false, ms: performance.now() - started, hops, error: lastError })
        if (err instanceof NoPathError || isAborted(signal)) throw err
        // the hop after the last one built did not answer (the guard is judged above): leave it out for a while
        const culprit = built > 0 ? hops[built] : undefined
        if (culprit != null) {
          this.failed.set(culprit, Date.now())
          exclude.push(culprit)
        }
      }
    }
    throw new CircuitClosedError(`could not build a circuit in ${BUILD_ATTEMPTS} attempts: ${lastError?.message ?? 'unknown error'}`, { cause: lastError })
  }

  /**
   * A path for `target`; when there is none yet but relays are being checked (a node just
   * started, or just met its peers), waits up to {@link PATH_WAIT_MS} for them.
   */
  private async selectPath (target: OpenTarget, exclude: string[], signal?: AbortSignal): Promise<RelayDescriptor[]> {
    const deadline = Date.now() + PATH_WAIT_MS
    for (;;) {
      try {
        return selectPath({
          relays: this.init.directory.relays(),
          guards: this.init.guards.usable(),
          target: pathTarget(target),
          network: this.init.network,
          self: this.init.self,
          exclude
        })
      } catch (err) {
        if (!(err instanceof NoPathError) || (this.init.checking?.() ?? 0) === 0 || Date.now() > deadline || isAborted(signal)) throw err
        await new Promise(resolve => setTimeout(resolve, 100))
        await this.init.guards.refresh().catch(() => {})
      }
    }
  }

  /** Tears down dirty circuits without streams and circuits idle too long. */
  private sweep (): void {
    const now = Date.now()
    for (const e of [...this.entries.values()]) {
      if (e.state !== 'open' || e.circuit == null || e.pinned === true) continue
      if (e.firstUsedAt != null && now - e.firstUsedAt > MAX_DIRTINESS_MS) e.dirty = true
      const idle = e.circuit.streamsOpen === 0
      if (idle && (e.dirty || (e.firstUsedAt == null && now - e.createdAt > MAX_IDLE_MS))) {
        e.circuit.destroy()
        this.entries.delete(e.id)
      }
    }
  }
}
