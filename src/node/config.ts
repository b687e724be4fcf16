/**
 * Node configuration: the options `createNode` takes, their defaults and validation. The
 * daemon's config (`src/daemon/config.ts`) extends it with the API and gateway and reads it from
 * `config.json`.
 */
import { resolve } from 'node:path'
import { InvalidArgumentError } from '../errors.ts'
import { isLoopback } from '../net/addresses.ts'
import { isNetworkName, NETWORK_NAMES, networkParams, PUBLIC_BOOTSTRAP_PEERS } from '../net/networks.ts'
import type { NetworkName } from '../net/networks.ts'
import { parseMultiaddr } from '../net/multiaddrs.ts'
import { checkRate, parseSchedule } from '../net/bandwidth-schedule.ts'
import type { ScheduleEntry } from '../net/bandwidth-schedule.ts'
import { peerIdFromString } from '@libp2p/peer-id'
import { MAX_EXIT_RULES, MAX_FAMILY } from '../onion/descriptor.ts'
import { parseExitPolicy } from '../onion/exit-policy.ts'
import { decodeOnionAddress } from '../onion/hs/address.ts'
import { parseHsClientSecretKey } from '../onion/hs/client-auth.ts'
import { isLogLevel } from '../utils/logger.ts'
import type { LogLevel } from '../utils/logger.ts'

/** Options of a node; every field but `dataDir` has a default. */
export interface NodeConfig {
  /** Directory holding the identity key, config, stores and (for a daemon) the api/cookie files. */
  dataDir: string
  /** Network to join. Default `main`. */
  network: NetworkName
  /** Multiaddrs to listen on (TCP and `/ws` WebSockets; port 0 picks a free port). */
  listen: string[]
  /**
   * Multiaddrs (ending in `/p2p/<peerId>`) of peers to join the network through. Default on
   * `main`: the public libp2p bootstrap peers ({@link PUBLIC_BOOTSTRAP_PEERS}); on `regtest`
   * none. A list given replaces the default; an empty list (or `none` as an entry) means none.
   */
  bootstrap: string[]
  /** Discover peers on the local network by mDNS. Default true. */
  mdns: boolean
  /**
   * Query the DHT without serving it (default false). Such a node is in no other node's routing
   * table, so DHT traffic never makes strangers dial it: for small machines, and for an onion
   * service's host that wants no link to its clients beyond circuits.
   */
  dhtClient: boolean
  /**
   * Join Amino, the public IPFS DHT, beside peerd's own: find peerd nodes through its rendezvous
   * record, announce shared content there, and fetch from IPFS nodes it names. Default true on
   * `main`, false on `regtest`.
   */
  amino: boolean
  /** Keep private and loopback addresses in Amino records (a private lab network standing in for the Internet). Default false. */
  aminoPrivateAddresses: boolean
  /** Serve as a circuit relay (v2) for peers behind NAT. Default true. */
  relay: boolean
  /** What the circuit relay carries for others, bytes a second both ways together. Default {@link DEFAULT_RELAY_RATE}. */
  relayRate: number
  /**
   * Ask a UPnP IGD router on the LAN to forward the listening ports to this node, and announce the
   * router's external address (default true). Only with a non-loopback listen address; the mapping
   * is removed on stop.
   */
  upnp: boolean
  /** Most connections in total. */
  maxConnections: number
  /** Most inbound connections from one IP address. */
  maxConnectionsPerIp: number
  /** Connections the node tries to keep, dialling known peers when it has fewer. */
  minConnections: number
  /** Log level of the node's own log lines. */
  logLevel: LogLevel
  /** Serve and announce what this node downloads (every downloader becomes a server). Default true. */
  reshare: boolean
  /** Serve blocks to peers at all; false: download only (no block served, nothing announced). Default true. */
  serve: boolean
  /** Mine continuously, paying to this address of the network (bech32m). No mining when unset. */
  mine?: string
  /** Mining threads; default one per core. */
  mineThreads?: number
  /** Memory cap of the mempool in bytes (default 64 MiB); the lowest fee rates go first past it. */
  mempoolMaxBytes?: number
  /** Relay onion circuits for others (a middle relay). Default true. */
  onionRelay: boolean
  /** Relay bandwidth cap in bytes per second. Default {@link DEFAULT_ONION_RELAY_RATE}. */
  onionRelayRate: number
  /**
   * Client-authorization secret keys for onion services that require one, by address
   * (`{ "<56 chars>.peerd": "descriptor:x25519-private:…" }`, as `peerd onion client-key` prints).
   */
  onionClientAuth?: Record<string, string>
  /** Be an onion exit: open TCP connections for circuits, as the exit policy allows. Default false. */
  onionExit: boolean
  /** The exit policy, one rule an entry (`accept *:443`, `reject *:*`), first match wins; the onion service's default when unset. */
  onionExitPolicy?: string[]
  /** Peer ids of relays run by the same operator (Tor's MyFamily): clients never put two of them on one circuit once both list each other. */
  onionFamily?: string[]
  /** `HOST:PORT` of the SOCKS5 proxy into circuits; no proxy when unset. */
  socks?: string
  /** Permit a non-loopback SOCKS address. Default false. */
  socksAllowRemote: boolean
  /**
   * Broadcast the wallet's payments through onion circuits to a few random peers rather than
   * from this node's own connections (`src/cash/sync/private-broadcast.ts`). Default true.
   */
  privateBroadcast: boolean
  /** Upload cap of the node, bytes per second (`--max-upload`); 0: unlimited. Default 0. */
  maxUpload: number
  /** Download cap of the node, bytes per second (`--max-download`); 0: unlimited. Default 0. */
  maxDownload: number
  /** Entries replacing the caps during their hours, local time, first match wins (net/bandwidth-schedule.ts). */
  bandwidthSchedule?: ScheduleEntry[]
}

