/**
 * A read-only HTTP gateway in the manner of IPFS path gateways, so a browser can open or
 * stream shared content: `GET`/`HEAD /ipfs/<CID>[/<path>]`. Files are served with their type,
 * single byte ranges and ETag revalidation; a folder serves its `index.html` or a listing.
 * Missing blocks are fetched from the network while the response streams.
 *
 * Every CID shares the gateway's one origin, so content is served inert: file responses carry
 * `Content-Security-Policy: sandbox` (an HTML or SVG file can't run script, and its origin is
 * opaque: it can't read other content, nor send the dashboard's SameSite cookie) and
 * `X-Content-Type-Options: nosniff`. Subdomain isolation (one origin per CID, as Kubo's
 * subdomain gateway does) would let sites run; it needs wildcard DNS, so it is not done here.
 *
 * The gateway answers any `Host` (no DNS rebinding check, unlike the API): it holds no
 * credentials and reads no cookies, shares no origin with the API (it has its own port), and
 * answers every client the same; a rebound page can only read content by a CID it already
 * knows, which this node serves to any peer that asks anyway.
 *
 * @example
 * ```ts
 * const gateway = new Gateway({ share: node.share, host: '127.0.0.1', port: 8080, log })
 * const url = await gateway.start() // http://127.0.0.1:8080, then GET url + '/ipfs/<CID>'
 * ```
 */
import { closeHttp, listenHttp } from '../utils/http-server.ts'
import { once } from 'node:events'
import { createServer } from 'node:http'
import type { IncomingMessage, OutgoingHttpHeaders, Server, ServerResponse } from 'node:http'
import {
  BadPathError, exporter, InvalidParametersError, NoResolverError, NotFoundError as ExporterNotFoundError, NotUnixFSError,
  OverReadError, UnderReadError
} from 'ipfs-unixfs-exporter'
import type { ReadableStorage, UnixFSDirectory, UnixFSDirectoryEntry, UnixFSEntry } from 'ipfs-unixfs-exporter'
import { InvalidArgumentError, NotFoundError, NotStartedError } from '../errors.ts'
import type { Logger } from '../utils/logger.ts'
import { BlockMismatchError, WantAbortedError } from './bitswap/errors.ts'
import { IdentityTooLargeError, parseCid } from './block.ts'
import { BlockNotFoundError, InvalidBlockError } from './blockstore.ts'
import { ContentNotFoundError, DownloadCancelledError, InvalidDagError } from './errors.ts'
import { UnsafePathError } from './export.ts'
import { UnsupportedDagError } from './output.ts'
import type { ShareService } from './service.ts'

/** What the gateway needs of the share service. */
export type GatewayShare = Pick<ShareService, 'resolve' | 'cat'> & { blockstore: ReadableStorage }

/** Options of a {@link Gateway}. */
export interface GatewayInit {
  share: GatewayShare
  host: string
  port: number
  log: Logger
}

/** Seconds without data from the network before a request fails, unless `?timeout=` says otherwise. */
export const DEFAULT_TIMEOUT_SECONDS = 30
/** Largest `?timeout=` accepted. */
export const MAX_TIMEOUT_SECONDS = 300
/** Most entries a directory listing shows. */
const MAX_LISTING = 10_000
/** Content under a CID never changes. */
const IMMUTABLE = 'public, max-age=29030400, immutable'
/** Content is shown inert: no script, no forms, no plugins, an opaque origin. */
const SANDBOX = 'sandbox'
/** Bytes read to guess the type of a file whose name says nothing. */
const SNIFF_BYTES = 512

const HELP = `peerd gateway: read-only access to content shared on the peerd network.

  GET /ipfs/<CID>              a file, or a folder's index.html or listing
  GET /ipfs/<CID>/<path>       an entry inside a folder
  ?timeout=<seconds>           how long to wait for data from the network (default ${DEFAULT_TIMEOUT_SECONDS}, at most ${MAX_TIMEOUT_SECONDS})
  ?filename=<name>             name that picks the content type (and the name a browser saves under)
`

