/**
 * `npm run bench:onion`: peerd's onion routing side by side with a private Tor network of
 * Debian's `tor`, on the same bench:net hosts and tbf-shaped links, measured with OnionPerf's
 * model by one SOCKS5 client (`onionperf.ts`): (a) circuit build time, (b) time to first byte
 * of a 50 KiB GET, (c) 5 MiB and (d) 50 KiB download times, median and p90 over N runs; (e)
 * one relay's CPU-seconds per relayed GiB on loopback; and for onion services (`hs.ts`) (f) the
 * time to the first byte on a new rendezvous and (g) a 5 MiB download from the service. Then (h)
 * `private-get.ts`'s private get rate as a share of a direct one (peerd only, loopback). Targets
 * (issues 16, 17): peerd's medians ≤ Tor's for a–d, f, g; (e) ≤ 1.5 × Tor's; (h) ≥ 0.5.
 *
 * Needs root (network namespaces); installs Debian's tor with apt-get when it is missing.
 * Exit 0 when every target is met, 1 when one is missed, 2 when the run failed or cannot run
 * here, 130 when interrupted.
 *
 * ```
 * npm run bench:onion -- [--runs N (20)] [--quick] [--skip tor,peerd,perf,cpu,hs,private] [--up Mbit (20)] [--down Mbit (100)]
 *                        [--cpu-mib MiB (1024)] [--private-mib MiB (64)] [--private-runs N (3)] [--json] [--out FILE]
 * ```
 */
import { writeFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { machineInfo } from '../share/machine.ts'
import type { MachineInfo } from '../share/machine.ts'
import { janitor, netUnavailable, removeStale } from '../net/harness/index.ts'
import { formatResult } from '../net/scenarios/common.ts'
import type { Check, ScenarioResult } from '../net/scenarios/common.ts'
import { runPrivateGet } from './private-run.ts'
import type { PrivateGetResult } from './private-run.ts'
import { runSystem } from './topology.ts'
import type { SystemResult } from './topology.ts'
import type { Stat } from './measure.ts'
import { ensureTor, torVersion } from './tor-network.ts'

const USAGE = `usage: npm run bench:onion -- [--runs N (20)] [--quick] [--skip tor,peerd,perf,cpu,hs,private] [--up Mbit (20)] [--down Mbit (100)]
                              [--cpu-mib MiB (1024)] [--private-mib MiB (64)] [--private-runs N (3)] [--json] [--out FILE]
  --quick      5 runs, 256 MiB through the relay for (e), a private get of 16 MiB once for (h)
  --skip       leave out a system (tor, peerd) or a part (perf: a–d on the shaped LAN; cpu: e on loopback;
               hs: f–g, onion services; private: h, private-get.ts)`
const PARTS = ['tor', 'peerd', 'perf', 'cpu', 'hs', 'private']

/** Target: peerd's median ≤ this × Tor's for (a)–(d). */
export const LATENCY_TARGET = 1
/** Target: peerd's CPU per relayed GiB ≤ this × Tor's. */
export const CPU_TARGET = 1.5
/** Target: a private get's rate ≥ this × a direct get's (issue 17). */
export const PRIVATE_TARGET = 0.5
/** Providers of the private get (issue 17: 4). */
export const PRIVATE_PROVIDERS = 4

/** The whole run, as `--json` prints it. */
export interface OnionBenchOutput {
  machine: MachineInfo
  /** `Tor version 0.4.9.11.` */
  torVersion: string
  command: string
  params: Record<string, unknown>
  tor: SystemResult
  peerd: SystemResult
  /** (h), when it ran. */
  privateGet?: PrivateGetResult
  result: ScenarioResult
  pass: boolean
}

const ratio = (p: number | undefined, t: number | undefined): number | undefined =>
  p == null || t == null || t === 0 ? undefined : Math.round(p / t * 100) / 100

/** Notes on one system's onion-service runs: paths, first contact, failures, rendezvous per run. */
function hsNotes (name: string, r: SystemResult): string[] {
  const hs = r.hs
  if (hs == null) return []
  const paths = new Map<string, number>()
  for (const s of hs.samples) if (s.path != null) paths.set(s.path.join(' → '), (paths.get(s.path.join(' → ')) ?? 0) + 1)
  const shown = [...paths.entries()].sort((a, b) => b[1] - a[1]).slice(0, 4).map(([p, n]) => `${p} ×${n}`).join('; ')
  const extra = hs.samples.filter(s => s.rendezvous > 1).length
  return [`${name} (f, g): ${hs.samples.length} runs, each on a new rendezvous (the service counted ${hs.samples.reduce((n, s) => n + s.rendezvous, 0)})${extra > 0 ? `, ${extra} needing more than one` : ''}; descriptor published ${hs.publishSeconds} s after the start; first contact (descriptor fetch included) ${hs.firstContactMs} ms to the first byte; the client's rendezvous circuits: ${shown || 'not shown'}${hs.failures.length > 0 ? `; ${hs.failures.length} failed and were replaced (${hs.failures[0] ?? ''})` : ''}`]
}

/** The side-by-side table and the checks. */
export function compare (tor: SystemResult, peerd: SystemResult, params: Record<string, unknown>, privateGet?: PrivateGetResult): ScenarioResult {
  const rows: Array<Record<string, string | number>> = []
  const checks: Check[] = []
  const metric = (label: string, t: Stat | undefined, p: Stat | undefined, compared: boolean): void => {
    // a part both systems skipped has no row
    if (t == null && p == null && !compared) return
    const r = ratio(p?.median, t?.median)
    rows.push({ metric: label, 'tor median': t?.median ?? '–', 'tor p90': t?.p90 ?? '–', 'peerd median': p?.median ?? '–', 'peerd p90': p?.p90 ?? '–', 'peerd/tor': r ?? '–', target: `≤ ${LATENCY_TARGET}` })
    if (compared) checks.push({ name: `${label}: peerd median / tor median`, value: r ?? NaN, target: `≤ ${LATENCY_TARGET}`, pass: r != null && r <= LATENCY_TARGET })
  }
  const both = (tor.perf != null || tor.cpu != null) && (peerd.perf != null || peerd.cpu != null)
  const metrics = [
    ['(a) circuit build ms', 'build'],
    ['(b) time to first byte, 50 KiB, ms', 'ttfb'],
    ['(c) 5 MiB download ms', 'large'],
    ['(d) 50 KiB download ms', 'small']
  ] as const
  for (const [label, key] of metrics) metric(label, tor.perf?.[key], peerd.perf?.[key], both && tor.perf != null)
  const rc = ratio(peerd.cpu?.cpuPerGiB, tor.cpu?.cpuPerGiB)
  if (tor.cpu != null || peerd.cpu != null) rows.push({ metric: '(e) relay CPU-s per GiB', 'tor median': tor.cpu?.cpuPerGiB ?? '–', 'tor p90': '', 'peerd median': peerd.cpu?.cpuPerGiB ?? '–', 'peerd p90': '', 'peerd/tor': rc ?? '–', target: `≤ ${CPU_TARGET}` })
  if (both && tor.cpu != null) checks.push({ name: '(e) relay CPU per GiB: peerd / tor', value: rc ?? NaN, target: `≤ ${CPU_TARGET}`, pass: rc != null && rc <= CPU_TARGET })
  // a system whose onion-service setting failed fails the checks; one that was skipped leaves them out
  const hsCompared = (tor.hs != null || tor.errors.some(e => e.startsWith('tor hs:'))) && (peerd.hs != null || peerd.errors.some(e => e.startsWith('peerd hs:')))
  metric('(f) onion service, first byte on a new rendezvous, ms', tor.hs?.reach, peerd.hs?.reach, hsCompared)
  metric('(g) onion service, 5 MiB download ms', tor.hs?.download, peerd.hs?.download, hsCompared)
  if (privateGet != null) {
    rows.push({ metric: `(h) private get / direct get, ${privateGet.mib} MiB, ${privateGet.providers} providers (peerd, MiB/s)`, 'tor median': '', 'tor p90': '', 'peerd median': `${privateGet.privateMiBps} / ${privateGet.directMiBps}`, 'peerd p90': '', 'peerd/tor': privateGet.ratio, target: `≥ ${PRIVATE_TARGET}` })
    checks.push({ name: '(h) private get rate / direct get rate', value: privateGet.ratio, target: `≥ ${PRIVATE_TARGET}`, pass: privateGet.ratio >= PRIVATE_TARGET })
  }
  const notes: string[] = [...tor.errors, ...peerd.errors].map(e => `FAILED ${e}`)
  for (const [name, r] of [['tor', tor], ['peerd', peerd]] as const) {
    const { perf, cpu, hs } = r.cores
    if (perf != null || cpu != null || hs != null) {
      const show = (c: { busy: number, ours: number } | undefined): string => c == null ? '–' : `${c.busy} (${c.ours} in the bench's namespaces)`
      notes.push(`${name}: cores busy on the machine during a–d ${show(perf)}, during (e) ${show(cpu)}, during f–g ${show(hs)}`)
    }
    if (r.perf != null) {
      const paths = new Set(r.perf.samples.map(s => s.hops.join(' → ')))
      notes.push(`${name}: ${r.perf.samples.length} runs over ${[...paths].join('; ')}${r.perf.failures.length > 0 ? `; ${r.perf.failures.length} failed and were replaced (${r.perf.failures[0] ?? ''})` : ''}`)
    }
    if (r.cpu != null) {
      notes.push(`${name} (e): ${Math.round(r.cpu.bytes / 2 ** 20)} MiB in ${r.cpu.seconds} s (${r.cpu.mbPerSecond} MB/s) over ${r.cpu.hops.join(' → ')}; middle relay ${r.cpu.cpuSeconds} CPU-s, idle ${r.cpu.idlePerSecond} CPU-s/s subtracted; CPU-s of each process: ${Object.entries(r.cpu.perProcess).map(([k, v]) => `${k} ${v}`).join(', ')}`)
    }
    notes.push(...hsNotes(name, r))
  }
  if (privateGet != null) {
    const runs = privateGet.runs.map(r => `${r.kind} ${r.mibPerSecond} MiB/s from ${r.providers}`).join(', ')
    notes.push(`(h) \`${privateGet.command}\` (loopback, every node in one process): ${runs}`)
  }
  return { id: 'onion', title: 'bench:onion — peerd and Tor, OnionPerf\'s model (ms), relay CPU, onion services, private get', params, rows, checks, notes, data: {} }
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
        'private-mib': { type: 'string' },
        'private-runs': { type: 'string' },
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
  if (skip.some(s => !PARTS.includes(s))) { process.stderr.write(`--skip takes ${PARTS.join(', ')}\n${USAGE}\n`); process.exit(2) }
  const params = {
    runs: Math.round(num('runs', quick ? 5 : 20)),
    upMbit: num('up', 20),
    downMbit: num('down', 100),
    cpuMiB: num('cpu-mib', quick ? 256 : 1024),
    privateMiB: Math.round(num('private-mib', quick ? 16 : 64)),
    privateRuns: Math.round(num('private-runs', quick ? 1 : 3)),
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
  let privateGet: PrivateGetResult | undefined
  const privateErrors: string[] = []
  try {
    for (const name of ['tor', 'peerd'] as const) {
      if (skip.includes(name)) continue
      results[name] = await runSystem(name, options, { perf: !skip.includes('perf'), cpu: !skip.includes('cpu'), hs: !skip.includes('hs') })
    }
    if (!skip.includes('peerd') && !skip.includes('private')) {
      try {
        privateGet = await runPrivateGet({ mib: params.privateMiB, providers: PRIVATE_PROVIDERS, runs: params.privateRuns, progress })
      } catch (err) {
        if (janitor.interrupted) throw err
        privateErrors.push(`private get: ${(err as Error).message}`)
      }
    }
  } catch (err) {
    if (!janitor.interrupted) failed = (err as Error).stack ?? String(err)
  } finally {
    progress('stopping every process, removing namespaces and temporary files…')
    await janitor.cleanup()
  }
  if (janitor.interrupted) process.exit(130)
  const result = compare(results.tor, results.peerd, params, privateGet)
  result.notes.unshift(...privateErrors.map(e => `FAILED ${e}`))
  process.stdout.write(formatResult(result) + '\n')
  const errors = [...results.tor.errors, ...results.peerd.errors, ...privateErrors]
  if (failed != null) process.stderr.write(`bench:onion failed: ${failed}\n`)
  for (const e of errors) process.stderr.write(`bench:onion: ${e}\n`)
  const code = failed != null || errors.length > 0 ? 2 : result.checks.every(c => c.pass) ? 0 : 1
  const out: OnionBenchOutput = { machine, torVersion: tor, command: ['node', ...process.argv.slice(1)].join(' '), params, tor: results.tor, peerd: results.peerd, ...(privateGet != null ? { privateGet } : {}), result, pass: code === 0 }
  if (values.json === true) process.stdout.write(JSON.stringify(out) + '\n')
  if (typeof values.out === 'string') writeFileSync(values.out, JSON.stringify(out, null, 2) + '\n')
  process.stdout.write(`\nbench:onion: ${code === 0 ? 'every target met' : code === 1 ? 'a target was missed' : 'the run failed'} (exit ${code})\n`)
  process.exit(code)
}

if (import.meta.main) await main()
