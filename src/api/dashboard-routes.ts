/**
 * Dashboard routes of the API: login tokens and sessions, the live event stream, and the data
 * only the dashboard needed so far (the crawled network map, bandwidth, recent blocks).
 * @module
 */
import { InvalidArgumentError } from '../errors.ts'
import type { PeerdNode } from '../node/node.ts'
import type { DashboardFeed } from './feed.ts'
import { recentBlocks } from './recent-blocks.ts'
import { HANDLED } from './router.ts'
import type { Route } from './router.ts'
import type { DashboardAuth } from './sessions.ts'
import type { NetworkMap } from './types.ts'

/** What the dashboard routes act on. */
export interface DashboardRouteDeps {
  node: PeerdNode
  auth: DashboardAuth
  feed: DashboardFeed
  /** The API's base URL. */
  apiUrl: () => string
}

/** The login URL for `token`: the dashboard's address with the token in the query. */
export function loginUrl (apiUrl: string, token: string): string {
  return `${apiUrl}/?token=${encodeURIComponent(token)}`
}

/** The dashboard routes. */
export function dashboardRoutes (deps: DashboardRouteDeps): Route[] {
  const { node, auth, feed } = deps
  return [
    {
      method: 'POST',
      path: '/api/v1/dashboard/token',
      handler: () => {
        const t = auth.issueToken()
        return { ...t, url: loginUrl(deps.apiUrl(), t.token) }
      }
    },
    {
      method: 'GET',
      path: '/api/v1/session',
      auth: false,
      handler: ({ req }) => {
        const s = auth.sessionOf(req)
        // it reads the session cookie: the same checks as any session request
        if (s != null) auth.assertDashboardRequest(req)
        return { authenticated: s != null, expiresAt: s?.expiresAt ?? null }
      }
    },
    {
      method: 'POST',
      path: '/api/v1/session',
      auth: false,
      handler: ({ req, res, body }) => {
        auth.assertSameOrigin(req)
        const token = (body as { token?: unknown } | undefined)?.token
        if (typeof token !== 'string' || token === '') throw new InvalidArgumentError('request body must be a JSON object with a string "token" (from `peerd dashboard`)')
        const s = auth.redeem(token.trim())
        if (s == null) throw new InvalidArgumentError('this login token is unknown, used or expired: run `peerd dashboard` for a new one')
        res.setHeader('set-cookie', auth.sessionCookie(s.session))
        return { authenticated: true, expiresAt: s.expiresAt }
      }
    },
    {
      method: 'POST',
      path: '/api/v1/session/end',
      handler: ({ req, res }) => {
        const s = auth.sessionOf(req)
        if (s != null) auth.end(s.session)
        res.setHeader('set-cookie', auth.clearCookie())
        return { authenticated: false, expiresAt: null }
      }
    },
    {
      method: 'GET',
      path: '/api/v1/events',
      handler: ({ res }) => {
        feed.subscribe(res)
        return HANDLED
      }
    },
    {
      method: 'GET',
      path: '/api/v1/network',
      handler: async () => await node.peerList.network() satisfies NetworkMap
    },
    {
      method: 'GET',
      path: '/api/v1/bandwidth',
      handler: () => ({ ...node.bandwidth.totals(), history: feed.bandwidthHistory() })
    },
    {
      method: 'GET',
      path: '/api/v1/chain/blocks',
      handler: async ({ url }) => {
        const v = url.searchParams.get('count') ?? '20'
        const count = Number(v)
        if (!/^\d+$/.test(v) || count < 1 || count > 500) throw new InvalidArgumentError('query parameter count must be a whole number from 1 to 500')
        return await recentBlocks(node.cash, node.cash.info().tip, count)
      }
    }
  ]
}
