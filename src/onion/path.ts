/**
 * Path selection (tor's path-spec, simplified): three hops [guard, middle, exit], chosen in tor's
 * order — the exit first (its policy must accept the target: the address and port when the
 * address is known, else some address on the port), then the first of the client's entry guards
 * that fits with it, then a middle.
 *
 * Every choice but the guard is weighted by declared bandwidth, capped at
 * {@link MAX_WEIGHT_BANDWIDTH}: nobody measures a peerd relay's bandwidth (tor's bandwidth
 * authorities do), so an uncapped claim would let one liar draw most circuits; with the cap a
 * relay gains at most a few times an honest fast relay's share by lying. Tor also caps unmeasured
 * relays (`maxunmeasuredbw`).
 *
 * No two hops may be the same relay, share an IPv4 /16 or IPv6 /32 (any of their descriptors'
 * public addresses), or be declared family (tor: both must list each other). On `regtest` the subnet and
 * family rules are off: a devnet's nodes all run on 127.0.0.1. The client itself is never a hop,
 * and neither is a directory entry not yet verified (its declared addresses are unproven, so the
 * subnet rule could not be trusted with it: `reachability.ts`); bare descriptors are taken as
 * given.
 *
 * ```ts
 * const [guard, middle, exit] = selectPath({ relays: dir.relays(), guards: guardSet.usable(), target: { kind: 'tcp', port: 443 }, network, self: host.peerId })
 * const circuit = await buildCircuit(links, [guard, middle, exit]) // descriptors are PathHops
 * ```
 * @module
 */
import { randomInt } from 'node:crypto'
import { isIPv4 } from 'node:net'
import type { PeerId } from '@libp2p/interface'
import { descriptorIps } from './descriptor.ts'
import type { RelayDescriptor } from './descriptor.ts'
import type { RelayEntry } from './directory.ts'
import { NoPathError } from './directory-errors.ts'
import { parseExitPolicy } from './exit-policy.ts'
import type { ExitPolicy } from './exit-policy.ts'

/** Declared bandwidth counted at most (bytes/s): 10 MiB/s, a fast home or small server link. */
export const MAX_WEIGHT_BANDWIDTH = 10 * 1024 * 1024
/** Hops of a path. */
export const PATH_LENGTH = 3
/** Exits tried before giving up when guards or middles do not fit with them. */
const MAX_EXIT_TRIES = 32

/** Where the circuit leads: a TCP destination through an exit, or another peerd node's protocol (any relay can end it). */
export type PathTarget =
  | { kind: 'tcp', address?: string, port: number }
  | { kind: 'peerd' }

/** Options of {@link selectPath}. */
export interface SelectPathOptions {
  /** The relay view (directory entries, of which only verified ones are used, or descriptors). */
  relays: ReadonlyArray<RelayEntry | RelayDescriptor>
  /** The client's usable entry guards, best first (`GuardSet.usable()`); absent: any relay may be first, by bandwidth. */
  guards?: ReadonlyArray<PeerId | string>
  target: PathTarget
  network: string
  /** This node (never a hop). */
  self?: PeerId | string
  /** Relays not to use (a relay just seen failing). */
  exclude?: ReadonlyArray<PeerId | string>
  /** Uniform in [0, 1) (tests); defaults to `crypto.randomInt`. */
  random?: () => number
}

const policies = new WeakMap<RelayDescriptor, ExitPolicy | null>()

/** The descriptor's parsed exit policy, or null if it is not an exit (or its policy does not parse). */
function policyOf (d: RelayDescriptor): ExitPolicy | null {
  let p = policies.get(d)
  if (p === undefined) {
    try { p = d.exit ? parseExitPolicy(d.exitPolicy) : null } catch { p = null }
    policies.set(d, p)
  }
  return p
}

/** Whether `d` can be the last hop for `target`. */
export function canExitTo (d: RelayDescriptor, target: PathTarget): boolean {
  if (target.kind === 'peerd') return true
  const policy = policyOf(d)
  if (policy == null) return false
  return target.address != null ? policy.allows(target.address, target.port) : policy.allowsPort(target.port)
}

