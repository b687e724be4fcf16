/**
 * The SOCKS5 server (`src/onion/socks.ts`) as a user meets it: the real `curl` with
 * `--socks5-hostname` fetches pages from a local HTTP server, the name resolved by `connect` (here
 * a plain `net.connect`; the onion client takes its place later), `--proxy-user` selects an
 * isolation key, a large body arrives intact, and a refused CONNECT is curl's proxy error.
 */
import assert from 'node:assert/strict'
import { execFile, execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { once } from 'node:events'
import http from 'node:http'
import net from 'node:net'
import { after, before, describe, it } from 'node:test'
import { SocksConnectError, SocksReply } from '../../src/onion/socks-errors.ts'
import { SocksServer } from '../../src/onion/socks.ts'
import type { SocksRequest } from '../../src/onion/socks.ts'
import { waitFor } from '../utils/index.ts'

function hasCurl (): boolean {
  try {
    execFileSync('curl', ['--version'], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}

const BIG = Buffer.alloc(5 * 1024 * 1024)
for (let i = 0; i < BIG.length; i += 4) BIG.writeUInt32LE((i * 2654435761) >>> 0, i)

interface CurlResult { code: number, stdout: Buffer, stderr: string }

async function curl (...args: string[]): Promise<CurlResult> {
  return await new Promise(resolve => {
    execFile('curl', ['-sS', '--max-time', '20', ...args], { encoding: 'buffer', maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : -1
      resolve({ code, stdout, stderr: stderr.toString() })
    })
  })
}

describe('curl through the SOCKS5 server', { skip: !hasCurl() && 'curl is not installed' }, () => {
  const requests: SocksRequest[] = []
  let web: http.Server
  let webPort = 0
  let socks: SocksServer

  before(async () => {
    web = http.createServer((req, res) => {
      if (req.url === '/big') {
        res.writeHead(200, { 'content-length': BIG.length })
        res.end(BIG)
      } else {
        res.end(`hello from the exit host, you asked for ${req.headers.host ?? '?'}${req.url ?? ''}\n`)
      }
    })
    web.listen(0, '127.0.0.1')
    await once(web, 'listening')
    webPort = (web.address() as net.AddressInfo).port
    socks = new SocksServer({
      listen: '127.0.0.1:0',
      connect: async req => {
        requests.push(req)
        if (req.host === 'refused.test') throw new SocksConnectError('the exit refuses', SocksReply.REFUSED)
        if (req.host === 'policy.test') throw new SocksConnectError('the exit policy rejects it', SocksReply.NOT_ALLOWED)
        // "localhost" is resolved here, at the far end, as an exit would
        const s = net.connect({ host: req.host === 'localhost' ? '127.0.0.1' : req.host, port: req.port })
        await once(s, 'connect')
        return s
      }
    })
    await socks.start()
  })

  after(async () => {
    await socks.stop()
    web.close()
  })

  it('--socks5-hostname fetches a page; the name reaches connect unresolved, with no isolation', async () => {
    const r = await curl('--socks5-hostname', socks.address, `http://localhost:${webPort}/page`)
    assert.equal(r.code, 0, r.stderr)
    assert.equal(r.stdout.toString(), `hello from the exit host, you asked for localhost:${webPort}/page\n`)
    const req = requests.at(-1)
    assert.equal(req?.host, 'localhost')
    assert.equal(req?.port, webPort)
    assert.equal(req?.isolation, '')
  })

  it('--socks5 (curl resolves) sends an IPv4 address', async () => {
    const r = await curl('--socks5', socks.address, `http://127.0.0.1:${webPort}/ip`)
    assert.equal(r.code, 0, r.stderr)
    assert.equal(requests.at(-1)?.host, '127.0.0.1')
  })

  it('--proxy-user gives an isolation key per credentials, never the password', async () => {
    const keys: string[] = []
    for (const user of ['alice:one', 'alice:one', 'bob:two']) {
      const r = await curl('--socks5-hostname', socks.address, '--proxy-user', user, `http://localhost:${webPort}/`)
      assert.equal(r.code, 0, r.stderr)
      keys.push(requests.at(-1)?.isolation ?? '')
    }
    assert.notEqual(keys[0], '')
    assert.equal(keys[0], keys[1])
    assert.notEqual(keys[0], keys[2])
    assert.ok(!keys.some(k => k.includes('one') || k.includes('two')))
  })

  it('a 5 MiB body arrives intact', async () => {
    const start = performance.now()
    const r = await curl('--socks5-hostname', socks.address, `http://localhost:${webPort}/big`)
    const ms = performance.now() - start
    assert.equal(r.code, 0, r.stderr)
    assert.equal(r.stdout.length, BIG.length)
    assert.equal(createHash('sha256').update(r.stdout).digest('hex'), createHash('sha256').update(BIG).digest('hex'))
    assert.ok(ms < 15_000, `5 MiB over loopback SOCKS took ${Math.round(ms)} ms`)
  })

  it("a refused CONNECT is curl's proxy error 97 with the reply code", async () => {
    const refused = await curl('--socks5-hostname', socks.address, 'http://refused.test/')
    assert.equal(refused.code, 97, refused.stderr)
    assert.match(refused.stderr, /SOCKS5.*\(5\)/)
    const policy = await curl('--socks5-hostname', socks.address, 'http://policy.test/')
    assert.equal(policy.code, 97, policy.stderr)
    assert.match(policy.stderr, /SOCKS5.*\(2\)/)
    // a connection refused at the far end, by default ECONNREFUSED → REFUSED
    const closed = net.createServer().listen(0, '127.0.0.1')
    await once(closed, 'listening')
    const dead = (closed.address() as net.AddressInfo).port
    closed.close()
    await once(closed, 'close')
    const gone = await curl('--socks5-hostname', socks.address, `http://localhost:${dead}/`)
    assert.equal(gone.code, 97, gone.stderr)
    assert.match(gone.stderr, /\(5\)/)
  })

  it('a SOCKS4a client is refused cleanly', async () => {
    const r = await curl('--socks4a', socks.address, `http://localhost:${webPort}/`)
    assert.notEqual(r.code, 0)
    assert.equal(r.stdout.length, 0)
    await waitFor(() => socks.clients === 0, { what: 'the server to drop the SOCKS4a client' })
  })
})
