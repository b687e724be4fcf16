/**
 * A real `peerd daemon` process on a host of a {@link Network}: regtest, no mDNS, listening on
 * the host's own address at a fixed port (so a restart comes back at the same address, with the
 * same peer id from its data dir), its API on 127.0.0.1 inside the host's namespace.
 *
 * The API is reached from inside that namespace only: {@link PeerdDaemon.api} runs a small
 * client there (`api-call.ts` under `ip netns exec`), {@link PeerdDaemon.cli} the real `peerd`
 * CLI. Neither the API nor anything else of the daemon is reachable from outside its host.
 */
import { createWriteStream } from 'node:fs'
import { mkdir, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { NetHost } from './network.ts'
import type { NsProcess } from './proc.ts'
import { tail } from './proc.ts'

/** The `peerd` entry script. */
export const PEERD_BIN = fileURLToPath(new URL('../../../bin/peerd.js', import.meta.url))
const API_CALL = fileURLToPath(new URL('./api-call.ts', import.meta.url))

/** The TCP port every daemon listens on, on its own host's address. */
export const PEERD_PORT = 4001

/** Options of a {@link PeerdDaemon}. */
export interface DaemonOptions {
  /** Its data directory (made if missing). */
  dataDir: string
  /** Multiaddrs (with /p2p/) to bootstrap from. */
  bootstrap?: string[]
  /** More `peerd daemon` flags. */
  extraArgs?: string[]
  /** `--log-level` (default: $PDNET_LOG_LEVEL, else warn). Its log goes to DATA_DIR/daemon.log too. */
  logLevel?: string
}

/** The outcome of a download through the API. */
export interface GetOutcome {
  /** Seconds from sending the request to the end of the answer (the client's timer). */
  seconds: number
  /** The daemon's `done` event: size, peers, its own seconds… */
  result: Record<string, unknown>
}

/** A peerd daemon on one host; see the module comment. */
export class PeerdDaemon {
  readonly host: NetHost
  dataDir: string
  bootstrap: string[]
  readonly extraArgs: string[]
  readonly logLevel: string
  peerId = ''
  private proc: NsProcess | undefined

  constructor (host: NetHost, options: DaemonOptions) {
    this.host = host
    this.dataDir = options.dataDir
    this.bootstrap = options.bootstrap ?? []
    this.extraArgs = options.extraArgs ?? []
    this.logLevel = options.logLevel ?? process.env.PDNET_LOG_LEVEL ?? 'warn'
  }

  /** Its listen address, with its peer id once started. */
  get address (): string {
    return `/ip4/${this.host.ip}/tcp/${PEERD_PORT}${this.peerId === '' ? '' : `/p2p/${this.peerId}`}`
  }

  /** Whether its process is running. */
  get running (): boolean {
    return this.proc?.running() === true
  }

  /** The daemon's process, while it runs. */
  get process (): NsProcess | undefined {
    return this.proc
  }

  /** Starts the daemon and waits for its `started` event. */
  async start (timeoutMs = 60_000): Promise<void> {
    if (this.running) throw new Error(`the daemon on ${this.host.name} is already running`)
    await mkdir(this.dataDir, { recursive: true })
    const args = [PEERD_BIN, 'daemon', '--json', '--data-dir', this.dataDir, '--network', 'regtest', '--no-mdns',
      '--listen', `/ip4/${this.host.ip}/tcp/${PEERD_PORT}`, '--api', '127.0.0.1:0', '--log-level', this.logLevel,
      ...this.bootstrap.flatMap(b => ['--bootstrap', b]), ...this.extraArgs]
    this.proc = this.host.spawn(process.execPath, args)
    // the log outlives the process (and the harness's memory of it): DATA_DIR/daemon.log
    this.proc.child.stderr?.pipe(createWriteStream(join(this.dataDir, 'daemon.log'), { flags: 'a' }))
    const started = await this.proc.waitForJson(v => v.event === 'started', timeoutMs)
    this.peerId = started.peerId as string
  }

  /** SIGTERM and wait for it to exit (SIGKILL after `graceMs`). */
  async stop (graceMs = 15_000): Promise<void> {
    await this.proc?.stop(graceMs)
  }

  /** kill -9: no chance to close anything. */
  async kill (): Promise<void> {
    await this.proc?.kill()
  }

  /** Stops (or kills) and starts again; `fresh` first empties its data dir (a new peer id). */
  async restart (options: { kill?: boolean, fresh?: boolean, dataDir?: string } = {}): Promise<void> {
    if (options.kill === true) await this.kill()
    else await this.stop()
    if (options.dataDir != null) this.dataDir = options.dataDir
    if (options.fresh === true) {
      await rm(this.dataDir, { recursive: true, force: true })
      this.peerId = ''
    }
    await this.start()
  }

  /** Calls the API: `api('GET', '/api/v1/status')`. Throws with the daemon's error on a non-2xx. */
  async api<T = unknown> (method: 'GET' | 'POST', path: string, body?: unknown, timeoutMs = 60_000): Promise<T> {
    const p = this.host.spawn(process.execPath, [API_CALL, this.dataDir, method, path, ...(body === undefined ? [] : [JSON.stringify(body)])])
    const timer = setTimeout(() => { void p.kill() }, timeoutMs)
    const code = await p.exited
    clearTimeout(timer)
    const lines = p.stdout().trimEnd().split('\n')
    lines.pop() // the client's own line
    const text = lines.join('\n')
    if (code !== 0) throw new Error(`${method} ${path} on ${this.host.name} failed (${code}): ${tail(text + p.stderr())}`)
    return JSON.parse(text) as T
  }

  /** Runs `peerd ARGS --data-dir DIR` inside the host and returns its stdout. */
  async cli (args: string[], timeoutMs = 120_000): Promise<string> {
    return await this.host.run(process.execPath, [PEERD_BIN, ...args, '--data-dir', this.dataDir], timeoutMs)
  }

  /** Shares `path` (absolute) and returns its CID. */
  async share (path: string): Promise<string> {
    const r = await this.api<{ cid: string }>('POST', '/api/v1/share', { path }, 600_000)
    return r.cid
  }

  /** Connects to `address` (a multiaddr with /p2p/). */
  async connect (address: string): Promise<void> {
    await this.api('POST', '/api/v1/peers/connect', { address })
  }

  /** Peer ids it is connected to. */
  async peers (): Promise<string[]> {
    return (await this.api<Array<{ peerId: string }>>('GET', '/api/v1/peers')).map(p => p.peerId)
  }

  /**
   * Prepares a download of `cid` to `output`: the client process starts and waits; `go()` sends
   * the request (so many downloads can start at one moment) and resolves when it is done.
   */
  prepareGet (cid: string, output: string, timeoutSeconds = 120): { ready: Promise<unknown>, go: () => Promise<GetOutcome>, cancel: () => Promise<void> } {
    const body = JSON.stringify({ cid, output, timeoutSeconds })
    const p = this.host.spawn(process.execPath, [API_CALL, this.dataDir, 'POST', '/api/v1/get', body, '--wait-stdin'], { stdin: true })
    const ready = p.waitForJson(v => v.event === 'ready')
    ready.catch(() => {}) // go() reports the failure
    return {
      ready,
      go: async () => {
        p.send('go')
        const code = await p.exited
        const events = p.stdout().split('\n').filter(l => l.startsWith('{')).map(l => JSON.parse(l) as Record<string, unknown>)
        const done = events.find(e => e.event === 'done')
        const client = events.find(e => e.event === 'client')
        if (code !== 0 || done == null || client == null) {
          const err = events.find(e => e.event === 'error')
          throw new Error(`get ${cid} on ${this.host.name} failed: ${JSON.stringify(err ?? tail(p.stdout() + p.stderr()))}`)
        }
        return { seconds: client.seconds as number, result: done }
      },
      cancel: async () => { await p.kill() }
    }
  }

  /** Downloads `cid` to `output` now. */
  async get (cid: string, output: string, timeoutSeconds = 120): Promise<GetOutcome> {
    return await this.prepareGet(cid, output, timeoutSeconds).go()
  }

  /** Progress of its running downloads (`GET /api/v1/transfers`). */
  async transfers (): Promise<Array<{ cid: string, progress: { bytes: number, total: number, peers: number, fetched: number } }>> {
    return await this.api('GET', '/api/v1/transfers')
  }

  /** What the daemon wrote to stderr so far (its log). */
  log (): string {
    return this.proc?.stderr() ?? ''
  }
}

/** Makes `dir/<host name>` data dirs and one daemon per host, each bootstrapped to the first. */
export async function startDaemons (hosts: NetHost[], dir: string, options: Omit<DaemonOptions, 'dataDir'> = {}): Promise<PeerdDaemon[]> {
  const daemons = hosts.map(h => new PeerdDaemon(h, { ...options, dataDir: join(dir, h.name) }))
  const [first, ...rest] = daemons
  if (first == null) return daemons
  await first.start()
  for (const d of rest) d.bootstrap = [...(options.bootstrap ?? []), first.address]
  // a few at a time: each start costs about a second of CPU
  for (let i = 0; i < rest.length; i += 4) await Promise.all(rest.slice(i, i + 4).map(async d => { await d.start() }))
  return daemons
}
