import assert from 'node:assert/strict'
import type { ChildProcess } from 'node:child_process'
import { after, describe, it } from 'node:test'
import { createLan, netnsUnavailable } from '../utils/netns.ts'
import type { Topology } from '../utils/netns.ts'
import { PEERD_BIN, tempDir, waitFor } from '../utils/index.ts'

// mDNS multicasts onto the LAN, so this test runs its nodes on hosts of their own
// (network namespaces on a private bridge) rather than on the machine's real network.
const unavailable = await netnsUnavailable()

describe('three nodes find each other by mDNS alone', { skip: unavailable }, () => {
  let lan: Topology | undefined
  const children: ChildProcess[] = []
  const cleanups: Array<() => Promise<void>> = []
  after(async () => {
    for (const c of children) if (c.exitCode == null && c.signalCode == null) c.kill('SIGKILL')
    await Promise.all(children.map(async c => {
      if (c.exitCode == null && c.signalCode == null) await new Promise(resolve => c.once('exit', resolve))
    }))
    await lan?.destroy()
    for (const c of cleanups) await c()
  })

  it('every node connects to both others with no bootstrap address', { timeout: 60_000 }, async () => {
    lan = await createLan(3)
    const dirs: string[] = []
    for (const host of lan.hosts) {
      const d = await tempDir()
      cleanups.push(d.cleanup)
      dirs.push(d.path)
      const child = host.spawn(process.execPath, [PEERD_BIN, 'daemon', '--data-dir', d.path, '--network', 'regtest',
        '--listen', `/ip4/${host.ip}/tcp/0`, '--api', '127.0.0.1:0', '--log-level', 'warn'], { stdio: 'ignore' })
      children.push(child)
    }
    const peersOf = async (i: number): Promise<Array<{ peerId: string, addresses: string[] }>> => {
      const host = lan?.hosts[i]
      if (host == null) throw new Error('no host')
      const { stdout } = await host.exec(process.execPath, [PEERD_BIN, 'peers', '--json', '--data-dir', dirs[i] as string])
      return JSON.parse(stdout)
    }
    for (let i = 0; i < 3; i++) {
      const peers = await waitFor(async () => {
        const p = await peersOf(i)
        return p.length === 2 ? p : undefined
      }, { timeoutMs: 40_000, intervalMs: 500, what: `node ${i + 1} to find two peers by mDNS` })
      for (const p of peers) {
        assert.ok(p.addresses.some(a => a.startsWith('/ip4/10.250.0.')), `peer ${p.peerId} is reached on the LAN`)
      }
    }
  })
})
