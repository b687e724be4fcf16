/**
 * The API's own host names, against DNS rebinding. A page on `evil.example` whose name the
 * attacker later points at 127.0.0.1 talks to the API as if it were same-origin, but its
 * requests still say `Host: evil.example`. So the API answers only requests addressed to one of
 * its own names: the address it listens on, `localhost`, the loopback literals `127.0.0.1` and
 * `[::1]` (all with the API's port), and the names the user adds (`apiAllowedHosts` in
 * config.json, for a reverse proxy or an SSH tunnel). When it listens on a wildcard address
 * (`0.0.0.0`, `::`) the addresses of this machine's interfaces count too: an IP literal can't be
 * rebound. A browser's `Origin` is checked against the same names.
 *
 * @example
 * ```ts
 * const hosts = new ApiHosts({ listenHost: '127.0.0.1', apiUrl: () => url, allowed: ['peerd.lan'] })
 * hosts.checkHost(req) // throws HostNotAllowedError
 * hosts.isOwnOrigin('http://127.0.0.1:9480') // true
 * ```
 * @module
 */
import type { IncomingMessage } from 'node:http'
import { isIP } from 'node:net'
import { networkInterfaces } from 'node:os'
import { InvalidArgumentError, PeerdError } from '../errors.ts'

/** A request addressed to a host name that is not the API's own (DNS rebinding, or a misconfigured proxy). */
export class HostNotAllowedError extends PeerdError {
  static override name = 'HostNotAllowedError'
}

/** Options of {@link ApiHosts}. */
export interface ApiHostsInit {
  /** The host the API listens on, as configured (`127.0.0.1`, `localhost`, `::1`, `0.0.0.0`…). */
  listenHost: string
  /** The API's base URL once listening (its port is the port every own name carries). */
  apiUrl: () => string
  /** More names: `HOST` (with the API's port) or `HOST:PORT`. */
  allowed?: string[]
}

/**
 * `host[:port]` normalised the way a browser would (lower case, IPv6 in brackets, IPv4 in dotted
 * form) as `host:port`, the port defaulting to `defaultPort`; undefined when it is not a bare
 * authority (a path, user info or a bad port).
 */
export function normalAuthority (s: string, defaultPort: number): string | undefined {
  if (s === '' || /[/?#@\s\\]/.test(s)) return undefined
  let u: URL
  try {
    u = new URL(`http://${s}`)
  } catch {
    return undefined
  }
  // a trailing dot names the same host: `localhost.` must not slip past as another name
  const host = u.hostname.endsWith('.') ? u.hostname.slice(0, -1) : u.hostname
  if (host === '') return undefined
  return `${host}:${u.port === '' ? (/:\d+$/.test(s) ? 80 : defaultPort) : u.port}`
}

/** Checks a configured extra host name; throws {@link InvalidArgumentError}. */
export function checkAllowedHost (s: string): void {
  if (normalAuthority(s, 1) == null) throw new InvalidArgumentError(`apiAllowedHosts: "${s}" is not a host name or HOST:PORT (e.g. "peerd.lan" or "peerd.example:443")`)
}

function isWildcard (host: string): boolean {
  return host === '0.0.0.0' || host === '::' || host === '[::]' || host === '0:0:0:0:0:0:0:0'
}

/** The API's own names; see the module comment. */
export class ApiHosts {
  private readonly init: ApiHostsInit
  private cache?: { url: string, names: Set<string> }

  constructor (init: ApiHostsInit) {
    this.init = init
    for (const h of init.allowed ?? []) checkAllowedHost(h)
  }

  private port (): number {
    return Number(/:(\d+)$/.exec(this.init.apiUrl())?.[1] ?? 0)
  }

  /** The `host:port` names, built once the port is known. */
  private names (): Set<string> {
    const url = this.init.apiUrl()
    if (this.cache?.url === url) return this.cache.names
    const port = this.port()
    const names = new Set<string>()
    const add = (s: string, p = port): void => {
      const n = normalAuthority(s, p)
      if (n != null) names.add(n)
    }
    const listen = isIP(this.init.listenHost) === 6 ? `[${this.init.listenHost}]` : this.init.listenHost
    if (!isWildcard(listen)) add(listen)
    if (url !== '') add(new URL(url).host)
    for (const h of ['localhost', '127.0.0.1', '[::1]']) add(h)
    for (const h of this.init.allowed ?? []) add(h)
    this.cache = { url, names }
    return names
  }

  /** Whether `authority` (`host:port`, normalised) is one of the API's names. */
  private isOwn (authority: string): boolean {
    if (this.names().has(authority)) return true
    if (!isWildcard(this.init.listenHost)) return false
    const port = this.port()
    for (const list of Object.values(networkInterfaces())) {
      for (const a of list ?? []) {
        if (normalAuthority(a.family === 'IPv6' ? `[${a.address.replace(/%.*$/, '')}]` : a.address, port) === authority) return true
      }
    }
    return false
  }

  /** Throws {@link HostNotAllowedError} unless the request's `Host` is one of the API's names. */
  checkHost (req: IncomingMessage): void {
    const given = req.headers.host
    const n = given == null ? undefined : normalAuthority(given, 80)
    if (n == null || !this.isOwn(n)) {
      throw new HostNotAllowedError(`this API answers only requests addressed to its own address (the URL in DATA_DIR/api, or localhost with its port), not ${given == null ? 'a request without a Host header' : `Host: ${JSON.stringify(given)}`}. If you reach it through another name (a reverse proxy, an SSH tunnel), add that name to "apiAllowedHosts" in DATA_DIR/config.json`)
    }
  }

  /** Whether a browser's `Origin` is one of the API's own URLs (`http://` or, behind a proxy, `https://`). */
  isOwnOrigin (origin: string): boolean {
    const m = /^(https?):\/\/([^/]+)$/i.exec(origin)
    if (m == null) return false
    const n = normalAuthority(m[2] as string, (m[1] as string).toLowerCase() === 'https' ? 443 : 80)
    return n != null && this.isOwn(n)
  }
}
