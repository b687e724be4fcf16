/**
 * The daemon's Prometheus endpoint (`--metrics HOST:PORT`): `GET /metrics` answers with the
 * node's registry in the Prometheus text format. It listens on an address of its own, not the
 * API's, so a Prometheus server needs no API cookie and reaching it gives nothing but metrics.
 *
 * @example
 * ```ts
 * const server = new MetricsServer({ registry: node.metricsRegistry, host: '127.0.0.1', port: 9481, log })
 * const url = await server.start() // http://127.0.0.1:9481, then GET url + '/metrics'
 * ```
 */
import { createServer } from 'node:http'
import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import type { Registry } from 'prom-client'
import { closeHttp, listenHttp } from '../utils/http-server.ts'
import type { Logger } from '../utils/logger.ts'

/** What a {@link MetricsServer} needs. */
export interface MetricsServerInit {
  registry: Registry
  host: string
  port: number
  log: Logger
}

/** Connections the endpoint holds at once: Prometheus needs one or two. */
const MAX_CONNECTIONS = 32

/** An HTTP server of one route, `GET /metrics`. */
export class MetricsServer {
  private readonly init: MetricsServerInit
  private readonly server: Server
  /** The scrape running now, which requests arriving meanwhile share: a flood of requests costs one scrape at a time. */
  private scraping: Promise<string> | undefined

  constructor (init: MetricsServerInit) {
    this.init = init
    this.server = createServer((req, res) => { void this.handle(req, res) })
    this.server.headersTimeout = 10_000
    this.server.requestTimeout = 30_000
    this.server.maxConnections = MAX_CONNECTIONS
  }

  /** Listens and resolves to the base URL (`http://HOST:PORT`). */
  async start (): Promise<string> {
    return await listenHttp(this.server, this.init.host, this.init.port, 'metrics', '--metrics')
  }

  /** Stops accepting requests and closes open connections. */
  async stop (): Promise<void> {
    await closeHttp(this.server)
  }

  private async handle (req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0]
    if (path !== '/metrics') {
      text(res, 404, 'not found: the metrics are at /metrics\n')
      return
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD')
      text(res, 405, 'only GET and HEAD\n')
      return
    }
    let body: string
    try {
      this.scraping ??= this.init.registry.metrics().finally(() => { this.scraping = undefined })
      body = await this.scraping
    } catch (err) {
      this.init.log.warn('metrics scrape failed', { err })
      text(res, 500, 'internal error (see the daemon log)\n')
      return
    }
    res.writeHead(200, { 'content-type': this.init.registry.contentType, 'cache-control': 'no-store' })
    res.end(req.method === 'HEAD' ? undefined : body)
  }
}

function text (res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' })
  res.end(body)
}
