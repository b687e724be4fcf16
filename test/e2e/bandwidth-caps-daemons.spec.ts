/**
 * Bandwidth caps between `peerd daemon` processes on separate hosts (network namespaces on one
 * bridged LAN), measured on the hosts' own interface counters: h1 runs with `--max-upload 4MB`
 * and serves a file to h2, while h3, run with `--max-download 4MB`, fetches another file from h2.
 * Over 5 s of each transfer, h1's link sends and h3's link receives within 5 % of the cap, and a
 * block h1 mines meanwhile reaches h2 within a second: the saturated cap lets control traffic
 * through first. `peerd bandwidth` then lifts h1's cap at runtime and shows it. The 30 s
 * measurement on shaped links is `bench/net/scenarios/bandwidth-caps.ts`.
 */
import assert from 'node:assert/strict'
import type { ChildProcess } from 'node:child_process'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { describe, it } from 'node:test'
import { encodeAddress } from '../../src/cash/primitives/address.ts'
import { PEERD_BIN, waitFor } from '../utils/index.ts'
import { createLan, netnsUnavailable } from '../utils/netns.ts'
import type { NetnsHost } from '../utils/netns.ts'
import { xOnlyPublicKey } from '../utils/schnorr.ts'
import { writeRandomFile } from '../utils/share.ts'
import { teardown } from '../utils/teardown.ts'

const unavailable = await netnsUnavailable()
const PORT = 4001
const CAP = 4_000_000
const WARMUP_MS = 1_500
const WINDOW_MS = 5_000
const ADDRESS = encodeAddress('pdrt', xOnlyPublicKey(new Uint8Array(32).fill(11)))

/** Prelude of the scripts run inside a host: `api(method, path, body)` against the daemon of DATA_DIR (argv[1]). */
const API_PRELUDE = `
const fs = require('node:fs'), path = require('node:path'), dir = process.argv[1]
const url = fs.readFileSync(path.join(dir, 'api'), 'utf8').trim(), cookie = fs.readFileSync(path.join(dir, 'cookie'), 'utf8').trim()
const api = async (method, p, body) => {
  const res = await fetch(url + p, { method, headers: { authorization: 'Bearer ' + cookie, 'content-type': 'application/json' }, body: body == null ? undefined : JSON.stringify(body) })
  if (!res.ok) throw new Error(method + ' ' + p + ': ' + res.status + ' ' + await res.text())
  // a get answers NDJSON: its last line is the outcome
  return JSON.parse((await res.text()).trim().split(String.fromCharCode(10)).at(-1))
}
`

/** JSON lines a child prints, as they come. */
function lines (child: ChildProcess, onLine: (v: Record<string, unknown>) => void): void {
  createInterface({ input: child.stdout! }).on('line', l => { if (l.startsWith('{')) onLine(JSON.parse(l) as Record<string, unknown>) })
}

/**
 * Bytes a second of `samples` (time in ms, counter) from the first block that starts after
 * `from` to the first that starts at least {@link WINDOW_MS} later: the bytes go a block (1 MiB)
 * at a time, and a window cut mid-block would be off by up to a block.
 */
function alignedRate (samples: Array<[number, number]>, from: number): number {
  const starts: Array<[number, number]> = []
  for (let i = 1; i < samples.length; i++) {
    const [t, n] = samples[i - 1] as [number, number]
    if (t >= from && (samples[i] as [number, number])[1] - n > 128 * 1024) starts.push([t, n])
  }
  const first = starts[0]
  const last = starts.find(([t]) => first != null && t - first[0] >= WINDOW_MS)
  assert.ok(first != null && last != null, `no block-aligned window of ${WINDOW_MS} ms in ${samples.length} samples`)
  return (last[1] - first[1]) / ((last[0] - first[0]) / 1000)
}

