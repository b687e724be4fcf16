/**
 * The local relay view (issue 16): every relay descriptor this node has verified and that is
 * still fresh, in its own LevelDB (layout in `directory-layout.ts`) so a restart does not start
 * from nothing. Tor clients download a consensus the authorities vote on; here each node keeps
 * what peers and the DHT told it, checked by signature and time only.
 *
 * What an attacker with many relays gains is bounded the way tor's authorities bound it
 * (dir-spec: `AuthDirMaxServersPerAddr` = 2):
 * - at most {@link MAX_RELAYS} relays in all (a new relay is refused when full; a verified
 *   relay is never evicted in favour of a newcomer, so flooding cannot push honest relays out);
 * - at most {@link MAX_RELAYS_PER_IP} relays per IP address and {@link MAX_RELAYS_PER_PREFIX} per
 *   IPv4 /24 or IPv6 /48 (first come keeps its place). On `regtest` these caps are off: a
 *   devnet's nodes share 127.0.0.1;
 * - with `verifyAddresses` (the node's setting, run with a `ReachabilityChecker`), addresses
 *   count only once proven: a new relay enters the view unverified, counts against no cap and is
 *   never picked for a path; {@link RelayDirectory.markVerified} (a dial to one of its declared
 *   addresses reached its key) makes that one address's IP count, and refuses the relay then if
 *   the IP or its prefix is full, so a descriptor naming an honest relay's address can never push
 *   that relay out. An unverified relay leaves after {@link MAX_VERIFY_FAILURES} failed checks,
 *   and is the first to go when the view is full (the most failed first, then at random). A
 *   verified relay is checked again now and then; one that fails is unverified again (its places
 *   freed) until a check reaches it. Tor's authorities test reachability the same way.
 *   Verification is kept in memory only: a restart checks again. Without `verifyAddresses` every declared public address
 *   counts at once (nothing could ever verify a relay without a checker);
 * - on other networks a descriptor must name at least one public IP address, else the caps
 *   could be dodged by naming none (loopback, private and link-local addresses count for
 *   nothing: every relay may list 127.0.0.1);
 * - the time a relay was first seen is kept, so guard selection (guards.ts) can require weeks in
 *   the view, as tor's Guard flag requires weeks of uptime.
 *
 * A newer descriptor (later `published`) of a relay replaces the older one and keeps its
 * first-seen time, and stays verified if it still names the address that answered; expired ones
 * are dropped at load and on a timer. This node's own descriptor counts as verified.
 *
 * ```ts
 * const dir = await RelayDirectory.open(join(dataDir, 'onion', 'relays'), { network: 'main' })
 * const r = await dir.add(bytes, peer)
 * if (r.status === 'refused' && r.score > 0) scores.penalise(peer, r.reason, r.score)
 * ```
 * @module
 */
import { randomInt } from 'node:crypto'
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
/** Failed reachability checks after which an unverified relay leaves the view. */
export const MAX_VERIFY_FAILURES = 3

/** The LevelDB the directory (and the guard set) uses. */
export type DirectoryLevel = ClassicLevel<Uint8Array, Uint8Array>

/** A relay in the view. */
export interface RelayEntry {
  readonly descriptor: RelayDescriptor
  /** When this node first saw the relay (Unix ms). */
  readonly firstSeen: number
  /** Whether its addresses count: a dial reached its key, or the view does not verify, or it is this node. */
  readonly verified: boolean
  /** The declared address a dial reached its key at (absent when verified without a dial). */
  readonly verifiedAddress?: string
  /** When a check last reached it (Unix ms; absent when verified without a dial). */
  readonly verifiedAt?: number
  /** Reachability checks failed while unverified. */
  readonly failures: number
}

/** What {@link RelayDirectory.markVerified} and {@link RelayDirectory.markFailed} did. */
export type VerifyResult =
  | { status: 'verified', entry: RelayEntry }
  /** Reachable, but its proven address is over a cap: dropped from the view. */
  | { status: 'refused', reason: string, error: DescriptorError }
  /** Unverified: still, or again (a verified relay that failed a re-check loses its proof). */
  | { status: 'failed', entry: RelayEntry }
  /** Failed {@link MAX_VERIFY_FAILURES} times: dropped from the view. */
  | { status: 'dropped' }
  /** Not in the view (expired, replaced by a descriptor without that address, or never there). */
  | { status: 'unknown' }

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
  /** Count a relay's address only once a reachability check proved it (module header). Default false: something must run the checks. */
  verifyAddresses?: boolean
  /** This node: its own descriptor counts as verified. */
  self?: PeerId | string
  /** Default {@link MAX_VERIFY_FAILURES}. */
  maxVerifyFailures?: number
}