/** An inclusive byte range. */
export interface ByteRange { start: number, end: number }

/**
 * Parses a `Range` header (RFC 9110 §14.2) against a representation of `size` bytes.
 * Returns the range to send, `'unsatisfiable'` (answer 416), or `undefined` to send everything:
 * no header, another unit, several ranges, a malformed or invalid range, or empty content
 * (a server may ignore a Range header, §14.2).
 */
export function parseRange (header: string | undefined, size: number): ByteRange | 'unsatisfiable' | undefined {
  if (header == null || size === 0) return undefined
  // no two `\s*` next to each other around an optional group: that backtracks quadratically,
  // so a long run of spaces in a hostile Range header would stall the event loop
  const m = /^bytes\s*=\s*(?:(\d+)\s*)?-\s*(\d*)$/i.exec(header.trim())
  if (m == null) return undefined
  const first = m[1] ?? ''
  const last = m[2] as string
  if (first === '') {
    if (last === '') return undefined
    const suffix = Number(last)
    if (suffix === 0) return 'unsatisfiable'
    return { start: Math.max(0, size - suffix), end: size - 1 }
  }
  const start = Number(first)
  const end = last === '' ? Infinity : Number(last)
  if (end < start) return undefined // an invalid range-spec: the header is ignored
  if (start >= size) return 'unsatisfiable'
  return { start, end: Math.min(end, size - 1) }
}