/**
 * Default cap on what the circuit relay carries for peers behind NATs: 1 MB/s, as the onion
 * relay's. peerd's relays set no per-circuit data limit (libp2p's 128 KiB would cut transfers).
 */
export const DEFAULT_RELAY_RATE = 1_000_000

/** Default relay bandwidth cap: 1 MB/s, a modest share of a home link. */
export const DEFAULT_ONION_RELAY_RATE = 1_000_000
/** Smallest relay rate accepted: below a few cells a second no circuit gets anywhere. */
export const MIN_ONION_RELAY_RATE = 10_000
/** Largest relay rate accepted (10 GB/s), past any link a node has. */
export const MAX_ONION_RELAY_RATE = 10_000_000_000

/** Fills defaults in and validates; throws {@link InvalidArgumentError} on the first bad value. */
export function resolveNodeConfig (input: Partial<NodeConfig> & { dataDir: string }): NodeConfig {
  const network = input.network ?? 'main'
  if (!isNetworkName(network)) throw new InvalidArgumentError(`unknown network "${String(network)}" (known: ${NETWORK_NAMES.join(', ')})`)
  const params = networkParams(network)
  const config: NodeConfig = {
    dataDir: resolve(input.dataDir),
    network,
    listen: input.listen ?? params.defaultListen,
    bootstrap: bootstrapList(input.bootstrap, network),
    mdns: input.mdns ?? true,
    dhtClient: input.dhtClient ?? false,
    amino: input.amino ?? network === 'main',
    aminoPrivateAddresses: input.aminoPrivateAddresses ?? false,
    relay: input.relay ?? true,
    relayRate: input.relayRate ?? DEFAULT_RELAY_RATE,
    upnp: input.upnp ?? true,
    maxConnections: input.maxConnections ?? 300,
    maxConnectionsPerIp: input.maxConnectionsPerIp ?? params.defaultMaxConnectionsPerIp,
    minConnections: input.minConnections ?? 8,
    logLevel: input.logLevel ?? 'info',
    reshare: input.reshare ?? true,
    serve: input.serve ?? true,
    ...(input.mine != null ? { mine: input.mine } : {}),
    ...(input.mineThreads != null ? { mineThreads: input.mineThreads } : {}),
    ...(input.mempoolMaxBytes != null ? { mempoolMaxBytes: input.mempoolMaxBytes } : {}),
    onionRelay: input.onionRelay ?? true,
    onionRelayRate: input.onionRelayRate ?? DEFAULT_ONION_RELAY_RATE,
    onionExit: input.onionExit ?? false,
    ...(input.onionExitPolicy != null ? { onionExitPolicy: input.onionExitPolicy } : {}),
    ...(input.onionFamily != null ? { onionFamily: input.onionFamily } : {}),
    ...(input.onionClientAuth != null ? { onionClientAuth: input.onionClientAuth } : {}),
    ...(input.socks != null ? { socks: input.socks } : {}),
    socksAllowRemote: input.socksAllowRemote ?? false,
    privateBroadcast: input.privateBroadcast ?? true,
    maxUpload: checkRate(input.maxUpload ?? 0, 'maxUpload'),
    maxDownload: checkRate(input.maxDownload ?? 0, 'maxDownload'),
    ...(input.bandwidthSchedule != null ? { bandwidthSchedule: parseSchedule(input.bandwidthSchedule, parseByteRate) } : {})
  }
  checkOnionConfig(config)
  if (!(Number.isInteger(config.relayRate) && config.relayRate >= MIN_ONION_RELAY_RATE && config.relayRate <= MAX_ONION_RELAY_RATE)) {
    throw new InvalidArgumentError(`relayRate must be a whole number of bytes per second from ${MIN_ONION_RELAY_RATE} to ${MAX_ONION_RELAY_RATE}, not ${config.relayRate} (the flag takes units: --relay-rate 1.5MB)`)
  }
  if (config.mempoolMaxBytes != null && !(Number.isInteger(config.mempoolMaxBytes) && config.mempoolMaxBytes >= 1 << 20)) {
    throw new InvalidArgumentError(`mempoolMaxBytes must be a whole number of bytes, at least 1 MiB, got ${config.mempoolMaxBytes}`)
  }
  if (config.mineThreads != null && !(Number.isInteger(config.mineThreads) && config.mineThreads >= 1 && config.mineThreads <= 256)) {
    throw new InvalidArgumentError(`mineThreads must be a whole number from 1 to 256, got ${config.mineThreads}`)
  }
  for (const addr of config.listen) {
    const ma = parseMultiaddr(addr, 'listen address')
    const names = ma.getComponents().map(c => c.name)
    if (!names.includes('tcp') && !names.includes('p2p-circuit')) {
      throw new InvalidArgumentError(`listen address "${addr}" is not a TCP or WebSocket address (e.g. /ip4/0.0.0.0/tcp/9470 or /ip4/0.0.0.0/tcp/9471/ws)`)
    }
  }
  for (const addr of config.bootstrap) {
    const ma = parseMultiaddr(addr, 'bootstrap address')
    if (ma.getComponents().findLast(c => c.name === 'p2p')?.value == null) {
      throw new InvalidArgumentError(`bootstrap address "${addr}" must end in /p2p/<peerId> (copy it from \`peerd id\` on that node)`)
    }
  }
  for (const key of ['maxConnections', 'maxConnectionsPerIp', 'minConnections'] as const) {
    const v = config[key]
    const min = key === 'minConnections' ? 0 : 1
    if (!Number.isInteger(v) || v < min || v > 100_000) throw new InvalidArgumentError(`${key} must be a whole number from ${min} to 100000, not ${v}`)
  }
  if (typeof config.upnp !== 'boolean') throw new InvalidArgumentError(`upnp must be true or false, not ${String(config.upnp)}`)
  if (typeof config.privateBroadcast !== 'boolean') throw new InvalidArgumentError(`privateBroadcast must be true or false, not ${String(config.privateBroadcast)}`)
  if (!isLogLevel(config.logLevel)) throw new InvalidArgumentError(`unknown log level "${String(config.logLevel)}"`)
  return config
}

