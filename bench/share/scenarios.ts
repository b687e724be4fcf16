/**
 * The measurements of `bench:share`, each between real processes on loopback:
 *
 * - raw: a libp2p stream (TCP, Noise, Yamux) between two `raw-peer.ts` processes, with peerd's
 *   transport stack or with stock js-libp2p;
 * - peerd: `peerd get` from daemons that shared the file (one, or several at once);
 * - helia: `unixfs.cat` between two `helia-peer.ts` processes over Bitswap, the fetcher keeping
 *   blocks in memory or on disk.
 *
 * Setting up (starting processes, importing the file) is never timed.
 */
import { rm, statfs } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { backgroundCores, cpuSnapshot, ownCpu } from './cpu.ts'
import { sha256File } from './files.ts'
import { tail } from './harness.ts'
import type { Harness, NodeProcess } from './harness.ts'

const PEERD_BIN = fileURLToPath(new URL('../../bin/peerd.js', import.meta.url))
const RAW_PEER = fileURLToPath(new URL('./raw-peer.ts', import.meta.url))
const HELIA_PEER = fileURLToPath(new URL('./helia-peer.ts', import.meta.url))

/** The file every scenario moves. */
export interface Input {
  path: string
  bytes: number
  sha256: string
}

/** One timed transfer. */
export interface Sample {
  /** The headline time: wall clock of the fetching process, or its own timer where noted. */
  seconds: number
  /** For peerd: the `seconds` the `peerd get` command printed (the daemon's own timer). */
  reportedSeconds?: number
  /** For peerd: how many peers served blocks. */
  peers?: number
  /** Cores' worth of CPU that processes outside the benchmark used during the transfer. */
  background?: number
  /** CPU-seconds (user, system) that the benchmark's processes used during the transfer, both ends. */
  cpu?: { user: number, sys: number }
}

/** Runs `node ARGS` like {@link Harness.runNode}, also measuring the CPU used meanwhile by the benchmark and by others. */
async function timedRun (h: Harness, args: string[], timeoutMs: number): Promise<Awaited<ReturnType<Harness['runNode']>> & Pick<Sample, 'background' | 'cpu'>> {
  const before = cpuSnapshot(h.livePids())
  const r = await h.runNode(args, timeoutMs)
  const after = cpuSnapshot(h.livePids())
  if (before == null || after == null) return r
  const { user, sys } = ownCpu(before, after)
  return { ...r, background: backgroundCores(before, after), cpu: { user, sys } }
}

function cpuNote (r: Pick<Sample, 'background' | 'cpu'>): string {
  const own = r.cpu == null ? '' : `; CPU ${r.cpu.user.toFixed(1)} s user + ${r.cpu.sys.toFixed(1)} s sys`
  const bg = r.background == null ? '' : `; other processes used ${r.background.toFixed(2)} cores`
  return own + bg
}

function withCpu (sample: Sample, r: Pick<Sample, 'background' | 'cpu'>): Sample {
  const out = { ...sample }
  if (r.background != null) out.background = r.background
  if (r.cpu != null) out.cpu = r.cpu
  return out
}

/** Generous limit for one transfer: ten minutes plus one second per MiB. */
function transferTimeoutMs (bytes: number): number {
  return 600_000 + bytes / 1024
}

function parseLastJson (stdout: string): Record<string, unknown> {
  const line = stdout.trim().split('\n').at(-1) ?? ''
  return JSON.parse(line) as Record<string, unknown>
}

/** A peer that serves the file until the scenario stops it. */
interface Server {
  proc: NodeProcess
  address: string
}

/**
 * (a) The raw stream: one `serve` process, one `fetch` process per run (its own timer, after the
 * dial). With `stock`, both run js-libp2p's Noise and Yamux with their defaults and without
 * peerd's heap setting (raw-peer.ts `--stock`). With `toDisk`, the fetcher writes what it reads
 * to a file in a fresh temporary directory (raw-peer.ts `--out`), deleted after the run.
 */
