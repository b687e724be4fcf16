/**
 * The daemon: a node plus its HTTP API, announced to local clients through the `api` and
 * `cookie` files in the data dir (bitcoind's cookie authentication). The files are written
 * when the API is up and removed on a clean stop; after `kill -9` the next start overwrites them.
 * With `gateway` set it also serves the read-only HTTP gateway, whose URL goes to a `gateway` file;
 * with `metrics` set, the Prometheus endpoint (`GET /metrics`), whose URL goes to a `metrics` file.
 */
import { randomBytes } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { isIP } from 'node:net'
import { join } from 'node:path'
import { collectDefaultMetrics } from 'prom-client'
import { ApiServer } from '../api/server.ts'
import { InvalidArgumentError } from '../errors.ts'
import { Gateway } from '../share/gateway.ts'
import type { Logger } from '../utils/logger.ts'
import { dataDirWarning, FILE_MODE, removeFile, writeFileAtomic } from '../node/data-dir.ts'
import { createNode } from '../node/node.ts'
import type { PeerdNode } from '../node/node.ts'
import { parseHostPort } from './config.ts'
import { MetricsServer } from './metrics-server.ts'
import type { DaemonConfig } from './config.ts'

/** Whether `host` is a loopback name or address. */
export function isLoopbackHost (host: string): boolean {
  if (host === 'localhost') return true
  if (isIP(host) === 4) return host.startsWith('127.')
  if (isIP(host) === 6) return host === '::1' || host === '0:0:0:0:0:0:0:1'
  return false
}

/** A running daemon. */
export interface Daemon {
  node: PeerdNode
  /** Base URL of the API. */
  apiUrl: string
  /** Base URL of the HTTP gateway, when one is configured. */
  gatewayUrl?: string
  /** Base URL of the Prometheus endpoint (metrics at `/metrics`), when one is configured. */
  metricsUrl?: string
  /** Problems the user should fix (logged too), such as a data dir other users can read. */
  warnings: string[]
  /** Stops the API and the node and removes the api/cookie files. Idempotent. */
  stop (): Promise<void>
  /** Resolves once the daemon has stopped (by `stop()` or an API request). */
  stopped: Promise<void>
}

/** Starts a node and its API per `config`. */
export async function startDaemon (config: DaemonConfig, log: Logger): Promise<Daemon> {
  const { host, port } = parseHostPort(config.api)
  if (!isLoopbackHost(host) && !config.apiAllowRemote) {
    throw new InvalidArgumentError(`refusing to serve the API on non-loopback address ${config.api}: anyone who can reach it and read the cookie controls the node. Pass --api-allow-remote if you mean it`)
  }
  const gatewayAddress = config.gateway != null ? parseHostPort(config.gateway) : undefined
  if (gatewayAddress != null && !isLoopbackHost(gatewayAddress.host) && !config.gatewayAllowRemote) {
    throw new InvalidArgumentError(`refusing to serve the gateway on non-loopback address ${config.gateway as string}: anyone who can reach it can read what this node holds and make it fetch any content. Pass --gateway-allow-remote if you mean it`)
  }
  const metricsAddress = config.metrics != null ? parseHostPort(config.metrics) : undefined
  if (metricsAddress != null && !isLoopbackHost(metricsAddress.host) && !config.metricsAllowRemote) {
    throw new InvalidArgumentError(`refusing to serve metrics on non-loopback address ${config.metrics as string}: anyone who can reach it learns this node's peers, traffic and chain state, without a cookie. Pass --metrics-allow-remote if you mean it`)
  }
  const node = await createNode({ ...config, logger: log })
  const warnings: string[] = []
  const exposed = await dataDirWarning(node.paths.root).catch(() => undefined)
  if (exposed != null) {
    warnings.push(exposed)
    log.warn(exposed, { dataDir: node.paths.root })
  }
  const cookie = randomBytes(32).toString('hex')
  let resolveStopped!: () => void
  const stopped = new Promise<void>(resolve => { resolveStopped = resolve })
  let stopping: Promise<void> | undefined
  let gateway: Gateway | undefined
  let gatewayUrl: string | undefined
  const gatewayFile = join(node.paths.root, 'gateway')
  let metrics: MetricsServer | undefined
  let metricsUrl: string | undefined
  const metricsFile = join(node.paths.root, 'metrics')

  const stop = async (): Promise<void> => {
    stopping ??= (async () => {
      log.info('stopping')
      await gateway?.stop().catch(err => { log.warn('error closing the gateway', { err }) })
      if (gatewayUrl != null) await removeOwnFile(gatewayFile, gatewayUrl)
      await metrics?.stop().catch(err => { log.warn('error closing the metrics endpoint', { err }) })
      if (metricsUrl != null) await removeOwnFile(metricsFile, metricsUrl)
      await api.stop().catch(err => { log.warn('error closing the API', { err }) })
      await removeOwnFile(node.paths.api, apiUrl)
      await removeOwnFile(node.paths.cookie, cookie)
      await node.stop()
      resolveStopped()
    })()
    await stopping
  }

  const api = new ApiServer({ node, cookie, host, port, log: log.child('api'), requestStop: () => { void stop() }, gatewayUrl: () => gatewayUrl, allowedHosts: config.apiAllowedHosts })
  let apiUrl: string
  try {
    apiUrl = await api.start()
    await writeFileAtomic(node.paths.cookie, cookie, FILE_MODE)
    await writeFileAtomic(node.paths.api, apiUrl + '\n', FILE_MODE)
  } catch (err) {
    await node.stop().catch(() => {})
    throw err
  }
  log.info('API listening', { url: apiUrl })
  if (metricsAddress != null) {
    // the process's CPU, memory and event loop: this process is the daemon's own
    collectDefaultMetrics({ register: node.metricsRegistry })
    metrics = new MetricsServer({ registry: node.metricsRegistry, ...metricsAddress, log: log.child('metrics') })
    try {
      metricsUrl = await metrics.start()
      // stopped through the API meanwhile: it found no endpoint to close
      if (stopping != null) await metrics.stop()
      else await writeFileAtomic(metricsFile, metricsUrl + '\n', FILE_MODE)
    } catch (err) {
      await stop().catch(() => {})
      throw err
    }
    log.info('metrics listening', { url: `${metricsUrl}/metrics` })
  }
  if (gatewayAddress != null) {
    gateway = new Gateway({ share: node.share, ...gatewayAddress, log: log.child('gateway') })
    try {
      gatewayUrl = await gateway.start()
      // stopped through the API meanwhile: it found no gateway to close
      if (stopping != null) await gateway.stop()
      else await writeFileAtomic(gatewayFile, gatewayUrl + '\n', FILE_MODE)
    } catch (err) {
      await stop().catch(() => {})
      throw err
    }
    log.info('gateway listening', { url: gatewayUrl })
    return { node, apiUrl, gatewayUrl, ...(metricsUrl != null ? { metricsUrl } : {}), warnings, stop, stopped }
  }
  return { node, apiUrl, ...(metricsUrl != null ? { metricsUrl } : {}), warnings, stop, stopped }
}

/** Removes `path` only if it still holds `content` (a newer daemon may have replaced it). */
async function removeOwnFile (path: string, content: string): Promise<void> {
  try {
    if ((await readFile(path, 'utf8')).trim() === content.trim()) await removeFile(path)
  } catch {
    // already gone
  }
}