/** The bootstrap list: the network's default when unset; `none` entries mean "not the default". */
function bootstrapList (input: string[] | undefined, network: NetworkName): string[] {
  if (input == null) return network === 'main' ? [...PUBLIC_BOOTSTRAP_PEERS] : []
  return input.filter(s => s !== 'none')
}

/** Checks the onion settings of a resolved config; throws {@link InvalidArgumentError} saying what to change. */
function checkOnionConfig (config: NodeConfig): void {
  const rate = config.onionRelayRate
  if (!(Number.isInteger(rate) && rate >= MIN_ONION_RELAY_RATE && rate <= MAX_ONION_RELAY_RATE)) {
    throw new InvalidArgumentError(`onionRelayRate must be a whole number of bytes per second from ${MIN_ONION_RELAY_RATE} to ${MAX_ONION_RELAY_RATE}, not ${rate} (the flag takes units: --onion-relay-rate 1.5MB)`)
  }
  if (config.onionExit && !config.onionRelay) {
    throw new InvalidArgumentError('an onion exit is a relay: drop --no-onion-relay (onionRelay: false) or --onion-exit (onionExit: true)')
  }
  if (config.onionExitPolicy != null) {
    if (config.onionExitPolicy.length === 0) throw new InvalidArgumentError('onionExitPolicy is empty: give rules such as "accept *:80,accept *:443,reject *:*", or leave it unset for the default')
    // parsed here too so that a bad rule stops the daemon at start, naming the rule
    const { rules } = parseExitPolicy(config.onionExitPolicy)
    // the relay publishes the normalised rules (private ranges and this node's addresses added) in its descriptor
    if (rules.length > MAX_EXIT_RULES - 8) throw new InvalidArgumentError(`the exit policy has ${rules.length} rules once private ranges are added; a relay descriptor carries at most ${MAX_EXIT_RULES} (with room for this node's addresses): merge rules into ranges`)
  }
  for (const [address, secret] of Object.entries(config.onionClientAuth ?? {})) {
    try { decodeOnionAddress(address) } catch (err) { throw new InvalidArgumentError(`onionClientAuth: "${address}" is not an onion address: ${(err as Error).message}`) }
    try { parseHsClientSecretKey(secret) } catch { throw new InvalidArgumentError(`onionClientAuth: the key for ${address.slice(0, 12)}… is not a client-authorization secret (descriptor:x25519-private:…, as \`peerd onion client-key\` prints it)`) }
  }
  if (config.onionFamily != null) {
    if (config.onionFamily.length > MAX_FAMILY) throw new InvalidArgumentError(`onionFamily lists ${config.onionFamily.length} relays; a relay descriptor carries at most ${MAX_FAMILY}`)
    for (const id of config.onionFamily) {
      try { peerIdFromString(id) } catch { throw new InvalidArgumentError(`onionFamily: "${id}" is not a peer id (the 12D3KooW… id that \`peerd status\` shows on each of your relays)`) }
    }
  }
  if (config.socks != null) {
    const { host } = parseHostPort(config.socks, '--socks')
    if (!isLoopbackName(host) && !config.socksAllowRemote) {
      throw new InvalidArgumentError(`refusing a SOCKS proxy on non-loopback address ${config.socks}: anyone who can reach it could use this node's circuits. Use 127.0.0.1:PORT, or pass --socks-allow-remote (socksAllowRemote: true) if you mean it`)
    }
  }
}