export async function rawStream (h: Harness, input: Input, runs: number, log: (s: string) => void, stock = false, toDisk = false): Promise<Sample[]> {
  const flags = stock ? ['--stock'] : []
  const label = `${stock ? 'stock raw stream' : 'raw stream'}${toDisk ? ' to a file' : ''}`
  const proc = h.spawnNode([RAW_PEER, 'serve', String(input.bytes), ...flags])
  const info = await proc.waitForJson(v => typeof v.address === 'string')
  const samples: Sample[] = []
  try {
    for (let i = 0; i < runs; i++) {
      const dir = toDisk ? await h.tempDir('peerd-bench-raw-out-') : undefined
      try {
        const out = dir == null ? [] : ['--out', join(dir, 'out.bin')]
        const r = await timedRun(h, [RAW_PEER, 'fetch', info.address as string, String(input.bytes), ...flags, ...out], transferTimeoutMs(input.bytes))
        if (r.code !== 0) throw new Error(`raw-peer fetch exited with ${r.code}: ${tail(r.stdout + r.stderr)}`)
        const seconds = Number(parseLastJson(r.stdout).seconds)
        log(`  ${label} run ${i + 1}: ${seconds.toFixed(2)} s${cpuNote(r)}`)
        samples.push(withCpu({ seconds }, r))
      } finally {
        if (dir != null) await rm(dir, { recursive: true, force: true })
      }
    }
  } finally {
    await proc.stop()
  }
  return samples
}

/** A `helia-peer.ts serve` process that has imported the input. */
export interface HeliaServer extends Server {
  cid: string
  /** Its blockstore: "memory". */
  blockstore: string
}

/** Starts the Helia peer that serves the input for (c) and (c-fs); the import is logged, not timed. */
export async function startHeliaServer (h: Harness, input: Input, log: (s: string) => void): Promise<HeliaServer> {
  const proc = h.spawnNode([HELIA_PEER, 'serve', input.path])
  const info = await proc.waitForJson(v => typeof v.cid === 'string', transferTimeoutMs(input.bytes))
  log(`  Helia imported the file in ${Number(info.importSeconds).toFixed(1)} s (${String(info.blockstore)} blockstore): ${String(info.cid)}`)
  return { proc, address: info.address as string, cid: info.cid as string, blockstore: info.blockstore as string }
}

const TMPFS_MAGIC = 0x01021994

/** Whether `dir` is on tmpfs (in RAM, not on disk), where /tmp is on many Linux systems. */
export async function onTmpfs (dir: string): Promise<boolean> {
  return (await statfs(dir)).type === TMPFS_MAGIC
}

/**
 * (c) and (c-fs), Helia over Bitswap: one `fetch` process per run from `server` (its own timer,
 * after the dial). With `fsBlockstore`, each run's fetcher keeps the blocks in an FsBlockstore
 * in a fresh temporary directory, checked to hold at least the file's bytes afterwards and then
 * deleted.
 */
export async function heliaBitswap (h: Harness, server: HeliaServer, input: Input, runs: number, log: (s: string) => void, fsBlockstore = false): Promise<Sample[]> {
  const label = fsBlockstore ? 'Helia (FsBlockstore)' : 'Helia'
  const samples: Sample[] = []
  for (let i = 0; i < runs; i++) {
    const dir = fsBlockstore ? await h.tempDir('peerd-bench-helia-fs-') : undefined
    try {
      const flags = dir == null ? [] : ['--fs-blockstore', dir]
      const r = await timedRun(h, [HELIA_PEER, 'fetch', server.address, server.cid, String(input.bytes), ...flags], transferTimeoutMs(input.bytes))
      if (r.code !== 0) throw new Error(`helia-peer fetch exited with ${r.code}: ${tail(r.stdout + r.stderr)}`)
      const out = parseLastJson(r.stdout)
      const seconds = Number(out.seconds)
      const stored = dir == null ? '' : `; ${String(out.storedBlocks)} blocks, ${String(out.storedBytes)} bytes on disk`
      log(`  ${label} run ${i + 1}: ${seconds.toFixed(2)} s${cpuNote(r)}${stored}`)
      if (dir != null && !(Number(out.storedBytes) >= input.bytes)) {
        throw new Error(`${label}: the FsBlockstore holds ${String(out.storedBytes)} bytes after the fetch, less than the file's ${input.bytes}`)
      }
      samples.push(withCpu({ seconds }, r))
    } finally {
      if (dir != null) await rm(dir, { recursive: true, force: true })
    }
  }
  return samples
}

