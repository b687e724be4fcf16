/**
 * A small JSON router over `node:http`: a check of every request first (the API's host names),
 * exact paths, typed errors to status codes, a body size limit checked while reading, body
 * timeouts, and authentication (the bearer cookie in constant time, or a dashboard session).
 * Paths outside `/api/` go to a fallback (the dashboard's files).
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import {
  errorToJson, MalformedRequestError, MethodNotAllowedError, NotFoundError, PayloadTooLargeError, UnauthorizedError
} from '../errors.ts'
import { readBody } from '../utils/http-server.ts'
import type { BodyLimits } from '../utils/http-server.ts'
import { apiStatus } from './http-status.ts'

/** Largest request body the API reads. */
export const MAX_BODY_BYTES = 1024 * 1024

/** Returned by a handler that wrote the response itself (streams). */
export const HANDLED = Symbol('handled')

/** What a handler receives. */
export interface RequestContext {
  req: IncomingMessage
  res: ServerResponse
  url: URL
  /** The parsed JSON body (`undefined` when there is none). */
  body: unknown
  /** A `raw` route's body, read with the idle timeout (read this, not `req`). */
  stream: AsyncIterable<Uint8Array>
  /** How the request was authenticated (undefined on a route without auth). */
  auth?: 'bearer' | 'session'
}

/** A route handler: returns the JSON body to send with status 200. */
export type Handler = (ctx: RequestContext) => unknown

/** One route. */
export interface Route {
  method: 'GET' | 'POST'
  path: string
  handler: Handler
  /** Whether the cookie is required. Default true. */
  auth?: boolean
  /** `raw`: the handler reads the request body itself (uploads). Default `json` for POST. */
  body?: 'json' | 'raw'
  /** A dashboard session may open it by a same-origin navigation, without the dashboard header (a download link). */
  navigable?: boolean
}

/** Reads at most {@link MAX_BODY_BYTES} within `limits` and parses JSON; an empty body is `undefined`. */
async function readJson (req: IncomingMessage, limits: BodyLimits): Promise<unknown> {
  const declared = Number(req.headers['content-length'] ?? 0)
  if (declared > MAX_BODY_BYTES) throw new PayloadTooLargeError(`request body over ${MAX_BODY_BYTES} bytes`)
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of readBody(req, limits)) {
    size += chunk.length
    if (size > MAX_BODY_BYTES) throw new PayloadTooLargeError(`request body over ${MAX_BODY_BYTES} bytes`)
    chunks.push(chunk)
  }
  const text = Buffer.concat(chunks).toString('utf8')
  if (text.trim() === '') return undefined
  try {
    return JSON.parse(text)
  } catch (err) {
    throw new MalformedRequestError(`request body is not valid JSON: ${(err as Error).message}`)
  }
}

/**
 * Sends `body` as JSON. A response sent before the request body has all arrived (an error, a
 * route that reads none) closes the connection: what is left of the body is not read.
 */
export function sendJson (res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body)
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    ...(res.req.complete ? {} : { connection: 'close' })
  })
  res.end(text)
}

/** What {@link createRouter} needs besides the routes. */
export interface RouterOptions {
  /** Checks every request first (the fallback's too); throws to refuse it. */
  guard?: (req: IncomingMessage) => void
  /** How a request is authenticated; undefined: not at all. May throw (a forbidden session request). */
  authenticate: (req: IncomingMessage, route: Route) => 'bearer' | 'session' | undefined
  /** Timeouts for request bodies: JSON bodies have both limits, raw bodies (uploads) only the idle one. */
  body: BodyLimits
  /** Called with every failure that answers 500 or above (but 502 and 503). */
  onError: (err: unknown) => void
  /** Answers paths outside `/api/`; without it they are JSON 404s. */
  fallback?: (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<void>
}

/** Builds the request listener for `routes`. */
export function createRouter (routes: Route[], options: RouterOptions) {
  const { guard, authenticate, onError, fallback } = options
  const rawLimits: BodyLimits = { idleMs: options.body.idleMs }
  return (req: IncomingMessage, res: ServerResponse): void => {
    void (async () => {
      try {
        guard?.(req)
        let url: URL
        try {
          url = new URL(req.url ?? '/', 'http://localhost')
        } catch {
          // '//.' reads as a scheme-relative URL with an invalid host: the client's mistake, not a 500
          throw new MalformedRequestError('malformed request URL')
        }
        if (fallback != null && url.pathname !== '/api' && !url.pathname.startsWith('/api/')) {
          await fallback(req, res, url)
          return
        }
        const matching = routes.filter(r => r.path === url.pathname)
        if (matching.length === 0) throw new NotFoundError(`no such route: ${url.pathname}`)
        const route = matching.find(r => r.method === req.method)
        if (route == null) {
          res.setHeader('allow', matching.map(r => r.method).join(', '))
          throw new MethodNotAllowedError(`${req.method ?? ''} is not allowed on ${url.pathname} (use ${matching.map(r => r.method).join(' or ')})`)
        }
        const auth = route.auth !== false ? authenticate(req, route) : undefined
        if (route.auth !== false && auth == null) throw new UnauthorizedError()
        const body = route.method === 'POST' && route.body !== 'raw' ? await readJson(req, options.body) : undefined
        const stream = route.body === 'raw' ? readBody(req, rawLimits) : emptyBody()
        const result = await route.handler({ req, res, url, body, stream, auth })
        if (result !== HANDLED) sendJson(res, 200, result)
      } catch (err) {
        const status = apiStatus(err)
        if (status >= 500 && status !== 502 && status !== 503) onError(err)
        if (!res.headersSent) sendJson(res, status, { error: errorToJson(err) })
        else res.destroy()
      }
    })()
  }
}

async function * emptyBody (): AsyncGenerator<Uint8Array, void, undefined> {}
