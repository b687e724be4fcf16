import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { createLan, netnsUnavailable } from '../utils/netns.ts'
import { PEERD_BIN, waitFor } from '../utils/index.ts'
import { teardown } from '../utils/teardown.ts'

// mDNS multicasts onto the LAN, so this test runs its nodes on hosts of their own
// (network namespaces on a private bridge) rather than on the machine's real network.
const unavailable = await netnsUnavailable()

describe('three nodes find each other by mDNS alone', { skip: unavailable }, () => {
  const td = teardown()

  it('every node connects to both others with no bootstrap address', { timeout: 60_000 }, async () => {
    const lan = await createLan(3)
    td.add(async () => { await lan.destroy() }, 'remove the LAN')
    const dirs: string[] = []
    for (const host of lan.hosts) {
      const dir = await td.dir()
      dirs.push(dir)
      td.child(host.spawn(process.execPath, [PEERD_BIN, 'daemon', '--data-dir', dir, '--network', 'regtest',
        '--listen', `/ip4/${host.ip}/tcp/0`, '--api', '127.0.0.1:0', '--log-level', 'warn'], { stdio: 'ignore' }))
    }
    const peersOf = async (i: number): Promise<Array<{ peerId: string, addresses: string[] }>> => {
      const host = lan.hosts[i]
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
