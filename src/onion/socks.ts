/**
 * A SOCKS5 server (RFC 1928, with RFC 1929 username/password) in front of whatever opens the
 * streams: the onion client gives `connect`, which carries each CONNECT through a circuit; a test
 * gives `net.connect`. So `curl --socks5-hostname 127.0.0.1:9050 URL` reaches URL, the name
 * resolved at the far end.
 *
 *     const socks = new SocksServer({ listen: '127.0.0.1:9050', connect: req => openStream(req) })
 *     await socks.start()
 *
 * CONNECT only (BIND and UDP ASSOCIATE get `COMMAND_NOT_SUPPORTED`), to an IPv4 or IPv6 address or
 * a name. Credentials are never checked: as in Tor, they choose stream isolation, so when a client
 * offers username/password the server picks it, and `isolation` is a hash of the pair. SOCKS4 and
 * 4a are refused with a SOCKS4 "rejected" reply (they would send names in clear to no benefit).
 * Hostile clients are bounded: each handshake message is at most 513 bytes by construction, the
 * whole handshake must finish within `handshakeTimeoutMs`, at most `maxClients` connections are
 * served, at most 64 KiB sent before the stream opens is kept, a refused client is cut off 2 s
 * after its reply, and no error on either side of a relayed connection escapes as an 'error'
 * event. A client that closes before its CONNECT is answered aborts it (`signal`), as in tor;
 * once relaying, a client's FIN is passed to the upstream as `end()`: an onion stream has no
 * half-close (END closes both ways, as in tor), so through a circuit a FIN ends the stream.
 * @module
 */
import { createHash } from 'node:crypto'
import net from 'node:net'
import type { Duplex } from 'node:stream'
import { InvalidArgumentError, ListenError } from '../errors.ts'
import { parseIp } from './exit-policy.ts'
import { SocksReply, socksReplyFor } from './socks-errors.ts'

export { SocksReply } from './socks-errors.ts'

/** One CONNECT request, as `connect` receives it. */
export interface SocksRequest {
  /** An IP literal (IPv6 without brackets) or a name, as the client sent it. */
  host: string
  port: number
  /** '' with no authentication; else hex SHA-256 of the length-prefixed credentials (never the password). */
  isolation: string
  /** Aborted when the client goes away or the server stops. */
  signal: AbortSignal
}

/** Options of a {@link SocksServer}. */
export interface SocksServerInit {
  /** `host:port` (`[v6]:port`); port 0 picks a free one. */
  listen: string
  /** Allow a listen address other than loopback (default false: such an address throws). */
  allowRemote?: boolean
  /** Opens the stream for a CONNECT; a rejection is answered with `replyFor(err)`. */
  connect: (req: SocksRequest) => Promise<Duplex>
  /** The SOCKS reply code for a connect error (default {@link socksReplyFor}: GENERAL unless the error says). */
  replyFor?: (err: Error) => number
  /** Client connections served at once (default 512); more are closed on arrival. */
  maxClients?: number
  /** Milliseconds a client has from connecting to a complete CONNECT request (default 10 000). */
  handshakeTimeoutMs?: number
}

const VERSION = 5
const METHOD_NONE = 0x00
const METHOD_USERPASS = 0x02
const NO_ACCEPTABLE = 0xff
const CMD_CONNECT = 1
const ATYP_IPV4 = 1
const ATYP_NAME = 3
const ATYP_IPV6 = 4
/** After one side of a relayed connection closes, how long the other has to take what is left. */
const DRAIN_MS = 30_000
/** How long a refused client has to read its reply and close before it is cut off. */
const LINGER_MS = 2000
/** Bytes a client may send after its CONNECT before the stream is open; past this it is not read. */
const MAX_EARLY = 64 * 1024

/** A parse step's outcome: need more bytes, or consumed `used` bytes. */
type Step<T> = { more: true } | { more: false, used: number, value: T }

const MORE = { more: true } as const

function parseGreeting (b: Buffer): Step<number[]> {
  if (b.length < 2) return MORE
  const n = b[1] ?? 0
  if (b.length < 2 + n) return MORE
  return { more: false, used: 2 + n, value: [...b.subarray(2, 2 + n)] }
}

