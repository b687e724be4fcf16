/** Medians, rates, the ratios against the targets, and the printed table of `bench:share`. */
import type { MachineInfo } from './machine.ts'
import type { Sample } from './scenarios.ts'

/**
 * The measured scenarios, by their letter in the issue; a0 (stock js-libp2p stream) and c-fs
 * (Helia keeping its blocks on disk) are the same measurements as a and c, run another way.
 */
export type ScenarioKey = 'a' | 'a-disk' | 'a0' | 'b' | 'c' | 'c-fs' | 'd'

/** The median of one scenario's runs. */
export interface ScenarioResult {
  key: ScenarioKey
  name: string
  /** How `seconds` was taken. */
  timer: string
  /** Median seconds. */
  seconds: number
  /** Median of the daemon's own timer (peerd scenarios). */
  reportedSeconds?: number
  /** Peers that served, per run (peerd scenarios). */
  peers?: number[]
  /** Median cores' worth of CPU used by processes outside the benchmark during the transfers. */
  background?: number
  /** Median CPU-seconds the benchmark's processes used per transfer (both ends, user and system). */
  cpu?: { user: number, sys: number }
  samples: Sample[]
  note?: string
}

/** A ratio of two scenarios' rates, with its target if it has one. */
export interface Ratio {
  name: string
  value: number
  /** Pass when value ≥ target. */
  target?: number
  pass?: boolean
  /** Shown against its target, but not part of the verdict (see {@link passes}). */
  informational?: boolean
}

/** The median of a non-empty list. */
export function median (values: number[]): number {
  const s = [...values].sort((x, y) => x - y)
  const mid = Math.floor(s.length / 2)
  return s.length % 2 === 1 ? s[mid] as number : ((s[mid - 1] as number) + (s[mid] as number)) / 2
}

/** Summarises one scenario's samples by their medians. */
export function summarise (key: ScenarioKey, name: string, timer: string, samples: Sample[], note?: string): ScenarioResult {
  const r: ScenarioResult = { key, name, timer, seconds: median(samples.map(s => s.seconds)), samples }
  const reported = samples.flatMap(s => s.reportedSeconds != null ? [s.reportedSeconds] : [])
  if (reported.length > 0) r.reportedSeconds = median(reported)
  const peers = samples.flatMap(s => s.peers != null ? [s.peers] : [])
  if (peers.length > 0) r.peers = peers
  const background = samples.flatMap(s => s.background != null ? [s.background] : [])
  if (background.length > 0) r.background = median(background)
  const cpu = samples.flatMap(s => s.cpu != null ? [s.cpu] : [])
  if (cpu.length > 0) r.cpu = { user: median(cpu.map(c => c.user)), sys: median(cpu.map(c => c.sys)) }
  if (note != null) r.note = note
  return r
}

/** Decimal megabytes per second. */
export function mbps (bytes: number, seconds: number): number {
  return bytes / 1e6 / seconds
}

/**
 * The ratios, on rates, from CLI wall time for b and d: b/a0 against stock js-libp2p (target
 * ≥ 0.6, the verdict), b/c against Helia (≥ 4 is a goal to approach, printed but not in the
 * verdict: issue 19), d/b; b/a against peerd's own faster stream and b/c-fs, for information;
 * b/a-disk (the raw stream written to a file: what moving the bytes to disk costs at least).
 */
