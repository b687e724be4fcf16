/**
 * Test helpers: temporary dirs, polling instead of sleeping, in-process nodes on loopback,
 * and the CLI / daemon as real processes.
 */
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import type { Libp2p } from '@libp2p/interface'
import { tcp } from '@libp2p/tcp'
import { createLibp2p } from 'libp2p'
import { createNode } from '../../src/node/node.ts'
import type { NodeOptions, PeerdNode } from '../../src/node/node.ts'

/** The `peerd` entry script. */
export const PEERD_BIN = fileURLToPath(new URL('../../bin/peerd.js', import.meta.url))

/** Makes a fresh temporary directory; `cleanup()` removes it. */
export async function tempDir (prefix = 'peerd-test-'): Promise<{ path: string, cleanup: () => Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), prefix))
  return { path, cleanup: async () => { await rm(path, { recursive: true, force: true }) } }
}

/** Polls `check` until it returns a truthy value (returned) or `timeoutMs` passes (throws). */
export async function waitFor<T> (check: () => T | Promise<T>, options: { timeoutMs?: number, intervalMs?: number, what?: string } = {}): Promise<NonNullable<T>> {
  const deadline = Date.now() + (options.timeoutMs ?? 20_000)
  let last: unknown
  while (true) {
    try {
      const v = await check()
      if (v != null && v !== false) return v as NonNullable<T>
    } catch (err) {
      last = err
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${options.what ?? 'condition'}${last != null ? ` (last error: ${(last as Error).message})` : ''}`)
    }
    await sleep(options.intervalMs ?? 100)
  }
}

/** Starts an in-process regtest node on loopback with mDNS off and quiet logs. */
export async function startTestNode (options: Partial<NodeOptions> & { dataDir: string }): Promise<PeerdNode> {
  return await createNode({
    network: 'regtest',
    mdns: false,
    // a `main` node would otherwise dial the public bootstrap peers: tests reach no Internet
    bootstrap: [],
    listen: ['/ip4/127.0.0.1/tcp/0'],
    logLevel: (process.env.PEERD_TEST_LOG as NodeOptions['logLevel']) ?? 'silent',
    ...options
  })
}

/** A bare libp2p peer with no listen address (TCP, Noise, Yamux): it speaks whatever protocol a test hands it. */
export async function rawPeer (): Promise<Libp2p> {
  return await createLibp2p({
    addresses: { listen: [] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()]
  })
}

/** Whether `a` has an open connection to `b`. */
export function isConnected (a: PeerdNode, b: PeerdNode): boolean {
  return a.peers().some(p => p.peerId === b.peerId)
}

/** The result of a CLI run. */
export interface CliResult { code: number | null, stdout: string, stderr: string }

/** Runs `peerd ARGS` as a process and collects its output. */
export async function runCli (args: string[], options: { env?: NodeJS.ProcessEnv, timeoutMs?: number } = {}): Promise<CliResult> {
  const child = spawn(process.execPath, [PEERD_BIN, ...args], {
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d: Buffer) => { stdout += d.toString() })
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
  const timer = setTimeout(() => { child.kill('SIGKILL') }, options.timeoutMs ?? 60_000)
  const code = await new Promise<number | null>(resolve => { child.on('close', (c) => { resolve(c) }) })
  clearTimeout(timer)
  return { code, stdout, stderr }
}

/** Runs `peerd ARGS --json` and parses stdout; throws on a non-zero exit. */
export async function cliJson<T = unknown> (args: string[]): Promise<T> {
  const r = await runCli([...args, '--json'])
  if (r.code !== 0) throw new Error(`peerd ${args.join(' ')} exited ${String(r.code)}: ${r.stdout}${r.stderr}`)
  return JSON.parse(r.stdout) as T
}

/** A daemon started as a process. */
export interface DaemonProcess {
  child: ChildProcess
  dataDir: string
  peerId: string
  addresses: string[]
  api: string
  /** Everything it wrote to stderr so far. */
  stderr: () => string
  /** SIGTERM and wait for exit; returns the exit code. */
  stop: () => Promise<number | null>
  /** SIGKILL and wait for exit. */
  kill: () => Promise<void>
}

/** Starts `peerd daemon --json` on `dataDir` (regtest, loopback, no mDNS) plus `extra` flags. */
export async function startDaemonProcess (dataDir: string, extra: string[] = []): Promise<DaemonProcess> {
  const child = spawn(process.execPath, [PEERD_BIN, 'daemon', '--json', '--data-dir', dataDir, '--network', 'regtest',
    '--listen', '/ip4/127.0.0.1/tcp/0', '--api', '127.0.0.1:0', '--no-mdns', ...extra], { stdio: ['ignore', 'pipe', 'pipe'] })
  let err = ''
  child.stderr.on('data', (d: Buffer) => { err += d.toString() })
  const exited = new Promise<number | null>(resolve => { child.on('exit', (c) => { resolve(c) }) })
  const lines = createInterface({ input: child.stdout })
  const info = await new Promise<Record<string, unknown>>((resolve, reject) => {
    const timer = setTimeout(() => { reject(new Error(`daemon did not start within 30 s: ${err}`)) }, 30_000)
    void exited.then(code => { clearTimeout(timer); reject(new Error(`daemon exited with ${String(code)} before starting: ${err}`)) })
    lines.on('line', line => {
      try {
        const v = JSON.parse(line) as Record<string, unknown>
        if (v.event === 'started') { clearTimeout(timer); resolve(v) }
      } catch { /* not JSON */ }
    })
  })
  return {
    child,
    dataDir,
    peerId: info.peerId as string,
    addresses: info.addresses as string[],
    api: info.api as string,
    stderr: () => err,
    stop: async () => {
      if (child.exitCode == null && child.signalCode == null) child.kill('SIGTERM')
      return await exited
    },
    kill: async () => {
      if (child.exitCode == null && child.signalCode == null) child.kill('SIGKILL')
      await exited
    }
  }
}

/** Whether a process with `pid` exists. */
export function processExists (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}