/** A relay's selection weight: its declared bandwidth, capped (module header). */
export function relayWeight (d: RelayDescriptor): number {
  return Math.min(Math.max(d.bandwidth, 0), MAX_WEIGHT_BANDWIDTH)
}

const subnets = new WeakMap<RelayDescriptor, Set<string>>()

/** The /16 (IPv4) or /32 (IPv6) networks of a descriptor's addresses (cached: a draw compares each relay with two others). */
function subnetsOf (d: RelayDescriptor): Set<string> {
  let s = subnets.get(d)
  if (s == null) {
    s = new Set(descriptorIps(d).map(ip => isIPv4(ip) ? ip.split('.').slice(0, 2).join('.') + '/16' : ip.split(':').slice(0, 2).join(':') + '::/32'))
    subnets.set(d, s)
  }
  return s
}

/** Whether two relays may not share a circuit: the same relay, or (unless relaxed) same subnet or mutual family. */
export function relaysConflict (a: RelayDescriptor, b: RelayDescriptor, relaxed = false): boolean {
  const ida = a.peerId.toString()
  const idb = b.peerId.toString()
  if (ida === idb) return true
  if (relaxed) return false
  if (a.family.includes(idb) && b.family.includes(ida)) return true
  const sa = subnetsOf(a)
  for (const s of subnetsOf(b)) if (sa.has(s)) return true
  return false
}

function defaultRandom (): number {
  return randomInt(2 ** 47) / 2 ** 47
}

/** One of `items` with probability proportional to its weight (uniform when all weigh 0). */
function weighted (items: RelayDescriptor[], random: () => number): RelayDescriptor | undefined {
  if (items.length === 0) return undefined
  const total = items.reduce((n, d) => n + relayWeight(d), 0)
  if (total === 0) return items[Math.floor(random() * items.length)]
  let x = random() * total
  for (const d of items) {
    x -= relayWeight(d)
    if (x < 0) return d
  }
  return items[items.length - 1]
}

function describeTarget (t: PathTarget): string {
  return t.kind === 'peerd' ? 'a peerd node' : `${t.address ?? '(a name resolved at the exit)'}:${t.port}`
}

/**
 * Three hops [guard, middle, exit] for `target`; each descriptor is a `PathHop` for
 * `buildCircuit`. See the module header for the rules.
 *
 * @throws {NoPathError} saying what is missing: too few relays, no exit for the target, no usable guard
 */
export function selectPath (options: SelectPathOptions): RelayDescriptor[] {
  const random = options.random ?? defaultRandom
  const relaxed = options.network === 'regtest'
  const banned = new Set<string>((options.exclude ?? []).map(p => p.toString()))
  if (options.self != null) banned.add(options.self.toString())
  const unverified = options.relays.filter(r => 'descriptor' in r && !r.verified).length
  const all = options.relays.flatMap(r => 'descriptor' in r ? (r.verified ? [r.descriptor] : []) : [r]).filter(d => !banned.has(d.peerId.toString()))
  if (all.length < PATH_LENGTH) {
    const waiting = unverified > 0 ? ` (${unverified} more not yet reached at their addresses)` : ''
    throw new NoPathError(`the relay view has ${all.length} usable relay${all.length === 1 ? '' : 's'} besides this node${waiting}; a circuit needs ${PATH_LENGTH} different ones (wait for descriptors from peers, or connect to more peers)`)
  }
  const byId = new Map(all.map(d => [d.peerId.toString(), d]))
  const guardList = options.guards?.map(g => byId.get(g.toString())).filter((d): d is RelayDescriptor => d != null)
  if (guardList?.length === 0) throw new NoPathError(`none of the ${options.guards?.length ?? 0} entry guards is usable and in the relay view`)

  let exits = all.filter(d => canExitTo(d, options.target))
  if (exits.length === 0) throw new NoPathError(`no relay in the view (${all.length}) has an exit policy that accepts ${describeTarget(options.target)}`)
  let lastProblem = ''
  for (let tries = 0; tries < MAX_EXIT_TRIES && exits.length > 0; tries++) {
    const exit = weighted(exits, random) as RelayDescriptor
    exits = exits.filter(d => d !== exit)
    const fits = (d: RelayDescriptor, ...others: RelayDescriptor[]): boolean => others.every(o => !relaysConflict(d, o, relaxed))
    // the first guard that fits: a client keeps to its guards in order (guard-spec)
    const guard = guardList != null ? guardList.find(g => fits(g, exit)) : weighted(all.filter(d => fits(d, exit)), random)
    if (guard == null) { lastProblem = `no ${guardList != null ? 'entry guard' : 'first hop'} fits with exit ${exit.peerId.toString()} (same relay, subnet or family)`; continue }
    const middle = weighted(all.filter(d => fits(d, exit, guard)), random)
    if (middle == null) { lastProblem = `no middle relay fits between guard ${guard.peerId.toString()} and exit ${exit.peerId.toString()} (same subnet or family)`; continue }
    return [guard, middle, exit]
  }
  throw new NoPathError(`no path to ${describeTarget(options.target)} through the ${all.length} relays in the view: ${lastProblem}`)
}

