/**
 * `peerd daemon --metrics HOST:PORT` as a Prometheus user checks it, against two real daemon
 * processes on loopback: the endpoint's URL is in the data dir's `metrics` file, `GET /metrics`
 * carries libp2p's metrics and peerd's own with HELP text, and the values move as the nodes do
 * (a peer connects, a file is shared and fetched, a block is mined). A non-loopback address is
 * refused unless allowed.
 */
import assert from 'node:assert/strict'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { before, describe, it } from 'node:test'
import { encodeAddress } from '../../src/cash/primitives/address.ts'
import { xOnlyPublicKey } from '../utils/schnorr.ts'
import { cliJson, runCli, startDaemonProcess, waitFor } from '../utils/index.ts'
import type { DaemonProcess } from '../utils/index.ts'
import { assertFailed, errorOf, exists } from '../utils/cli.ts'
import { MiB, tcpAddress, writeRandomFile } from '../utils/share.ts'
import { teardown } from '../utils/teardown.ts'

const TEST = { timeout: 60_000 }
const ADDRESS = encodeAddress('pdrt', xOnlyPublicKey(new Uint8Array(32).fill(9)))

/** The samples of a Prometheus text exposition: `name{labels}` → value. */
function samples (text: string): Map<string, number> {
  const out = new Map<string, number>()
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue
    const at = line.lastIndexOf(' ')
    out.set(line.slice(0, at), Number(line.slice(at + 1)))
  }
  return out
}

/** The endpoint's base URL, as the daemon wrote it to its data dir. */
async function metricsUrl (d: DaemonProcess): Promise<string> {
  return (await readFile(join(d.dataDir, 'metrics'), 'utf8')).trim()
}

async function scrape (d: DaemonProcess): Promise<Map<string, number>> {
  const res = await fetch(`${await metricsUrl(d)}/metrics`)
  assert.equal(res.status, 200)
  return samples(await res.text())
}

/** A sample's value; 0 when absent (a counter nothing has moved yet). */
function value (m: Map<string, number>, key: string): number {
  return m.get(key) ?? 0
}

