/**
 * The SOCKS5 server (`src/onion/socks.ts`) against real TCP clients that send raw bytes: each
 * method and address type, the commands it refuses, hostile clients (silent, oversized, garbage,
 * too many), credentials as isolation keys, connect errors as reply codes, and a clean stop.
 */
import assert from 'node:assert/strict'
import { once } from 'node:events'
import net from 'node:net'
import { Duplex } from 'node:stream'
import { after, describe, it } from 'node:test'
import { SocksConnectError, socksReplyFor } from '../../../src/onion/socks-errors.ts'
import { SocksReply, SocksServer } from '../../../src/onion/socks.ts'
import type { SocksRequest, SocksServerInit } from '../../../src/onion/socks.ts'
import { waitFor } from '../../utils/index.ts'

/** An echo server that prefixes nothing: what a CONNECT reaches in these tests. */
const echo = net.createServer({ allowHalfOpen: true }, s => { s.on('error', () => {}); s.pipe(s) })
await new Promise<void>(resolve => echo.listen(0, '127.0.0.1', resolve))
const echoPort = (echo.address() as net.AddressInfo).port
after(() => { echo.close() })

const servers: SocksServer[] = []
after(async () => { await Promise.all(servers.map(async s => { await s.stop() })) })

async function socksServer (init: Partial<SocksServerInit> = {}): Promise<{ server: SocksServer, port: number, requests: SocksRequest[] }> {
  const requests: SocksRequest[] = []
  const server = new SocksServer({
    listen: '127.0.0.1:0',
    connect: async req => {
      requests.push(req)
      return net.connect(echoPort, '127.0.0.1')
    },
    ...init
  })
  servers.push(server)
  await server.start()
  return { server, port: Number(server.address.split(':').pop()), requests }
}

/** A raw client: what it received so far, whether the server closed, and a way to wait for bytes. */
class Raw {
  readonly socket: net.Socket
  data = Buffer.alloc(0)
  closed = false
  private readonly waiters: Array<() => void> = []

  constructor (port: number) {
    this.socket = net.connect(port, '127.0.0.1')
    this.socket.on('error', () => {})
    this.socket.on('data', d => { this.data = Buffer.concat([this.data, d]); this.wake() })
    this.socket.on('close', () => { this.closed = true; this.wake() })
  }

  private wake (): void {
    for (const w of this.waiters.splice(0)) w()
  }

  async connected (): Promise<void> {
    if (this.socket.connecting) await once(this.socket, 'connect')
  }

  send (...bytes: Array<number[] | Buffer | string>): void {
    for (const b of bytes) this.socket.write(typeof b === 'string' ? Buffer.from(b) : Buffer.from(b))
  }

