/**
 * Fuzzing the SOCKS5 server (`src/onion/socks.ts`) over real TCP: valid handshakes (every method,
 * command and address type, with optimistic data), mutated ones and random bytes, cut into
 * arbitrary chunks, never crash the server; every connection whose client ends is closed; every
 * request that reaches `connect` is well formed; and a valid client is served after each case.
 * Also the exit policy parser (`src/onion/exit-policy.ts`) on random text: a policy or an
 * `ExitPolicyError`, and `allows` never throws.
 */
import assert from 'node:assert/strict'
import { once } from 'node:events'
import net from 'node:net'
import { after, before, describe, it } from 'node:test'
import fc from 'fast-check'
import { ExitPolicyError, isPrivateAddress, parseExitPolicy } from '../../src/onion/exit-policy.ts'
import { SocksServer } from '../../src/onion/socks.ts'
import type { SocksRequest } from '../../src/onion/socks.ts'
import { concatBytes, fuzz, fuzzAsync, hostileBytes, splitAt } from '../utils/fuzz.ts'
import { waitFor } from '../utils/index.ts'

const greeting = fc.uniqueArray(fc.integer({ min: 0, max: 255 }), { minLength: 1, maxLength: 6 })
  .chain(methods => fc.constantFrom(...methods.includes(2) || methods.includes(0) ? [methods] : [[...methods, 0]]))
  .map(methods => Uint8Array.of(5, methods.length, ...methods))
const auth = fc.tuple(fc.uint8Array({ maxLength: 40 }), fc.uint8Array({ maxLength: 40 }))
  .map(([u, p]) => Uint8Array.of(1, u.length, ...u, p.length, ...p))
const address = fc.oneof(
  fc.uint8Array({ minLength: 4, maxLength: 4 }).map(a => Uint8Array.of(1, ...a)),
  fc.uint8Array({ minLength: 16, maxLength: 16 }).map(a => Uint8Array.of(4, ...a)),
  fc.uint8Array({ minLength: 0, maxLength: 255 }).map(n => Uint8Array.of(3, n.length, ...n)),
  fc.stringMatching(/^[a-z0-9.-]{1,60}$/).map(n => Uint8Array.of(3, n.length, ...Buffer.from(n)))
)
const request = fc.tuple(fc.constantFrom(1, 1, 1, 2, 3), address, fc.integer({ min: 0, max: 65535 }))
  .map(([cmd, addr, port]) => Uint8Array.of(5, cmd, 0, ...addr, port >> 8, port & 255))
/** A whole client handshake: greeting, credentials when 0x02 is offered, request, optimistic data. */
const handshake = fc.tuple(greeting, auth, request, fc.uint8Array({ maxLength: 64 }))
  .map(([g, a, r, early]) => concatBytes(g.includes(2, 2) ? [g, a, r, early] : [g, r, early]))
const input = fc.tuple(hostileBytes(handshake, 600), fc.array(fc.nat(), { maxLength: 8 }))

describe('fuzz: SOCKS5 server over TCP', () => {
  const requests: SocksRequest[] = []
  let echo: net.Server
  let echoPort = 0
  let socks: SocksServer
  let port = 0

  before(async () => {
    echo = net.createServer({ allowHalfOpen: true }, s => { s.on('error', () => {}); s.pipe(s) })
    echo.listen(0, '127.0.0.1')
    await once(echo, 'listening')
    echoPort = (echo.address() as net.AddressInfo).port
    socks = new SocksServer({
      listen: '127.0.0.1:0',
      handshakeTimeoutMs: 2000,
      connect: async req => {
        requests.push(req)
        if (requests.length > 1000) requests.shift()
        if (req.port % 7 === 0) throw new Error('refused by the fuzz target') // some connects fail
        return net.connect(echoPort, '127.0.0.1')
      }
    })
    await socks.start()
    port = Number(socks.address.split(':').pop())
  })

  after(async () => {
    await socks.stop()
    echo.close()
  })

  /** Sends `chunks`, ends, and resolves once the server has closed the connection. */
  async function session (chunks: Uint8Array[]): Promise<void> {
    const c = net.connect(port, '127.0.0.1')
    c.on('error', () => {})
    c.on('data', () => {})
    // not events.once: it rejects on the 'error' that a write after the server closed may raise
    const closed = new Promise(resolve => c.once('close', resolve))
    await once(c, 'connect')
    for (const chunk of chunks) {
      if (c.destroyed) break
      c.write(chunk)
      await new Promise(resolve => setImmediate(resolve))
    }
    c.end()
    const timer = setTimeout(() => c.destroy(new Error('not closed')), 3000)
    await closed
    clearTimeout(timer)
    // a server that closes first may make the client's writes fail (EPIPE, ECONNRESET): that is closing too
    const code = (c.errored as NodeJS.ErrnoException | null)?.code
    assert.ok(code === undefined || code === 'ECONNRESET' || code === 'EPIPE', `the server did not close: ${String(c.errored)}`)
  }

  /** A valid no-auth CONNECT still gets SUCCEEDED and an echo. */
  async function stillServes (): Promise<void> {
    const c = net.connect(port, '127.0.0.1')
    c.write(Uint8Array.of(5, 1, 0, 5, 1, 0, 1, 127, 0, 0, 1, 0, 80, 0x70, 0x69, 0x6e, 0x67))
    let got = Buffer.alloc(0)
    for await (const d of c) {
      got = Buffer.concat([got, d as Buffer])
      if (got.length >= 16) break
    }
    c.destroy()
    assert.deepEqual([...got.subarray(0, 4)], [5, 0, 5, 0])
    assert.equal(got.subarray(12, 16).toString(), 'ping')
  }

  it('hostile handshakes in arbitrary chunks: no crash, always closed, requests well formed, still serving', async () => {
    await fuzzAsync(input, async ([bytes, cuts]) => {
      const before = requests.length
      await session(splitAt(bytes, cuts))
      for (const r of requests.slice(before)) {
        assert.ok(r.host.length >= 1 && r.host.length <= 255 && /^[\x21-\x7e]+$/.test(r.host), `host ${JSON.stringify(r.host)}`)
        assert.ok(Number.isInteger(r.port) && r.port >= 1 && r.port <= 65535, `port ${r.port}`)
        assert.ok(r.isolation === '' || /^[0-9a-f]{64}$/.test(r.isolation))
      }
      await stillServes()
    }, 0.3)
    assert.ok(requests.length > 0, 'some cases reached connect')
    await waitFor(() => socks.clients === 0, { what: 'every fuzzed connection to be closed', timeoutMs: 5000 }).catch(() => {})
    assert.equal(socks.clients, 0, 'no connection left open')
  })
})

