/**
 * Free-riders (issue 19, point 2): the flash crowd's bed (one seeder, eight downloaders, every
 * host 20 Mbit/s up and 200 Mbit/s down, all starting at once), two of the downloaders running
 * `peerd daemon --no-serve` (they never give a block), and in the same run the baseline: the
 * same crowd without the two free-riders. A node that gives upload slots by what peers give back
 * (tit-for-tat) makes the free-riders finish last and leaves the others as fast as without them;
 * a node that serves every want in order lets the free-riders finish with the others.
 *
 * Targets (the issue's): both free-riders finish after every honest downloader, and the honest
 * downloaders' median and last times are at most {@link HONEST_SLOWDOWN_TARGET} × the baseline's.
 *
 * ```
 * node bench/net/scenarios/free-riders.ts [--size MiB (64)] [--json] [--out FILE]
 * ```
 */
import type { NetHost } from '../harness/index.ts'
import type { Bed } from './bed.ts'
import { createBed, DOWN_MBIT, UP_MBIT } from './bed.ts'
import { median, numberOption, progress, round, runCommand } from './common.ts'
import type { Check, ScenarioResult } from './common.ts'
import { peerdTool } from '../tools/index.ts'

/** Target: the honest downloaders' median and last times, at most this many times the baseline's. */
export const HONEST_SLOWDOWN_TARGET = 1.1
/** The daemon flag that makes a free-rider. */
const FREE_RIDER_FLAG = '--no-serve'

/** One downloader's time in a crowd. */
export interface RiderTime {
  host: string
  seconds: number
  freeRider: boolean
}

/** One crowd's figures. */
export interface CrowdSample {
  times: RiderTime[]
  /** First, median and last time of the honest downloaders, seconds. */
  honest: { first: number, median: number, last: number }
  /** First and last time of the free-riders, seconds (none in the baseline). */
  riders?: { first: number, last: number }
  /** Bytes the seeder sent, in copies of the file. */
  seederCopies: number
  /** Bytes the free-riders' links sent, all of them together, in copies of the file (requests and acks only: near 0). */
  ridersCopies: number
}

/** A crowd's figures, or why it failed. */
export type CrowdRun = { sample: CrowdSample, error?: undefined, diagnostics: string[] } | { sample?: undefined, error: string, diagnostics: string[] }

/** Options of {@link freeRiders}. */
export interface FreeRiderOptions {
  /** Downloaders that run with `--no-serve` (the last hosts of the bed). Default 2. */
  riders?: number
  /** Also run the crowd without the free-riders, for the slowdown checks. Default true. */
  baseline?: boolean
  /** Judge the figures against the targets. Default true. */
  withTargets?: boolean
}

/** Runs one crowd: `seeder` shares, `downloaders` start together, those in `riders` never serve. */
async function crowd (bed: Bed, seeder: NetHost, downloaders: NetHost[], riders: Set<string>): Promise<CrowdRun> {
  const tool = peerdTool({ flags: h => riders.has(h.name) ? [FREE_RIDER_FLAG] : [] })
  const size = bed.input.size
  const seederBound = size / (UP_MBIT * 1e6 / 8)
  try {
    await tool.prepare(bed.input, [seeder], downloaders)
    const counted = [seeder, ...downloaders.filter(h => riders.has(h.name))]
    const before = await Promise.all(counted.map(async h => (await h.counters()).txBytes))
    // generous: without sharing the seeder alone sends every copy
    const fetched = await tool.fetchAll(Math.round(downloaders.length * seederBound * 1.5 * 1000 + 60_000))
    const sent = (await Promise.all(counted.map(async h => (await h.counters()).txBytes))).map((tx, i) => tx - (before[i] as number))
    const seederTx = sent[0] as number
    const ridersTx = sent.slice(1).reduce((a, b) => a + b, 0)
    const times = fetched.map(t => ({ host: t.host, seconds: round(t.seconds), freeRider: riders.has(t.host) }))
    const honest = times.filter(t => !t.freeRider).map(t => t.seconds)
    const ridden = times.filter(t => t.freeRider).map(t => t.seconds)
    const sample: CrowdSample = {
      times,
      honest: { first: Math.min(...honest), median: round(median(honest)), last: Math.max(...honest) },
      ...(ridden.length > 0 ? { riders: { first: Math.min(...ridden), last: Math.max(...ridden) } } : {}),
      seederCopies: round(seederTx / size),
      ridersCopies: round(ridersTx / size, 3)
    }
    return { sample, diagnostics: await tool.diagnostics?.().catch(() => []) ?? [] }
  } catch (err) {
    // a failed crowd is a result too (a missed target), not the end of the bench
    return { error: (err as Error).message.split('\n')[0] ?? 'failed', diagnostics: await tool.diagnostics?.().catch(() => []) ?? [] }
  } finally {
    await tool.reset()
  }
}

/** `first / median / last` of a crowd's honest downloaders. */
function honestCell (s: CrowdSample): string {
  return `${round(s.honest.first, 1)} / ${round(s.honest.median, 1)} / ${round(s.honest.last, 1)}`
}