/** Whether an `If-None-Match` header matches `etag` (weak comparison, §13.1.2). */
export function etagMatches (header: string | undefined, etag: string): boolean {
  if (header == null) return false
  if (header.trim() === '*') return true
  const bare = (t: string): string => t.trim().replace(/^W\//, '')
  return header.split(',').some(t => bare(t) === bare(etag))
}

const UTF8 = '; charset=utf-8'
const TYPES: Record<string, string> = {
  html: 'text/html' + UTF8, htm: 'text/html' + UTF8, css: 'text/css' + UTF8, js: 'text/javascript' + UTF8,
  mjs: 'text/javascript' + UTF8, json: 'application/json' + UTF8, txt: 'text/plain' + UTF8, md: 'text/markdown' + UTF8,
  csv: 'text/csv' + UTF8, xml: 'application/xml', png: 'image/png', jpg: 'image/jpeg', jpeg: 'image/jpeg',
  gif: 'image/gif', svg: 'image/svg+xml', webp: 'image/webp', avif: 'image/avif', ico: 'image/x-icon', bmp: 'image/bmp',
  mp4: 'video/mp4', m4v: 'video/mp4', webm: 'video/webm', mov: 'video/quicktime', ogv: 'video/ogg', mkv: 'video/x-matroska',
  mp3: 'audio/mpeg', m4a: 'audio/mp4', ogg: 'audio/ogg', oga: 'audio/ogg', opus: 'audio/ogg', wav: 'audio/wav',
  flac: 'audio/flac', pdf: 'application/pdf', zip: 'application/zip', gz: 'application/gzip', tar: 'application/x-tar',
  wasm: 'application/wasm', woff: 'font/woff', woff2: 'font/woff2', ttf: 'font/ttf', otf: 'font/otf', epub: 'application/epub+zip'
}

/** The content type of a file named `name`, by its extension; undefined when unknown. */
export function typeByName (name: string | undefined): string | undefined {
  const dot = name?.lastIndexOf('.') ?? -1
  if (name == null || dot < 1) return undefined
  return TYPES[name.slice(dot + 1).toLowerCase()]
}

/** [offset, signature, type]: a few formats' magic numbers. HTML and SVG are never guessed. */
const MAGIC: Array<[number, string, string]> = [
  [0, '\x89PNG\r\n\x1a\n', 'image/png'], [0, '\xff\xd8\xff', 'image/jpeg'], [0, 'GIF87a', 'image/gif'],
  [0, 'GIF89a', 'image/gif'], [0, '%PDF-', 'application/pdf'], [0, 'PK\x03\x04', 'application/zip'],
  [0, '\x00asm', 'application/wasm'], [0, 'OggS', 'audio/ogg'], [0, 'ID3', 'audio/mpeg'], [0, 'fLaC', 'audio/flac'],
  [0, '\x1a\x45\xdf\xa3', 'video/webm'], [0, '\x1f\x8b', 'application/gzip'], [0, 'wOFF', 'font/woff'],
  [0, 'wOF2', 'font/woff2'], [257, 'ustar', 'application/x-tar'], [4, 'ftypavif', 'image/avif'], [4, 'ftypqt  ', 'video/quicktime'],
  [4, 'ftypM4A ', 'audio/mp4'], [4, 'ftyp', 'video/mp4']
]

/** Guesses a content type from a file's first bytes: a magic number, else UTF-8 text, else octet-stream. */
export function sniffType (head: Uint8Array): string {
  const starts = (at: number, sig: string): boolean => {
    if (head.length < at + sig.length) return false
    for (let i = 0; i < sig.length; i++) if (head[at + i] !== sig.charCodeAt(i)) return false
    return true
  }
  if (starts(0, 'RIFF') && head.length >= 12) {
    const form = String.fromCharCode(...head.subarray(8, 12))
    if (form === 'WEBP') return 'image/webp'
    if (form === 'WAVE') return 'audio/wav'
  }
  for (const [at, sig, type] of MAGIC) if (starts(at, sig)) return type
  // text: no control characters but tab, newlines, form feed and escape, and valid UTF-8
  // (a character cut by the end of the sample is allowed)
  if (head.some(b => b < 0x20 && b !== 0x09 && b !== 0x0a && b !== 0x0c && b !== 0x0d && b !== 0x1b)) return 'application/octet-stream'
  for (let cut = 0; cut <= Math.min(3, head.length); cut++) {
    try {
      new TextDecoder('utf-8', { fatal: true }).decode(head.subarray(0, head.length - cut))
      return 'text/plain' + UTF8
    } catch {
      if (head.length < SNIFF_BYTES) break // the whole file: no cut character at its end
    }
  }
  return 'application/octet-stream'
}

/** Escapes text for HTML content and attribute values. */
export function escapeHtml (s: string): string {
  return s.replace(/[&<>"']/g, c => `&#${c.charCodeAt(0)};`)
}

function formatSize (n: number): string {
  if (n < 1024) return `${n} B`
  const units = ['KiB', 'MiB', 'GiB', 'TiB']
  let v = n / 1024
  let i = 0
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++ }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[i] as string}`
}

/**
 * The status the gateway answers each error class with, keyed by its `static name`; anything else
 * is a 500. Content that is not here in time is a 504 (the IPFS path gateway spec's Gateway
 * Timeout); content that peers sent but peerd cannot read is a 502.
 */
export const GATEWAY_STATUS: ReadonlyMap<string, number> = new Map([
  [InvalidArgumentError.name, 400],
  [IdentityTooLargeError.name, 400],
  [BadPathError.name, 400],
  [InvalidParametersError.name, 400],
  // no such path inside the content; the exporter's NotFoundError has the same name
  [NotFoundError.name, 404],
  [UnsupportedDagError.name, 422],
  [UnsafePathError.name, 422],
  [NotUnixFSError.name, 502],
  [NoResolverError.name, 502],
  [InvalidDagError.name, 502],
  [InvalidBlockError.name, 502],
  [BlockMismatchError.name, 502],
  [OverReadError.name, 502],
  [UnderReadError.name, 502],
  [BlockNotFoundError.name, 502],
  // a download cancelled under this request (the node stopping), not by its client
  [DownloadCancelledError.name, 503],
  [WantAbortedError.name, 503],
  [NotStartedError.name, 503],
  [ContentNotFoundError.name, 504]
])

/** No such path inside the content: ShareService.resolve's NotFoundError, or the exporter's. */
function isNotFound (err: unknown): boolean {
  return err instanceof NotFoundError || err instanceof ExporterNotFoundError
}

/** The HTTP status for an error from resolving or reading content: its class's entry in {@link GATEWAY_STATUS}, else 500. */
export function gatewayStatus (err: unknown): number {
  return (err instanceof Error ? GATEWAY_STATUS.get(err.name) : undefined) ?? 500
}

/** What one request is about. */
interface Target {
  cid: string
  /** Segments inside the root, decoded. */
  path: string[]
  /** The request path as sent (percent-encoded), for `X-Ipfs-Path`. */
  requestPath: string
  url: URL
  head: boolean
  signal: AbortSignal
  timeoutSeconds: number
}

/** See the module comment. */
export class Gateway {
  private readonly init: GatewayInit
  private readonly server: Server
  private url = ''

  constructor (init: GatewayInit) {
    this.init = init
    this.server = createServer((req, res) => { void this.handle(req, res) })
    this.server.headersTimeout = 10_000
    this.server.requestTimeout = 60_000
  }

  /** Listens; resolves to the base URL (`http://HOST:PORT`). */
  async start (): Promise<string> {
    this.url = await listenHttp(this.server, this.init.host, this.init.port, 'gateway', '--gateway')
    return this.url
  }

  /** Stops accepting requests and closes open connections (aborting their fetches). */
  async stop (): Promise<void> {
    await closeHttp(this.server)
  }

  private async handle (req: IncomingMessage, res: ServerResponse): Promise<void> {
    const abort = new AbortController()
    // the client went away: stop fetching for it
    res.on('close', () => { if (!res.writableFinished) abort.abort() })
    try {
      await this.route(req, res, abort.signal)
    } catch (err) {
      if (abort.signal.aborted) return
      if (res.headersSent) {
        this.init.log.debug('gateway response failed', { err, url: req.url })
        res.destroy()
        return
      }
      const status = gatewayStatus(err)
      if (status >= 500 && status !== 504) this.init.log.warn('gateway request failed', { err, url: req.url })
      const message = status === 504
        ? `not found within the timeout: ${(err as Error).message} (a longer ?timeout=SECONDS, up to ${MAX_TIMEOUT_SECONDS}, may help)`
        : status === 500 ? 'internal error (see the daemon log)' : (err as Error).message
      try {
        this.text(res, status, message + '\n')
      } catch {
        res.destroy()
      }
    }
  }

  private text (res: ServerResponse, status: number, body: string, headers: OutgoingHttpHeaders = {}): void {
    res.writeHead(status, {
      'content-type': 'text/plain; charset=utf-8',
      'content-length': Buffer.byteLength(body),
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
      ...headers
    })
    res.end(res.req.method === 'HEAD' ? undefined : body)
  }

  private async route (req: IncomingMessage, res: ServerResponse, signal: AbortSignal): Promise<void> {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      this.text(res, 405, `method ${String(req.method)} not allowed: the gateway is read-only (GET, HEAD)\n`, { allow: 'GET, HEAD' })
      return
    }
    let url: URL
    try {
      url = new URL(req.url ?? '/', 'http://gateway.invalid')
    } catch {
      throw new InvalidArgumentError('malformed request URL')
    }
    if (url.pathname === '/') {
      this.text(res, 200, HELP)
      return
    }
    const m = /^\/ipfs\/([^/]*)(\/.*)?$/.exec(url.pathname)
    if (m == null) {
      this.text(res, 404, 'not found: this gateway serves only /ipfs/<CID>[/<path>] (see /)\n')
      return
    }
    if (m[1] === '') throw new InvalidArgumentError('missing CID: use /ipfs/<CID>[/<path>]')
    const cid = parseCid(decodeSegment(m[1] as string)).toString()
    const path = (m[2] ?? '').split('/').filter(s => s !== '').map(decodeSegment)
    const target: Target = { cid, path, requestPath: url.pathname, url, head: req.method === 'HEAD', signal, timeoutSeconds: timeoutParam(url) }

    // a file at the root is its own ETag: revalidate without touching the store
    if (path.length === 0 && etagMatches(req.headers['if-none-match'], `"${cid}"`)) {
      res.writeHead(304, this.immutableHeaders(target, `"${cid}"`))
      res.end()
      return
    }
    const entry = await this.resolve(target, path)
    if (entry.type === 'directory') {
      await this.directory(req, res, target, entry)
      return
    }
    await this.file(req, res, target, entry, path, url.searchParams.get('filename') ?? path.at(-1))
  }

  private async resolve (t: Target, path: string[]): Promise<UnixFSEntry> {
    return await this.init.share.resolve(t.cid, { path: path.join('/'), signal: t.signal, timeoutSeconds: t.timeoutSeconds })
  }

  private immutableHeaders (t: Target, etag: string): OutgoingHttpHeaders {
    return { etag, 'cache-control': IMMUTABLE, 'x-ipfs-path': t.requestPath, 'x-content-type-options': 'nosniff', 'content-security-policy': SANDBOX }
  }

  /** Serves a file (`filePath` inside the root) whole or one range of it. */
  private async file (req: IncomingMessage, res: ServerResponse, t: Target, entry: Exclude<UnixFSEntry, UnixFSDirectory>, filePath: string[], name: string | undefined): Promise<void> {
    if (entry.type === 'object') throw new InvalidArgumentError(`${t.cid} is not UnixFS data`)
    const size = Number(entry.size)
    const etag = `"${entry.cid.toString()}"`
    const headers: OutgoingHttpHeaders = { ...this.immutableHeaders(t, etag), 'accept-ranges': 'bytes' }
    if (etagMatches(req.headers['if-none-match'], etag)) {
      res.writeHead(304, headers)
      res.end()
      return
    }
    const read = { path: filePath.join('/'), signal: t.signal, timeoutSeconds: t.timeoutSeconds }
    let type = typeByName(name)
    if (type == null) {
      const head: Uint8Array[] = []
      if (size > 0) for await (const chunk of this.init.share.cat(t.cid, { ...read, offset: 0, length: Math.min(size, SNIFF_BYTES) })) head.push(chunk)
      type = sniffType(Buffer.concat(head))
    }
    headers['content-type'] = type
    if (t.url.searchParams.has('filename') && name != null) {
      headers['content-disposition'] = `inline; filename="${name.replace(/[^\x20-\x7e]|["\\]/g, '_')}"; filename*=UTF-8''${encodeRfc5987(name)}`
    }

    let range = parseRange(req.headers.range, size)
    // If-Range: the range only applies to this very content (a date never matches: there is no Last-Modified)
    const ifRange = req.headers['if-range']
    if (ifRange != null && String(ifRange).trim() !== etag) range = undefined
    if (range === 'unsatisfiable') {
      this.text(res, 416, `range not satisfiable: the content is ${size} bytes\n`, { 'content-range': `bytes */${size}`, 'accept-ranges': 'bytes' })
      return
    }
    const start = range?.start ?? 0
    const length = range == null ? size : range.end - range.start + 1
    headers['content-length'] = length
    if (range != null) headers['content-range'] = `bytes ${range.start}-${range.end}/${size}`
    const status = range == null ? 200 : 206
    if (t.head || length === 0) {
      res.writeHead(status, headers)
      res.end()
      return
    }
    const chunks = this.init.share.cat(t.cid, { ...read, offset: start, length })
    try {
      // the first chunk is awaited before the headers, so a fetch that fails early gets a status
      let next = await chunks.next()
      res.writeHead(status, headers)
      for (; next.done !== true; next = await chunks.next()) {
        if (!res.write(next.value)) await once(res, 'drain', { signal: t.signal })
      }
      res.end()
    } finally {
      await chunks.return(undefined)
    }
  }

  /** Serves a directory: redirect to the slash form, then its index.html or a listing. */
  private async directory (req: IncomingMessage, res: ServerResponse, t: Target, dir: UnixFSDirectory): Promise<void> {
    if (!t.requestPath.endsWith('/')) {
      const location = t.requestPath + '/' + t.url.search
      this.text(res, 301, `moved to ${location}\n`, { location })
      return
    }
    if (await this.hasIndex(dir)) {
      const indexPath = [...t.path, 'index.html']
      try {
        const index = await this.resolve(t, indexPath)
        if (index.type !== 'directory') {
          await this.file(req, res, t, index, indexPath, 'index.html')
          return
        }
      } catch (err) {
        if (!isNotFound(err)) throw err
      }
    }

    const etag = `W/"DirIndex-${dir.cid.toString()}"`
    if (etagMatches(req.headers['if-none-match'], etag)) {
      res.writeHead(304, { ...this.immutableHeaders(t, etag), 'cache-control': 'public, max-age=604800' })
      res.end()
      return
    }
    const { entries, truncated } = await this.entries(t, dir)
    const rows = await this.describe(t, entries)
    const html = listingHtml(`/ipfs/${[t.cid, ...t.path].join('/')}/`, t.path.length > 0, rows, truncated)
    res.writeHead(200, {
      ...this.immutableHeaders(t, etag),
      // the layout of listings may change between versions, unlike the content
      'cache-control': 'public, max-age=604800',
      'content-type': 'text/html; charset=utf-8',
      'content-length': Buffer.byteLength(html),
      'content-security-policy': "sandbox; default-src 'none'; style-src 'unsafe-inline'"
    })
    res.end(t.head ? undefined : html)
  }

  /** Whether `dir` may hold an index.html (a sharded directory is not searched here: resolving will tell). */
  private async hasIndex (dir: UnixFSDirectory): Promise<boolean> {
    if (dir.unixfs.type !== 'directory') return true
    // a basic directory lists its links from its own block: no I/O
    for await (const e of dir.entries()) if (e.name === 'index.html') return true
    return false
  }

  /** The entries of `dir`, at most {@link MAX_LISTING}. */
  private async entries (t: Target, dir: UnixFSDirectory): Promise<{ entries: UnixFSDirectoryEntry[], truncated: boolean }> {
    const collect = async (d: UnixFSDirectory): Promise<{ entries: UnixFSDirectoryEntry[], truncated: boolean }> => {
      const entries: UnixFSDirectoryEntry[] = []
      for await (const e of d.entries({ signal: t.signal })) {
        if (entries.length === MAX_LISTING) return { entries, truncated: true }
        entries.push(e)
      }
      return { entries, truncated: false }
    }
    if (dir.unixfs.type === 'directory') return await collect(dir)
    // A sharded directory reads its shards through the store it was exported from, and the
    // service's view closes when resolve returns: read them from the store instead, after
    // having the service fetch them (looking up a name no entry has walks every shard).
    const local = async (): Promise<{ entries: UnixFSDirectoryEntry[], truncated: boolean }> => {
      const d = await exporter(dir.cid, this.init.share.blockstore, { signal: t.signal })
      if (d.type !== 'directory') throw new InvalidArgumentError(`${dir.cid.toString()} is not a directory`)
      return await collect(d)
    }
    try {
      return await local()
    } catch (err) {
      if (!(err instanceof BlockNotFoundError)) throw err
    }
    await this.resolve(t, [...t.path, '\0']).catch((err: Error) => { if (!isNotFound(err)) throw err })
    return await local()
  }

  /** Type and size of each entry: from the store, else fetched (a few at a time). */
  private async describe (t: Target, entries: UnixFSDirectoryEntry[]): Promise<ListingRow[]> {
    const rows: ListingRow[] = entries.map(e => ({ name: e.name, cid: e.cid.toString(), dir: false, size: undefined }))
    const fill = (row: ListingRow, e: UnixFSEntry): void => {
      row.dir = e.type === 'directory'
      row.size = e.type === 'directory' || e.type === 'object' ? undefined : Number(e.size)
    }
    const missing: number[] = []
    for (const [i, e] of entries.entries()) {
      try {
        fill(rows[i] as ListingRow, await exporter(e.cid, this.init.share.blockstore, { signal: t.signal }))
      } catch (err) {
        if (!(err instanceof BlockNotFoundError)) throw err
        if (!e.name.includes('/')) missing.push(i)
      }
    }
    const worker = async (): Promise<void> => {
      for (let i = missing.shift(); i != null; i = missing.shift()) {
        const row = rows[i] as ListingRow
        fill(row, await this.resolve(t, [...t.path, row.name]))
      }
    }
    await Promise.all(Array.from({ length: 8 }, worker))
    return rows
  }
}

