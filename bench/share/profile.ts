/**
 * Where `peerd get` spends its CPU. One daemon shares a random file (not measured), is
 * restarted on the same data, and serves `peerd get` to a fresh downloading daemon N times;
 * each run prints one JSON line: wall time, and the CPU-seconds of each daemon in all and by
 * thread (MainThread: JavaScript; V8Worker: garbage collection and compilation; libuv-worker:
 * file I/O), per GiB for both together and for the whole machine (the machine's figure also
 * holds the `peerd get` command and anything else running).
 *
 * ```
 * node bench/share/profile.ts [--size MiB (1024)] [--runs N (2)] [--cpu-prof DIR]
 *   [--node-flags=FLAGS] [--stdout DIR] [--perf FILE]
 * ```
 *
 * - `--cpu-prof DIR`: both daemons run under `node --cpu-prof` and write their profiles to DIR
 *   when they stop; `node bench/share/profile-summary.ts FILE…` summarises one.
 * - `--node-flags=FLAGS`: more Node.js flags for both daemons, e.g. `--node-flags=--trace-gc`.
 * - `--stdout DIR`: saves what the daemons printed (the `--trace-gc` lines, say) to DIR.
 * - `--perf FILE`: records the whole machine with `perf record -a -g` during each get
 *   (FILE.0, FILE.1…).
 *
 * Linux only (it reads /proc).
 */
import { spawn } from 'node:child_process'
import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { sha256File, writeRandomFile } from './files.ts'
import { Harness, tail } from './harness.ts'

const PEERD_BIN = fileURLToPath(new URL('../../bin/peerd.js', import.meta.url))
const TICKS_PER_SECOND = 100

/** User and system CPU-seconds from a /proc stat line. */
function statCpu (stat: string): { user: number, sys: number } {
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ').map(Number)
  return { user: (f[11] ?? 0) / TICKS_PER_SECOND, sys: (f[12] ?? 0) / TICKS_PER_SECOND }
}

/** CPU-seconds of each thread of `pid`, summed by thread name; the whole process under ''. */
function threadCpu (pid: number | undefined): Map<string, number> {
  const out = new Map<string, number>()
  if (pid == null) return out
  try {
    const { user, sys } = statCpu(readFileSync(`/proc/${pid}/stat`, 'utf8'))
    out.set('', user + sys)
    out.set('user', user)
    out.set('sys', sys)
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8')
        const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'))
        const c = statCpu(stat)
        out.set(name, (out.get(name) ?? 0) + c.user + c.sys)
      } catch { /* the thread ended */ }
    }
  } catch { /* the process ended */ }
  return out
}

function delta (a: Map<string, number>, b: Map<string, number>, key: string): number {
  return (b.get(key) ?? 0) - (a.get(key) ?? 0)
}

/** "MainThread 2.10, V8Worker 1.02, …": threads that used at least 0.05 s, busiest first. */
function threadDelta (a: Map<string, number>, b: Map<string, number>): string {
  return [...b.keys()].filter(k => k !== '' && k !== 'user' && k !== 'sys')
    .map(k => [k, delta(a, b, k)] as const).filter(([, v]) => v >= 0.05)
    .sort((x, y) => y[1] - x[1]).map(([k, v]) => `${k} ${v.toFixed(2)}`).join(', ')
}

/** Busy CPU-seconds of the whole machine since boot. */
function machineBusy (): number {
  const f = (readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '').trim().split(/\s+/).slice(1).map(Number)
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = f
  return (user + nice + system + irq + softirq + steal) / TICKS_PER_SECOND
}

const { values } = parseArgs({
  options: {
    size: { type: 'string' },
    runs: { type: 'string' },
    'cpu-prof': { type: 'string' },
    'node-flags': { type: 'string' },
    stdout: { type: 'string' },
    perf: { type: 'string' }
  }
})
const sizeMiB = Number(values.size ?? 1024)
const runs = Number(values.runs ?? 2)
const profDir = values['cpu-prof']
const nodeFlags = [
  ...(values['node-flags'] ?? '').split(' ').filter(f => f !== ''),
  ...(profDir != null ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : [])
]

const h = new Harness()
h.exitOnSignals()

interface Daemon { pid: number | undefined, address: string, dataDir: string, stop: () => Promise<void>, stdout: () => string }

