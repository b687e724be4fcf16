/**
 * The daemon's life cycle as a real process: a persistent identity with private file modes,
 * the data dir lock, recovery after `kill -9`, a corrupted key that is never replaced, clean
 * stops on SIGINT, reconnecting after a restart, and starting with an unreachable bootstrap peer.
 */
import assert from 'node:assert/strict'
import { readFile, stat, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { cliJson, runCli, startDaemonProcess, waitFor } from '../utils/index.ts'
import type { DaemonProcess } from '../utils/index.ts'
import { teardown } from '../utils/teardown.ts'
import { assertFailed, errorOf, exists, randomPeerId } from '../utils/cli.ts'

const TEST = { timeout: 60_000 }

interface IdResult { peerId: string, addresses: string[] }
interface PeerResult { peerId: string, addresses: string[], direction: string, latencyMs: number | null }
interface StatusResult { peerId: string, network: string, running: boolean, peers: number }

const td = teardown()

async function newDir (): Promise<string> {
  return await td.dir('peerd-e2e-life-')
}

async function daemon (dataDir: string, extra?: string[]): Promise<DaemonProcess> {
  return td.daemon(await startDaemonProcess(dataDir, extra))
}

/** Waits for the daemon process to exit by itself; returns its exit code. */
async function exitOf (d: DaemonProcess, timeoutMs = 20_000): Promise<number | null> {
  await waitFor(() => d.child.exitCode != null || d.child.signalCode != null, { timeoutMs, what: 'the daemon to exit' })
  assert.equal(d.child.signalCode, null, `killed by ${String(d.child.signalCode)}`)
  return d.child.exitCode
}

/** `peerd daemon` arguments as startDaemonProcess uses them, for runs expected to fail. */
function daemonArgs (dataDir: string): string[] {
  return ['daemon', '--data-dir', dataDir, '--network', 'regtest', '--listen', '/ip4/127.0.0.1/tcp/0', '--api', '127.0.0.1:0', '--no-mdns']
}

/** A TCP port that nothing listens on (just released by the OS). */
async function freePort (): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => { resolve() })
  })
  const { port } = server.address() as AddressInfo
  await new Promise<void>(resolve => { server.close(() => { resolve() }) })
  return port
}