/** A peerd daemon started by the benchmark. */
export interface Daemon extends Server {
  dataDir: string
}

/** Starts a regtest daemon on loopback (no mDNS, quiet logs) in a fresh data dir. */
export async function startDaemon (h: Harness, name: string, bootstrap: string[] = []): Promise<Daemon> {
  const dataDir = await h.tempDir(`peerd-bench-${name}-`)
  const proc = h.spawnNode([PEERD_BIN, 'daemon', '--json', '--data-dir', dataDir, '--network', 'regtest',
    '--listen', '/ip4/127.0.0.1/tcp/0', '--api', '127.0.0.1:0', '--no-mdns', '--log-level', 'warn',
    ...bootstrap.flatMap(a => ['--bootstrap', a])])
  const info = await proc.waitForJson(v => v.event === 'started')
  const addresses = info.addresses as string[]
  const address = addresses.find(a => a.startsWith('/ip4/127.0.0.1/tcp/') && !a.includes('/ws')) ?? addresses[0]
  if (address == null) throw new Error(`daemon ${name} listens nowhere`)
  return { proc, address, dataDir }
}

/** Runs `peerd ARGS --json --data-dir DIR` and parses its output; throws on a non-zero exit. */
async function peerd (h: Harness, dataDir: string, args: string[], timeoutMs = 120_000): Promise<{ json: Record<string, unknown>, seconds: number } & Pick<Sample, 'background' | 'cpu'>> {
  const r = await timedRun(h, [PEERD_BIN, ...args, '--json', '--data-dir', dataDir], timeoutMs)
  if (r.code !== 0) throw new Error(`peerd ${args.join(' ')} exited with ${r.code}: ${tail(r.stdout + r.stderr)}`)
  return { ...r, json: parseLastJson(r.stdout) }
}

/** Stops a daemon and deletes its data dir (it can be large). */
export async function stopDaemon (d: Daemon): Promise<void> {
  await d.proc.stop()
  await rm(d.dataDir, { recursive: true, force: true })
}

/** `peerd share` of the input on `d` (not timed for the result, but logged); returns the CID. */
export async function shareOn (h: Harness, d: Daemon, input: Input, timeoutMs: number): Promise<{ cid: string, seconds: number }> {
  const r = await peerd(h, d.dataDir, ['share', input.path], timeoutMs)
  if (Number(r.json.size) !== input.bytes) throw new Error(`peerd share reported ${String(r.json.size)} bytes, not ${input.bytes}`)
  return { cid: r.json.cid as string, seconds: r.seconds }
}

/**
 * (b) and (d): per run, a fresh daemon joins `servers` (`--bootstrap`, then `peerd connect` to
 * each so it has identified them), and `peerd get CID -o OUT` is timed as a process. The output
 * is checked against the input's sha256, then deleted along with the downloader.
 */
export async function peerdGet (h: Harness, input: Input, cid: string, servers: Daemon[], runs: number, log: (s: string) => void, label: string): Promise<Sample[]> {
  const samples: Sample[] = []
  for (let i = 0; i < runs; i++) {
    const getter = await startDaemon(h, 'getter', servers.map(s => s.address))
    try {
      for (const s of servers) await peerd(h, getter.dataDir, ['connect', s.address])
      const out = join(getter.dataDir, 'out.bin')
      const r = await peerd(h, getter.dataDir, ['get', cid, '-o', out], transferTimeoutMs(input.bytes))
      const sample = withCpu({ seconds: r.seconds, reportedSeconds: Number(r.json.seconds), peers: Number(r.json.peers) }, r)
      log(`  ${label} run ${i + 1}: ${sample.seconds.toFixed(2)} s wall (daemon: ${sample.reportedSeconds?.toFixed(2)} s), ${sample.peers} peer(s)${cpuNote(r)}; verifying…`)
      const got = await sha256File(out)
      if (got !== input.sha256) throw new Error(`${label}: the downloaded file differs from the input (sha256 ${got}, expected ${input.sha256})`)
      samples.push(sample)
    } finally {
      await stopDaemon(getter)
    }
  }
  return samples
}
