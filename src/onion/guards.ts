/**
 * Entry guards (tor's guard-spec, simplified): a client enters the network through a few relays
 * chosen once and kept for weeks. If an attacker runs some relays, a client choosing a fresh
 * first hop per circuit would sooner or later enter through one of them while the attacker also
 * holds the exit, and be deanonymised; with guards it is either unlucky once, or safe for months.
 *
 * - A sampled set of at most {@link SAMPLE_SIZE} guards, in the order they were chosen
 *   (bandwidth-weighted among eligible relays). The first {@link PRIMARY_GUARDS} listed ones
 *   are the primary guards; circuits use the first reachable one, then the next.
 * - A guard is kept for {@link GUARD_LIFETIME_MS} (randomised down to 3/4 of it, so a client's
 *   guards do not all rotate on one day), then rotated out; one unlisted (not in the relay view)
 *   for {@link REMOVE_UNLISTED_AFTER_MS} is dropped.
 * - A guard that fails is marked unreachable and retried on guard-spec's schedule (every 10 min
 *   in its first 6 h down, 90 min up to 4 days, 4 h up to 7 days, then 9 h). It is never
 *   replaced because it failed: making a client's guard fail until it picks another is exactly
 *   what an attacker would do.
 * - Eligible: in this node's relay view for {@link GUARD_MIN_UPTIME_MS} (tor's Guard flag wants
 *   weeks of uptime; 0 on regtest), and declared bandwidth at least the median or 2 MB/s (tor's
 *   `AuthDirGuardBWGuarantee`); the bandwidth rule is dropped when it leaves fewer than three.
 *   A node that has only just joined has no relay old enough in its view: it then takes the
 *   longest-seen relays as provisional guards, and replaces them once eligible ones exist.
 * - Only verified relays (`RelayEntry.verified`: a dial reached them at a declared address) are
 *   sampled or used; a guard not verified yet (after a restart, until checked again) is skipped
 *   but stays listed, so it is not dropped for that.
 *
 * Persisted in the relay directory's LevelDB under one key (`directory-layout.ts`).
 *
 * ```ts
 * const guards = await GuardSet.open(directory, { network, self: host.peerId })
 * await guards.refresh()
 * const path = selectPath({ relays: directory.relays(), guards: guards.usable(), … })
 * try { await buildCircuit(links, path) } catch { await guards.markFailed(path[0].peerId) }
 * ```
 * @module
 */
import { randomInt } from 'node:crypto'
import type { PeerId } from '@libp2p/interface'
import type { RelayDirectory, RelayEntry } from './directory.ts'
import { RelayDirectoryError } from './directory-errors.ts'
import { GUARDS_KEY } from './directory-layout.ts'
import { relayWeight } from './path.ts'

/** Most sampled guards (guard-spec: MAX_SAMPLE_SIZE 60, min 20; a small peerd network needs fewer). */
export const SAMPLE_SIZE = 20
/** Primary guards (guard-spec: 3). */
export const PRIMARY_GUARDS = 3
/** How long a guard is kept: about two months. */
export const GUARD_LIFETIME_MS = 60 * 24 * 3600_000
/** How long a relay must be in the view before it may become a guard (off regtest). */
export const GUARD_MIN_UPTIME_MS = 8 * 24 * 3600_000
/** How long a guard may be missing from the view before it is dropped (guard-spec: 20 days). */
export const REMOVE_UNLISTED_AFTER_MS = 20 * 24 * 3600_000
/** Declared bandwidth that makes a relay fast enough whatever the median (tor: 2 MB/s). */
export const GUARD_BANDWIDTH_GUARANTEE = 2_000_000

const VERSION = 1
const HOUR = 3600_000

/** One sampled guard. */
export interface GuardRecord {
  readonly peerId: string
  readonly addedAt: number
  readonly expiresAt: number
  /** Chosen while no relay was eligible; replaced once some are. */
  readonly provisional: boolean
  /** Failures since the last success. */
  readonly failures: number
  /** When the current run of failures began (0: reachable). */
  readonly failingSince: number
  /** When to try it again after a failure (0: now). */
  readonly retryAt: number
  /** Since when it is missing from the relay view (0: listed). */
  readonly unlistedSince: number
}

/** Options of {@link GuardSet.open}. */
export interface GuardSetOptions {
  network: string
  /** This node (never its own guard). */
  self?: PeerId | string
  sampleSize?: number
  primaryCount?: number
  lifetimeMs?: number
  /** Default {@link GUARD_MIN_UPTIME_MS}, 0 on regtest. */
  minUptimeMs?: number
  now?: () => number
  /** Uniform in [0, 1) (tests). */
  random?: () => number
}

/** Guard-spec's retry schedule for a guard down for `downMs`. */
export function guardRetryDelay (downMs: number): number {
  if (downMs < 6 * HOUR) return 10 * 60_000
  if (downMs < 4 * 24 * HOUR) return 90 * 60_000
  if (downMs < 7 * 24 * HOUR) return 4 * HOUR
  return 9 * HOUR
}