describe('fuzz: exit policy text', () => {
  const token = fc.constantFrom('accept', 'reject', 'accept6', 'reject6', '*', '*4', '*6', 'private', ':', '/', ',', '\n', ' ',
    '[', ']', '-', '.', '10', '0', '255', '65535', '65536', '::', 'ffff', '127.0.0.1', '[::1]', '/8', ':80', ':1-1024', 'x')
  const text = fc.oneof(fc.array(token, { maxLength: 30 }).map(t => t.join('')), fc.string({ maxLength: 200 }))
  const ip = fc.oneof(fc.ipV4(), fc.ipV6(), fc.string({ maxLength: 20 }))

  it('parses into a policy or an ExitPolicyError; allows and allowsPort never throw', () => {
    fuzz(fc.tuple(text, ip, fc.integer({ min: -1, max: 70000 })), ([t, address, p]) => {
      let policy
      try {
        policy = parseExitPolicy(t)
      } catch (err) {
        assert.ok(err instanceof ExitPolicyError, String(err))
        return
      }
      assert.equal(typeof policy.allows(address, p), 'boolean')
      assert.equal(typeof policy.allowsPort(p), 'boolean')
      assert.deepEqual(parseExitPolicy(policy.rules).rules, policy.rules)
    })
  })

  // structured rules over a few addresses, so rules and addresses often meet
  const addr4 = fc.constantFrom('0.0.0.0', '10.0.0.1', '10.9.9.9', '127.0.0.1', '192.168.1.1', '8.8.8.8', '9.1.1.1', '1.2.3.4')
  const addr6 = fc.constantFrom('::1', 'fe80::1', 'fd00::5', '2001:db8::1', '2606:4700::1')
  const ruleArb = fc.tuple(
    fc.constantFrom('accept', 'reject'),
    fc.oneof(fc.constantFrom('*', '*4', '*6', 'private'), fc.tuple(addr4, fc.constantFrom('', '/8', '/16', '/5', '/32')).map(([a, m]) => a + m),
      fc.tuple(addr6, fc.constantFrom('', '/8', '/16', '/64')).map(([a, m]) => `[${a}]${m}`)),
    fc.constantFrom('*', '80', '22', '1-1024', '443')
  ).map(([act, a, p]) => `${act} ${a}:${p}`)

  it('public addresses are judged by plain first match; a private one only through an accept confined to private space', () => {
    fuzz(fc.tuple(fc.array(ruleArb, { maxLength: 8 }), fc.oneof(addr4, addr6), fc.constantFrom(22, 80, 443, 8080)), ([rules, address, port]) => {
      const plain = parseExitPolicy(rules, { rejectPrivate: false })
      const guarded = parseExitPolicy(rules)
      if (!isPrivateAddress(address)) {
        assert.equal(guarded.allows(address, port), plain.allows(address, port), `${address}:${port} under ${rules.join(', ')}`)
      } else if (guarded.allows(address, port)) {
        const opener = rules.some(r => {
          if (!r.startsWith('accept') || / \*[46]?:/.test(r)) return false
          const one = parseExitPolicy([r], { rejectPrivate: false })
          // confined to private space: every address it accepts on this port is private
          return one.allows(address, port) && ['8.8.8.8', '9.1.1.1', '1.2.3.4', '2001:db8::1', '2606:4700::1'].every(a => !one.allows(a, port))
        })
        assert.ok(opener, `${address}:${port} accepted under ${rules.join(', ')} with no private accept`)
      }
    })
  })
})
