/**
 * Dashboard authentication: one-time login tokens and browser sessions.
 *
 * A browser can't send the API's bearer cookie, so `peerd dashboard` (a bearer client) asks the
 * daemon for a login token and hands the browser a URL that carries it. Visiting that URL
 * redeems the token, once, for a session: a random id in an HttpOnly, SameSite=Strict cookie.
 * Tokens live {@link TOKEN_TTL_MS} and sessions {@link SESSION_TTL_MS}; both live in memory
 * only, so they die with the daemon.
 *
 * Cookies are shared by every port of a host, and a page from another port of 127.0.0.1 (the
 * gateway serves arbitrary content there) counts as same-site. So the cookie name carries the
 * API's port (two daemons don't log each other out), and {@link DashboardAuth.check} refuses a
 * session-authenticated request that a browser marks as coming from another origin
 * (`Sec-Fetch-Site`), and a state-changing one without the dashboard's own header and origin.
 *
 * @example
 * ```ts
 * const auth = new DashboardAuth({ cookie: () => bearer, apiUrl: () => url })
 * const { token } = auth.issueToken()
 * const session = auth.redeem(token) // then: res.setHeader('set-cookie', auth.sessionCookie(session))
 * auth.check(req) // 'bearer' | 'session' | undefined
 * ```
 * @module
 */
import { randomBytes, timingSafeEqual } from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import { ForbiddenError } from '../errors.ts'

/** How long a login token may wait to be used. */
export const TOKEN_TTL_MS = 10 * 60_000
/** How long a session lasts. */
export const SESSION_TTL_MS = 12 * 60 * 60_000
/** The header every state-changing dashboard request carries (a cross-origin page can't send it without CORS, which the API never grants). */
export const CSRF_HEADER = 'x-peerd-dashboard'

const MAX_TOKENS = 32
const MAX_SESSIONS = 64

/** Options of {@link DashboardAuth}. */
export interface DashboardAuthInit {
  /** The API's bearer secret. */
  cookie: () => string
  /** The API's base URL (its port names the session cookie). */
  apiUrl: () => string
}

/** How a request was authenticated. */
export type AuthKind = 'bearer' | 'session'

function equal (a: string, b: string): boolean {
  const x = Buffer.from(a)
  const y = Buffer.from(b)
  return x.length === y.length && timingSafeEqual(x, y)
}

/** Parses a Cookie header. */
function cookies (req: IncomingMessage): Map<string, string> {
  const out = new Map<string, string>()
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=')
    if (eq > 0) out.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim())
  }
  return out
}

/** Login tokens and sessions of one API server. */
export class DashboardAuth {
  private readonly init: DashboardAuthInit
  private readonly tokens = new Map<string, number>()
  private readonly sessions = new Map<string, number>()

  constructor (init: DashboardAuthInit) {
    this.init = init
  }

  /** The session cookie's name: `peerd_session_<api port>`. */
  cookieName (): string {
    const port = /:(\d+)$/.exec(this.init.apiUrl())?.[1] ?? '0'
    return `peerd_session_${port}`
  }

  private prune (): void {
    const now = Date.now()
    for (const [t, exp] of this.tokens) if (exp <= now) this.tokens.delete(t)
    for (const [s, exp] of this.sessions) if (exp <= now) this.sessions.delete(s)
  }

  /** A new one-time login token (the oldest unused one goes when there are too many). */
  issueToken (): { token: string, expiresAt: string } {
    this.prune()
    if (this.tokens.size >= MAX_TOKENS) this.tokens.delete(this.tokens.keys().next().value as string)
    const token = randomBytes(24).toString('base64url')
    const exp = Date.now() + TOKEN_TTL_MS
    this.tokens.set(token, exp)
    return { token, expiresAt: new Date(exp).toISOString() }
  }

  /** Spends `token` for a new session id; undefined when it is unknown, used or expired. */
  redeem (token: string): { session: string, expiresAt: string } | undefined {
    this.prune()
    let found: string | undefined
    for (const t of this.tokens.keys()) if (equal(t, token)) found = t
    if (found == null) return undefined
    this.tokens.delete(found)
    if (this.sessions.size >= MAX_SESSIONS) this.sessions.delete(this.sessions.keys().next().value as string)
    const session = randomBytes(32).toString('base64url')
    const exp = Date.now() + SESSION_TTL_MS
    this.sessions.set(session, exp)
    return { session, expiresAt: new Date(exp).toISOString() }
  }

  /** The `Set-Cookie` value that gives the browser `session`. */
  sessionCookie (session: string): string {
    return `${this.cookieName()}=${session}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${SESSION_TTL_MS / 1000}`
  }

  /** The `Set-Cookie` value that removes the session cookie. */
  clearCookie (): string {
    return `${this.cookieName()}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0`
  }

  /** The live session `req` carries: its id and expiry, or undefined. */
  sessionOf (req: IncomingMessage): { session: string, expiresAt: string } | undefined {
    const given = cookies(req).get(this.cookieName())
    if (given == null || given === '') return undefined
    this.prune()
    for (const [s, exp] of this.sessions) if (equal(s, given)) return { session: s, expiresAt: new Date(exp).toISOString() }
    return undefined
  }

  /** Ends `session`. */
  end (session: string): void {
    this.sessions.delete(session)
  }

  /** Whether the request carries `Authorization: Bearer <cookie>`. */
  isBearer (req: IncomingMessage): boolean {
    const m = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')
    return m != null && equal(m[1] as string, this.init.cookie())
  }

  /**
   * How `req` is authenticated, or undefined. A session-authenticated request from another
   * origin, or a state-changing one without the dashboard's header and origin, is a
   * {@link ForbiddenError}.
   */
  check (req: IncomingMessage): AuthKind | undefined {
    if (this.isBearer(req)) return 'bearer'
    if (this.sessionOf(req) == null) return undefined
    assertSameOrigin(req, req.method !== 'GET' && req.method !== 'HEAD')
    return 'session'
  }
}

/**
 * Refuses a browser request that comes from another origin. With `changes` (a POST), also
 * requires the {@link CSRF_HEADER} header and, when the browser sends one, an `Origin` equal to
 * the API's own.
 */
export function assertSameOrigin (req: IncomingMessage, changes: boolean): void {
  const site = req.headers['sec-fetch-site']
  if (site != null && site !== 'same-origin' && site !== 'none') {
    throw new ForbiddenError(`refused a dashboard request from another site (Sec-Fetch-Site: ${String(site)})`)
  }
  if (!changes) return
  if (req.headers[CSRF_HEADER] !== '1') throw new ForbiddenError(`a dashboard request that changes something must carry the header ${CSRF_HEADER}: 1`)
  const origin = req.headers.origin
  if (origin != null && origin !== `http://${req.headers.host ?? ''}`) throw new ForbiddenError(`refused a dashboard request from origin ${origin}`)
}