/** The client's entry guards; see the module header. */
export class GuardSet {
  readonly sampleSize: number
  readonly primaryCount: number
  readonly lifetimeMs: number
  readonly minUptimeMs: number
  private readonly directory: RelayDirectory
  private readonly self?: string
  private readonly now: () => number
  private readonly random: () => number
  private guards: GuardRecord[]
  private queue: Promise<unknown> = Promise.resolve()

  private constructor (directory: RelayDirectory, guards: GuardRecord[], options: GuardSetOptions) {
    this.directory = directory
    this.guards = guards
    this.self = options.self?.toString()
    this.sampleSize = options.sampleSize ?? SAMPLE_SIZE
    this.primaryCount = options.primaryCount ?? PRIMARY_GUARDS
    this.lifetimeMs = options.lifetimeMs ?? GUARD_LIFETIME_MS
    this.minUptimeMs = options.minUptimeMs ?? (options.network === 'regtest' ? 0 : GUARD_MIN_UPTIME_MS)
    this.now = options.now ?? Date.now
    this.random = options.random ?? (() => randomInt(2 ** 47) / 2 ** 47)
  }

  /**
   * Loads the guard set stored beside `directory`'s relays (empty on first use).
   *
   * @throws {RelayDirectoryError} when the stored set is corrupt
   */
  static async open (directory: RelayDirectory, options: GuardSetOptions): Promise<GuardSet> {
    const stored = await directory.db.get(GUARDS_KEY)
    return new GuardSet(directory, stored === undefined ? [] : decodeGuards(stored), options)
  }

  /** The sampled guards, in the order they were chosen. */
  sampled (): readonly GuardRecord[] {
    return this.guards
  }

  /** The primary guards: the first `primaryCount` sampled guards now in the relay view. */
  primary (): GuardRecord[] {
    return this.guards.filter(g => g.unlistedSince === 0 && this.directory.get(g.peerId) != null).slice(0, this.primaryCount)
  }

  /**
   * Guards to try, best first: reachable primary guards, then other reachable listed guards; when
   * every one is marked down, the primary guards anyway (guard-spec retries them all then). Only
   * verified guards are returned: an unverified one (after a restart, until its check) keeps its
   * rank and is skipped as if it were down.
   */
  usable (now = this.now()): string[] {
    const listed = this.guards.filter(g => this.directory.get(g.peerId) != null)
    const primary = listed.slice(0, this.primaryCount)
    const ready = (g: GuardRecord): boolean => this.directory.get(g.peerId)?.verified === true
    const up = (g: GuardRecord): boolean => g.retryAt <= now && ready(g)
    const order = [...primary.filter(up), ...listed.slice(this.primaryCount).filter(up)]
    return (order.length > 0 ? order : primary.filter(ready)).map(g => g.peerId)
  }

  /**
   * Drops guards past their lifetime or unlisted too long, replaces provisional guards once
   * eligible relays exist, and samples new guards up to `sampleSize`; saves when anything changed.
   */
  async refresh (now = this.now()): Promise<void> {
    await this.locked(async () => {
      const before = encodeGuards(this.guards)
      let guards = this.guards.map(g => {
        const listed = this.directory.get(g.peerId) != null
        if (listed && g.unlistedSince !== 0) return { ...g, unlistedSince: 0 }
        if (!listed && g.unlistedSince === 0) return { ...g, unlistedSince: now }
        return g
      }).filter(g => g.expiresAt > now && (g.unlistedSince === 0 || now - g.unlistedSince < REMOVE_UNLISTED_AFTER_MS))
      const { eligible, provisional } = this.candidates(now)
      if (eligible.length > 0) guards = guards.filter(g => !g.provisional)
      const have = new Set(guards.map(g => g.peerId))
      const pool = (eligible.length > 0 ? eligible : provisional).filter(e => !have.has(e.descriptor.peerId.toString()))
      while (guards.length < this.sampleSize && pool.length > 0) {
        const i = eligible.length > 0 ? this.pickWeighted(pool) : 0
        const [e] = pool.splice(i, 1) as [RelayEntry]
        const lifetime = Math.round(this.lifetimeMs * (0.75 + 0.25 * this.random()))
        guards.push({ peerId: e.descriptor.peerId.toString(), addedAt: now, expiresAt: now + lifetime, provisional: eligible.length === 0, failures: 0, failingSince: 0, retryAt: 0, unlistedSince: 0 })
      }
      this.guards = guards
      await this.saveIfChanged(before)
    })
  }

  /** Marks `peer` unreachable until its next retry (it stays a guard). */
  async markFailed (peer: PeerId | string, now = this.now()): Promise<void> {
    await this.update(peer, g => {
      const failingSince = g.failingSince === 0 ? now : g.failingSince
      return { ...g, failures: g.failures + 1, failingSince, retryAt: now + guardRetryDelay(now - failingSince) }
    })
  }

