/**
 * The onion bench's measuring client, one code for Tor and peerd: an HTTP GET over a SOCKS5
 * proxy (RFC 1928: CONNECT by IPv4 address, or by name for an onion service; no authentication,
 * or a username and password (RFC 1929) that both systems read as a stream-isolation key, so each
 * new pair gets a new circuit), timed as OnionPerf times its
 * TGen transfers: from the moment the client starts connecting to the SOCKS port, to the first
 * byte of the HTTP response (time to first byte) and to the last byte of the body (download
 * time). Bytes are counted and dropped.
 *
 * It runs inside the client host's namespace (the SOCKS port listens on 127.0.0.1 there), as a
 * long-lived process the bench drives through stdin, so no process start lands in a timing:
 *
 * ```
 * node bench/onion/onionperf.ts
 * > {"id":1,"socksPort":9050,"host":"10.251.0.5","port":8080,"path":"/bytes/51200"}
 * < {"id":1,"ok":true,"bytes":51200,"socksMs":31.2,"ttfbMs":88.4,"totalMs":140.9}
 * ```
 */
import { connect } from 'node:net'
import { isIPv4 } from 'node:net'
import { createInterface } from 'node:readline'

/** One timed GET. */
export interface FetchTiming {
  /** Body bytes received (checked against Content-Length). */
  bytes: number
  /** Milliseconds from the start to the SOCKS CONNECT's success reply (the stream is open). */
  socksMs: number
  /** Milliseconds from the start to the first byte of the HTTP response. */
  ttfbMs: number
  /** Milliseconds from the start to the last byte of the body. */
  totalMs: number
}

/** What to fetch, through which proxy. */
export interface FetchRequest {
  socksHost?: string
  socksPort: number
  /** The web server's IPv4 address, as the exit sees it, or an onion service's name (`<…>.onion`, `<…>.peerd`). */
  host: string
  port: number
  path: string
  timeoutMs?: number
  /** SOCKS username/password: a new pair isolates the stream from every earlier one (a new circuit, a new rendezvous). */
  auth?: { username: string, password: string }
}

/** Response headers larger than this are refused (the bench's own server sends ~100 bytes). */
const MAX_HEADER = 16 * 1024

const SOCKS_ERRORS = ['succeeded', 'general failure', 'not allowed by ruleset', 'network unreachable', 'host unreachable', 'connection refused', 'TTL expired', 'command not supported', 'address type not supported']

/** The CONNECT request's address: ATYP 1 and four bytes for an IPv4 address, else ATYP 3 and the name. */
function socksAddress (host: string): Buffer {
  if (isIPv4(host)) return Buffer.from([1, ...host.split('.').map(Number)])
  const name = Buffer.from(host, 'ascii')
  return Buffer.concat([Buffer.from([3, name.length]), name])
}

/** RFC 1929's request: version 1, then the length-prefixed username and password. */
function socksAuth (auth: { username: string, password: string }): Buffer {
  const u = Buffer.from(auth.username)
  const p = Buffer.from(auth.password)
  return Buffer.concat([Buffer.from([1, u.length]), u, Buffer.from([p.length]), p])
}

