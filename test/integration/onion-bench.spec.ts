import assert from 'node:assert/strict'
import { createServer } from 'node:net'
import type { AddressInfo, Socket } from 'node:net'
import { after, before, describe, it } from 'node:test'
import { janitor, netUnavailable, removeStale } from '../../bench/net/harness/index.ts'
import { LARGE, SMALL } from '../../bench/onion/measure.ts'
import type { PerfResult } from '../../bench/onion/measure.ts'
import { socksGet } from '../../bench/onion/onionperf.ts'
import { parsePrivateGet } from '../../bench/onion/private-run.ts'
import { runHs } from '../../bench/onion/hs.ts'
import { runSystem } from '../../bench/onion/topology.ts'
import { torVersion } from '../../bench/onion/tor-network.ts'

// The onion-service part (f, g) runs here for peerd only, one run: Tor's onion service (a network
// of eight tors and a published descriptor) would add about 35 s more. What the part adds to the
// measuring client (names and SOCKS credentials, each run's isolation key) is checked against a
// scripted proxy below.

// Namespaces and tc need root on Linux; the Tor side needs Debian's tor (the bench installs it, a test does not).
const unavailable = await netUnavailable() ?? (await torVersion() == null ? 'tor is not installed (apt-get install tor)' : undefined)

const UP_MBIT = 20
const options = { upMbit: UP_MBIT, downMbit: 100, runs: 1, cpuBytes: 0, progress: () => {} }

/** What any run of OnionPerf's model over these links must show, whichever system. */
function checkRun (r: PerfResult | undefined): void {
  assert.ok(r != null)
  assert.equal(r.samples.length, 1, r.failures.join('; '))
  const s = r.samples[0]
  assert.ok(s != null)
  assert.ok(s.buildMs > 0, `build ${s.buildMs} ms`)
  assert.ok(s.ttfbMs > 0 && s.ttfbMs <= s.smallMs, `ttfb ${s.ttfbMs} ms, 50 KiB ${s.smallMs} ms`)
  // every byte crossed the server's shaped uplink: 5 MiB cannot arrive faster than it allows
  const bound = LARGE * 8 / (UP_MBIT * 1e6) * 1000
  assert.ok(s.largeMs >= bound * 0.95, `5 MiB in ${s.largeMs} ms, faster than the ${UP_MBIT} Mbit/s link allows (${Math.round(bound)} ms)`)
  assert.ok(s.largeMs > s.smallMs, `5 MiB in ${s.largeMs} ms, ${SMALL / 1024} KiB in ${s.smallMs} ms`)
}

describe('onion bench, smallest configuration: one run of OnionPerf\'s model per system on shaped links', { skip: unavailable }, () => {
  before(() => {
    janitor.installExitHook()
    removeStale()
  })
  after(async () => { await janitor.cleanup() })

  it('tor: a private Tor network forms, the client fetches over the pinned guard → middle → exit path', { timeout: 150_000 }, async () => {
    const r = await runSystem('tor', options, { perf: true, cpu: false })
    assert.deepEqual(r.errors, [])
    checkRun(r.perf)
    assert.deepEqual(r.perf?.samples[0]?.hops, ['guard', 'middle', 'exit'])
  })

  it('peerd: the client fetches through a 3-hop circuit of the relay daemons, ending at the exit', { timeout: 150_000 }, async () => {
    const r = await runSystem('peerd', options, { perf: true, cpu: false })
    assert.deepEqual(r.errors, [])
    checkRun(r.perf)
    const hops = r.perf?.samples[0]?.hops ?? []
    assert.equal(hops.length, 3, hops.join(' → '))
    assert.equal(hops[2], 'exit')
    assert.deepEqual(new Set(hops), new Set(['guard', 'middle', 'exit']))
  })

  it('peerd hs: the client reaches the onion service on the server host through a new rendezvous and downloads 5 MiB', { timeout: 150_000 }, async () => {
    const r = await runHs('peerd', options)
    assert.equal(r.error, undefined)
    const hs = r.hs
    assert.ok(hs != null)
    assert.match(hs.address, /^[a-z2-7]{56}\.peerd$/)
    assert.equal(hs.samples.length, 1, hs.failures.join('; '))
    const s = hs.samples[0]
    assert.ok(s != null)
    assert.ok(s.rendezvous >= 1, 'the service met the client')
    assert.ok(s.socksMs > 0 && s.socksMs <= s.reachMs, `stream open ${s.socksMs} ms, first byte ${s.reachMs} ms`)
    const bound = LARGE * 8 / (UP_MBIT * 1e6) * 1000
    assert.ok(s.downloadMs >= bound * 0.95, `5 MiB in ${s.downloadMs} ms, faster than the ${UP_MBIT} Mbit/s link allows`)
    // the client's side of the rendezvous circuit: three relays, the last its rendezvous point
    assert.equal(s.path?.length, 3, s.path?.join(' → '))
    assert.ok(s.path?.every(h => /^relay\d$/.test(h)), s.path?.join(' → '))
  })
})