export function ratios (results: Partial<Record<ScenarioKey, ScenarioResult>>): Ratio[] {
  const rate = (r: ScenarioResult | undefined, own = false): number | undefined =>
    r == null ? undefined : 1 / (own ? (r.reportedSeconds ?? r.seconds) : r.seconds)
  const out: Ratio[] = []
  const add = (name: string, x: number | undefined, y: number | undefined, target?: number, informational = false): void => {
    if (x == null || y == null) return
    const value = x / y
    const r: Ratio = target == null ? { name, value } : { name, value, target, pass: value >= target }
    if (informational) r.informational = true
    out.push(r)
  }
  const { a, a0, b, c, d } = results
  const cFs = results['c-fs']
  add('b/a0 (stock libp2p stream)', rate(b), rate(a0), 0.6)
  add('b/c (Helia; a goal)', rate(b), rate(c), 4, true)
  add('d/b', rate(d), rate(b))
  add('b/a (peerd\'s own stream)', rate(b), rate(a), 0.6, true)
  add('b/c-fs (Helia with its blocks on disk)', rate(b), rate(cFs), 4, true)
  add('b/a-disk (raw stream to a file)', rate(b), rate(results['a-disk']))
  add('b/a (daemon timer)', rate(b, true), rate(a))
  add('b/c (daemon timer)', rate(b, true), rate(c))
  add('d/b (daemon timers)', rate(d, true), rate(b, true))
  add('b/a0 (daemon timer)', rate(b, true), rate(a0))
  add('b/c-fs (daemon timer)', rate(b, true), rate(cFs))
  return out
}

/** The verdict: every ratio with a target that is not informational meets it (b/a0). */
export function passes (rs: Ratio[]): boolean {
  return rs.every(r => r.informational === true || r.pass !== false)
}

function pad (s: string, n: number, right = false): string {
  return right ? s.padStart(n) : s.padEnd(n)
}

/** The report as lines of text: machine, table of scenarios, ratios with PASS / FAIL (informational ones marked). */
export function formatReport (machine: MachineInfo, bytes: number, runs: number, results: ScenarioResult[], rs: Ratio[]): string[] {
  const keyWidth = Math.max(3, ...results.map(r => r.key.length + 1))
  const nameWidth = Math.max(38, ...results.map(r => r.name.length + 2))
  const lines = [
    `bench:share — ${(bytes / 2 ** 20).toFixed(0)} MiB over loopback, median of ${runs} run${runs === 1 ? '' : 's'}`,
    `date:    ${machine.date}; peerd at ${machine.commit}`,
    `machine: ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGiB} GiB RAM, ${machine.os}, Node.js ${machine.node}; load average ${machine.load} at the start`,
    '',
    `${pad('', keyWidth)}${pad('scenario', nameWidth)}${pad('seconds', 9, true)}${pad('MB/s', 8, true)}${pad('MiB/s', 8, true)}${pad('CPU u+s', 13, true)}  timer / notes`
  ]
  const row = (key: string, name: string, seconds: number, cpu: string, notes: string): string =>
    `${pad(key, keyWidth)}${pad(name, nameWidth)}${pad(seconds.toFixed(2), 9, true)}${pad(mbps(bytes, seconds).toFixed(1), 8, true)}${pad((bytes / 2 ** 20 / seconds).toFixed(1), 8, true)}${pad(cpu, 13, true)}  ${notes}`
  for (const r of results) {
    const peers = r.peers != null ? `; served by ${r.peers.join(', ')} peer(s)` : ''
    const others = r.background != null ? `; others used ${r.background.toFixed(2)} cores` : ''
    const cpu = r.cpu != null ? `${r.cpu.user.toFixed(1)}+${r.cpu.sys.toFixed(1)}` : '-'
    lines.push(row(r.key, r.name, r.seconds, cpu, `${r.timer}${peers}${r.note != null ? `; ${r.note}` : ''}${others}`))
    if (r.reportedSeconds != null) lines.push(row('', '  (same, daemon\'s own timer)', r.reportedSeconds, '', '`seconds` printed by peerd get'))
  }
  lines.push('', 'CPU u+s: user + system CPU-seconds of all the benchmark\'s processes (both ends) over the fetching process\'s life.')
  lines.push('', 'ratios of rates:')
  const ratioWidth = Math.max(22, ...rs.map(r => r.name.length + 1))
  for (const r of rs) {
    const info = r.informational === true ? ' (for information; not in the exit code)' : ''
    const verdict = r.target == null ? '' : `  target ≥ ${r.target}: ${r.pass === true ? 'PASS' : 'FAIL'}${info}`
    lines.push(`  ${pad(r.name, ratioWidth)}${pad(r.value.toFixed(2), 7, true)}${verdict}`)
  }
  return lines
}