/** Whether `host` is `localhost` or a loopback address. */
function isLoopbackName (host: string): boolean {
  return host === 'localhost' || isLoopback(host)
}

/** Splits `HOST:PORT` (`[::1]:PORT` for IPv6); `what` names the setting in the error. */
export function parseHostPort (s: string, what = 'address'): { host: string, port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(s)
  const port = m == null ? NaN : Number(m[3])
  if (m == null || port > 65535) throw new InvalidArgumentError(`invalid ${what} "${s}": expected HOST:PORT, e.g. 127.0.0.1:9480 (port 0 picks a free port)`)
  return { host: (m[1] ?? m[2]) as string, port }
}

const RATE_UNITS: Record<string, number> = {
  '': 1, b: 1, kb: 1e3, mb: 1e6, gb: 1e9, kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3,
  bit: 1 / 8, kbit: 1e3 / 8, mbit: 1e6 / 8, gbit: 1e9 / 8
}

/**
 * Parses a byte rate as the `--onion-relay-rate` flag takes it: bytes per second, with an
 * optional unit (`1500000`, `1.5MB`, `500kB`, `12Mbit`, `2MiB`, `/s` allowed). Prefixes are
 * 1000-based except the `i` ones; bits are divided by 8. Undefined for anything else (`Mb` is
 * refused: megabits or megabytes?).
 */
export function parseByteRate (text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(text.trim().replace(/\/s$/, ''))
  if (m == null) return undefined
  // `Mbps` is megabits, `MBps` megabytes
  const unit = (m[2] as string).replace(/bps$/, 'bit').replace(/Bps$/, 'B')
  // a lone `b` (`Mb`, `kb`) could be bits or bytes
  if (/^[kmg]?i?b$/i.test(unit) && !unit.endsWith('B')) return undefined
  const factor = RATE_UNITS[unit.toLowerCase()]
  if (factor == null) return undefined
  return Math.round(Number(m[1]) * factor)
}