function parseAuth (b: Buffer): Step<Buffer> | undefined {
  if (b.length < 1) return MORE
  if (b[0] !== 1) return undefined // RFC 1929's sub-negotiation version
  if (b.length < 2) return MORE
  const ulen = b[1] ?? 0
  if (b.length < 3 + ulen) return MORE
  const plen = b[2 + ulen] ?? 0
  if (b.length < 3 + ulen + plen) return MORE
  const used = 3 + ulen + plen
  return { more: false, used, value: b.subarray(1, used) }
}

interface Request { cmd: number, atyp: number, host: string | undefined, port: number }

function parseRequest (b: Buffer): Step<Request> | undefined {
  if (b.length < 1) return MORE
  if (b[0] !== VERSION) return undefined
  if (b.length < 5) return MORE
  const cmd = b[1] ?? 0
  const atyp = b[3] ?? 0
  let addrLen: number
  if (atyp === ATYP_IPV4) addrLen = 4
  else if (atyp === ATYP_IPV6) addrLen = 16
  else if (atyp === ATYP_NAME) addrLen = 1 + (b[4] ?? 0)
  else return { more: false, used: b.length, value: { cmd, atyp, host: undefined, port: 0 } }
  if (b.length < 4 + addrLen + 2) return MORE
  const addr = b.subarray(4, 4 + addrLen)
  const port = b.readUInt16BE(4 + addrLen)
  let host: string | undefined
  if (atyp === ATYP_IPV4) {
    host = [...addr].join('.')
  } else if (atyp === ATYP_IPV6) {
    // the WHATWG URL parser gives the canonical compressed form
    const full = Array.from({ length: 8 }, (_, i) => addr.readUInt16BE(2 * i).toString(16)).join(':')
    host = new URL(`http://[${full}]/`).hostname.slice(1, -1)
  } else {
    const name = addr.subarray(1)
    // visible ASCII only: a name with controls or spaces is no DNS name and would poison logs
    host = name.length > 0 && name.every(c => c > 0x20 && c < 0x7f) ? name.toString('latin1') : undefined
  }
  return { more: false, used: 4 + addrLen + 2, value: { cmd, atyp, host, port } }
}

/** The isolation key of a username/password pair: length-prefixed, so no two pairs share one. */
function isolationKey (auth: Buffer): string {
  return createHash('sha256').update('peerd socks isolation\0').update(auth).digest('hex')
}

function reply (code: number): Buffer {
  // BND.ADDR 0.0.0.0:0: the bound address is the exit's, which the client must not learn
  return Buffer.from([VERSION, code, 0, ATYP_IPV4, 0, 0, 0, 0, 0, 0])
}

function parseListen (listen: string): { host: string, port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(listen)
  const port = Number(m?.[3])
  if (m === null || port > 65535) throw new InvalidArgumentError(`SOCKS listen address "${listen}" is not host:port (or [IPv6]:port)`)
  return { host: m[1] ?? m[2] ?? '', port }
}

function isLoopback (host: string): boolean {
  if (host === 'localhost') return true
  const ip = parseIp(host)
  if (ip === undefined) return false
  return ip.family === 4 ? ip.value >> 24n === 127n : ip.value === 1n
}

/** The SOCKS5 server; see the module header. */
export class SocksServer {
  private readonly init: Required<Omit<SocksServerInit, 'allowRemote'>>
  private readonly host: string
  private readonly port: number
  private readonly sockets = new Set<net.Socket>()
  private readonly aborts = new Set<AbortController>()
  private readonly upstreams = new Set<Duplex>()
  private server: net.Server | undefined
  private bound = ''

  /** Throws `InvalidArgumentError` for a malformed listen address, or a non-loopback one without `allowRemote`. */
  constructor (init: SocksServerInit) {
    const { host, port } = parseListen(init.listen)
    if (init.allowRemote !== true && !isLoopback(host)) {
      throw new InvalidArgumentError(`SOCKS listen address ${init.listen} is not loopback: anyone who reaches it could use this node's circuits. Use 127.0.0.1, or allow it explicitly`)
    }
    const maxClients = init.maxClients ?? 512
    const handshakeTimeoutMs = init.handshakeTimeoutMs ?? 10_000
    if (!Number.isSafeInteger(maxClients) || maxClients < 1) throw new InvalidArgumentError(`maxClients must be a positive integer, got ${maxClients}`)
    if (!(handshakeTimeoutMs > 0)) throw new InvalidArgumentError(`handshakeTimeoutMs must be positive, got ${handshakeTimeoutMs}`)
    this.host = host
    this.port = port
    this.init = { listen: init.listen, connect: init.connect, replyFor: init.replyFor ?? socksReplyFor, maxClients, handshakeTimeoutMs }
  }