describe('peerd daemon --metrics (Prometheus)', () => {
  const td = teardown()
  let root: string
  let a: DaemonProcess
  let b: DaemonProcess

  before(async () => {
    root = await td.dir('peerd-e2e-metrics-')
    a = td.daemon(await startDaemonProcess(join(root, 'a'), ['--metrics', '127.0.0.1:0']))
  })

  it('serves libp2p\'s and peerd\'s metrics at /metrics in the Prometheus text format, on a loopback port of its own', TEST, async () => {
    const url = await metricsUrl(a)
    assert.match(url, /^http:\/\/127\.0\.0\.1:\d+$/)
    assert.notEqual(url, a.api, 'the metrics are not on the API port (no cookie needed)')
    const res = await fetch(`${url}/metrics`)
    assert.equal(res.status, 200)
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/)
    const text = await res.text()
    // every line is a HELP, a TYPE (one per metric) or a sample Prometheus can parse
    const families = new Set<string>()
    for (const line of text.split('\n')) {
      if (line === '' || line.startsWith('# HELP ')) continue
      const type = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary)$/.exec(line)
      if (type != null) {
        assert.equal(families.has(type[1] as string), false, `one TYPE line for ${type[1] as string}`)
        families.add(type[1] as string)
        continue
      }
      assert.match(line, /^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*"(,[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*")*\})? (-?\d+(\.\d+)?(e[+-]?\d+)?|NaN|[+-]Inf)$/, line)
    }
    // peerd's own, with HELP and TYPE lines
    for (const name of ['peerd_peers', 'peerd_bytes_total', 'peerd_transfers_active', 'peerd_transfers_completed_total', 'peerd_transfers_failed_total',
      'peerd_chain_height', 'peerd_chain_tip_age_seconds', 'peerd_mempool_transactions', 'peerd_mempool_bytes', 'peerd_onion_circuits_open',
      'peerd_onion_relay_bytes_total', 'peerd_onion_services', 'peerd_reachable', 'peerd_relay_reservations', 'peerd_hole_punch_total',
      'peerd_relay_service_bytes_total', 'peerd_bandwidth_cap_bytes_per_second']) {
      assert.match(text, new RegExp(`^# HELP ${name} \\S`, 'm'), `${name} has HELP text`)
      assert.match(text, new RegExp(`^# TYPE ${name} (gauge|counter)$`, 'm'))
    }
    // libp2p's (connection manager, transports, DHT) and the process's
    for (const name of ['libp2p_connection_manager_connections', 'libp2p_data_transfer_bytes_total', 'libp2p_tcp_listener_status_info', 'peerd_dht_routing_table_size', 'process_cpu_user_seconds_total', 'nodejs_heap_size_used_bytes']) {
      assert.match(text, new RegExp(`^# TYPE ${name} `, 'm'), `${name} is there`)
    }
    const m = samples(text)
    assert.equal(m.get('peerd_peers{direction="inbound"}'), 0)
    assert.equal(m.get('peerd_chain_height'), 0)
    assert.equal(m.get(`peerd_info{version="${(await cliJson<{ version: string }>(['status', '--data-dir', a.dataDir])).version}",network="regtest",peer_id="${a.peerId}"}`), 1)
    // one route only
    assert.equal((await fetch(`${url}/`)).status, 404)
    assert.equal((await fetch(`${url}/metrics`, { method: 'POST' })).status, 405)
  })

  it('counts a connected peer, a shared file fetched by it (bytes by service, transfers), and a mined block', TEST, async () => {
    b = td.daemon(await startDaemonProcess(join(root, 'b'), ['--metrics', '127.0.0.1:0', '--bootstrap', tcpAddress(a)]))
    await waitFor(async () => value(await scrape(a), 'peerd_peers{direction="inbound"}') === 1, { what: 'A to count B as an inbound peer' })
    assert.equal(value(await scrape(b), 'peerd_peers{direction="outbound"}'), 1)

    const size = 2 * MiB
    const file = join(root, 'file.bin')
    await writeRandomFile(file, size)
    const before = await scrape(a)
    const { cid } = await cliJson<{ cid: string }>(['share', file, '--data-dir', a.dataDir])
    await cliJson(['get', cid, '--output', join(root, 'out.bin'), '--data-dir', b.dataDir])
    const afterA = await scrape(a)
    const afterB = await scrape(b)
    const contentSent = (m: Map<string, number>): number => value(m, 'peerd_bytes_total{service="share",direction="sent"}') + value(m, 'peerd_bytes_total{service="bitswap",direction="sent"}')
    assert.ok(contentSent(afterA) - contentSent(before) >= size, `A's share+bitswap sent bytes grew by the file: ${contentSent(before)} → ${contentSent(afterA)}`)
    const received = value(afterB, 'peerd_bytes_total{service="share",direction="received"}') + value(afterB, 'peerd_bytes_total{service="bitswap",direction="received"}')
    assert.ok(received >= size, `B received the file's bytes under share or bitswap: ${received}`)
    assert.ok(value(afterA, 'peerd_share_served_bytes_total') >= size)
    assert.ok(value(afterA, 'peerd_transport_bytes_total{direction="sent"}') >= size)
    assert.equal(value(afterB, 'peerd_transfers_completed_total'), 1)
    assert.equal(value(afterB, 'peerd_transfers_active'), 0)
    assert.equal(value(afterB, 'peerd_transfers_failed_total'), 0)

    await cliJson(['mine', '--blocks', '2', '--address', ADDRESS, '--data-dir', a.dataDir])
    const mined = await scrape(a)
    assert.equal(mined.get('peerd_chain_height'), 2)
    assert.ok(value(mined, 'peerd_chain_tip_age_seconds') < 60, 'the tip is a block of now')
    assert.ok(value(mined, 'peerd_bytes_total{service="cash",direction="sent"}') > 0, 'the blocks went to B over cash protocols')
    await waitFor(async () => value(await scrape(b), 'peerd_chain_height') === 2, { what: 'B to follow to height 2' })
  })

  it('removes the metrics file on a clean stop', TEST, async () => {
    assert.equal(await b.stop(), 0)
    assert.equal(await exists(join(b.dataDir, 'metrics')), false)
  })

  it('refuses a non-loopback address without --metrics-allow-remote, from a flag or config.json', TEST, async () => {
    const dir = await td.dir('peerd-e2e-metrics-remote-')
    const args = ['daemon', '--json', '--data-dir', dir, '--network', 'regtest', '--listen', '/ip4/127.0.0.1/tcp/0', '--api', '127.0.0.1:0', '--no-mdns']
    const flag = await runCli([...args, '--metrics', '0.0.0.0:0'], { timeoutMs: 30_000 })
    assertFailed(flag)
    assert.match(errorOf(flag).message, /refusing to serve metrics on non-loopback address 0\.0\.0\.0:0.*--metrics-allow-remote/)
    await writeFile(join(dir, 'config.json'), JSON.stringify({ metrics: '0.0.0.0:0' }))
    const file = await runCli(args, { timeoutMs: 30_000 })
    assertFailed(file)
    assert.match(errorOf(file).message, /--metrics-allow-remote/)
    const bad = await runCli([...args, '--metrics', 'nonsense'], { timeoutMs: 30_000 })
    assertFailed(bad)
    assert.match(errorOf(bad).message, /invalid metrics address "nonsense"/)
  })
})