  /** Marks `peer` reachable (a circuit through it was built). */
  async markSucceeded (peer: PeerId | string): Promise<void> {
    await this.update(peer, g => g.failures === 0 && g.retryAt === 0 ? g : { ...g, failures: 0, failingSince: 0, retryAt: 0 })
  }

  private async update (peer: PeerId | string, change: (g: GuardRecord) => GuardRecord): Promise<void> {
    const id = peer.toString()
    await this.locked(async () => {
      const before = encodeGuards(this.guards)
      this.guards = this.guards.map(g => g.peerId === id ? change(g) : g)
      await this.saveIfChanged(before)
    })
  }

  /** Relays that may become guards now; else the longest-seen relays, for provisional guards. */
  private candidates (now: number): { eligible: RelayEntry[], provisional: RelayEntry[] } {
    const all = this.directory.relays().filter(e => e.verified && e.descriptor.peerId.toString() !== this.self)
    const old = all.filter(e => now - e.firstSeen >= this.minUptimeMs)
    const sorted = all.map(e => relayWeight(e.descriptor)).sort((a, b) => a - b)
    const median = sorted.length === 0 ? 0 : sorted[Math.floor(sorted.length / 2)] as number
    const threshold = Math.min(median, GUARD_BANDWIDTH_GUARANTEE)
    const fast = old.filter(e => relayWeight(e.descriptor) >= threshold)
    const eligible = fast.length >= this.primaryCount ? fast : old
    const provisional = [...all].sort((a, b) => a.firstSeen - b.firstSeen)
    return { eligible, provisional }
  }

  private pickWeighted (pool: RelayEntry[]): number {
    const total = pool.reduce((n, e) => n + relayWeight(e.descriptor), 0)
    if (total === 0) return Math.floor(this.random() * pool.length)
    let x = this.random() * total
    for (let i = 0; i < pool.length; i++) {
      x -= relayWeight((pool[i] as RelayEntry).descriptor)
      if (x < 0) return i
    }
    return pool.length - 1
  }

  private async saveIfChanged (before: Uint8Array): Promise<void> {
    const after = encodeGuards(this.guards)
    if (Buffer.compare(before, after) !== 0) await this.directory.db.put(GUARDS_KEY, after, { sync: true })
  }

  private async locked<T> (fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn)
    this.queue = run.catch(() => {})
    return await run
  }
}

const RECORD_FIXED = 8 * 5 + 4 + 1

/** The guard set's value: `u8 version | u8 count | { u8 len, peer id | u64 added | u64 expires | u8 provisional | u32 failures | u64 failing since | u64 retry at | u64 unlisted since }…` */
export function encodeGuards (guards: readonly GuardRecord[]): Uint8Array {
  const ids = guards.map(g => new TextEncoder().encode(g.peerId))
  const out = new Uint8Array(2 + ids.reduce((n, id) => n + 1 + id.length + RECORD_FIXED, 0))
  const view = new DataView(out.buffer)
  out[0] = VERSION
  out[1] = guards.length
  let at = 2
  guards.forEach((g, i) => {
    const id = ids[i] as Uint8Array
    out[at] = id.length
    out.set(id, at + 1)
    at += 1 + id.length
    view.setBigUint64(at, BigInt(g.addedAt)); view.setBigUint64(at + 8, BigInt(g.expiresAt))
    out[at + 16] = g.provisional ? 1 : 0
    view.setUint32(at + 17, g.failures)
    view.setBigUint64(at + 21, BigInt(g.failingSince)); view.setBigUint64(at + 29, BigInt(g.retryAt)); view.setBigUint64(at + 37, BigInt(g.unlistedSince))
    at += RECORD_FIXED
  })
  return out
}

/** Decodes {@link encodeGuards}'s bytes. */
export function decodeGuards (bytes: Uint8Array): GuardRecord[] {
  const bad = (): never => { throw new RelayDirectoryError('the stored guard set is corrupt') }
  if (bytes[0] !== VERSION || bytes.length < 2) bad()
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const count = bytes[1] as number
  const out: GuardRecord[] = []
  let at = 2
  for (let i = 0; i < count; i++) {
    const len = bytes[at] ?? bad()
    if (at + 1 + len + RECORD_FIXED > bytes.length) bad()
    const peerId = new TextDecoder().decode(bytes.subarray(at + 1, at + 1 + len))
    at += 1 + len
    const n = (o: number): number => Number(view.getBigUint64(at + o))
    out.push({ peerId, addedAt: n(0), expiresAt: n(8), provisional: bytes[at + 16] === 1, failures: view.getUint32(at + 17), failingSince: n(21), retryAt: n(29), unlistedSince: n(37) })
    at += RECORD_FIXED
  }
  if (at !== bytes.length) bad()
  return out
}
