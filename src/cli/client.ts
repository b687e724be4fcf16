/**
 * The CLI's client for a daemon's API. It finds the daemon through the data dir: the `api`
 * file holds the URL, the `cookie` file the bearer secret.
 */
import { readFile } from 'node:fs/promises'
import { ApiError, DaemonNotRunningError } from '../errors.ts'
import { dataDirPaths } from '../node/paths.ts'

/** Talks to the daemon that runs on `dataDir`. */
export class ApiClient {
  readonly dataDir: string
  private base?: { url: string, cookie: string }

  constructor (dataDir: string) {
    this.dataDir = dataDir
  }

  /** Reads the api and cookie files. */
  async endpoint (): Promise<{ url: string, cookie: string }> {
    if (this.base != null) return this.base
    const paths = dataDirPaths(this.dataDir)
    let url: string, cookie: string
    try {
      url = (await readFile(paths.api, 'utf8')).trim()
      cookie = (await readFile(paths.cookie, 'utf8')).trim()
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        throw new DaemonNotRunningError(`no daemon is running on data dir ${this.dataDir}: start one with \`peerd daemon --data-dir ${this.dataDir}\`, or point --data-dir (or PEERD_DATA_DIR) at the right one`)
      }
      throw new DaemonNotRunningError(`cannot read the daemon's api/cookie files in ${this.dataDir}: ${(err as Error).message}`, { cause: err })
    }
    this.base = { url, cookie }
    return this.base
  }

  /** GET `path` (e.g. `/api/v1/id`). */
  async get<T> (path: string): Promise<T> {
    return await this.request<T>('GET', path)
  }

  /** POST `body` as JSON to `path`. */
  async post<T> (path: string, body: unknown = {}): Promise<T> {
    return await this.request<T>('POST', path, body)
  }

  /**
   * Sends a request and returns the response once its status is OK, for streamed bodies
   * (NDJSON progress, file bytes). No overall timeout: `signal` cancels.
   */
  async stream (method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<Response> {
    const res = await this.send(method, path, body, signal)
    if (!res.ok) await this.fail(res)
    return res
  }

  private async send (method: string, path: string, body: unknown, signal: AbortSignal | undefined): Promise<Response> {
    const { url, cookie } = await this.endpoint()
    try {
      return await fetch(url + path, {
        method,
        headers: { authorization: `Bearer ${cookie}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal
      })
    } catch (err) {
      if (signal?.aborted === true) throw err
      throw new DaemonNotRunningError(`the daemon for ${this.dataDir} does not answer at ${url} (${(err as { cause?: Error }).cause?.message ?? (err as Error).message}); it may have been killed: start it again with \`peerd daemon --data-dir ${this.dataDir}\``, { cause: err })
    }
  }

  private async fail (res: Response): Promise<never> {
    const text = await res.text()
    let e: { name?: string, message?: string } | undefined
    try { e = (JSON.parse(text) as { error?: { name?: string, message?: string } }).error } catch { /* not JSON */ }
    throw new ApiError(e?.name ?? 'ApiError', e?.message ?? `HTTP ${res.status}`, res.status)
  }

  private async request<T> (method: string, path: string, body?: unknown): Promise<T> {
    const res = await this.send(method, path, body, AbortSignal.timeout(600_000))
    const text = await res.text()
    let value: unknown
    try {
      value = JSON.parse(text)
    } catch {
      throw new ApiError('ApiError', `the daemon answered ${res.status} with a body that is not JSON`, res.status)
    }
    if (!res.ok) {
      const e = (value as { error?: { name?: string, message?: string } }).error
      throw new ApiError(e?.name ?? 'ApiError', e?.message ?? `HTTP ${res.status}`, res.status)
    }
    return value as T
  }
}