  /** The `host:port` actually bound ('' before `start()`). */
  get address (): string {
    return this.bound
  }

  /** Client connections open now (in handshake, connecting or relaying). */
  get clients (): number {
    return this.sockets.size
  }

  /** Binds the listener; throws `ListenError` if the address cannot be bound. */
  async start (): Promise<void> {
    if (this.server !== undefined) return
    // half-open allowed: a client that shuts down its sending side still gets the whole answer
    const server = net.createServer({ allowHalfOpen: true }, socket => { this.accept(socket) })
    await new Promise<void>((resolve, reject) => {
      server.once('error', err => { reject(new ListenError(`cannot listen for SOCKS on ${this.init.listen}: ${err.message}`, { cause: err })) })
      server.listen({ host: this.host, port: this.port }, () => { resolve() })
    })
    server.on('error', () => {}) // after listening, errors are per connection
    const a = server.address() as net.AddressInfo
    this.bound = a.family === 'IPv6' ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`
    this.server = server
  }

  /** Closes the listener and every client connection (and the streams opened for them). */
  async stop (): Promise<void> {
    const server = this.server
    this.server = undefined
    for (const a of this.aborts) a.abort()
    for (const s of this.sockets) s.destroy()
    for (const u of this.upstreams) u.destroy()
    if (server !== undefined) await new Promise<void>(resolve => { server.close(() => { resolve() }) })
  }

  private accept (socket: net.Socket): void {
    socket.on('error', () => {}) // a reset client is normal; 'close' does the cleaning up
    if (this.server === undefined || this.sockets.size >= this.init.maxClients) {
      socket.destroy()
      return
    }
    this.sockets.add(socket)
    const abort = new AbortController()
    this.aborts.add(abort)
    socket.once('close', () => {
      this.sockets.delete(socket)
      this.aborts.delete(abort)
      abort.abort()
    })
    socket.setNoDelay(true)
    const timer = setTimeout(() => socket.destroy(), this.init.handshakeTimeoutMs)
    timer.unref()
    let buf: Buffer = Buffer.alloc(0)
    let stage: 'greeting' | 'auth' | 'request' = 'greeting'
    let isolation = ''
    const onEnd = (): void => { socket.destroy() } // a client gone before its request
    socket.once('end', onEnd)
    const fail = (bytes?: Buffer): void => {
      clearTimeout(timer)
      socket.removeListener('data', onData)
      socket.removeListener('end', onEnd)
      if (bytes !== undefined) endWith(socket, bytes)
      else socket.destroy()
    }
    const onData = (chunk: Buffer): void => {
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk])
      for (;;) {
        if (stage === 'greeting') {
          if (buf[0] === 4) { fail(Buffer.from([0, 0x5b, 0, 0, 0, 0, 0, 0])); return } // SOCKS4/4a: rejected
          if (buf.length > 0 && buf[0] !== VERSION) { fail(); return }
          const step = parseGreeting(buf)
          if (step.more) return
          buf = buf.subarray(step.used)
          const method = step.value.includes(METHOD_USERPASS) ? METHOD_USERPASS : step.value.includes(METHOD_NONE) ? METHOD_NONE : NO_ACCEPTABLE
          if (method === NO_ACCEPTABLE) { fail(Buffer.from([VERSION, NO_ACCEPTABLE])); return }
          socket.write(Buffer.from([VERSION, method]))
          stage = method === METHOD_USERPASS ? 'auth' : 'request'
        } else if (stage === 'auth') {
          const step = parseAuth(buf)
          if (step === undefined) { fail(); return }
          if (step.more) return
          isolation = isolationKey(step.value)
          buf = buf.subarray(step.used)
          socket.write(Buffer.from([1, 0]))
          stage = 'request'
        } else {
          const step = parseRequest(buf)
          if (step === undefined) { fail(); return }
          if (step.more) return
          const { cmd, atyp, host, port } = step.value
          if (cmd !== CMD_CONNECT) { fail(reply(SocksReply.COMMAND_NOT_SUPPORTED)); return }
          if (atyp !== ATYP_IPV4 && atyp !== ATYP_IPV6 && atyp !== ATYP_NAME) { fail(reply(SocksReply.ADDRESS_NOT_SUPPORTED)); return }
          if (host === undefined) { fail(reply(SocksReply.HOST_UNREACHABLE)); return }
          if (port === 0) { fail(reply(SocksReply.NOT_ALLOWED)); return }
          clearTimeout(timer)
          socket.removeListener('data', onData)
          socket.removeListener('end', onEnd)
          // bytes the client sent after its request (optimistic data) go first to the stream
          this.open(socket, { host, port, isolation, signal: abort.signal }, buf.subarray(step.used))
          return
        }
      }
    }
    socket.on('data', onData)
  }

  private open (socket: net.Socket, req: SocksRequest, first: Buffer): void {
    // the socket keeps being read while the stream opens: that is how a client that leaves is
    // noticed (its FIN ends the request, as in tor), and what it sends early is kept, up to a bound
    let early = first
    const onEarly = (chunk: Buffer): void => {
      early = Buffer.concat([early, chunk])
      if (early.length >= MAX_EARLY) socket.pause()
    }
    const onEnd = (): void => { socket.destroy() }
    socket.on('data', onEarly)
    socket.once('end', onEnd)
    if (early.length >= MAX_EARLY) socket.pause()
    let opening: Promise<Duplex>
    try {
      opening = Promise.resolve(this.init.connect(req))
    } catch (err) {
      opening = Promise.reject(err)
    }
    opening.then(upstream => {
      socket.removeListener('data', onEarly)
      socket.removeListener('end', onEnd)
      if (socket.destroyed || req.signal.aborted) {
        upstream.on('error', () => {})
        upstream.destroy()
        return
      }
      this.upstreams.add(upstream)
      upstream.once('close', () => { this.upstreams.delete(upstream) })
      socket.write(reply(SocksReply.SUCCEEDED))
      if (early.length > 0) upstream.write(early)
      relay(socket, upstream)
      socket.resume()
    }, (err: unknown) => {
      socket.removeListener('data', onEarly)
      socket.removeListener('end', onEnd)
      if (socket.destroyed) return
      let code: number = SocksReply.GENERAL
      try {
        code = this.init.replyFor(err instanceof Error ? err : new Error(String(err)))
      } catch {
        // a replyFor that throws leaves the general failure
      }
      if (!Number.isInteger(code) || code < 1 || code > 255) code = SocksReply.GENERAL
      endWith(socket, reply(code))
    })
  }
}

/**
 * Sends a last reply and closes. What the client still sends is read and dropped until its FIN
 * (closing with unread bytes would send a RST that can cut the reply off), for at most LINGER_MS.
 */
function endWith (socket: net.Socket, bytes: Buffer): void {
  socket.end(bytes)
  socket.resume()
  const timer = setTimeout(() => socket.destroy(), LINGER_MS)
  timer.unref()
  socket.once('close', () => { clearTimeout(timer) })
}

/**
 * Pipes both ways. When one side ends, the other is ended after what is queued for it is written;
 * when one side fails or closes, the other is given {@link DRAIN_MS} to take the rest, then destroyed.
 */
function relay (a: Duplex, b: Duplex): void {
  let timer: NodeJS.Timeout | undefined
  const finish = (other: Duplex): void => {
    if (other.destroyed) return
    if (other.writableFinished) { other.destroy(); return }
    other.end()
    other.once('finish', () => { other.destroy() })
    timer ??= setTimeout(() => other.destroy(), DRAIN_MS)
    timer.unref()
  }
  const onError = (): void => {
    a.destroy()
    b.destroy()
  }
  a.on('error', onError)
  b.on('error', onError)
  a.once('close', () => { finish(b); if (b.destroyed) clearTimeout(timer) })
  b.once('close', () => { finish(a); if (a.destroyed) clearTimeout(timer) })
  a.pipe(b)
  b.pipe(a)
}