async function daemon (name: string, bootstrap: string[], flags: string[], dataDir?: string): Promise<Daemon> {
  const dir = dataDir ?? await h.tempDir(`peerd-prof-${name}-`)
  const proc = h.spawnNode([...flags, PEERD_BIN, 'daemon', '--json', '--data-dir', dir, '--network', 'regtest',
    '--listen', '/ip4/127.0.0.1/tcp/0', '--api', '127.0.0.1:0', '--no-mdns', '--log-level', 'warn',
    ...bootstrap.flatMap(a => ['--bootstrap', a])])
  const info = await proc.waitForJson(v => v.event === 'started')
  const address = (info.addresses as string[]).find(a => a.startsWith('/ip4/127.0.0.1/tcp/') && !a.includes('/ws'))
  if (address == null) throw new Error(`daemon ${name} listens nowhere`)
  return { pid: proc.child.pid, address, dataDir: dir, stop: async () => { await proc.stop() }, stdout: proc.stdout }
}

async function peerd (dataDir: string, args: string[]): Promise<Record<string, unknown>> {
  const r = await h.runNode([PEERD_BIN, ...args, '--json', '--data-dir', dataDir], 3_600_000)
  if (r.code !== 0) throw new Error(`peerd ${args.join(' ')} exited with ${r.code}: ${tail(r.stdout + r.stderr)}`)
  return JSON.parse(r.stdout.trim().split('\n').at(-1) ?? '{}') as Record<string, unknown>
}

let code = 0
try {
  const input = join(await h.tempDir('peerd-prof-input-'), 'random.bin')
  const bytes = sizeMiB * 1024 * 1024
  const gib = bytes / 2 ** 30
  const sha = await writeRandomFile(input, bytes)
  // share with a plain daemon, then serve from a new one on the same data: only serving is profiled
  const importer = await daemon('server', [], [])
  const { cid } = await peerd(importer.dataDir, ['share', input]) as { cid: string }
  await importer.stop()
  const server = await daemon('server', [], nodeFlags, importer.dataDir)
  for (let i = 0; i < runs; i++) {
    const getter = await daemon('getter', [server.address], nodeFlags)
    await peerd(getter.dataDir, ['connect', server.address])
    const out = join(getter.dataDir, 'out.bin')
    const perf = values.perf != null ? spawn('perf', ['record', '-a', '-g', '-o', `${values.perf}.${i}`], { stdio: 'ignore' }) : undefined
    if (perf != null) await new Promise(resolve => setTimeout(resolve, 500)) // let perf start
    const s0 = threadCpu(server.pid)
    const g0 = threadCpu(getter.pid)
    const m0 = machineBusy()
    const t0 = performance.now()
    let r: Awaited<ReturnType<typeof peerd>>
    try {
      r = await peerd(getter.dataDir, ['get', cid, '-o', out])
    } catch (err) {
      perf?.kill('SIGINT') // a machine-wide recording must not outlive a failed run
      throw err
    }
    const wall = (performance.now() - t0) / 1000
    const m1 = machineBusy()
    const s1 = threadCpu(server.pid)
    const g1 = threadCpu(getter.pid)
    if (perf != null) {
      perf.kill('SIGINT')
      await new Promise(resolve => perf.once('close', resolve))
    }
    console.log(JSON.stringify({
      time: new Date().toISOString().slice(11, 19),
      wall: +wall.toFixed(2),
      daemonSeconds: Number(r.seconds),
      mibPerS: +(sizeMiB / wall).toFixed(1),
      serverCpu: `${delta(s0, s1, 'user').toFixed(2)}+${delta(s0, s1, 'sys').toFixed(2)}`,
      getterCpu: `${delta(g0, g1, 'user').toFixed(2)}+${delta(g0, g1, 'sys').toFixed(2)}`,
      daemonsCpuPerGiB: +((delta(s0, s1, '') + delta(g0, g1, '')) / gib).toFixed(2),
      machineCpuPerGiB: +((m1 - m0) / gib).toFixed(2),
      serverThreads: threadDelta(s0, s1),
      getterThreads: threadDelta(g0, g1)
    }))
    if (await sha256File(out) !== sha) throw new Error('the downloaded file differs from the input')
    await getter.stop()
    if (values.stdout != null) writeFileSync(join(values.stdout, `getter-${i}.log`), getter.stdout())
  }
  await server.stop()
  if (values.stdout != null) writeFileSync(join(values.stdout, 'server.log'), server.stdout())
} catch (err) {
  if (!h.interrupted) process.stderr.write(`profile failed: ${(err as Error).stack ?? String(err)}\n`)
  code = 2
} finally {
  await h.cleanup()
}
process.exit(code)