/** Fetches `path` through the SOCKS5 proxy and times it; rejects on any failure or after `timeoutMs`. */
export async function socksGet (r: FetchRequest): Promise<FetchTiming> {
  if (!isIPv4(r.host) && !/^[a-z0-9.-]{1,255}$/i.test(r.host)) throw new Error(`not an IPv4 address or a host name: ${r.host}`)
  if (r.auth != null && (Buffer.byteLength(r.auth.username) > 255 || Buffer.byteLength(r.auth.password) > 255)) throw new Error('SOCKS username and password are 255 bytes at most')
  const t0 = performance.now()
  const socket = connect({ host: r.socksHost ?? '127.0.0.1', port: r.socksPort, noDelay: true })
  return await new Promise<FetchTiming>((resolve, reject) => {
    let stage: 'greeting' | 'auth' | 'connect' | 'headers' | 'body' = 'greeting'
    let pending = Buffer.alloc(0)
    let socksMs = 0
    let ttfbMs = 0
    let length = 0
    let bytes = 0
    const timer = setTimeout(() => { fail(new Error(`no answer within ${(r.timeoutMs ?? 120_000) / 1000} s (stage ${stage}, ${bytes} body bytes)`)) }, r.timeoutMs ?? 120_000)
    const fail = (err: Error): void => { clearTimeout(timer); socket.destroy(); reject(err) }
    const finish = (): void => { clearTimeout(timer); socket.destroy(); resolve({ bytes, socksMs, ttfbMs, totalMs: performance.now() - t0 }) }
    socket.on('error', fail)
    socket.on('close', () => { if (stage !== 'body' || bytes < length) fail(new Error(`the connection closed at stage ${stage} after ${bytes} of ${length} body bytes`)) })
    // offer only the method wanted: a proxy that cannot isolate by credentials must refuse, not ignore them
    socket.on('connect', () => { socket.write(Buffer.from([5, 1, r.auth != null ? 2 : 0])) })
    const sendConnect = (): void => {
      stage = 'connect'
      const port = Buffer.alloc(2)
      port.writeUInt16BE(r.port)
      socket.write(Buffer.concat([Buffer.from([5, 1, 0]), socksAddress(r.host), port]))
    }
    socket.on('data', (chunk: Buffer) => {
      if (stage === 'body') {
        bytes += chunk.length
        if (bytes >= length) finish()
        return
      }
      pending = Buffer.concat([pending, chunk])
      if (stage === 'greeting') {
        if (pending.length < 2) return
        const method = r.auth != null ? 2 : 0
        if (pending[0] !== 5 || pending[1] !== method) { fail(new Error(`the SOCKS proxy refused ${method === 2 ? 'username/password' : 'no-authentication'} (${pending.subarray(0, 2).toString('hex')})`)); return }
        pending = pending.subarray(2)
        if (r.auth != null) {
          stage = 'auth'
          socket.write(socksAuth(r.auth))
        } else {
          sendConnect()
        }
      }
      if (stage === 'auth') {
        if (pending.length < 2) return
        if (pending[1] !== 0) { fail(new Error(`the SOCKS proxy refused the username/password (status ${String(pending[1])})`)); return }
        pending = pending.subarray(2)
        sendConnect()
      }
      if (stage === 'connect') {
        if (pending.length < 5) return
        if (pending[0] !== 5) { fail(new Error('not a SOCKS5 reply')); return }
        const rep = pending[1] as number
        if (rep !== 0) { fail(new Error(`SOCKS CONNECT failed: ${SOCKS_ERRORS[rep] ?? `code ${rep}`}`)); return }
        const atyp = pending[3]
        const size = 4 + (atyp === 1 ? 4 : atyp === 4 ? 16 : atyp === 3 ? 1 + (pending[4] as number) : NaN) + 2
        if (Number.isNaN(size)) { fail(new Error(`bad SOCKS address type ${String(atyp)}`)); return }
        if (pending.length < size) return
        pending = pending.subarray(size)
        socksMs = performance.now() - t0
        stage = 'headers'
        socket.write(`GET ${r.path} HTTP/1.1\r\nHost: ${r.host}:${r.port}\r\nConnection: close\r\n\r\n`)
        if (pending.length === 0) return
      }
      if (stage === 'headers') {
        if (ttfbMs === 0) ttfbMs = performance.now() - t0
        const end = pending.indexOf('\r\n\r\n')
        if (end < 0) {
          if (pending.length > MAX_HEADER) fail(new Error('response headers too large'))
          return
        }
        const head = pending.subarray(0, end).toString('latin1')
        const status = /^HTTP\/1\.[01] (\d{3})/.exec(head)?.[1]
        const len = /\r\ncontent-length: *(\d+)/i.exec(head)?.[1]
        if (status !== '200' || len == null) { fail(new Error(`unexpected response: ${head.split('\r\n')[0] ?? ''}`)); return }
        length = Number(len)
        bytes = pending.length - end - 4
        pending = Buffer.alloc(0)
        stage = 'body'
        if (bytes >= length) finish()
      }
    })
  })
}

if (import.meta.main) {
  // one request at a time, in order: the measurements must not overlap
  let chain = Promise.resolve()
  createInterface({ input: process.stdin }).on('line', line => {
    chain = chain.then(async () => {
      let id: unknown
      try {
        const req = JSON.parse(line) as FetchRequest & { id: unknown }
        id = req.id
        const t = await socksGet(req)
        process.stdout.write(JSON.stringify({ id, ok: true, ...t }) + '\n')
      } catch (err) {
        process.stdout.write(JSON.stringify({ id, ok: false, error: (err as Error).message }) + '\n')
      }
    })
  })
}
