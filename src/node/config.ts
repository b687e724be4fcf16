/**
 * Node configuration: the options `createNode` takes, the config file in the data dir
 * (`config.json`), and their validation. Flags given to the CLI override the file.
 */
import { readFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { checkAllowedHost } from '../api/hosts.ts'
import { ConfigError, InvalidArgumentError } from '../errors.ts'
import { isNetworkName, NETWORK_NAMES, networkParams } from '../net/networks.ts'
import type { NetworkName } from '../net/networks.ts'
import { parseMultiaddr } from '../net/multiaddrs.ts'
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
  /** Multiaddrs (ending in `/p2p/<peerId>`) of peers to join the network through. */
  bootstrap: string[]
  /** Discover peers on the local network by mDNS. Default true. */
  mdns: boolean
  /** Serve as a circuit relay (v2) for peers behind NAT. Default true. */
  relay: boolean
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
  /** Mine continuously, paying to this address of the network (bech32m). No mining when unset. */
  mine?: string
  /** Mining threads; default one per core. */
  mineThreads?: number
  /** Memory cap of the mempool in bytes (default 64 MiB); the lowest fee rates go first past it. */
  mempoolMaxBytes?: number
}

/** Options of a daemon: a node plus its HTTP API. */
export interface DaemonConfig extends NodeConfig {
  /** `HOST:PORT` of the HTTP API (port 0 picks a free port). */
  api: string
  /** Permit a non-loopback API address. */
  apiAllowRemote: boolean
  /**
   * More host names the API answers to, `HOST` (with the API's port) or `HOST:PORT`: a reverse
   * proxy's or an SSH tunnel's. Its own address, `localhost` and the loopback literals always work;
   * any other `Host` is refused (DNS rebinding). Default none.
   */
  apiAllowedHosts: string[]
  /** `HOST:PORT` of the read-only HTTP gateway (`/ipfs/<CID>`); no gateway when unset. */
  gateway?: string
  /** Permit a non-loopback gateway address. */
  gatewayAllowRemote: boolean
}

/** The config file name inside the data dir. */
export const CONFIG_FILE = 'config.json'

const KEYS: Record<keyof Omit<DaemonConfig, 'dataDir'>, 'string' | 'strings' | 'boolean' | 'number'> = {
  network: 'string',
  listen: 'strings',
  bootstrap: 'strings',
  mdns: 'boolean',
  relay: 'boolean',
  maxConnections: 'number',
  maxConnectionsPerIp: 'number',
  minConnections: 'number',
  logLevel: 'string',
  reshare: 'boolean',
  mine: 'string',
  mineThreads: 'number',
  mempoolMaxBytes: 'number',
  api: 'string',
  apiAllowRemote: 'boolean',
  apiAllowedHosts: 'strings',
  gateway: 'string',
  gatewayAllowRemote: 'boolean'
}

/** Reads `config.json` from the data dir; a missing file is an empty config. */
export async function readConfigFile (dataDir: string): Promise<Partial<DaemonConfig>> {
  const path = join(dataDir, CONFIG_FILE)
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {}
    throw new ConfigError(`cannot read config file ${path}: ${(err as Error).message}`, { cause: err })
  }
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (err) {
    throw new ConfigError(`config file ${path} is not valid JSON: ${(err as Error).message}`, { cause: err })
  }
  if (value == null || typeof value !== 'object' || Array.isArray(value)) {
    throw new ConfigError(`config file ${path} must hold a JSON object`)
  }
  const out: Record<string, unknown> = {}
  for (const [key, v] of Object.entries(value)) {
    const kind = KEYS[key as keyof typeof KEYS]
    if (kind == null) throw new ConfigError(`config file ${path}: unknown key "${key}" (known: ${Object.keys(KEYS).join(', ')})`)
    const ok = kind === 'strings'
      ? Array.isArray(v) && v.every(s => typeof s === 'string')
      : typeof v === kind
    if (!ok) throw new ConfigError(`config file ${path}: "${key}" must be ${kind === 'strings' ? 'an array of strings' : `a ${kind}`}`)
    out[key] = v
  }
  return out as Partial<DaemonConfig>
}

/** Fills defaults in and validates; throws {@link InvalidArgumentError} on the first bad value. */
export function resolveNodeConfig (input: Partial<NodeConfig> & { dataDir: string }): NodeConfig {
  const network = input.network ?? 'main'
  if (!isNetworkName(network)) throw new InvalidArgumentError(`unknown network "${String(network)}" (known: ${NETWORK_NAMES.join(', ')})`)
  const params = networkParams(network)
  const config: NodeConfig = {
    dataDir: resolve(input.dataDir),
    network,
    listen: input.listen ?? params.defaultListen,
    bootstrap: input.bootstrap ?? [],
    mdns: input.mdns ?? true,
    relay: input.relay ?? true,
    maxConnections: input.maxConnections ?? 300,
    maxConnectionsPerIp: input.maxConnectionsPerIp ?? params.defaultMaxConnectionsPerIp,
    minConnections: input.minConnections ?? 8,
    logLevel: input.logLevel ?? 'info',
    reshare: input.reshare ?? true,
    ...(input.mine != null ? { mine: input.mine } : {}),
    ...(input.mineThreads != null ? { mineThreads: input.mineThreads } : {}),
    ...(input.mempoolMaxBytes != null ? { mempoolMaxBytes: input.mempoolMaxBytes } : {})
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
  if (!isLogLevel(config.logLevel)) throw new InvalidArgumentError(`unknown log level "${String(config.logLevel)}"`)
  return config
}

/** Defaults and validation for a daemon's config. */
export function resolveDaemonConfig (input: Partial<DaemonConfig> & { dataDir: string }): DaemonConfig {
  const node = resolveNodeConfig(input)
  const api = input.api ?? networkParams(node.network).defaultApi
  parseHostPort(api)
  if (input.gateway != null) parseHostPort(input.gateway)
  const apiAllowedHosts = input.apiAllowedHosts ?? []
  for (const h of apiAllowedHosts) checkAllowedHost(h)
  return {
    ...node,
    api,
    apiAllowRemote: input.apiAllowRemote ?? false,
    apiAllowedHosts,
    ...(input.gateway != null ? { gateway: input.gateway } : {}),
    gatewayAllowRemote: input.gatewayAllowRemote ?? false
  }
}

/** Splits `HOST:PORT` (`[::1]:PORT` for IPv6). */
export function parseHostPort (s: string): { host: string, port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(s)
  const port = m == null ? NaN : Number(m[3])
  if (m == null || port > 65535) throw new InvalidArgumentError(`invalid address "${s}": expected HOST:PORT, e.g. 127.0.0.1:9480 (port 0 picks a free port)`)
  return { host: (m[1] ?? m[2]) as string, port }
}