/**
 * Runs the free-rider crowd on `bed` (seeder h2, every other host downloads, the last
 * `riders` of them with `--no-serve`) and, unless `baseline` is false, the same crowd without them.
 */
export async function freeRiders (bed: Bed, options: FreeRiderOptions = {}): Promise<ScenarioResult> {
  const { riders: nRiders = 2, baseline: withBaseline = true, withTargets = true } = options
  const [first, seeder, ...others] = bed.net.hosts
  if (first == null || seeder == null) throw new Error('the bed has too few hosts')
  const downloaders = [first, ...others]
  if (downloaders.length <= nRiders) throw new Error(`${downloaders.length} downloaders cannot hold ${nRiders} free-riders and an honest one`)
  const riderHosts = downloaders.slice(downloaders.length - nRiders)
  const honestHosts = downloaders.slice(0, downloaders.length - nRiders)
  const riders = new Set(riderHosts.map(h => h.name))

  const base = withBaseline ? await crowd(bed, seeder, honestHosts, new Set()) : undefined
  if (base != null) progress(base.sample != null ? `free-riders, baseline (${honestHosts.length} honest): honest ${honestCell(base.sample)} s` : `free-riders, baseline: FAILED: ${base.error}`)
  const run = await crowd(bed, seeder, downloaders, riders)
  progress(run.sample != null
    ? `free-riders, with ${nRiders}: honest ${honestCell(run.sample)} s, free-riders ${run.sample.riders?.first ?? '?'} / ${run.sample.riders?.last ?? '?'} s`
    : `free-riders, with ${nRiders}: FAILED: ${run.error}`)

  const rows: Array<Record<string, string | number>> = []
  const row = (label: string, n: number, r: CrowdRun): void => {
    rows.push(r.sample == null
      ? { crowd: label, downloaders: n, 'honest first/median/last s': 'failed' }
      : {
          crowd: label,
          downloaders: n,
          'honest first/median/last s': honestCell(r.sample),
          'free-riders s': r.sample.riders == null ? '-' : `${round(r.sample.riders.first, 1)} / ${round(r.sample.riders.last, 1)}`,
          'seeder sent (copies)': r.sample.seederCopies,
          'free-riders sent (copies)': r.sample.riders == null ? '-' : r.sample.ridersCopies
        })
  }
  row(`with ${nRiders} free-riders`, downloaders.length, run)
  if (base != null) row('baseline (no free-rider)', honestHosts.length, base)

  const checks: Check[] = []
  if (withTargets) {
    const s = run.sample
    // the gap between the first free-rider and the last honest downloader: > 0 when they finish last
    const gap = s?.riders != null ? round(s.riders.first - s.honest.last) : NaN
    checks.push({ name: 'free-riders finish last: first free-rider − last honest downloader, s', value: gap, target: '> 0', pass: gap > 0 })
    if (base != null) {
      const b = base.sample
      const ratio = (now: number | undefined, was: number | undefined): number => now != null && was != null ? round(now / was) : NaN
      const med = ratio(s?.honest.median, b?.honest.median)
      const last = ratio(s?.honest.last, b?.honest.last)
      checks.push({ name: 'honest median with free-riders / baseline', value: med, target: `≤ ${HONEST_SLOWDOWN_TARGET}`, pass: med <= HONEST_SLOWDOWN_TARGET })
      checks.push({ name: 'honest last with free-riders / baseline', value: last, target: `≤ ${HONEST_SLOWDOWN_TARGET}`, pass: last <= HONEST_SLOWDOWN_TARGET })
    }
  }

  const perHost = (r: CrowdRun): string => r.sample?.times.map(t => `${t.host}${t.freeRider ? ' (free-rider)' : ''} ${t.seconds}`).join(', ') ?? `failed: ${r.error}`
  const notes = [
    `seconds per downloader, with free-riders: ${perHost(run)}`,
    ...(base != null ? [`seconds per downloader, baseline: ${perHost(base)}`] : []),
    ...run.diagnostics, ...(base?.diagnostics ?? []),
    `free-riders run \`peerd daemon ${FREE_RIDER_FLAG}\` (no block served to anyone); size / seeder uplink = ${round(bed.input.size / (UP_MBIT * 1e6 / 8))} s`
  ]
  return {
    id: 'free-riders',
    title: `8. free-riders: 1 seeder, ${honestHosts.length} honest downloaders and ${nRiders} that never serve, at once`,
    params: { tool: 'peerd', sizeMiB: bed.input.size / 2 ** 20, upMbit: UP_MBIT, downMbit: DOWN_MBIT, honest: honestHosts.length, freeRiders: nRiders, baseline: withBaseline },
    rows,
    checks,
    notes,
    data: { run, base }
  }
}

if (import.meta.main) {
  await runCommand('usage: node bench/net/scenarios/free-riders.ts [--size MiB (64)] [--json] [--out FILE]',
    { size: { type: 'string' } },
    async (values, report) => {
      const bed = await createBed(Math.round(numberOption(values, 'size', 64) * 2 ** 20))
      try {
        report(await freeRiders(bed))
      } finally {
        await bed.destroy()
      }
    })
}
