/**
 * `peerd devnet` as a real process: five daemons that form one network, a clean stop on SIGINT,
 * and no orphaned node when the devnet itself is killed with SIGKILL.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { describe, it } from 'node:test'
import { cliJson, PEERD_BIN, processExists, waitFor } from '../utils/index.ts'
import { teardown } from '../utils/teardown.ts'
import { exists } from '../utils/cli.ts'

const TEST = { timeout: 60_000 }
const NODES = 5

interface ReadyNode { name: string, peerId: string, api: string, dataDir: string, addresses: string[], pid: number, command: string }
interface Ready { event: 'ready', connected: boolean, links: number | null, nodes: ReadyNode[] }

/** A devnet process and what it printed. */
interface DevnetProcess {
  child: ChildProcess
  ready: Ready
  stderr: () => string
}

const td = teardown()

/** Starts `peerd devnet --nodes N --json` and waits for its "ready" line. */
async function startDevnet (nodes: number): Promise<DevnetProcess> {
  const dir = await td.dir('peerd-e2e-devnet-')
  const pids: number[] = []
  // torn down last first: the devnet is killed, its nodes follow it (or are killed), then the dir goes
  td.add(async () => {
    await waitFor(() => pids.every(pid => !processExists(pid)), { timeoutMs: 20_000, what: 'devnet nodes to exit' })
      .catch(() => { for (const pid of pids) if (processExists(pid)) process.kill(pid, 'SIGKILL') })
  }, 'the devnet nodes to exit')
  const child = td.child(spawn(process.execPath, [PEERD_BIN, 'devnet', '--nodes', String(nodes), '--dir', dir, '--json'], { stdio: ['ignore', 'pipe', 'pipe'] }))
  let err = ''
  child.stderr?.on('data', (d: Buffer) => { err += d.toString() })
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream })
  const ready = await new Promise<Ready>((resolve, reject) => {
    const timer = setTimeout(() => { reject(new Error(`devnet not ready within 45 s: ${err}`)) }, 45_000)
    child.once('exit', (code, signal) => { clearTimeout(timer); reject(new Error(`devnet exited (${signal ?? String(code)}) before it was ready: ${err}`)) })
    lines.on('line', line => {
      let v: { event?: string }
      try { v = JSON.parse(line) as { event?: string } } catch { return }
      if (v.event === 'ready') {
        clearTimeout(timer)
        resolve(v as Ready)
      }
    })
  })
  for (const n of ready.nodes) pids.push(n.pid)
  return { child, ready, stderr: () => err }
}

/** Whether the undirected graph over `ids` with `edges` is connected. */
function isConnectedGraph (ids: string[], edges: Array<[string, string]>): boolean {
  const adj = new Map<string, Set<string>>(ids.map(id => [id, new Set()]))
  for (const [x, y] of edges) {
    adj.get(x)?.add(y)
    adj.get(y)?.add(x)
  }
  const seen = new Set<string>()
  const stack = ids.slice(0, 1)
  while (stack.length > 0) {
    const id = stack.pop() as string
    if (seen.has(id)) continue
    seen.add(id)
    for (const next of adj.get(id) ?? []) stack.push(next)
  }
  return ids.length > 0 && seen.size === ids.length
}

describe('peerd devnet', () => {
  it('starts 5 nodes as one network and stops them all on SIGINT', TEST, async () => {
    const net = await startDevnet(NODES)
    const { ready } = net
    assert.equal(ready.connected, true, `not connected: ${JSON.stringify(ready)}`)
    assert.equal(ready.nodes.length, NODES)
    const ids = ready.nodes.map(n => n.peerId)
    assert.equal(new Set(ids).size, NODES, `peer ids not distinct: ${ids.join(' ')}`)
    assert.equal(new Set(ready.nodes.map(n => n.pid)).size, NODES)
    for (const n of ready.nodes) assert.ok(processExists(n.pid), `${n.name} (pid ${n.pid}) is not running`)

    const edges: Array<[string, string]> = []
    for (const n of ready.nodes) {
      const peers = await cliJson<Array<{ peerId: string }>>(['peers', '--data-dir', n.dataDir])
      for (const p of peers) {
        assert.notEqual(p.peerId, n.peerId, `${n.name} lists itself`)
        if (ids.includes(p.peerId)) edges.push([n.peerId, p.peerId])
      }
    }
    assert.ok(isConnectedGraph(ids, edges), `links ${JSON.stringify(edges)} do not connect all ${NODES} nodes`)

    net.child.kill('SIGINT')
    await waitFor(() => net.child.exitCode != null || net.child.signalCode != null, { timeoutMs: 20_000, what: 'the devnet to exit' })
    assert.equal(net.child.signalCode, null)
    assert.equal(net.child.exitCode, 0, net.stderr())
    await waitFor(() => ready.nodes.every(n => !processExists(n.pid)), { timeoutMs: 20_000, what: 'every node to exit' })
    for (const n of ready.nodes) assert.equal(await exists(join(n.dataDir, 'api')), false, `${n.name} left its api file`)
  })

  it('every node exits when the devnet is killed with SIGKILL', TEST, async () => {
    const net = await startDevnet(NODES)
    const { ready } = net
    assert.equal(ready.nodes.length, NODES)
    for (const n of ready.nodes) assert.ok(processExists(n.pid), `${n.name} (pid ${n.pid}) is not running`)

    net.child.kill('SIGKILL')
    await waitFor(() => net.child.signalCode != null, { timeoutMs: 20_000, what: 'the devnet to die' })
    await waitFor(() => ready.nodes.every(n => !processExists(n.pid)), { timeoutMs: 20_000, what: 'every node to exit after the devnet died' })
    for (const n of ready.nodes) assert.equal(await exists(join(n.dataDir, 'api')), false, `${n.name} left its api file (did not stop cleanly)`)
  })
})