/** The relay view; see the module header. */
export class RelayDirectory {
  /** The database, shared with the guard set. */
  readonly db: DirectoryLevel
  readonly network: string
  readonly maxRelays: number
  readonly maxPerIp: number
  readonly maxPerPrefix: number
  readonly verifyAddresses: boolean
  readonly maxVerifyFailures: number
  private readonly self?: string
  private readonly now: () => number
  private readonly entries = new Map<string, RelayEntry>()
  private readonly listeners = new Set<(entry: RelayEntry) => void>()
  private verifiedSize = 0
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
    this.verifyAddresses = options.verifyAddresses === true
    this.maxVerifyFailures = options.maxVerifyFailures ?? MAX_VERIFY_FAILURES
    this.self = options.self?.toString()
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
        const entry = this.fresh(descriptor, record.firstSeen)
        if (this.admitRefusal(entry) != null) throw new RelayDirectoryError('over a cap')
        this.index(entry)
      } catch {
        drop.push(key)
      }
    }
    if (drop.length > 0) await this.db.batch(drop.map(key => ({ type: 'del' as const, key })))
  }

  /** Relays in the view, verified or not. */
  get size (): number {
    return this.entries.size
  }

  /** Verified relays in the view (the ones paths and guards are chosen from). */
  get verifiedCount (): number {
    return this.verifiedSize
  }

  /** Every relay in the view (a snapshot). */
  relays (): RelayEntry[] {
    return [...this.entries.values()]
  }

  /** The relay `peerId` (a PeerId or its text), if in the view. */
  get (peerId: PeerId | string): RelayEntry | undefined {
    return this.entries.get(peerId.toString())
  }

  /** Calls `listener` with every relay added or replaced (a reachability checker watches for unverified ones); returns the unsubscribe. */
  onAdded (listener: (entry: RelayEntry) => void): () => void {
    this.listeners.add(listener)
    return () => { this.listeners.delete(listener) }
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
    let entry = this.fresh(descriptor, held?.firstSeen ?? this.now())
    // re-signing does not wipe failed checks
    if (!entry.verified && held != null && !held.verified) entry = { ...entry, failures: held.failures }
    // a relay that moves keeps its proof only while it still names the address that answered
    if (!entry.verified && held?.verifiedAddress != null && descriptor.addresses.includes(held.verifiedAddress)) entry = { ...entry, verified: true, verifiedAddress: held.verifiedAddress, verifiedAt: held.verifiedAt }
    let refusal = this.admitRefusal(entry)
    if (refusal?.reason === 'relay-view-full' && !entry.verified && await this.evictUnverified()) refusal = this.admitRefusal(entry)
    if (refusal != null) return { status: 'refused', reason: refusal.reason, score: 0, error: refusal }
    await this.db.put(relayKey(descriptor.peerId.toMultihash().bytes), encodeRelayRecord(entry.firstSeen, descriptor.bytes))
    if (held != null) this.unindex(held)
    this.index(entry)
    for (const listener of this.listeners) {
      try { listener(entry) } catch { /* a listener's fault is its own */ }
    }
    return { status: 'added', entry }
  }

  /** A new entry for `descriptor`: verified at once when the view does not verify, or for this node. */
  private fresh (descriptor: RelayDescriptor, firstSeen: number): RelayEntry {
    const verified = !this.verifyAddresses || descriptor.peerId.toString() === this.self
    return { descriptor, firstSeen, verified, failures: 0 }
  }

  /**
   * Marks relay `peerId` verified (again): a dial to `address`, one of the addresses its
   * descriptor declares, reached its key. That address's IP then counts, and the relay is
   * refused (dropped) if that breaks a cap: the relays proven there first keep their places.
   */
  async markVerified (peerId: PeerId | string, address: string): Promise<VerifyResult> {
    return await this.locked(async () => {
      const held = this.entries.get(peerId.toString())
      if (held == null || !held.descriptor.addresses.includes(address)) return { status: 'unknown' as const }
      // verified without a dial (this node, or a view that does not verify): nothing to prove
      if (held.verified && held.verifiedAddress == null) return { status: 'verified' as const, entry: held }
      const entry: RelayEntry = { ...held, verified: true, verifiedAddress: address, verifiedAt: this.now(), failures: 0 }
      const refusal = this.admitRefusal(entry)
      if (refusal != null) {
        await this.drop([held])
        return { status: 'refused' as const, reason: refusal.reason, error: refusal }
      }
      this.unindex(held)
      this.index(entry)
      return { status: 'verified' as const, entry }
    })
  }

  /**
   * Counts a failed reachability check of relay `peerId`: an unverified relay is dropped after
   * `maxVerifyFailures`; a verified one loses its proof (its places are freed) until a check
   * reaches it again.
   */
  async markFailed (peerId: PeerId | string): Promise<VerifyResult> {
    return await this.locked(async () => {
      const held = this.entries.get(peerId.toString())
      if (held == null) return { status: 'unknown' as const }
      if (held.verified && held.verifiedAddress == null) return { status: 'verified' as const, entry: held }
      if (!held.verified && held.failures + 1 >= this.maxVerifyFailures) {
        await this.drop([held])
        return { status: 'dropped' as const }
      }
      const entry: RelayEntry = { descriptor: held.descriptor, firstSeen: held.firstSeen, verified: false, failures: held.failures + 1 }
      this.unindex(held)
      this.index(entry)
      return { status: 'failed' as const, entry }
    })
  }

  /** Drops one unverified relay to make room: the most failed, then at random. False when every relay is verified. */
  private async evictUnverified (): Promise<boolean> {
    let worst: RelayEntry[] = []
    for (const e of this.entries.values()) {
      if (e.verified) continue
      if (worst.length === 0 || e.failures > (worst[0] as RelayEntry).failures) worst = [e]
      else if (e.failures === (worst[0] as RelayEntry).failures) worst.push(e)
    }
    if (worst.length === 0) return false
    await this.drop([worst[randomInt(worst.length)] as RelayEntry])
    return true
  }

  /** Removes `gone` from memory and disk. */
  private async drop (gone: RelayEntry[]): Promise<void> {
    if (this.db.status === 'open') await this.db.batch(gone.map(e => ({ type: 'del' as const, key: relayKey(e.descriptor.peerId.toMultihash().bytes) })))
    for (const e of gone) this.unindex(e)
  }

  /** Why `entry` may not be held (its own held entry not counted), or undefined. */
  private admitRefusal (entry: RelayEntry): DescriptorError | undefined {
    const id = entry.descriptor.peerId.toString()
    if (descriptorIps(entry.descriptor).length === 0 && this.maxPerIp !== Infinity) return new DescriptorError(`descriptor of ${id} names no public IP address`, 'relay-no-address', 0)
    const ips = countedIps(entry)
    const others = (set: Set<string> | undefined): number => set == null ? 0 : set.size - (set.has(id) ? 1 : 0)
    for (const ip of ips) {
      if (others(this.byIp.get(ip)) >= this.maxPerIp) return new DescriptorError(`${this.maxPerIp} relays already listed at ${ip}`, 'relay-address-cap', 0)
    }
    for (const prefix of new Set(ips.map(ip => prefixOf(ip) as string))) {
      if (others(this.byPrefix.get(prefix)) >= this.maxPerPrefix) return new DescriptorError(`${this.maxPerPrefix} relays already listed in ${prefix}`, 'relay-prefix-cap', 0)
    }
    // last, so that a refusal for the view being full is one that evicting an unverified relay cures
    if (!this.entries.has(id) && this.entries.size >= this.maxRelays) return new DescriptorError(`the relay view holds ${this.entries.size} relays, the most allowed`, 'relay-view-full', 0)
    return undefined
  }

  private index (entry: RelayEntry): void {
    const id = entry.descriptor.peerId.toString()
    this.entries.set(id, entry)
    if (entry.verified) this.verifiedSize++
    const ips = countedIps(entry)
    for (const ip of ips) addTo(this.byIp, ip, id)
    for (const prefix of new Set(ips.map(ip => prefixOf(ip) as string))) addTo(this.byPrefix, prefix, id)
  }

  private unindex (entry: RelayEntry): void {
    const id = entry.descriptor.peerId.toString()
    this.entries.delete(id)
    if (entry.verified) this.verifiedSize--
    const ips = countedIps(entry)
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
      await this.drop(gone)
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

/**
 * The public IPs `entry` counts against the caps: none while unverified; the IP of the address
 * that answered once verified by a dial; every declared one when verified without a dial.
 */
function countedIps (entry: RelayEntry): string[] {
  if (!entry.verified) return []
  const declared = descriptorIps(entry.descriptor)
  if (entry.verifiedAddress == null) return declared
  return descriptorIps({ addresses: [entry.verifiedAddress] }).filter(ip => declared.includes(ip))
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
