/**
 * The HTTP API's routes (version 1). Every route but the OpenAPI description and the session
 * login needs the cookie (or a dashboard session). Documented in docs/api.md; described by
 * `GET /api/v1/openapi.json`.
 */
import { InvalidArgumentError } from '../errors.ts'
import type { PeerdNode } from '../node/node.ts'
import { openApiDocument } from './openapi.ts'
import type { Route } from './router.ts'
import { chainRoutes } from './chain-routes.ts'
import { walletRoutes } from './wallet-routes.ts'
import { shareRoutes } from './share-routes.ts'
import { dashboardRoutes } from './dashboard-routes.ts'
import { onionRoutes } from './onion-routes.ts'
import { bandwidthRoutes } from './bandwidth-routes.ts'
import type { DashboardFeed } from './feed.ts'
import type { DashboardAuth } from './sessions.ts'
import type { Peer, Status } from './types.ts'

/** What the routes act on. */
export interface RouteDeps {
  node: PeerdNode
  /** API URL, reported by status. */
  apiUrl: () => string
  /** Asks the daemon to stop (after the response is sent). */
  requestStop: () => void
  /** The gateway's base URL, when one runs. */
  gatewayUrl?: () => string | undefined
  /** Dashboard login tokens and sessions. */
  auth: DashboardAuth
  /** The dashboard's live feed. */
  feed: DashboardFeed
}

/** The status object of `GET /api/v1/status`. */
export function statusOf (deps: RouteDeps): Status {
  return { ...deps.node.status(), api: deps.apiUrl(), pid: process.pid, gateway: deps.gatewayUrl?.() ?? null }
}

function stringField (body: unknown, key: string): string {
  const v = (body as Record<string, unknown> | undefined)?.[key]
  if (typeof v !== 'string' || v === '') throw new InvalidArgumentError(`request body must be a JSON object with a string "${key}"`)
  return v
}

/** The API v1 routes. */
export function apiRoutes (deps: RouteDeps): Route[] {
  const { node } = deps
  return [
    {
      method: 'GET',
      path: '/api/v1/openapi.json',
      auth: false,
      handler: () => openApiDocument()
    },
    {
      method: 'GET',
      path: '/api/v1/id',
      handler: () => ({ peerId: node.peerId, addresses: node.addresses() })
    },
    {
      method: 'GET',
      path: '/api/v1/status',
      handler: () => statusOf(deps)
    },
    {
      method: 'GET',
      path: '/api/v1/peers',
      handler: () => node.peers() satisfies Peer[]
    },
    {
      method: 'POST',
      path: '/api/v1/peers/connect',
      handler: async ({ body }) => await node.connect(stringField(body, 'address'))
    },
    {
      method: 'POST',
      path: '/api/v1/peers/disconnect',
      handler: async ({ body }) => ({ disconnected: await node.disconnect(stringField(body, 'peerId')) })
    },
    ...shareRoutes(node),
    ...bandwidthRoutes(node),
    ...chainRoutes(node),
    ...walletRoutes(node),
    ...onionRoutes(node),
    ...dashboardRoutes({ node, auth: deps.auth, feed: deps.feed, apiUrl: deps.apiUrl }),
    {
      method: 'POST',
      path: '/api/v1/stop',
      handler: () => {
        setImmediate(deps.requestStop)
        return { stopping: true }
      }
    }
  ]
}
