/**
 * `npm run bench:onion`: peerd's onion routing side by side with a private Tor network of
 * Debian's `tor`, on the same bench:net hosts and tbf-shaped links, measured with OnionPerf's
 * model by one SOCKS5 client (`onionperf.ts`): (a) circuit build time, (b) time to first byte
 * of a 50 KiB GET, (c) 5 MiB and (d) 50 KiB download times, median and p90 over N runs; and (e)
 * one relay's CPU-seconds per relayed GiB on loopback. Targets (issue 16): peerd's medians ≤
 * Tor's for a–d, and (e) ≤ 1.5 × Tor's.
 *
 * Needs root (network namespaces); installs Debian's tor with apt-get when it is missing.
 * Exit 0 when every target is met, 1 when one is missed, 2 when the run failed or cannot run
 * here, 130 when interrupted.
 *
 * ```
 * npm run bench:onion -- [--runs N (20)] [--quick] [--skip tor,peerd,perf,cpu] [--up Mbit (20)] [--down Mbit (100)]
 *                        [--cpu-mib MiB (1024)] [--json] [--out FILE]
 * ```
 */
import { writeFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { machineInfo } from '../share/machine.ts'
import type { MachineInfo } from '../share/machine.ts'
import { janitor, netUnavailable, removeStale } from '../net/harness/index.ts'
import { formatResult } from '../net/scenarios/common.ts'
import type { Check, ScenarioResult } from '../net/scenarios/common.ts'
import { runSystem } from './topology.ts'
import type { SystemResult } from './topology.ts'
import { ensureTor, torVersion } from './tor-network.ts'

const USAGE = `usage: npm run bench:onion -- [--runs N (20)] [--quick] [--skip tor,peerd,perf,cpu] [--up Mbit (20)] [--down Mbit (100)]
                              [--cpu-mib MiB (1024)] [--json] [--out FILE]
  --quick      5 runs and 256 MiB through the relay for (e)
  --skip       leave out a system (tor, peerd) or a setting (perf: a–d on the shaped LAN; cpu: e on loopback)`

/** Target: peerd's median ≤ this × Tor's for (a)–(d). */
export const LATENCY_TARGET = 1
/** Target: peerd's CPU per relayed GiB ≤ this × Tor's. */
export const CPU_TARGET = 1.5

/** The whole run, as `--json` prints it. */
export interface OnionBenchOutput {
  machine: MachineInfo
  /** `Tor version 0.4.9.11.` */
  torVersion: string
  command: string
  params: Record<string, unknown>
  tor: SystemResult
  peerd: SystemResult
  result: ScenarioResult
  pass: boolean
}

const ratio = (p: number | undefined, t: number | undefined): number | undefined =>
  p == null || t == null || t === 0 ? undefined : Math.round(p / t * 100) / 100

/** The side-by-side table and the checks. */
export function compare (tor: SystemResult, peerd: SystemResult, params: Record<string, unknown>): ScenarioResult {
  const rows: Array<Record<string, string | number>> = []
  const checks: Check[] = []
  const both = (tor.perf != null || tor.cpu != null) && (peerd.perf != null || peerd.cpu != null)
  const metrics = [
    ['(a) circuit build ms', 'build'],
    ['(b) time to first byte, 50 KiB, ms', 'ttfb'],
    ['(c) 5 MiB download ms', 'large'],
    ['(d) 50 KiB download ms', 'small']
  ] as const
  for (const [label, key] of metrics) {
    const t = tor.perf?.[key]
    const p = peerd.perf?.[key]
    const r = ratio(p?.median, t?.median)
    rows.push({ metric: label, 'tor median': t?.median ?? '–', 'tor p90': t?.p90 ?? '–', 'peerd median': p?.median ?? '–', 'peerd p90': p?.p90 ?? '–', 'peerd/tor': r ?? '–', target: `≤ ${LATENCY_TARGET}` })
    if (both && tor.perf != null) checks.push({ name: `${label}: peerd median / tor median`, value: r ?? NaN, target: `≤ ${LATENCY_TARGET}`, pass: r != null && r <= LATENCY_TARGET })
  }
  const rc = ratio(peerd.cpu?.cpuPerGiB, tor.cpu?.cpuPerGiB)
  rows.push({ metric: '(e) relay CPU-s per GiB', 'tor median': tor.cpu?.cpuPerGiB ?? '–', 'tor p90': '', 'peerd median': peerd.cpu?.cpuPerGiB ?? '–', 'peerd p90': '', 'peerd/tor': rc ?? '–', target: `≤ ${CPU_TARGET}` })
  if (both && tor.cpu != null) checks.push({ name: '(e) relay CPU per GiB: peerd / tor', value: rc ?? NaN, target: `≤ ${CPU_TARGET}`, pass: rc != null && rc <= CPU_TARGET })
  const notes: string[] = [...tor.errors, ...peerd.errors].map(e => `FAILED ${e}`)
  for (const [name, r] of [['tor', tor], ['peerd', peerd]] as const) {
    const { perf, cpu } = r.cores
    if (perf != null || cpu != null) {
      const show = (c: { busy: number, ours: number } | undefined): string => c == null ? '–' : `${c.busy} (${c.ours} in the bench's namespaces)`
      notes.push(`${name}: cores busy on the machine during a–d ${show(perf)}, during (e) ${show(cpu)}`)
    }
    if (r.perf != null) {
      const paths = new Set(r.perf.samples.map(s => s.hops.join(' → ')))
      notes.push(`${name}: ${r.perf.samples.length} runs over ${[...paths].join('; ')}${r.perf.failures.length > 0 ? `; ${r.perf.failures.length} failed and were replaced (${r.perf.failures[0] ?? ''})` : ''}`)
    }
    if (r.cpu != null) {
      notes.push(`${name} (e): ${Math.round(r.cpu.bytes / 2 ** 20)} MiB in ${r.cpu.seconds} s (${r.cpu.mbPerSecond} MB/s) over ${r.cpu.hops.join(' → ')}; middle relay ${r.cpu.cpuSeconds} CPU-s, idle ${r.cpu.idlePerSecond} CPU-s/s subtracted; CPU-s of each process: ${Object.entries(r.cpu.perProcess).map(([k, v]) => `${k} ${v}`).join(', ')}`)
    }
  }
  return { id: 'onion', title: 'bench:onion — peerd and Tor, OnionPerf\'s model (ms) and relay CPU', params, rows, checks, notes, data: {} }
}

async function main (): Promise<void> {
  let values: Record<string, string | boolean | undefined>
  try {
    values = parseArgs({
      options: {
        runs: { type: 'string' },
        quick: { type: 'boolean' },
        skip: { type: 'string' },
        up: { type: 'string' },
        down: { type: 'string' },
        'cpu-mib': { type: 'string' },
        json: { type: 'boolean' },
        out: { type: 'string' },
        help: { type: 'boolean', short: 'h' }
      }
    }).values
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n${USAGE}\n`)
    process.exit(2)
  }
  if (values.help === true) { process.stdout.write(`${USAGE}\n`); process.exit(0) }
  const num = (name: string, fallback: number): number => {
    const v = values[name]
    if (v == null || typeof v === 'boolean') return fallback
    const n = Number(v)
    if (!(n > 0)) { process.stderr.write(`--${name} must be a positive number, not "${v}"\n`); process.exit(2) }
    return n
  }
  const quick = values.quick === true
  const skip = String(values.skip ?? '').split(',').filter(Boolean)
  if (skip.some(s => !['tor', 'peerd', 'perf', 'cpu'].includes(s))) { process.stderr.write(`--skip takes tor, peerd, perf, cpu\n${USAGE}\n`); process.exit(2) }
  const params = {
    runs: Math.round(num('runs', quick ? 5 : 20)),
    upMbit: num('up', 20),
    downMbit: num('down', 100),
    cpuMiB: num('cpu-mib', quick ? 256 : 1024),
    skip: skip.join(',') || 'none'
  }
  const why = await netUnavailable()
  if (why != null) { process.stderr.write(`bench:onion: ${why.replace('the net bench', 'the onion bench')}\n`); process.exit(2) }
  if (!skip.includes('tor')) {
    const noTor = await ensureTor()
    if (noTor != null) { process.stderr.write(`bench:onion: ${noTor}\n`); process.exit(2) }
  }
  janitor.installHandlers()
  const stale = removeStale()
  if (stale.length > 0) process.stderr.write(`bench:onion: removed leftovers of an earlier run: ${stale.join(', ')}\n`)
  const machine = machineInfo()
  const tor = await torVersion() ?? 'tor (not installed)'
  process.stdout.write(`bench:onion — ${machine.date}; peerd at ${machine.commit}; ${tor}\nmachine: ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGiB} GiB RAM, ${machine.os}, Node.js ${machine.node}; load average ${machine.load} at the start\n`)
  const t0 = performance.now()
  const progress = (line: string): void => {
    if (!janitor.interrupted) process.stderr.write(`  [${Math.round((performance.now() - t0) / 1000)} s] ${line}\n`)
  }
  const options = { upMbit: params.upMbit, downMbit: params.downMbit, runs: params.runs, cpuBytes: Math.round(params.cpuMiB * 2 ** 20), progress }
  const results: { tor: SystemResult, peerd: SystemResult } = { tor: { errors: [], cores: {} }, peerd: { errors: [], cores: {} } }
  let failed: string | undefined
  try {
    for (const name of ['tor', 'peerd'] as const) {
      if (skip.includes(name)) continue
      results[name] = await runSystem(name, options, { perf: !skip.includes('perf'), cpu: !skip.includes('cpu') })
    }
  } catch (err) {
    if (!janitor.interrupted) failed = (err as Error).stack ?? String(err)
  } finally {
    progress('stopping every process, removing namespaces and temporary files…')
    await janitor.cleanup()
  }
  if (janitor.interrupted) process.exit(130)
  const result = compare(results.tor, results.peerd, params)
  process.stdout.write(formatResult(result) + '\n')
  const errors = [...results.tor.errors, ...results.peerd.errors]
  if (failed != null) process.stderr.write(`bench:onion failed: ${failed}\n`)
  for (const e of errors) process.stderr.write(`bench:onion: ${e}\n`)
  const code = failed != null || errors.length > 0 ? 2 : result.checks.every(c => c.pass) ? 0 : 1
  const out: OnionBenchOutput = { machine, torVersion: tor, command: ['node', ...process.argv.slice(1)].join(' '), params, tor: results.tor, peerd: results.peerd, result, pass: code === 0 }
  if (values.json === true) process.stdout.write(JSON.stringify(out) + '\n')
  if (typeof values.out === 'string') writeFileSync(values.out, JSON.stringify(out, null, 2) + '\n')
  process.stdout.write(`\nbench:onion: ${code === 0 ? 'every target met' : code === 1 ? 'a target was missed' : 'the run failed'} (exit ${code})\n`)
  process.exit(code)
}

if (import.meta.main) await main()
