/**
 * What every net-bench scenario shares: its result shape, a CPU meter, the printed table and
 * the runner that makes a scenario file a command (root check, janitor, exit codes).
 */
import { execFileSync } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { machineInfo } from '../../share/machine.ts'
import type { MachineInfo } from '../../share/machine.ts'
import { janitor, removeStale, requireNet } from '../harness/index.ts'

/** A figure compared with its target. */
export interface Check {
  name: string
  value: number
  /** E.g. `≥ 0.85`. */
  target: string
  pass: boolean
}

/** What one scenario measured. */
export interface ScenarioResult {
  /** `swarm-scaling`, `flash-crowd`, `churn`, `comparison`. */
  id: string
  title: string
  params: Record<string, unknown>
  /** Table rows, printed as they are. */
  rows: Array<Record<string, string | number>>
  checks: Check[]
  notes: string[]
  /** Raw figures for the JSON output. */
  data: Record<string, unknown>
}

/** Prints a progress line on stderr (not inside `node --test`, where it would only be noise). */
export function progress (line: string): void {
  if (process.env.NODE_TEST_CONTEXT == null && !janitor.interrupted) process.stderr.write(`  ${line}\n`)
}

/** Mbit/s → bytes per second. */
export const mbit = (m: number): number => m * 1e6 / 8
/** Bytes in `seconds` → Mbit/s. */
export const rateMbit = (bytes: number, seconds: number): number => bytes * 8 / seconds / 1e6
/** Rounds to `d` decimals. */
export const round = (v: number, d = 2): number => Math.round(v * 10 ** d) / 10 ** d
/** The median of a non-empty list. */
export function median (values: number[]): number {
  const s = [...values].sort((x, y) => x - y)
  const m = Math.floor(s.length / 2)
  return s.length % 2 === 1 ? s[m] as number : ((s[m - 1] as number) + (s[m] as number)) / 2
}

function busySeconds (): number {
  const f = (readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '').trim().split(/\s+/).slice(1).map(Number)
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = f
  return (user + nice + system + irq + softirq + steal) / 100
}

/** CPU-seconds used so far by the processes now inside `namespaces` (and their reaped children). */
function namespaceCpu (namespaces: string[]): number {
  let ticks = 0
  for (const ns of namespaces) {
    let pids: string[]
    try { pids = execFileSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' }).split(/\s+/).filter(Boolean) } catch { continue }
    for (const pid of pids) {
      try {
        // fields after the command name: utime, stime, cutime, cstime are the 12th to 15th
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
        const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
        ticks += Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])
      } catch { /* exited */ }
    }
  }
  return ticks / 100
}

/** Mean busy cores over an interval: the whole machine's, and the part used inside the bench's namespaces. */
export interface CpuUse { busy: number, ours: number }

/**
 * Starts a meter of busy CPU; the returned function gives the mean busy cores since, for the
 * whole machine and for the processes inside `namespaces` (ones that exited meanwhile are missed,
 * so `ours` is a lower bound; the rest of `busy` is other work on the machine and the harness).
 */
export function cpuMeter (namespaces: string[] = []): () => CpuUse {
  const t0 = performance.now()
  const b0 = busySeconds()
  const o0 = namespaceCpu(namespaces)
  return () => {
    const dt = Math.max(0.001, (performance.now() - t0) / 1000)
    return { busy: round((busySeconds() - b0) / dt, 2), ours: round(Math.max(0, namespaceCpu(namespaces) - o0) / dt, 2) }
  }
}

