/**
 * The local relay view (issue 16): every relay descriptor this node has verified and that is
 * still fresh, in its own LevelDB (layout in `directory-layout.ts`) so a restart does not start
 * from nothing. Tor clients download a consensus the authorities vote on; here each node keeps
 * what peers and the DHT told it, checked by signature and time only.
 *
 * What an attacker with many relays gains is bounded the way tor's authorities bound it
 * (dir-spec: `AuthDirMaxServersPerAddr` = 2):
 * - at most {@link MAX_RELAYS} relays in all (a new relay is refused when full; the view is
 *   never evicted in favour of a newcomer, so flooding cannot push honest relays out);
 * - at most {@link MAX_RELAYS_PER_IP} relays per IP address and {@link MAX_RELAYS_PER_PREFIX} per
 *   IPv4 /24 or IPv6 /48 (counted over every address a descriptor lists; first come keeps its
 *   place). On `regtest` these caps are off: a devnet's nodes share 127.0.0.1;
 * - on other networks a descriptor must name at least one public IP address, else the caps
 *   could be dodged by naming none (loopback, private and link-local addresses count for
 *   nothing: every relay may list 127.0.0.1);
 * - the time a relay was first seen is kept, so guard selection (guards.ts) can require weeks in
 *   the view, as tor's Guard flag requires weeks of uptime.
 *
 * A newer descriptor (later `published`) of a relay replaces the older one and keeps its
 * first-seen time; expired ones are dropped at load and on a timer.
 *
 * ```ts
 * const dir = await RelayDirectory.open(join(dataDir, 'onion', 'relays'), { network: 'main' })
 * const r = await dir.add(bytes, peer)
 * if (r.status === 'refused' && r.score > 0) scores.penalise(peer, r.reason, r.score)
 * ```
 * @module
 */
import { mkdir } from 'node:fs/promises'
import type { PeerId } from '@libp2p/interface'
import { ClassicLevel } from 'classic-level'
import { prefixOf } from '../net/addresses.ts'
import { checkFreshness, descriptorIps, verifyDescriptor } from './descriptor.ts'
import type { RelayDescriptor } from './descriptor.ts'
import { DescriptorError, RelayDirectoryError } from './directory-errors.ts'
import {
  DIRECTORY_DB_VERSION, NETWORK_KEY, RELAY_RANGE, VERSION_KEY, decodeRelayRecord, decodeU32, encodeRelayRecord, encodeU32, relayKey
} from './directory-layout.ts'

/** Most relays in the view. */
export const MAX_RELAYS = 5000
/** Most relays per IP address (tor's authorities: 2). */
export const MAX_RELAYS_PER_IP = 2
/** Most relays per IPv4 /24 or IPv6 /48. */
export const MAX_RELAYS_PER_PREFIX = 4
/** How often expired descriptors are dropped. */
export const EXPIRE_INTERVAL_MS = 60_000

/** The LevelDB the directory (and the guard set) uses. */
export type DirectoryLevel = ClassicLevel<Uint8Array, Uint8Array>

/** A relay in the view. */
export interface RelayEntry {
  readonly descriptor: RelayDescriptor
  /** When this node first saw the relay (Unix ms). */
  readonly firstSeen: number
}

/** What {@link RelayDirectory.add} did with a descriptor. */
export type AddResult =
  | { status: 'added', entry: RelayEntry }
  /** Verified, but the view already holds this one or a newer one. */
  | { status: 'stale', entry: RelayEntry }
  /** Not kept: `score` > 0 means the sender misbehaved (forged, malformed, too large). */
  | { status: 'refused', reason: string, score: number, error: DescriptorError }

/** Options of {@link RelayDirectory.open}. */
export interface RelayDirectoryOptions {
  network: string
  maxRelays?: number
  /** Default {@link MAX_RELAYS_PER_IP}; unlimited on regtest. */
  maxPerIp?: number
  /** Default {@link MAX_RELAYS_PER_PREFIX}; unlimited on regtest. */
  maxPerPrefix?: number
  /** The clock (tests). */
  now?: () => number
  /** Default {@link EXPIRE_INTERVAL_MS}; 0 turns the timer off. */
  expireIntervalMs?: number
}

