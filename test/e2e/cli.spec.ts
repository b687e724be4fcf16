/**
 * The `peerd` CLI against real daemon processes on loopback: identity, connecting two daemons,
 * peers/status output (JSON and human), stopping, and the exit codes and error shapes of bad input.
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { before, describe, it } from 'node:test'
import { runCli, cliJson, startDaemonProcess, waitFor } from '../utils/index.ts'
import type { DaemonProcess } from '../utils/index.ts'
import { teardown } from '../utils/teardown.ts'
import { assertFailed, errorOf, exists, randomPeerId } from '../utils/cli.ts'
import { tcpAddress } from '../utils/share.ts'

const TEST = { timeout: 60_000 }

interface IdResult { peerId: string, addresses: string[] }
interface PeerResult { peerId: string, addresses: string[], direction: string, latencyMs: number | null }
interface StatusResult { peerId: string, network: string, peers: number }

describe('peerd CLI with two daemons', () => {
  const td = teardown()
  let a: DaemonProcess
  let b: DaemonProcess

  before(async () => {
    const [dirA, dirB] = await Promise.all([td.dir('peerd-e2e-cli-'), td.dir('peerd-e2e-cli-')])
    ;[a, b] = await Promise.all([startDaemonProcess(dirA).then(d => td.daemon(d)), startDaemonProcess(dirB).then(d => td.daemon(d))])
  })

  it('`id --json` gives the peer id the daemon printed and addresses ending in /p2p/<peerId>', TEST, async () => {
    for (const d of [a, b]) {
      const r = await cliJson<IdResult>(['id', '--data-dir', d.dataDir])
      assert.deepEqual(Object.keys(r).sort(), ['addresses', 'peerId'])
      assert.equal(r.peerId, d.peerId)
      assert.match(r.peerId, /^12D3KooW/)
      assert.ok(r.addresses.length > 0, 'no addresses')
      for (const addr of r.addresses) assert.ok(addr.endsWith(`/p2p/${d.peerId}`), `${addr} does not end in /p2p/${d.peerId}`)
    }
    assert.notEqual(a.peerId, b.peerId)
  })

  it('`connect` dials the other daemon', TEST, async () => {
    const r = await runCli(['connect', tcpAddress(a), '--data-dir', b.dataDir, '--json'])
    assert.equal(r.code, 0, r.stdout + r.stderr)
    const p = JSON.parse(r.stdout) as PeerResult
    assert.equal(p.peerId, a.peerId)
    assert.equal(p.direction, 'outbound')
  })

  it('`peers --json` shows the link on both sides with its direction', TEST, async () => {
    const check = (list: PeerResult[], other: DaemonProcess, direction: string): PeerResult | undefined => {
      const p = list.find(x => x.peerId === other.peerId)
      if (p == null) return undefined
      assert.equal(p.direction, direction)
      assert.ok(Array.isArray(p.addresses) && p.addresses.length > 0, `addresses: ${JSON.stringify(p.addresses)}`)
      for (const addr of p.addresses) assert.equal(typeof addr, 'string')
      assert.ok(p.latencyMs === null || (typeof p.latencyMs === 'number' && Number.isFinite(p.latencyMs) && p.latencyMs >= 0),
        `latencyMs: ${String(p.latencyMs)}`)
      return p
    }
    const onB = await waitFor(async () => check(await cliJson<PeerResult[]>(['peers', '--data-dir', b.dataDir]), a, 'outbound'),
      { what: 'A in B\'s peers' })
    const portA = tcpAddress(a).replace(/\/p2p\/[^/]+$/, '')
    assert.ok(onB.addresses.some(x => x.startsWith(portA)), `B's addresses of A ${JSON.stringify(onB.addresses)} do not include ${portA}`)
    await waitFor(async () => check(await cliJson<PeerResult[]>(['peers', '--data-dir', a.dataDir]), b, 'inbound'),
      { what: 'B in A\'s peers' })
  })

  it('`status --json` reports the peer id, the network and the peer count', TEST, async () => {
    for (const d of [a, b]) {
      const s = await cliJson<StatusResult>(['status', '--data-dir', d.dataDir])
      assert.equal(s.peerId, d.peerId)
      assert.equal(s.network, 'regtest')
      assert.equal(typeof s.peers, 'number')
      assert.ok(s.peers >= 1, `peers: ${s.peers}`)
    }
  })

  it('human output of `id` and `peers` shows the peer ids', TEST, async () => {
    const id = await runCli(['id', '--data-dir', a.dataDir])
    assert.equal(id.code, 0, id.stderr)
    assert.ok(id.stdout.includes(a.peerId), id.stdout)
    assert.throws(() => JSON.parse(id.stdout) as unknown, 'human output should not be JSON')
    const peers = await runCli(['peers', '--data-dir', b.dataDir])
    assert.equal(peers.code, 0, peers.stderr)
    assert.ok(peers.stdout.includes(a.peerId), peers.stdout)
  })

  it('`connect` with a malformed multiaddr fails with InvalidArgumentError', TEST, async () => {
    const r = await runCli(['connect', 'not-a-multiaddr', '--json', '--data-dir', b.dataDir])
    assertFailed(r)
    assert.equal(errorOf(r).name, 'InvalidArgumentError')
  })

  it('`connect` to an unreachable address fails with DialError', TEST, async () => {
    const r = await runCli(['connect', `/ip4/127.0.0.1/tcp/1/p2p/${await randomPeerId()}`, '--json', '--data-dir', b.dataDir])
    assertFailed(r)
    assert.equal(errorOf(r).name, 'DialError')
  })

  it('`stop` stops the daemon, which exits 0 and removes its api and cookie files', TEST, async () => {
    const r = await runCli(['stop', '--data-dir', a.dataDir])
    assert.equal(r.code, 0, r.stdout + r.stderr)
    await waitFor(() => a.child.exitCode != null || a.child.signalCode != null, { what: 'daemon A to exit' })
    assert.equal(a.child.signalCode, null)
    assert.equal(a.child.exitCode, 0, a.stderr())
    assert.equal(await exists(join(a.dataDir, 'api')), false, 'api file left behind')
    assert.equal(await exists(join(a.dataDir, 'cookie')), false, 'cookie file left behind')
  })
})

describe('peerd CLI with bad input', () => {
  const td = teardown()

  it('an unknown command exits 2 with usage on stderr', TEST, async () => {
    const r = await runCli(['frobnicate'])
    assert.equal(r.code, 2, r.stdout + r.stderr)
    assert.match(r.stderr, /unknown command "frobnicate"/)
    assert.match(r.stderr, /usage: peerd COMMAND/)
  })

  it('an unknown flag exits 2', TEST, async () => {
    const r = await runCli(['id', '--frob'])
    assert.equal(r.code, 2, r.stdout + r.stderr)
    assert.match(r.stderr, /--frob/)
  })

  it('`connect` without an argument exits 2', TEST, async () => {
    const r = await runCli(['connect', '--data-dir', await td.dir('peerd-e2e-cli-')])
    assert.equal(r.code, 2, r.stdout + r.stderr)
    assert.match(r.stderr, /missing argument/)
  })

  it('`id --json` on a data dir without a daemon fails with DaemonNotRunningError', TEST, async () => {
    const r = await runCli(['id', '--json', '--data-dir', await td.dir('peerd-e2e-cli-')], { timeoutMs: 20_000 })
    assertFailed(r)
    assert.equal(errorOf(r).name, 'DaemonNotRunningError')
  })

  it('`daemon --network bogus` exits 2', TEST, async () => {
    const r = await runCli(['daemon', '--data-dir', await td.dir('peerd-e2e-cli-'), '--network', 'bogus', '--api', '127.0.0.1:0', '--no-mdns'], { timeoutMs: 20_000 })
    assert.equal(r.code, 2, r.stdout + r.stderr)
    assert.match(r.stderr, /bogus/)
  })

  it('`daemon --listen /not/a/multiaddr` fails naming the address', TEST, async () => {
    const dir = await td.dir('peerd-e2e-cli-')
    const r = await runCli(['daemon', '--data-dir', dir, '--network', 'regtest', '--listen', '/not/a/multiaddr', '--api', '127.0.0.1:0', '--no-mdns'], { timeoutMs: 20_000 })
    assertFailed(r)
    assert.ok(r.stderr.includes('/not/a/multiaddr'), r.stderr)
  })

  it('`daemon --api 0.0.0.0:0` is refused without --api-allow-remote', TEST, async () => {
    const r = await runCli(['daemon', '--data-dir', await td.dir('peerd-e2e-cli-'), '--network', 'regtest', '--listen', '/ip4/127.0.0.1/tcp/0', '--api', '0.0.0.0:0', '--no-mdns'], { timeoutMs: 20_000 })
    assertFailed(r)
    assert.match(r.stderr, /--api-allow-remote/)
  })

  it('a daemon whose listen port is in use exits non-zero with "already in use"', TEST, async () => {
    const a = td.daemon(await startDaemonProcess(await td.dir('peerd-e2e-cli-')))
    const taken = tcpAddress(a).replace(/\/p2p\/[^/]+$/, '')
    assert.match(taken, /^\/ip4\/127\.0\.0\.1\/tcp\/\d+$/)
    const r = await runCli(['daemon', '--data-dir', await td.dir('peerd-e2e-cli-'), '--network', 'regtest', '--listen', taken, '--api', '127.0.0.1:0', '--no-mdns'], { timeoutMs: 20_000 })
    assertFailed(r)
    assert.match(r.stdout + r.stderr, /already in use/)
    // A is unaffected
    assert.equal((await cliJson<IdResult>(['id', '--data-dir', a.dataDir])).peerId, a.peerId)
  })
})
