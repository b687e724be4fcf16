/**
 * A local development network: N `peerd daemon` processes on loopback (regtest, no mDNS),
 * node 1 first, the others bootstrapped to it. Each node's log goes to `DIR/nodeK/daemon.log`.
 * Children get an IPC channel and stop when it closes, so none outlives the devnet, even one
 * killed with `kill -9`.
 */
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { mkdir, open } from 'node:fs/promises'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { DAEMON_NODE_FLAGS } from './launch.ts'

/** One devnet node as started. */
export interface DevnetNode {
  name: string
  dataDir: string
  peerId: string
  addresses: string[]
  api: string
  pid: number
  /** How to talk to it: append a command, e.g. `id`. */
  command: string
  child: ChildProcess
}

/** Options of {@link startDevnet}. */
export interface DevnetOptions {
  nodes: number
  dir: string
  logLevel?: string
  /** Called when a node exits before stop() was asked for. */
  onExit?: (node: DevnetNode, code: number | null, signal: NodeJS.Signals | null) => void
}

/** A running devnet. */
export interface Devnet {
  nodes: DevnetNode[]
  /** SIGTERM to every node, SIGKILL after `graceMs`; resolves when all have exited. */
  stop (graceMs?: number): Promise<void>
}

const BIN = fileURLToPath(new URL('../../bin/peerd.js', import.meta.url))

async function startOne (name: string, dataDir: string, extra: string[], opts: DevnetOptions): Promise<DevnetNode> {
  await mkdir(dataDir, { recursive: true, mode: 0o700 })
  const logFile = await open(join(dataDir, 'daemon.log'), 'a', 0o600)
  // the daemon's Node.js flags given here: under an IPC channel it cannot relaunch itself with them
  const args = [...DAEMON_NODE_FLAGS, BIN, 'daemon', '--json', '--data-dir', dataDir, '--network', 'regtest',
    '--listen', '/ip4/127.0.0.1/tcp/0', '--api', '127.0.0.1:0', '--no-mdns',
    '--log-level', opts.logLevel ?? 'info', ...extra]
  // detached: a terminal's Ctrl-C reaches only the devnet, which then stops each node once
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', logFile.fd, 'ipc'], detached: true })
  await logFile.close()
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream })
  const started = await new Promise<Record<string, unknown>>((resolve, reject) => {
    const onExit = (code: number | null): void => { reject(new Error(`${name} exited with code ${String(code)} before it started; see ${join(dataDir, 'daemon.log')}`)) }
    child.once('exit', onExit)
    lines.on('line', (line) => {
      let v: Record<string, unknown>
      try { v = JSON.parse(line) } catch { return }
      if (v.event === 'started') { child.off('exit', onExit); resolve(v) }
    })
  })
  const node: DevnetNode = {
    name,
    dataDir,
    peerId: started.peerId as string,
    addresses: started.addresses as string[],
    api: started.api as string,
    pid: child.pid as number,
    command: `npx peerd --data-dir ${dataDir}`,
    child
  }
  return node
}

/** Starts the devnet; resolves once every node runs (not necessarily connected yet). */
export async function startDevnet (opts: DevnetOptions): Promise<Devnet> {
  await mkdir(opts.dir, { recursive: true })
  const nodes: DevnetNode[] = []
  let stopping = false
  const watch = (n: DevnetNode): void => {
    n.child.once('exit', (code, signal) => { if (!stopping) opts.onExit?.(n, code, signal) })
  }
  const stop = async (graceMs = 15_000): Promise<void> => {
    stopping = true
    await Promise.all(nodes.map(async n => {
      if (n.child.exitCode != null || n.child.signalCode != null) return
      const exited = new Promise<void>(resolve => { n.child.once('exit', () => { resolve() }) })
      n.child.kill('SIGTERM')
      const timer = setTimeout(() => { n.child.kill('SIGKILL') }, graceMs)
      await exited
      clearTimeout(timer)
    }))
  }
  try {
    const first = await startOne('node1', join(opts.dir, 'node1'), [], opts)
    nodes.push(first)
    watch(first)
    const bootstrap = first.addresses.find(a => !a.includes('/ws/')) ?? first.addresses[0] ?? ''
    const rest = await Promise.all(Array.from({ length: opts.nodes - 1 }, async (_, i) => {
      const name = `node${i + 2}`
      return await startOne(name, join(opts.dir, name), ['--bootstrap', bootstrap], opts)
    }))
    for (const n of rest) { nodes.push(n); watch(n) }
  } catch (err) {
    await stop(5_000)
    throw err
  }
  return { nodes, stop }
}