describe('bandwidth caps between daemons in network namespaces', { skip: unavailable }, () => {
  const td = teardown()

  it('an upload and a download cap hold on the links while a mined block gets through at once', { timeout: 120_000 }, async (t) => {
    const lan = await createLan(3)
    td.add(async () => { await lan.destroy() }, 'remove the LAN')
    const [h1, h2, h3] = lan.hosts as [NetnsHost, NetnsHost, NetnsHost]
    const dirs = new Map<NetnsHost, string>()
    const script = (host: NetnsHost, code: string): ChildProcess =>
      td.child(host.spawn(process.execPath, ['-e', API_PRELUDE + code, dirs.get(host) as string], { stdio: ['ignore', 'pipe', 'inherit'] }))
    const call = async (host: NetnsHost, method: string, path: string, body?: unknown): Promise<Record<string, unknown>> => {
      const child = script(host, `api(${JSON.stringify(method)}, ${JSON.stringify(path)}, ${JSON.stringify(body ?? null)}).then(v => console.log(JSON.stringify(v)), e => { console.error(e.message); process.exit(1) })`)
      return await new Promise((resolve, reject) => {
        lines(child, resolve)
        child.once('exit', code => { if (code !== 0) reject(new Error(`${method} ${path} on ${host.ip} failed`)) })
      })
    }
    const start = async (host: NetnsHost, extra: string[]): Promise<string> => {
      const dir = await td.dir()
      dirs.set(host, dir)
      const child = td.child(host.spawn(process.execPath, [PEERD_BIN, 'daemon', '--data-dir', dir, '--network', 'regtest', '--no-mdns', '--json',
        '--listen', `/ip4/${host.ip}/tcp/${PORT}`, '--api', '127.0.0.1:0', '--log-level', 'warn', ...extra], { stdio: ['ignore', 'pipe', 'inherit'] }))
      const started = await new Promise<Record<string, unknown>>((resolve, reject) => {
        lines(child, v => { if (v.event === 'started') resolve(v) })
        child.once('exit', code => { reject(new Error(`the daemon on ${host.ip} exited (${String(code)})`)) })
      })
      return `/ip4/${host.ip}/tcp/${PORT}/p2p/${started.peerId as string}`
    }
    const first = await start(h1, ['--max-upload', '4MB'])
    await Promise.all([start(h2, ['--bootstrap', first]), start(h3, ['--bootstrap', first, '--max-download', '4MB'])])
    const files = await td.dir()
    await Promise.all(['a', 'b'].map(async n => { await writeRandomFile(join(files, n), 40 * 1024 * 1024) }))
    const [a, b] = await Promise.all([call(h1, 'POST', '/api/v1/share', { path: join(files, 'a') }), call(h2, 'POST', '/api/v1/share', { path: join(files, 'b') })])

    // every 10 ms: h1's bytes sent and h3's received, read inside each host; h2's chain height
    const sent: Array<[number, number]> = []
    const received: Array<[number, number]> = []
    const sampler = (host: NetnsHost, file: string, into: Array<[number, number]>): void => {
      lines(script(host, `setInterval(() => console.log(JSON.stringify({ t: Date.now(), n: Number(fs.readFileSync('/sys/class/net/eth0/statistics/${file}', 'utf8')) })), 10)`),
        v => { into.push([v.t as number, v.n as number]) })
    }
    sampler(h1, 'tx_bytes', sent)
    sampler(h3, 'rx_bytes', received)
    const heights: Array<[number, number]> = []
    lines(script(h2, 'let last = -1; setInterval(async () => { const { height } = await api("GET", "/api/v1/chain/info"); if (height !== last) { last = height; console.log(JSON.stringify({ t: Date.now(), height })) } }, 20)'),
      v => { heights.push([v.t as number, v.height as number]) })
    await waitFor(() => heights.length > 0 && sent.length > 0 && received.length > 0, { what: 'the samplers' })

    const t0 = Date.now()
    const gets = [
      call(h2, 'POST', '/api/v1/get', { cid: a.cid }),
      call(h3, 'POST', '/api/v1/get', { cid: b.cid })
    ]
    for (const g of gets) g.catch(() => {})
    await new Promise(resolve => setTimeout(resolve, WARMUP_MS + 1_000))
    // mined under the saturated upload cap
    const height = (heights.at(-1) as [number, number])[1]
    await call(h1, 'POST', '/api/v1/mine', { blocks: 1, address: ADDRESS })
    const mined = Date.now()
    const arrived = await waitFor(() => heights.find(([, h]) => h > height), { timeoutMs: 10_000, intervalMs: 10, what: 'the block on h2' })
    await waitFor(() => (sent.at(-1)?.[0] ?? 0) > t0 + WARMUP_MS + WINDOW_MS + 1_500, { timeoutMs: 20_000, intervalMs: 100, what: 'the window' })

    const up = alignedRate(sent, t0 + WARMUP_MS)
    const down = alignedRate(received, t0 + WARMUP_MS)
    t.diagnostic(`h1 sent ${(up / 1e6).toFixed(3)} MB/s, h3 received ${(down / 1e6).toFixed(3)} MB/s (caps ${CAP / 1e6} MB/s); the block reached h2 ${arrived[0] - mined} ms after the mine call returned`)
    for (const [what, rate] of [['h1 --max-upload', up], ['h3 --max-download', down]] as const) {
      assert.ok(rate <= CAP * 1.05 && rate >= CAP * 0.9, `${what}: ${(rate / 1e6).toFixed(3)} MB/s on the link against a cap of ${CAP / 1e6} MB/s`)
    }
    assert.ok(arrived[0] - mined < 1_000, `the block reached h2 ${arrived[0] - mined} ms after it was mined`)

    // lifted at runtime with the CLI: the transfers finish at the link's speed
    const { stdout } = await h1.exec(process.execPath, [PEERD_BIN, 'bandwidth', '--max-upload', '0', '--json', '--data-dir', dirs.get(h1) as string])
    assert.deepEqual((JSON.parse(stdout) as { effective: unknown }).effective, { maxUpload: 0, maxDownload: 0 })
    await call(h3, 'POST', '/api/v1/bandwidth/limits', { maxDownload: 0 })
    for (const outcome of await Promise.all(gets)) assert.equal(outcome.event, 'done', JSON.stringify(outcome))
  })
})
