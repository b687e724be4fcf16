/**
 * Daemon configuration: a node's config (`src/node/config.ts`) plus its HTTP API and gateway, the
 * config file in the data dir (`config.json`), and their validation. Flags given to the CLI
 * override the file.
 */
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { checkAllowedHost } from '../api/hosts.ts'
import { ConfigError } from '../errors.ts'
import { networkParams } from '../net/networks.ts'
import { parseByteRate, parseHostPort, resolveNodeConfig } from '../node/config.ts'
import type { NodeConfig } from '../node/config.ts'

/** `HOST:PORT` splitting lives with the node's config (the SOCKS address needs it); the daemon's addresses use the same. */
export { parseHostPort }

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
  /** `HOST:PORT` of the Prometheus endpoint (`GET /metrics`); none when unset. */
  metrics?: string
  /** Permit a non-loopback metrics address. */
  metricsAllowRemote: boolean
}

/** The config file name inside the data dir. */
export const CONFIG_FILE = 'config.json'

const KEYS: Record<keyof Omit<DaemonConfig, 'dataDir'>, 'string' | 'strings' | 'boolean' | 'number' | 'string map' | 'rate' | 'objects'> = {
  network: 'string',
  listen: 'strings',
  bootstrap: 'strings',
  mdns: 'boolean',
  dhtClient: 'boolean',
  amino: 'boolean',
  aminoPrivateAddresses: 'boolean',
  relay: 'boolean',
  relayRate: 'number',
  upnp: 'boolean',
  maxConnections: 'number',
  maxConnectionsPerIp: 'number',
  minConnections: 'number',
  logLevel: 'string',
  reshare: 'boolean',
  serve: 'boolean',
  mine: 'string',
  mineThreads: 'number',
  mempoolMaxBytes: 'number',
  onionRelay: 'boolean',
  onionRelayRate: 'number',
  onionExit: 'boolean',
  onionExitPolicy: 'strings',
  onionFamily: 'strings',
  onionClientAuth: 'string map',
  socks: 'string',
  socksAllowRemote: 'boolean',
  privateBroadcast: 'boolean',
  maxUpload: 'rate',
  maxDownload: 'rate',
  bandwidthSchedule: 'objects',
  api: 'string',
  apiAllowRemote: 'boolean',
  apiAllowedHosts: 'strings',
  gateway: 'string',
  gatewayAllowRemote: 'boolean',
  metrics: 'string',
  metricsAllowRemote: 'boolean'
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
    if (kind === 'rate') {
      // bytes per second, or text with a unit as the flags take it ("5MB", "20Mbit")
      const rate = typeof v === 'string' ? parseByteRate(v) : typeof v === 'number' ? v : undefined
      if (rate == null) throw new ConfigError(`config file ${path}: "${key}" must be bytes per second (a number, 0 for unlimited) or a rate such as "5MB" or "20Mbit"`)
      out[key] = rate
      continue
    }
    const ok = kind === 'strings'
      ? Array.isArray(v) && v.every(s => typeof s === 'string')
      : kind === 'string map'
        ? v != null && typeof v === 'object' && !Array.isArray(v) && Object.values(v).every(s => typeof s === 'string')
        : kind === 'objects'
          ? Array.isArray(v) && v.every(o => o != null && typeof o === 'object' && !Array.isArray(o))
          : typeof v === kind
    if (!ok) throw new ConfigError(`config file ${path}: "${key}" must be ${kind === 'strings' ? 'an array of strings' : kind === 'string map' ? 'an object of strings' : kind === 'objects' ? 'an array of objects' : `a ${kind}`}`)
    out[key] = v
  }
  return out as Partial<DaemonConfig>
}

/** Defaults and validation for a daemon's config. */
export function resolveDaemonConfig (input: Partial<DaemonConfig> & { dataDir: string }): DaemonConfig {
  const node = resolveNodeConfig(input)
  const api = input.api ?? networkParams(node.network).defaultApi
  parseHostPort(api)
  if (input.gateway != null) parseHostPort(input.gateway)
  if (input.metrics != null) parseHostPort(input.metrics, 'metrics address')
  const apiAllowedHosts = input.apiAllowedHosts ?? []
  for (const h of apiAllowedHosts) checkAllowedHost(h)
  return {
    ...node,
    api,
    apiAllowRemote: input.apiAllowRemote ?? false,
    apiAllowedHosts,
    ...(input.gateway != null ? { gateway: input.gateway } : {}),
    gatewayAllowRemote: input.gatewayAllowRemote ?? false,
    ...(input.metrics != null ? { metrics: input.metrics } : {}),
    metricsAllowRemote: input.metricsAllowRemote ?? false
  }
}