/** The relay view; see the module header. */
export class RelayDirectory {
  /** The database, shared with the guard set. */
  readonly db: DirectoryLevel
  readonly network: string
  readonly maxRelays: number
  readonly maxPerIp: number
  readonly maxPerPrefix: number
  private readonly now: () => number
  private readonly entries = new Map<string, RelayEntry>()
  private readonly byIp = new Map<string, Set<string>>()
  private readonly byPrefix = new Map<string, Set<string>>()
  private queue: Promise<unknown> = Promise.resolve()
  private timer?: NodeJS.Timeout

  private constructor (db: DirectoryLevel, options: RelayDirectoryOptions) {
    this.db = db
    this.network = options.network
    const relaxed = options.network === 'regtest'
    this.maxRelays = options.maxRelays ?? MAX_RELAYS
    this.maxPerIp = options.maxPerIp ?? (relaxed ? Infinity : MAX_RELAYS_PER_IP)
    this.maxPerPrefix = options.maxPerPrefix ?? (relaxed ? Infinity : MAX_RELAYS_PER_PREFIX)
    this.now = options.now ?? Date.now
  }

  /**
   * Opens (or creates, 0700) the database at `location`, checks its version and network, and
   * loads every stored descriptor that still verifies and is fresh (the others are deleted).
   *
   * @throws {RelayDirectoryError} for another format version or network
   */
  static async open (location: string, options: RelayDirectoryOptions): Promise<RelayDirectory> {
    await mkdir(location, { recursive: true, mode: 0o700 })
    const db: DirectoryLevel = new ClassicLevel<Uint8Array, Uint8Array>(location, { keyEncoding: 'view', valueEncoding: 'view' })
    await db.open()
    const dir = new RelayDirectory(db, options)
    try {
      await dir.load()
    } catch (err) {
      await db.close()
      throw err
    }
    const every = options.expireIntervalMs ?? EXPIRE_INTERVAL_MS
    if (every > 0) {
      dir.timer = setInterval(() => { void dir.expire().catch(() => {}) }, every)
      dir.timer.unref()
    }
    return dir
  }

  private async load (): Promise<void> {
    const [version, net] = await this.db.getMany([VERSION_KEY, NETWORK_KEY])
    if (version === undefined) {
      await this.db.batch([{ type: 'put', key: VERSION_KEY, value: encodeU32(DIRECTORY_DB_VERSION) }, { type: 'put', key: NETWORK_KEY, value: new TextEncoder().encode(this.network) }], { sync: true })
      return
    }
    if (decodeU32(version) !== DIRECTORY_DB_VERSION) throw new RelayDirectoryError(`relay directory format ${decodeU32(version) ?? '?'} is not supported (expects ${DIRECTORY_DB_VERSION})`)
    const stored = net === undefined ? undefined : new TextDecoder().decode(net)
    if (stored !== this.network) throw new RelayDirectoryError(`this relay directory belongs to network ${JSON.stringify(stored)}, not ${this.network}`)
    const drop: Uint8Array[] = []
    for await (const [key, value] of this.db.iterator(RELAY_RANGE)) {
      const record = decodeRelayRecord(value)
      try {
        if (record == null) throw new RelayDirectoryError('short record')
        const descriptor = await verifyDescriptor(record.descriptor, { network: this.network, now: this.now() })
        if (this.capRefusal(descriptor) != null) throw new RelayDirectoryError('over a cap')
        this.index({ descriptor, firstSeen: record.firstSeen })
      } catch {
        drop.push(key)
      }
    }
    if (drop.length > 0) await this.db.batch(drop.map(key => ({ type: 'del' as const, key })))
  }

  /** Relays in the view. */
  get size (): number {
    return this.entries.size
  }

  /** Every relay in the view (a snapshot). */
  relays (): RelayEntry[] {
    return [...this.entries.values()]
  }

  /** The relay `peerId` (a PeerId or its text), if in the view. */
  get (peerId: PeerId | string): RelayEntry | undefined {
    return this.entries.get(peerId.toString())
  }

  /**
   * Verifies `bytes` and keeps it if it is new, or newer than the relay's held descriptor, and
   * within the caps. `_from`, the peer that sent it, is not used here: the caller penalises it by
   * the result's `score`.
   */
  async add (bytes: Uint8Array, _from?: PeerId): Promise<AddResult> {
    let descriptor: RelayDescriptor
    try {
      descriptor = await verifyDescriptor(bytes, { network: this.network, now: this.now() })
    } catch (err) {
      if (err instanceof DescriptorError) return { status: 'refused', reason: err.reason, score: err.score, error: err }
      throw err
    }
    return await this.locked(async () => await this.apply(descriptor))
  }