describe('peerd daemon life cycle', () => {
  it('keeps its peer id across restarts; identity.key and cookie are mode 0600', TEST, async () => {
    const dir = await newDir()
    const first = await daemon(dir)
    assert.match(first.peerId, /^12D3KooW/)
    const keyMode = (await stat(join(dir, 'identity.key'))).mode & 0o777
    const cookieMode = (await stat(join(dir, 'cookie'))).mode & 0o777
    assert.equal(keyMode.toString(8), '600', 'identity.key mode')
    assert.equal(cookieMode.toString(8), '600', 'cookie mode')
    assert.equal(await first.stop(), 0, first.stderr())

    const second = await daemon(dir)
    assert.equal(second.peerId, first.peerId)
    assert.equal((await cliJson<IdResult>(['id', '--data-dir', dir])).peerId, first.peerId)
    assert.equal((await stat(join(dir, 'identity.key'))).mode & 0o777, 0o600)
    assert.equal((await stat(join(dir, 'cookie'))).mode & 0o777, 0o600)
    assert.equal(await second.stop(), 0, second.stderr())
  })

  it('a second daemon on the same data dir exits quickly with "in use"; the first keeps running', TEST, async () => {
    const dir = await newDir()
    const first = await daemon(dir)
    const t0 = Date.now()
    const r = await runCli(daemonArgs(dir), { timeoutMs: 20_000 })
    const elapsed = Date.now() - t0
    assertFailed(r)
    assert.match(r.stdout + r.stderr, /in use/)
    assert.ok(elapsed < 15_000, `took ${elapsed} ms`)
    assert.equal((await cliJson<IdResult>(['id', '--data-dir', dir])).peerId, first.peerId)
    assert.equal(first.child.exitCode, null, 'the first daemon exited')
  })

  it('after kill -9, clients fail fast with DaemonNotRunningError and a restart works', TEST, async () => {
    const dir = await newDir()
    const first = await daemon(dir)
    await first.kill()
    assert.equal(await exists(join(dir, 'api')), true, 'api file should be left behind by kill -9')
    assert.equal(await exists(join(dir, 'cookie')), true, 'cookie file should be left behind by kill -9')

    const t0 = Date.now()
    const r = await runCli(['id', '--json', '--data-dir', dir], { timeoutMs: 20_000 })
    assertFailed(r)
    assert.ok(Date.now() - t0 < 15_000, 'peerd id hung')
    const e = errorOf(r)
    assert.equal(e.name, 'DaemonNotRunningError')
    assert.match(e.message, /ECONNREFUSED|refused|does not answer/i)

    const second = await daemon(dir)
    assert.equal(second.peerId, first.peerId)
    assert.equal((await cliJson<IdResult>(['id', '--data-dir', dir])).peerId, first.peerId)
  })

  it('refuses to start with a corrupted identity key and leaves the file as it was', TEST, async () => {
    const dir = await newDir()
    const first = await daemon(dir)
    assert.equal(await first.stop(), 0, first.stderr())
    const keyFile = join(dir, 'identity.key')
    const garbage = Buffer.from('this is not a key \u0000\u00ff\u00fe garbage\n', 'latin1')
    await writeFile(keyFile, garbage, { mode: 0o600 })

    const r = await runCli(daemonArgs(dir), { timeoutMs: 20_000 })
    assertFailed(r)
    const out = r.stdout + r.stderr
    assert.ok(out.includes(keyFile), `message does not name ${keyFile}: ${out}`)
    assert.match(out, /corrupted/)
    assert.deepEqual(await readFile(keyFile), garbage, 'the key file was changed')
    assert.equal(await exists(join(dir, 'api')), false, 'api file written by a daemon that did not start')
  })

  it('runs V8 with a small young generation: a plain `peerd daemon` replaces itself (same process) with one started with --max-semi-space-size=4', { ...TEST, skip: process.platform !== 'linux' || typeof process.execve !== 'function' ? 'needs Linux /proc and process.execve' : false }, async () => {
    const dir = await newDir()
    const d = await daemon(dir)
    const pid = d.child.pid as number
    const argv = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0')
    assert.ok(argv.includes('--max-semi-space-size=4'), `the spawned process runs: ${argv.join(' ')}`)
    assert.ok(argv.includes('daemon'))
    const status = await cliJson<{ pid: number }>(['status', '--data-dir', dir])
    assert.equal(status.pid, pid, 'the API is served by the process that was started')
    d.child.kill('SIGINT')
    assert.equal(await exitOf(d), 0, d.stderr())
  })

  it('stops cleanly on SIGINT', TEST, async () => {
    const dir = await newDir()
    const d = await daemon(dir)
    d.child.kill('SIGINT')
    assert.equal(await exitOf(d), 0, d.stderr())
    assert.equal(await exists(join(dir, 'api')), false, 'api file left behind')
    assert.equal(await exists(join(dir, 'cookie')), false, 'cookie file left behind')
  })

  it('reconnects to the peers it knew after a restart, without bootstrap peers', TEST, async () => {
    const port = await freePort()
    const a = await daemon(await newDir(), ['--listen', `/ip4/127.0.0.1/tcp/${port}`])
    const addrA = a.addresses.find(x => x.startsWith(`/ip4/127.0.0.1/tcp/${port}/p2p/`))
    assert.ok(addrA != null, `A does not listen on port ${port}: ${JSON.stringify(a.addresses)}`)
    const dirB = await newDir()
    const b1 = await daemon(dirB)
    const c = await runCli(['connect', addrA, '--json', '--data-dir', dirB])
    assert.equal(c.code, 0, c.stdout + c.stderr)
    await waitFor(async () => (await cliJson<PeerResult[]>(['peers', '--data-dir', a.dataDir])).some(p => p.peerId === b1.peerId),
      { what: 'A to see B' })
    assert.equal(await b1.stop(), 0, b1.stderr())

    const b2 = await daemon(dirB)
    assert.equal(b2.peerId, b1.peerId)
    const link = await waitFor(async () => (await cliJson<PeerResult[]>(['peers', '--data-dir', dirB])).find(p => p.peerId === a.peerId),
      { timeoutMs: 20_000, what: 'B to reconnect to A' })
    // B dialled A (A cannot know B's new port)
    assert.equal(link.direction, 'outbound')
  })

  it('starts and keeps answering with an unreachable bootstrap peer, and logs it', TEST, async () => {
    const bootstrap = `/ip4/127.0.0.1/tcp/${await freePort()}/p2p/${await randomPeerId()}`
    const d = await daemon(await newDir(), ['--bootstrap', bootstrap])
    await waitFor(() => d.stderr().includes('bootstrap peer unreachable'), { what: 'the unreachable-bootstrap log line' })
    const s = await cliJson<StatusResult>(['status', '--data-dir', d.dataDir])
    assert.equal(s.peerId, d.peerId)
    assert.equal(s.running, true)
    assert.equal(s.peers, 0)
    assert.equal(d.child.exitCode, null, 'the daemon exited')
  })
})
