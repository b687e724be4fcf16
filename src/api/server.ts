/**
 * The daemon's HTTP API server.
 *
 * @example
 * ```ts
 * const api = new ApiServer({ node, cookie, host: '127.0.0.1', port: 0, log, requestStop })
 * const url = await api.start() // http://127.0.0.1:PORT
 * ```
 */
import { closeHttp, listenHttp } from '../utils/http-server.ts'
import { createServer } from 'node:http'
import type { Server } from 'node:http'
import type { PeerdNode } from '../node/node.ts'
import type { Logger } from '../utils/logger.ts'
import { createRouter } from './router.ts'
import { apiRoutes } from './routes.ts'

/** Options of an {@link ApiServer}. */
export interface ApiServerInit {
  node: PeerdNode
  cookie: string
  host: string
  port: number
  log: Logger
  requestStop: () => void
}

/** Serves the API routes on one address. */
export class ApiServer {
  private readonly init: ApiServerInit
  private readonly server: Server
  private url = ''

  constructor (init: ApiServerInit) {
    this.init = init
    const routes = apiRoutes({ node: init.node, apiUrl: () => this.url, requestStop: init.requestStop })
    this.server = createServer(createRouter(routes, () => init.cookie, (err) => {
      init.log.error('API request failed', { err })
    }))
    this.server.headersTimeout = 10_000
    this.server.requestTimeout = 60_000
  }

  /** Listens; resolves to the base URL (`http://HOST:PORT`). */
  async start (): Promise<string> {
    this.url = await listenHttp(this.server, this.init.host, this.init.port, 'API', '--api')
    return this.url
  }

  /** Stops accepting requests and closes open connections. */
  async stop (): Promise<void> {
    await closeHttp(this.server)
  }
}
