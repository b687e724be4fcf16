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
 * (`Sec-Fetch-Site`), that has an `Origin` other than the API's own, or that lacks the
 * dashboard's own header: GETs too, since some of them start work (a download for `cat`) and a
 * browser without Fetch Metadata would otherwise let a same-site page send them.
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
/** The header every dashboard request carries (a cross-origin page can't send it without CORS, which the API never grants). */
export const CSRF_HEADER = 'x-peerd-dashboard'

const MAX_TOKENS = 32
const MAX_SESSIONS = 64

/** Options of {@link DashboardAuth}. */
export interface DashboardAuthInit {
  /** The API's bearer secret. */
  cookie: () => string
  /** The API's base URL (its port names the session cookie). */
  apiUrl: () => string
  /** Whether a browser's `Origin` is one of the API's own URLs. Default: equal to `apiUrl()`. */
  isOwnOrigin?: (origin: string) => boolean
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

  /** Whether `origin` is the API's own. */
  private isOwnOrigin (origin: string): boolean {
    return this.init.isOwnOrigin?.(origin) ?? origin === this.init.apiUrl()
  }

  /**
   * How `req` is authenticated, or undefined. A session-authenticated request that fails
   * {@link DashboardAuth.assertDashboardRequest} is a {@link ForbiddenError}.
   */
  check (req: IncomingMessage, options: { navigable?: boolean } = {}): AuthKind | undefined {
    if (this.isBearer(req)) return 'bearer'
    if (this.sessionOf(req) == null) return undefined
    this.assertDashboardRequest(req, options)
    return 'session'
  }

  /**
   * Refuses a browser request that comes from another origin: `Sec-Fetch-Site` other than
   * same-origin (or none), an `Origin` other than the API's own.
   */
  assertSameOrigin (req: IncomingMessage): void {
    const site = req.headers['sec-fetch-site']
    if (site != null && site !== 'same-origin' && site !== 'none') {
      throw new ForbiddenError(`refused a dashboard request from another site (Sec-Fetch-Site: ${String(site)})`)
    }
    const origin = req.headers.origin
    if (origin != null && !this.isOwnOrigin(origin)) throw new ForbiddenError(`refused a dashboard request from origin ${origin}: only the API's own address may use a session`)
  }

  /**
   * {@link DashboardAuth.assertSameOrigin}, and the {@link CSRF_HEADER} header on every request.
   * With `navigable` (a download link), a same-origin navigation may do without the header: the
   * browser says so in Fetch Metadata, which no page can forge, and the page that navigates
   * never reads the response.
   */
  assertDashboardRequest (req: IncomingMessage, options: { navigable?: boolean } = {}): void {
    this.assertSameOrigin(req)
    if (req.headers[CSRF_HEADER] === '1') return
    if (options.navigable === true && req.method === 'GET' && req.headers['sec-fetch-site'] === 'same-origin' && req.headers['sec-fetch-mode'] === 'navigate') return
    throw new ForbiddenError(`a dashboard request must carry the header ${CSRF_HEADER}: 1 (the dashboard sends it; a page elsewhere can't)`)
  }
}
