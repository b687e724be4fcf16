/**
 * Node configuration: the options `createNode` takes, their defaults and validation. The
 * daemon's config (`src/daemon/config.ts`) extends it with the API and gateway and reads it from
 * `config.json`.
 */
import { resolve } from 'node:path'
import { InvalidArgumentError } from '../errors.ts'
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