/**
 * A SOCKS5 proxy that takes username/password only (RFC 1929), records what it was asked, and
 * answers every CONNECT with an HTTP response of `body` bytes itself, as the far end would.
 */
async function scriptedProxy (body: number, method = 2): Promise<{ port: number, seen: Array<{ user: string, pass: string, host: string, port: number }>, close: () => Promise<void> }> {
  const seen: Array<{ user: string, pass: string, host: string, port: number }> = []
  const server = createServer((socket: Socket) => {
    let buf = Buffer.alloc(0)
    let stage = 0
    let user = ''
    let pass = ''
    socket.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d])
      if (stage === 0 && buf.length >= 2 + (buf[1] ?? 0)) {
        buf = buf.subarray(2 + (buf[1] ?? 0))
        socket.write(Buffer.from([5, method]))
        stage = 1
      }
      if (stage === 1 && buf.length >= 2 && buf.length >= 3 + (buf[1] ?? 0) && buf.length >= 3 + (buf[1] ?? 0) + (buf[2 + (buf[1] ?? 0)] ?? 0)) {
        const u = buf[1] ?? 0
        const p = buf[2 + u] ?? 0
        user = buf.subarray(2, 2 + u).toString()
        pass = buf.subarray(3 + u, 3 + u + p).toString()
        buf = buf.subarray(3 + u + p)
        socket.write(Buffer.from([1, 0]))
        stage = 2
      }
      if (stage === 2 && buf.length >= 5 && buf[3] === 3 && buf.length >= 7 + (buf[4] ?? 0)) {
        const n = buf[4] ?? 0
        seen.push({ user, pass, host: buf.subarray(5, 5 + n).toString(), port: buf.readUInt16BE(5 + n) })
        buf = buf.subarray(7 + n)
        socket.write(Buffer.from([5, 0, 0, 1, 0, 0, 0, 0, 0, 0]))
        stage = 3
      }
      if (stage === 3 && buf.includes('\r\n\r\n')) {
        socket.end(Buffer.concat([Buffer.from(`HTTP/1.1 200 OK\r\ncontent-length: ${body}\r\n\r\n`), Buffer.alloc(body, 1)]))
        stage = 4
      }
    })
    socket.on('error', () => {})
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  return { port: (server.address() as AddressInfo).port, seen, close: async () => { await new Promise(resolve => server.close(resolve)) } }
}

describe('onion bench, measuring client: an onion service by name, each run isolated by new SOCKS credentials', () => {
  it('sends the name and the credentials, and times the first and last byte', async () => {
    const proxy = await scriptedProxy(SMALL)
    try {
      const name = `${'a'.repeat(56)}.peerd`
      const first = await socksGet({ socksPort: proxy.port, host: name, port: 80, path: `/bytes/${SMALL}`, auth: { username: 'bench-1-x', password: 'x' }, timeoutMs: 10_000 })
      await socksGet({ socksPort: proxy.port, host: name, port: 80, path: `/bytes/${SMALL}`, auth: { username: 'bench-2-y', password: 'x' }, timeoutMs: 10_000 })
      assert.equal(first.bytes, SMALL)
      assert.ok(first.socksMs > 0 && first.socksMs <= first.ttfbMs && first.ttfbMs <= first.totalMs, JSON.stringify(first))
      assert.deepEqual(proxy.seen, [
        { user: 'bench-1-x', pass: 'x', host: name, port: 80 },
        { user: 'bench-2-y', pass: 'x', host: name, port: 80 }
      ])
    } finally {
      await proxy.close()
    }
  })

  it('fails a run whose proxy would ignore the credentials (no isolation) rather than measure a reused circuit', async () => {
    const proxy = await scriptedProxy(SMALL, 0)
    try {
      await assert.rejects(socksGet({ socksPort: proxy.port, host: 'x.onion', port: 80, path: '/bytes/1', auth: { username: 'u', password: 'p' }, timeoutMs: 10_000 }), /refused username\/password/)
    } finally {
      await proxy.close()
    }
  })

  it('reads private-get.ts\'s figures from its output, and nothing from an output without its summary', () => {
    const text = [
      'private get vs direct get: 8 MiB from 4 providers, 5 relays, 1 runs each, one process',
      '  run 1 direct    52.8 MiB/s  0.15 s  from 1 providers',
      '  run 1 private    6.2 MiB/s  1.28 s  from 4 providers',
      'median direct 52.8 MiB/s, private 6.2 MiB/s, private/direct 0.12 (target ≥ 0.50)'
    ].join('\n')
    const r = parsePrivateGet(text, 8, 4, 'cmd')
    assert.deepEqual(r?.runs.map(x => [x.kind, x.mibPerSecond, x.providers]), [['direct', 52.8, 1], ['private', 6.2, 4]])
    assert.equal(r?.ratio, 0.12)
    assert.equal(parsePrivateGet(text.split('\n').slice(0, 3).join('\n'), 8, 4, 'cmd'), undefined)
  })
})
