/**
 * The daemon's HTTP API server. It also serves the dashboard: its built files at `/`, a login
 * at `/?token=…` (a one-time token from `POST /api/v1/dashboard/token`, as `peerd dashboard`
 * prints it) that sets the session cookie, and the live feed at `/api/v1/events`.
 *
 * @example
 * ```ts
 * const api = new ApiServer({ node, cookie, host: '127.0.0.1', port: 0, log, requestStop })
 * const url = await api.start() // http://127.0.0.1:PORT
 * ```
 *
 * Every request must be addressed to one of the API's own host names (see {@link ApiHosts}),
 * else it gets `403 HostNotAllowedError`: this is what stops DNS rebinding.
 */
import { closeHttp, listenHttp } from '../utils/http-server.ts'
import { createServer } from 'node:http'
import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import type { PeerdNode } from '../node/node.ts'
import type { Logger } from '../utils/logger.ts'
import { DashboardFeed } from './feed.ts'
import { ApiHosts } from './hosts.ts'
import { createRouter } from './router.ts'
import { apiRoutes, statusOf } from './routes.ts'
import type { RouteDeps } from './routes.ts'
import { DashboardAuth } from './sessions.ts'
import { StaticSite, webRoot } from './static.ts'

/** Options of an {@link ApiServer}. */
export interface ApiServerInit {
  node: PeerdNode
  cookie: string
  host: string
  port: number
  log: Logger
  requestStop: () => void
  /** The gateway's base URL, when one runs (it may start after the API). */
  gatewayUrl?: () => string | undefined
  /** Where the dashboard's built files are. Default: `dist/web/` of this package. */
  webRoot?: string
  /** More host names the API answers to (`HOST` or `HOST:PORT`), besides its own address and loopback. */
  allowedHosts?: string[]
  /** Server timeouts, in milliseconds. */
  timeouts?: Partial<ApiTimeouts>
}

/** Timeouts of the API server, in milliseconds. */
export interface ApiTimeouts {
  /** For the request headers. */
  headers: number
  /** Most time a request body may send nothing (an upload of any length is fine while it keeps sending). */
  bodyIdle: number
  /** Most time for a whole JSON body (at most 1 MiB). */
  jsonBody: number
}

/** Defaults of {@link ApiTimeouts}. */
export const API_TIMEOUTS: ApiTimeouts = { headers: 10_000, bodyIdle: 60_000, jsonBody: 60_000 }

/** Serves the API routes and the dashboard on one address. */
export class ApiServer {
  private readonly init: ApiServerInit
  private readonly server: Server
  private readonly feed: DashboardFeed
  private readonly auth: DashboardAuth
  private readonly site: StaticSite
  private readonly hosts: ApiHosts
  private url = ''

  constructor (init: ApiServerInit) {
    this.init = init
    const timeouts = { ...API_TIMEOUTS, ...init.timeouts }
    this.hosts = new ApiHosts({ listenHost: init.host, apiUrl: () => this.url, allowed: init.allowedHosts })
    this.auth = new DashboardAuth({ cookie: () => init.cookie, apiUrl: () => this.url, isOwnOrigin: (o) => this.hosts.isOwnOrigin(o) })
    this.feed = new DashboardFeed({ node: init.node, status: () => statusOf(deps), log: init.log })
    const deps: RouteDeps = { node: init.node, apiUrl: () => this.url, requestStop: init.requestStop, gatewayUrl: init.gatewayUrl, auth: this.auth, feed: this.feed }
    this.site = new StaticSite({ root: init.webRoot ?? webRoot() })
    // no limit on a whole request: the router times bodies out when they stall (an upload may take hours)
    this.server = createServer({ headersTimeout: timeouts.headers, requestTimeout: 0 }, createRouter(apiRoutes(deps), {
      guard: (req) => { this.hosts.checkHost(req) },
      authenticate: (req, route) => this.auth.check(req, { navigable: route.navigable }),
      body: { idleMs: timeouts.bodyIdle, totalMs: timeouts.jsonBody },
      onError: (err) => { init.log.error('API request failed', { err }) },
      fallback: async (req, res, url) => { await this.page(req, res, url) }
    }))
  }

  /** The dashboard: a login redirect for `/?token=…`, else its static files. */
  private async page (req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const token = url.pathname === '/' ? url.searchParams.get('token') : null
    if (token != null && (req.method === 'GET' || req.method === 'HEAD')) {
      // the token leaves the address bar (and history) at once, used or not
      const s = this.auth.redeem(token)
      const headers: Record<string, string> = { location: s != null ? '/' : '/#login=rejected', 'cache-control': 'no-store', 'referrer-policy': 'no-referrer' }
      if (s != null) headers['set-cookie'] = this.auth.sessionCookie(s.session)
      res.writeHead(303, headers).end()
      return
    }
    await this.site.serve(req, res, url.pathname)
  }

  /** Listens; resolves to the base URL (`http://HOST:PORT`). */
  async start (): Promise<string> {
    this.url = await listenHttp(this.server, this.init.host, this.init.port, 'API', '--api')
    this.feed.start()
    return this.url
  }

  /** Stops accepting requests and closes open connections (event streams too). */
  async stop (): Promise<void> {
    this.feed.stop()
    await closeHttp(this.server)
  }
}
