/**
 * Serves the dashboard's built files (Vite's output, `dist/web/`) at the API's address.
 *
 * Only files under the root are served: the path is decoded once, and a segment that is
 * empty, `.`, `..` or hidden, a backslash or a NUL is a 404, as is anything whose real path
 * (symbolic links resolved) leaves the root. Content types come from a fixed table, Vite's
 * hashed `assets/` are cached for a year (`immutable`), everything else is revalidated
 * (`no-cache` with an ETag). HTML carries a strict Content-Security-Policy. Without a build,
 * every page is a short HTML page that says how to make one.
 *
 * @example
 * ```ts
 * const site = new StaticSite({ root: webRoot() })
 * await site.serve(req, res, url.pathname)
 * ```
 * @module
 */
import { createReadStream } from 'node:fs'
import { realpath, stat } from 'node:fs/promises'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { extname, join, sep } from 'node:path'
import { fileURLToPath } from 'node:url'

/** The built dashboard: `dist/web/` of the package (the same path from `src/api/` and `dist/api/`). */
export function webRoot (): string {
  return fileURLToPath(new URL('../../dist/web/', import.meta.url))
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.webmanifest': 'application/manifest+json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8'
}

/** The Content-Security-Policy of the dashboard's pages: nothing but its own files and API. */
export const DASHBOARD_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  // uPlot and force-graph set style attributes; no inline <style> or script is needed
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data: blob:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'"
].join('; ')

/** Headers every dashboard HTML response carries. */
export function htmlHeaders (): Record<string, string> {
  return {
    'content-type': TYPES['.html'] as string,
    'content-security-policy': DASHBOARD_CSP,
    'x-frame-options': 'DENY',
    'referrer-policy': 'no-referrer',
    'x-content-type-options': 'nosniff'
  }
}

const NOT_BUILT = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>peerd dashboard: not built</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 40rem; margin: 3rem auto; padding: 0 1rem; line-height: 1.5">
<h1>The dashboard is not built</h1>
<p>This daemon serves its dashboard from <code>dist/web/</code>, which is missing.
In the peerd checkout, build it with:</p>
<pre><code>npm run build:web</code></pre>
<p><code>npm ci</code> and <code>npm start</code> build it for you. Then reload this page.
The HTTP API under <code>/api/v1/</code> works without it.</p>
</body></html>
`

/** Options of {@link StaticSite}. */
export interface StaticSiteInit {
  /** The folder with `index.html` and `assets/`. */
  root: string
}

/** A folder of static files served read-only. */
export class StaticSite {
  private readonly root: string

  constructor (init: StaticSiteInit) {
    this.root = init.root.endsWith(sep) ? init.root.slice(0, -1) : init.root
  }

  /** The file `pathname` names, or undefined when it names none (or tries to leave the root). */
  async resolve (pathname: string): Promise<{ path: string, size: number, mtimeMs: number } | undefined> {
    let rel: string
    try {
      rel = decodeURIComponent(pathname === '/' ? '/index.html' : pathname)
    } catch {
      return undefined
    }
    const segments = rel.split('/').slice(1)
    if (segments.some(s => s === '' || s.startsWith('.') || s.includes('\\') || s.includes('\0'))) return undefined
    try {
      const root = await realpath(this.root)
      const path = await realpath(join(root, ...segments))
      if (!path.startsWith(root + sep)) return undefined
      const st = await stat(path)
      return st.isFile() ? { path, size: st.size, mtimeMs: st.mtimeMs } : undefined
    } catch {
      return undefined
    }
  }

  /** Whether the build is there. */
  async built (): Promise<boolean> {
    return (await this.resolve('/')) != null
  }

  /** Answers a GET or HEAD for `pathname`. */
  async serve (req: IncomingMessage, res: ServerResponse, pathname: string): Promise<void> {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' }).end('method not allowed\n')
      return
    }
    const file = await this.resolve(pathname)
    if (file == null) {
      if (!await this.built()) {
        res.writeHead(503, { ...htmlHeaders(), 'cache-control': 'no-store' }).end(req.method === 'HEAD' ? undefined : NOT_BUILT)
        return
      }
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8', 'x-content-type-options': 'nosniff', 'cache-control': 'no-store' })
      res.end(req.method === 'HEAD' ? undefined : `not found: ${pathname}\n`)
      return
    }
    const ext = extname(file.path)
    const etag = `"${file.size.toString(16)}-${Math.floor(file.mtimeMs).toString(16)}"`
    const headers: Record<string, string | number> = {
      ...(ext === '.html' ? htmlHeaders() : { 'content-type': TYPES[ext] ?? 'application/octet-stream', 'x-content-type-options': 'nosniff' }),
      'cache-control': pathname.startsWith('/assets/') ? 'public, max-age=31536000, immutable' : 'no-cache',
      etag
    }
    if (req.headers['if-none-match'] === etag) {
      res.writeHead(304, headers).end()
      return
    }
    res.writeHead(200, { ...headers, 'content-length': file.size })
    if (req.method === 'HEAD') {
      res.end()
      return
    }
    const stream = createReadStream(file.path)
    stream.on('error', () => { res.destroy() })
    stream.pipe(res)
  }
}