/** Options of {@link selectPathTo}. */
export interface SelectPathToOptions extends Omit<SelectPathOptions, 'target'> {
  /** The hop the circuit must end at (an introduction or rendezvous point), with its descriptor when the view has one (for the subnet and family checks). */
  last: { peerId: PeerId | string, descriptor?: RelayDescriptor }
  /** Hops in all, `last` included: 3 or 4 (rend-spec-v3: a circuit to a relay the other side chose gets an extra middle). */
  hops: 3 | 4
}

/**
 * Picks the hops before a fixed last one: the first usable guard that fits, then middles, each
 * by bandwidth and none sharing a /16, family or identity with another hop (regtest: identity
 * only). The last hop itself is returned as its descriptor when given, so callers get `hops`
 * entries only when it is; otherwise `hops − 1` and the caller appends its own last hop.
 */
export function selectPathTo (options: SelectPathToOptions): RelayDescriptor[] {
  const random = options.random ?? defaultRandom
  const relaxed = options.network === 'regtest'
  const lastId = options.last.peerId.toString()
  const banned = new Set<string>((options.exclude ?? []).map(p => p.toString()))
  if (options.self != null) banned.add(options.self.toString())
  banned.add(lastId)
  const all = options.relays.flatMap(r => 'descriptor' in r ? (r.verified ? [r.descriptor] : []) : [r]).filter(d => !banned.has(d.peerId.toString()))
  const before = options.hops - 1
  if (all.length < before) throw new NoPathError(`the relay view has ${all.length} usable relay${all.length === 1 ? '' : 's'} besides this node and ${lastId}; a circuit to it needs ${before} more (wait for descriptors from peers, or connect to more peers)`)
  const last = options.last.descriptor
  const fits = (d: RelayDescriptor, ...others: RelayDescriptor[]): boolean =>
    others.every(o => !relaysConflict(d, o, relaxed)) && (last == null || !relaysConflict(d, last, relaxed))
  const byId = new Map(all.map(d => [d.peerId.toString(), d]))
  const guardList = options.guards?.map(g => byId.get(g.toString())).filter((d): d is RelayDescriptor => d != null)
  const guard = guardList != null && guardList.length > 0 ? guardList.find(g => fits(g)) : weighted(all.filter(d => fits(d)), random)
  if (guard == null) throw new NoPathError(`no ${guardList != null ? 'entry guard' : 'first hop'} fits with ${lastId} (same relay, subnet or family)`)
  const path = [guard]
  while (path.length < before) {
    const middle = weighted(all.filter(d => fits(d, ...path)), random)
    if (middle == null) throw new NoPathError(`no middle relay fits between guard ${guard.peerId.toString()} and ${lastId} (same subnet or family)`)
    path.push(middle)
  }
  if (last != null) path.push(last)
  return path
}
