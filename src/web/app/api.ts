/**
 * Talking to the daemon from the page. Requests go to the same origin with the session cookie;
 * every request carries the dashboard header the API requires of session requests (a page on
 * another origin can't send it).
 */

/** The header the API requires on every session-authenticated request. */
export const DASHBOARD_HEADER = 'x-peerd-dashboard'

/** An error the API answered with. */
export class ApiError extends Error {
  readonly status: number
  readonly code: string

  constructor (code: string, message: string, status: number) {
    super(message)
    this.name = 'ApiError'
    this.code = code
    this.status = status
  }
}

async function parse<T> (res: Response): Promise<T> {
  const text = await res.text()
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    throw new ApiError('ApiError', `the daemon answered ${res.status} with something that is not JSON`, res.status)
  }
  if (!res.ok) {
    const e = (value as { error?: { name?: string, message?: string } }).error
    throw new ApiError(e?.name ?? 'ApiError', e?.message ?? `HTTP ${res.status}`, res.status)
  }
  return value as T
}

/** GET a JSON route. */
export async function get<T> (path: string): Promise<T> {
  return await parse<T>(await fetch(path, { credentials: 'same-origin', headers: { accept: 'application/json', [DASHBOARD_HEADER]: '1' } }))
}

/** GET a stream (the event stream): the response once its status is OK. */
export async function getStream (path: string, signal: AbortSignal): Promise<Response> {
  const res = await fetch(path, { credentials: 'same-origin', headers: { accept: 'text/event-stream', [DASHBOARD_HEADER]: '1' }, signal })
  if (!res.ok || res.body == null) return await parse<never>(res)
  return res
}

/** POST `body` as JSON to a route. */
export async function post<T> (path: string, body: unknown = {}, signal?: AbortSignal): Promise<T> {
  return await parse<T>(await fetch(path, {
    method: 'POST',
    credentials: 'same-origin',
    headers: { 'content-type': 'application/json', [DASHBOARD_HEADER]: '1' },
    body: JSON.stringify(body),
    signal
  }))
}

/** Uploads `file` to `POST /api/v1/add`, reporting the bytes sent so far. */
export async function upload<T> (file: File, onProgress: (sent: number) => void): Promise<T> {
  return await new Promise<T>((resolve, reject) => {
    const xhr = new XMLHttpRequest()
    xhr.open('POST', `/api/v1/add?name=${encodeURIComponent(file.name)}`)
    xhr.setRequestHeader(DASHBOARD_HEADER, '1')
    xhr.setRequestHeader('content-type', 'application/octet-stream')
    xhr.upload.onprogress = (e) => { onProgress(e.loaded) }
    xhr.onerror = () => { reject(new ApiError('NetworkError', 'the upload failed: the daemon did not answer', 0)) }
    xhr.onload = () => {
      void parse<T>(new Response(xhr.responseText, { status: xhr.status })).then(resolve, reject)
    }
    xhr.send(file)
  })
}

/** One line of `POST /api/v1/get`'s NDJSON stream. */
export type GetLine =
  | { event: 'progress', bytes: number, total: number, blocks: number, peers: number, fetched: number, rate: number }
  | { event: 'done', cid: string, path: string | null, size: number, peers: number, seconds: number, selection?: string }
  | { event: 'error', error: { name: string, message: string }, status: number }

/**
 * Fetches `cid` into the node (`POST /api/v1/get`) and calls `onLine` with each progress line.
 * Resolves with the last line (`done` or `error`). Aborting `signal` cancels the download.
 * `link`: a share link whose providers the node dials first; `only`: fetch just the entries these
 * globs match (a folder's files picked).
 */
export async function fetchContent (cid: string, onLine: (line: GetLine) => void, signal?: AbortSignal, options: { link?: string, only?: string[] } = {}): Promise<GetLine> {
  const { link, only } = options
  const res = await fetch('/api/v1/get', {
    method: 'POST',
    credentials: 'same-origin',
    headers: { 'content-type': 'application/json', [DASHBOARD_HEADER]: '1' },
    body: JSON.stringify({ ...(link != null ? { link } : { cid }), ...(only != null && only.length > 0 ? { only } : {}) }),
    signal
  })
  if (!res.ok || res.body == null) return await parse<never>(res)
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader()
  let buffered = ''
  let last: GetLine | undefined
  for (;;) {
    const { value, done } = await reader.read()
    if (done) break
    buffered += value
    let nl = buffered.indexOf('\n')
    while (nl >= 0) {
      const text = buffered.slice(0, nl).trim()
      buffered = buffered.slice(nl + 1)
      if (text !== '') {
        last = JSON.parse(text) as GetLine
        onLine(last)
      }
      nl = buffered.indexOf('\n')
    }
  }
  if (last == null || last.event === 'progress') throw new ApiError('ApiError', 'the download stream ended early', 0)
  return last
}