/** Prints a result as a titled table with its checks. */
export function formatResult (r: ScenarioResult): string {
  const out = [`\n== ${r.title}`, `   ${Object.entries(r.params).map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : String(v)}`).join('  ')}`]
  const cols = [...new Set(r.rows.flatMap(row => Object.keys(row)))]
  if (cols.length > 0) {
    const width = cols.map(c => Math.max(c.length, ...r.rows.map(row => String(row[c] ?? '').length)))
    out.push('   ' + cols.map((c, i) => c.padEnd(width[i] as number)).join('  '))
    for (const row of r.rows) out.push('   ' + cols.map((c, i) => String(row[c] ?? '').padEnd(width[i] as number)).join('  '))
  }
  for (const c of r.checks) out.push(`   ${c.pass ? 'PASS' : 'FAIL'}  ${c.name}: ${c.value} (target ${c.target})`)
  for (const n of r.notes) out.push(`   note: ${n}`)
  return out.join('\n')
}

/** The whole run's output. */
export interface BenchOutput {
  machine: MachineInfo
  command: string
  results: ScenarioResult[]
  pass: boolean
}

/**
 * Runs `fn` as a command: exits 2 unless root with namespaces, installs the janitor's handlers,
 * removes stale leftovers, prints every result `fn` reports as it comes (and all of them as one
 * JSON line at the end with `--json`, or into the file `--out` names), and exits 0
 * when every check passed, 1 when one was missed, 2 when the run itself failed.
 */
export async function runCommand (usage: string, options: Record<string, { type: 'string' | 'boolean' }>, fn: (values: Record<string, string | boolean | undefined>, report: (r: ScenarioResult) => void) => Promise<void>): Promise<void> {
  let values: Record<string, string | boolean | undefined>
  try {
    values = parseArgs({ options: { ...options, json: { type: 'boolean' }, out: { type: 'string' }, help: { type: 'boolean', short: 'h' } } }).values as Record<string, string | boolean | undefined>
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n${usage}\n`)
    process.exit(2)
  }
  if (values.help === true) { process.stdout.write(`${usage}\n`); process.exit(0) }
  await requireNet()
  janitor.installHandlers()
  const stale = removeStale()
  if (stale.length > 0) process.stderr.write(`bench:net: removed leftovers of an earlier run: ${stale.join(', ')}\n`)
  const machine = machineInfo()
  process.stdout.write(`bench:net — ${machine.date}; peerd at ${machine.commit}\nmachine: ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGiB} GiB RAM, ${machine.os}, Node.js ${machine.node}; load average ${machine.load} at the start\n`)
  const results: ScenarioResult[] = []
  const output = (pass: boolean): BenchOutput => ({ machine, command: ['node', ...process.argv.slice(1)].join(' '), results, pass })
  const report = (r: ScenarioResult): void => {
    // after Ctrl-C the processes were stopped under the scenario's feet: its figures mean nothing
    if (janitor.interrupted) return
    results.push(r)
    process.stdout.write(formatResult(r) + '\n')
    // written after every scenario, so a run that dies later keeps what it measured
    if (typeof values.out === 'string') writeFileSync(values.out, JSON.stringify(output(false), null, 2) + '\n')
  }
  let code: number
  try {
    await fn(values, report)
    code = results.every(r => r.checks.every(c => c.pass)) ? 0 : 1
  } catch (err) {
    if (!janitor.interrupted) process.stderr.write(`bench:net failed: ${(err as Error).stack ?? String(err)}\n`)
    code = 2
  } finally {
    await janitor.cleanup()
  }
  const out = output(code === 0)
  if (values.json === true) process.stdout.write(JSON.stringify(out) + '\n')
  if (typeof values.out === 'string') writeFileSync(values.out, JSON.stringify(out, null, 2) + '\n')
  process.stdout.write(`\nbench:net: ${code === 0 ? 'every target met' : code === 1 ? 'a target was missed' : 'the run failed'} (exit ${code})\n`)
  process.exit(code)
}

/** Parses `--name` as a positive number (MiB, seconds…). */
export function numberOption (values: Record<string, string | boolean | undefined>, name: string, fallback: number): number {
  const v = values[name]
  if (v == null || typeof v === 'boolean') return fallback
  const n = Number(v)
  if (!(n > 0)) throw new Error(`--${name} must be a positive number, not "${v}"`)
  return n
}