  /** Resolves once `n` bytes arrived in all (or the socket closed); fails after `ms`. */
  async bytes (n: number, ms = 5000): Promise<Buffer> {
    const deadline = Date.now() + ms
    while (this.data.length < n && !this.closed) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${n} bytes, have ${this.data.length}`)
      await new Promise<void>(resolve => { this.waiters.push(resolve); setTimeout(resolve, 50) })
    }
    return this.data.subarray(0, n)
  }

  async close (ms = 5000): Promise<number> {
    const start = Date.now()
    while (!this.closed) {
      if (Date.now() - start > ms) throw new Error('the server did not close the connection')
      await new Promise<void>(resolve => { this.waiters.push(resolve); setTimeout(resolve, 50) })
    }
    return Date.now() - start
  }
}

const GREET_NONE = [5, 1, 0]
const connectV4 = (port: number, cmd = 1): number[] => [5, cmd, 0, 1, 127, 0, 0, 1, port >> 8, port & 255]
const connectName = (name: string, port: number): number[] => [5, 1, 0, 3, name.length, ...Buffer.from(name, 'latin1'), port >> 8, port & 255]
const userPass = (u: string, p: string): number[] => [1, Buffer.byteLength(u), ...Buffer.from(u), Buffer.byteLength(p), ...Buffer.from(p)]

describe('SOCKS5 server: CONNECT', () => {
  it('no authentication, IPv4: replies 0x00 and relays both ways', async () => {
    const { port, requests } = await socksServer()
    const c = new Raw(port)
    c.send(GREET_NONE)
    assert.deepEqual([...await c.bytes(2)], [5, 0])
    c.send(connectV4(echoPort))
    const r = await c.bytes(12)
    assert.deepEqual([...r.subarray(2, 6)], [5, SocksReply.SUCCEEDED, 0, 1], 'reply SUCCEEDED, BND.ADDR an IPv4')
    c.send('hello through socks')
    assert.equal((await c.bytes(12 + 19)).subarray(12).toString(), 'hello through socks')
    assert.equal(requests[0]?.host, '127.0.0.1')
    assert.equal(requests[0]?.port, echoPort)
    assert.equal(requests[0]?.isolation, '')
    c.socket.destroy()
  })

  it('IPv6 and name address types reach connect as the client sent them', async () => {
    const { port, requests } = await socksServer()
    const a = new Raw(port)
    a.send(GREET_NONE, [5, 1, 0, 4, ...new Array(15).fill(0), 1, echoPort >> 8, echoPort & 255])
    assert.equal((await a.bytes(12))[1], SocksReply.SUCCEEDED)
    const b = new Raw(port)
    b.send(GREET_NONE, connectName('Example.onion.test', echoPort))
    assert.equal((await b.bytes(12))[1], SocksReply.SUCCEEDED)
    assert.deepEqual(requests.map(r => r.host), ['::1', 'Example.onion.test'])
    a.socket.destroy()
    b.socket.destroy()
  })

  it('data sent with the request (optimistic data) is not lost', async () => {
    const { port } = await socksServer()
    const c = new Raw(port)
    c.send(Buffer.from([...GREET_NONE, ...connectV4(echoPort), ...Buffer.from('early')]))
    assert.equal((await c.bytes(2 + 10 + 5)).subarray(12).toString(), 'early')
    c.socket.destroy()
  })

  it('200 KiB sent while the stream is still opening all arrive, in order', async () => {
    const { port } = await socksServer({
      connect: async () => {
        await new Promise(resolve => setTimeout(resolve, 200))
        return net.connect(echoPort, '127.0.0.1')
      }
    })
    const payload = Buffer.alloc(200 * 1024)
    for (let i = 0; i < payload.length; i++) payload[i] = (i * 31) & 255
    const c = new Raw(port)
    c.send(Buffer.from([...GREET_NONE, ...connectV4(echoPort)]), payload)
    const got = await c.bytes(12 + payload.length, 10_000)
    assert.ok(got.subarray(12).equals(payload))
    c.socket.destroy()
  })

  it('a client that shuts down its sending side still gets the whole answer', async () => {
    const slowEcho = net.createServer({ allowHalfOpen: true }, s => {
      const parts: Buffer[] = []
      s.on('data', d => parts.push(d))
      s.on('end', () => { setTimeout(() => s.end(Buffer.concat(parts)), 100) })
    })
    await new Promise<void>(resolve => slowEcho.listen(0, '127.0.0.1', resolve))
    const { port } = await socksServer({ connect: async () => net.connect({ port: (slowEcho.address() as net.AddressInfo).port, host: '127.0.0.1', allowHalfOpen: true }) })
    const c = new Raw(port)
    c.send(GREET_NONE, connectV4(1))
    await c.bytes(12)
    c.socket.end('half-closed request')
    await c.close()
    assert.equal(c.data.subarray(12).toString(), 'half-closed request')
    slowEcho.close()
  })
})

describe('SOCKS5 server: username/password and isolation', () => {
  it('prefers username/password when offered; credentials give stable, distinct keys without the password', async () => {
    const { port, requests } = await socksServer()
    const run = async (u: string, p: string): Promise<void> => {
      const c = new Raw(port)
      c.send([5, 2, 0, 2])
      assert.deepEqual([...await c.bytes(2)], [5, 2], 'method 0x02 chosen over 0x00')
      c.send(userPass(u, p))
      assert.deepEqual([...(await c.bytes(4)).subarray(2)], [1, 0], 'RFC 1929 success')
      c.send(connectV4(echoPort))
      assert.equal((await c.bytes(14))[3], SocksReply.SUCCEEDED)
      c.socket.destroy()
    }
    await run('alice', 'secret-password')
    await run('alice', 'secret-password')
    await run('alice', 'other')
    await run('a\0b', 'c')
    await run('a', 'b\0c')
    await run('', '')
    const keys = requests.map(r => r.isolation)
    for (const k of keys) assert.match(k, /^[0-9a-f]{64}$/)
    assert.equal(keys[0], keys[1])
    assert.equal(new Set(keys).size, 5)
    assert.ok(!keys.some(k => k.includes(Buffer.from('secret-password').toString('hex'))))
  })

  it('a wrong sub-negotiation version is closed', async () => {
    const { port } = await socksServer()
    const c = new Raw(port)
    c.send([5, 1, 2], [5, 5, 65, 65, 65, 65, 65, 0])
    await c.close()
    assert.deepEqual([...c.data], [5, 2])
  })
})

describe('SOCKS5 server: refusals', () => {
  it('BIND and UDP ASSOCIATE get COMMAND_NOT_SUPPORTED and are closed', async () => {
    const { port, requests } = await socksServer()
    for (const cmd of [2, 3]) {
      const c = new Raw(port)
      c.send(GREET_NONE, connectV4(echoPort, cmd))
      await c.close()
      assert.equal(c.data[3], SocksReply.COMMAND_NOT_SUPPORTED)
    }
    assert.equal(requests.length, 0)
  })

  it('an unknown address type gets ADDRESS_NOT_SUPPORTED; a name with control bytes HOST_UNREACHABLE', async () => {
    const { port } = await socksServer()
    const a = new Raw(port)
    a.send(GREET_NONE, [5, 1, 0, 9, 1, 2, 3, 4, 0, 80])
    await a.close()
    assert.equal(a.data[3], SocksReply.ADDRESS_NOT_SUPPORTED)
    const b = new Raw(port)
    b.send(GREET_NONE, connectName('evil\r\nname', 80))
    await b.close()
    assert.equal(b.data[3], SocksReply.HOST_UNREACHABLE)
  })

  it('no acceptable method gets 0xff; SOCKS4 gets a SOCKS4 rejection; HTTP is closed', async () => {
    const { port } = await socksServer()
    const a = new Raw(port)
    a.send([5, 1, 1])
    await a.close()
    assert.deepEqual([...a.data], [5, 0xff])
    const b = new Raw(port)
    b.send([4, 1, 0, 80, 127, 0, 0, 1, 0])
    await b.close()
    assert.deepEqual([...b.data.subarray(0, 2)], [0, 0x5b])
    const c = new Raw(port)
    c.send('GET / HTTP/1.1\r\n\r\n')
    await c.close()
    assert.equal(c.data.length, 0)
  })

  it('a connect error is answered with replyFor; by default errno and SocksConnectError decide', async () => {
    assert.equal(socksReplyFor(Object.assign(new Error('x'), { code: 'ECONNREFUSED' })), SocksReply.REFUSED)
    assert.equal(socksReplyFor(new SocksConnectError('policy', SocksReply.NOT_ALLOWED)), SocksReply.NOT_ALLOWED)
    assert.equal(socksReplyFor(new Error('?')), SocksReply.GENERAL)
    const closed = net.createServer()
    await new Promise<void>(resolve => closed.listen(0, '127.0.0.1', resolve))
    const deadPort = (closed.address() as net.AddressInfo).port
    await new Promise<void>(resolve => closed.close(() => resolve()))
    const { port } = await socksServer({
      connect: async req => {
        if (req.port === 1) throw new SocksConnectError('exit policy', SocksReply.NOT_ALLOWED)
        if (req.port === 2) throw new Error('opaque')
        const s = net.connect(deadPort, '127.0.0.1')
        await once(s, 'connect')
        return s
      }
    })
    for (const [dest, code] of [[1, SocksReply.NOT_ALLOWED], [2, SocksReply.GENERAL], [deadPort, SocksReply.REFUSED]]) {
      const c = new Raw(port)
      c.send(GREET_NONE, connectV4(dest ?? 0))
      await c.close()
      assert.equal(c.data[3], code, `port ${dest}`)
    }
    const custom = await socksServer({ connect: async () => { throw new Error('x') }, replyFor: () => SocksReply.TTL_EXPIRED })
    const c = new Raw(custom.port)
    c.send(GREET_NONE, connectV4(80))
    await c.close()
    assert.equal(c.data[3], SocksReply.TTL_EXPIRED)
  })
})

describe('SOCKS5 server: hostile clients', () => {
  it('a refused client that keeps its side open is closed soon after the reply', async () => {
    const { server, port } = await socksServer({ connect: async () => { throw new Error('no') } })
    const c = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true })
    c.on('error', () => {})
    c.write(Buffer.from([...GREET_NONE, ...connectV4(80)]))
    c.resume()
    await once(c, 'end') // the reply, then the server's FIN; this client never sends its own
    await waitFor(() => server.clients === 0, { what: 'the server to drop the half-open client', timeoutMs: 5000 })
    c.destroy()
  })

  it('a client that sends nothing (or half a greeting) is closed after handshakeTimeoutMs', async () => {
    const { server, port } = await socksServer({ handshakeTimeoutMs: 300 })
    const silent = new Raw(port)
    const slow = new Raw(port)
    await silent.connected()
    slow.send([5, 1])
    const waited = await silent.close()
    await slow.close()
    assert.ok(waited >= 200 && waited < 3000, `closed after ${waited} ms`)
    assert.equal(silent.data.length, 0)
    await waitFor(() => server.clients === 0, { what: 'the server to drop both clients' })
  })

  it('a greeting of 300 bytes is closed without a CONNECT', async () => {
    const { port, requests } = await socksServer()
    const a = new Raw(port)
    a.send([5, 255, ...new Array(255).fill(0), ...new Array(43).fill(0x41)])
    await a.close()
    const b = new Raw(port)
    b.send(Buffer.alloc(300, 0x41))
    await b.close()
    const c = new Raw(port)
    c.send(Buffer.alloc(300, 5))
    await c.close()
    assert.equal(requests.length, 0)
  })

  it('maxClients connections are served; more are closed on arrival', async () => {
    const { server, port } = await socksServer({ maxClients: 2 })
    const a = new Raw(port)
    const b = new Raw(port)
    a.send(GREET_NONE)
    b.send(GREET_NONE)
    await a.bytes(2)
    await b.bytes(2)
    assert.equal(server.clients, 2)
    const c = new Raw(port)
    c.send(GREET_NONE)
    await c.close()
    assert.equal(c.data.length, 0)
    a.socket.destroy()
    await waitFor(() => server.clients === 1, { what: 'the server to see a close' })
    const d = new Raw(port)
    d.send(GREET_NONE)
    assert.deepEqual([...await d.bytes(2)], [5, 0], 'a slot freed is served again')
    b.socket.destroy()
    d.socket.destroy()
  })

  it('an upstream that fails mid-stream closes the client, and the server keeps serving', async () => {
    let upstream: Duplex | undefined
    const { server, port } = await socksServer({
      connect: async () => {
        upstream = new Duplex({ read () {}, write (_c, _e, cb) { cb() } })
        return upstream
      }
    })
    const c = new Raw(port)
    c.send(GREET_NONE, connectV4(80))
    await c.bytes(12)
    upstream?.destroy(new Error('circuit destroyed'))
    await c.close()
    const d = new Raw(port)
    d.send(GREET_NONE)
    assert.deepEqual([...await d.bytes(2)], [5, 0])
    d.socket.destroy()
    await waitFor(() => server.clients === 0, { what: 'the server to drop every client' })
  })
})

describe('SOCKS5 server: listen and stop', () => {
  it('a non-loopback listen address throws without allowRemote', () => {
    const connect = async (): Promise<Duplex> => net.connect(echoPort)
    for (const listen of ['0.0.0.0:9050', '192.168.1.2:9050', '[::]:9050', 'example.com:9050']) {
      assert.throws(() => new SocksServer({ listen, connect }), /not loopback/, listen)
    }
    for (const listen of ['127.0.0.1:0', '127.0.0.2:0', '[::1]:0', 'localhost:0']) new SocksServer({ listen, connect })
    new SocksServer({ listen: '0.0.0.0:0', connect, allowRemote: true })
    for (const listen of ['127.0.0.1', '127.0.0.1:70000', ':9050', '::1:9050']) {
      assert.throws(() => new SocksServer({ listen, connect }), { name: 'InvalidArgumentError' }, listen)
    }
  })

  it('stop() closes the listener, every client, and the streams opened for them', async () => {
    let upstream: net.Socket | undefined
    const { server, port } = await socksServer({ connect: async () => { upstream = net.connect(echoPort, '127.0.0.1'); return upstream } })
    const relaying = new Raw(port)
    relaying.send(GREET_NONE, connectV4(echoPort))
    await relaying.bytes(12)
    const idle = new Raw(port)
    await idle.connected()
    await server.stop()
    await relaying.close()
    await idle.close()
    assert.equal(upstream?.destroyed, true)
    const late = net.connect(port, '127.0.0.1')
    const [err] = await once(late, 'error') as [NodeJS.ErrnoException]
    assert.equal(err.code, 'ECONNREFUSED')
  })

  it('a CONNECT still opening when the client leaves, or the server stops, has its signal aborted', async () => {
    const signals: AbortSignal[] = []
    const { server, port } = await socksServer({
      connect: async req => {
        signals.push(req.signal)
        return await new Promise<Duplex>((resolve, reject) => { req.signal.addEventListener('abort', () => { reject(new Error('aborted')) }) })
      }
    })
    const leaving = new Raw(port)
    leaving.send(GREET_NONE, connectV4(80))
    await waitFor(() => signals.length === 1, { what: 'the first CONNECT' })
    leaving.socket.destroy()
    await waitFor(() => signals[0]?.aborted, { what: 'the first signal to abort' })
    const staying = new Raw(port)
    staying.send(GREET_NONE, connectV4(80))
    await waitFor(() => signals.length === 2, { what: 'the second CONNECT' })
    assert.equal(signals[1]?.aborted, false)
    await server.stop()
    assert.equal(signals[1]?.aborted, true)
    await staying.close()
  })

  it('binds port 0 and reports the address; a busy port is a ListenError', async () => {
    const { server } = await socksServer()
    assert.match(server.address, /^127\.0\.0\.1:\d+$/)
    const clash = new SocksServer({ listen: server.address, connect: async () => net.connect(echoPort) })
    await assert.rejects(clash.start(), { name: 'ListenError' })
  })
})