interface ListingRow { name: string, cid: string, dir: boolean, size: number | undefined }

/** A directory listing page; every name is escaped, every link percent-encoded. */
function listingHtml (title: string, hasParent: boolean, rows: ListingRow[], truncated: boolean): string {
  const line = (href: string, label: string, size: string, cid: string): string =>
    `<tr><td><a href="${escapeHtml(href)}">${escapeHtml(label)}</a></td><td class="size">${size}</td><td class="cid">${escapeHtml(cid)}</td></tr>`
  const body = [
    ...(hasParent ? [line('../', '../', '', '')] : []),
    ...rows.map(r => line(
      './' + encodeURIComponent(r.name) + (r.dir ? '/' : ''),
      r.name + (r.dir ? '/' : ''),
      r.size == null ? '' : `<span title="${r.size} bytes">${formatSize(r.size)}</span>`,
      r.cid
    ))
  ]
  const total = rows.reduce((n, r) => n + (r.size ?? 0), 0)
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Index of ${escapeHtml(title)}</title>
<style>
body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}
h1{font-size:1.1rem;font-weight:600;word-break:break-all}table{border-collapse:collapse;width:100%}
td{padding:.3rem .5rem;border-bottom:1px solid #eee;vertical-align:top}td.size{text-align:right;white-space:nowrap;color:#555}
td.cid{font:12px ui-monospace,monospace;color:#999;word-break:break-all}a{color:#0550ae;text-decoration:none}a:hover{text-decoration:underline}
footer{margin-top:1rem;color:#777;font-size:.85rem}
</style></head><body>
<h1>Index of ${escapeHtml(title)}</h1>
<table>
${body.join('\n')}
</table>
<footer>${rows.length} ${rows.length === 1 ? 'entry' : 'entries'}${truncated ? ` (only the first ${MAX_LISTING} are shown)` : ''}, ${formatSize(total)} in files · served by peerd</footer>
</body></html>
`
}

/** Percent-encodes a value for `filename*=UTF-8''…` (RFC 8187: `'`, `(`, `)` and `*` too). */
function encodeRfc5987 (s: string): string {
  return encodeURIComponent(s).replace(/['()*]/g, c => '%' + c.charCodeAt(0).toString(16).toUpperCase())
}

/** Decodes one percent-encoded path segment; a segment that would change the path is refused. */
function decodeSegment (s: string): string {
  let out: string
  try {
    out = decodeURIComponent(s)
  } catch {
    throw new InvalidArgumentError(`malformed percent-encoding in path segment "${s}"`)
  }
  if (out.includes('/') || out.includes('\0') || out === '.' || out === '..') throw new InvalidArgumentError(`invalid path segment ${JSON.stringify(out)}`)
  return out
}

/** `?timeout=SECONDS`, whole seconds from 1 to {@link MAX_TIMEOUT_SECONDS}. */
function timeoutParam (url: URL): number {
  const v = url.searchParams.get('timeout')
  if (v == null) return DEFAULT_TIMEOUT_SECONDS
  const n = /^\d+$/.test(v) ? Number(v) : NaN
  if (!(n >= 1 && n <= MAX_TIMEOUT_SECONDS)) throw new InvalidArgumentError(`timeout must be whole seconds from 1 to ${MAX_TIMEOUT_SECONDS}, not "${v}"`)
  return n
}