  private async apply (descriptor: RelayDescriptor): Promise<AddResult> {
    const id = descriptor.peerId.toString()
    const held = this.entries.get(id)
    if (held != null && held.descriptor.published >= descriptor.published) return { status: 'stale', entry: held }
    const refusal = this.capRefusal(descriptor)
    if (refusal != null) return { status: 'refused', reason: refusal.reason, score: 0, error: refusal }
    const entry: RelayEntry = { descriptor, firstSeen: held?.firstSeen ?? this.now() }
    await this.db.put(relayKey(descriptor.peerId.toMultihash().bytes), encodeRelayRecord(entry.firstSeen, descriptor.bytes))
    if (held != null) this.unindex(held)
    this.index(entry)
    return { status: 'added', entry }
  }

  /** Why `descriptor` would break a cap (its own held entry not counted), or undefined. */
  private capRefusal (descriptor: RelayDescriptor): DescriptorError | undefined {
    const id = descriptor.peerId.toString()
    if (!this.entries.has(id) && this.entries.size >= this.maxRelays) return new DescriptorError(`the relay view holds ${this.entries.size} relays, the most allowed`, 'relay-view-full', 0)
    const ips = descriptorIps(descriptor)
    if (ips.length === 0 && this.maxPerIp !== Infinity) return new DescriptorError(`descriptor of ${id} names no public IP address`, 'relay-no-address', 0)
    const others = (set: Set<string> | undefined): number => set == null ? 0 : set.size - (set.has(id) ? 1 : 0)
    for (const ip of ips) {
      if (others(this.byIp.get(ip)) >= this.maxPerIp) return new DescriptorError(`${this.maxPerIp} relays already listed at ${ip}`, 'relay-address-cap', 0)
    }
    for (const prefix of new Set(ips.map(ip => prefixOf(ip) as string))) {
      if (others(this.byPrefix.get(prefix)) >= this.maxPerPrefix) return new DescriptorError(`${this.maxPerPrefix} relays already listed in ${prefix}`, 'relay-prefix-cap', 0)
    }
    return undefined
  }

  private index (entry: RelayEntry): void {
    const id = entry.descriptor.peerId.toString()
    this.entries.set(id, entry)
    const ips = descriptorIps(entry.descriptor)
    for (const ip of ips) addTo(this.byIp, ip, id)
    for (const prefix of new Set(ips.map(ip => prefixOf(ip) as string))) addTo(this.byPrefix, prefix, id)
  }

  private unindex (entry: RelayEntry): void {
    const id = entry.descriptor.peerId.toString()
    this.entries.delete(id)
    const ips = descriptorIps(entry.descriptor)
    for (const ip of ips) removeFrom(this.byIp, ip, id)
    for (const prefix of new Set(ips.map(ip => prefixOf(ip) as string))) removeFrom(this.byPrefix, prefix, id)
  }

  /** Drops every expired descriptor (memory and disk, one batch); returns how many. */
  async expire (now = this.now()): Promise<number> {
    return await this.locked(async () => {
      const gone: RelayEntry[] = []
      for (const entry of this.entries.values()) {
        try { checkFreshness(entry.descriptor, now) } catch { gone.push(entry) }
      }
      if (gone.length === 0) return 0
      if (this.db.status === 'open') await this.db.batch(gone.map(e => ({ type: 'del' as const, key: relayKey(e.descriptor.peerId.toMultihash().bytes) })))
      for (const e of gone) this.unindex(e)
      return gone.length
    })
  }

  /** Stops the expiry timer and closes the database. */
  async close (): Promise<void> {
    clearInterval(this.timer)
    await this.locked(async () => {
      if (this.db.status === 'open') await this.db.close()
    })
  }

  /** Runs `fn` after every earlier call: one writer at a time (the view and disk stay in step). */
  private async locked<T> (fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn)
    this.queue = run.catch(() => {})
    return await run
  }
}

function addTo (map: Map<string, Set<string>>, key: string, id: string): void {
  let set = map.get(key)
  if (set == null) { set = new Set(); map.set(key, set) }
  set.add(id)
}

function removeFrom (map: Map<string, Set<string>>, key: string, id: string): void {
  const set = map.get(key)
  if (set == null) return
  set.delete(id)
  if (set.size === 0) map.delete(key)
}
