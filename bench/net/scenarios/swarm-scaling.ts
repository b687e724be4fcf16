/**
 * Scenario 1, swarm scaling: one downloader (200 Mbit/s down) fetches the file from k seeders
 * (20 Mbit/s up each), for k = 1, 2, 4, 8. Its rate is compared with the physical limit
 * min(downlink, k × uplink); the target is ≥ 85% of the limit for every k.
 *
 * ```
 * node bench/net/scenarios/swarm-scaling.ts [--size MiB (128)] [--ks 1,2,4,8] [--tool peerd|bittorrent|helia] [--json] [--out FILE]
 * ```
 */
import type { Bed } from './bed.ts'
import { createBed, DOWN_MBIT, UP_MBIT } from './bed.ts'
import { cpuMeter, numberOption, progress, rateMbit, round, runCommand } from './common.ts'
import type { Check, CpuUse, ScenarioResult } from './common.ts'
import type { SwarmTool } from '../tools/swarm.ts'
import { toolByName } from '../tools/index.ts'

/** The target: rate ≥ this share of min(downlink, k × uplink). */
export const SCALING_TARGET = 0.85

/** One k's figures. */
export interface ScalingSample {
  k: number
  seconds: number
  rateMbit: number
  limitMbit: number
  ratio: number
  /** Bytes each seeder sent (its link's counter, so with TCP/IP overhead). */
  seederTx: number[]
  /** Mean busy cores during the download: the machine's, and the bench's own processes'. */
  cpu: CpuUse
  peers?: number
  /** Why the download failed (then the figures are 0). */
  error?: string
  /** What the tool reported about the run (warnings in its logs). */
  diagnostics?: string[]
}

/** Runs the scaling scenario with `tool`; `withTargets` adds the ≥ 85% checks (peerd's targets). */
export async function swarmScaling (bed: Bed, tool: SwarmTool, ks: number[], withTargets: boolean): Promise<ScenarioResult> {
  const [downloader, ...seedHosts] = bed.net.hosts
  if (downloader == null || seedHosts.length < Math.max(...ks)) throw new Error(`the bed has too few hosts for k = ${Math.max(...ks)}`)
  const samples: ScalingSample[] = []
  for (const k of ks) {
    const seeders = seedHosts.slice(0, k)
    const limitMbit = Math.min(DOWN_MBIT, k * UP_MBIT)
    const ideal = rateMbit(bed.input.size, 1) / limitMbit
    let diagnostics: string[]
    try {
      await tool.prepare(bed.input, seeders, [downloader])
      const before = await Promise.all(seeders.map(async h => (await h.counters()).txBytes))
      const busy = cpuMeter(bed.net.namespaces())
      const [t] = await tool.fetchAll(Math.round(ideal * 5 * 1000 + 60_000))
      const cpu = busy()
      const after = await Promise.all(seeders.map(async h => (await h.counters()).txBytes))
      if (t == null) throw new Error('no result')
      const rate = rateMbit(bed.input.size, t.seconds)
      samples.push({ k, seconds: round(t.seconds), rateMbit: round(rate, 1), limitMbit, ratio: round(rate / limitMbit), seederTx: after.map((a, i) => a - (before[i] as number)), cpu, peers: t.peers })
      progress(`${tool.name} k=${k}: ${round(t.seconds)} s, ${round(rate, 1)} Mbit/s of ${limitMbit} (${round(rate / limitMbit)})`)
    } catch (err) {
      // a failed download is a result too (a missed target), not the end of the run
      const error = (err as Error).message.split('\n')[0] ?? 'failed'
      samples.push({ k, seconds: 0, rateMbit: 0, limitMbit, ratio: 0, seederTx: [0], cpu: { busy: 0, ours: 0 }, error })
      progress(`${tool.name} k=${k}: FAILED: ${error}`)
    } finally {
      diagnostics = await tool.diagnostics?.().catch(() => []) ?? []
      await tool.reset()
    }
    const last = samples[samples.length - 1]
    if (last != null && diagnostics.length > 0) last.diagnostics = diagnostics
  }
  const checks: Check[] = withTargets ? samples.map(s => ({ name: `k=${s.k}: rate / min(downlink, k × uplink)`, value: s.ratio, target: `≥ ${SCALING_TARGET}`, pass: s.ratio >= SCALING_TARGET })) : []
  const mib = (b: number): string => (b / 2 ** 20).toFixed(1)
  return {
    id: 'swarm-scaling',
    title: `1. swarm scaling (${tool.name}): one downloader, k seeders`,
    params: { tool: tool.name, sizeMiB: bed.input.size / 2 ** 20, upMbit: UP_MBIT, downMbit: DOWN_MBIT, ks },
    rows: samples.map(s => s.error != null ? { k: s.k, seconds: 'failed' } : ({
      k: s.k,
      seconds: s.seconds,
      'Mbit/s': s.rateMbit,
      'limit Mbit/s': s.limitMbit,
      ratio: s.ratio,
      ...(s.peers == null ? {} : { 'served by': s.peers }),
      'MiB sent per seeder': `${mib(Math.min(...s.seederTx))}–${mib(Math.max(...s.seederTx))}`,
      'cores busy (bench)': `${s.cpu.busy} (${s.cpu.ours})`
    })),
    checks,
    notes: [
      ...samples.filter(s => s.error != null).map(s => `k=${s.k} failed: ${s.error ?? ''}`),
      ...samples.flatMap(s => (s.diagnostics ?? []).map(d => `k=${s.k}: ${d}`)),
      `rates are file bytes over time; the limit counts the link's bytes, so TCP/IP headers (about 4%) are inside the gap; ${tool.description}`
    ],
    data: { samples }
  }
}

if (import.meta.main) {
  await runCommand('usage: node bench/net/scenarios/swarm-scaling.ts [--size MiB (128)] [--ks 1,2,4,8] [--tool peerd|bittorrent|helia] [--json] [--out FILE]',
    { size: { type: 'string' }, ks: { type: 'string' }, tool: { type: 'string' } },
    async (values, report) => {
      const ks = String(values.ks ?? '1,2,4,8').split(',').map(Number)
      const bed = await createBed(Math.round(numberOption(values, 'size', 128) * 2 ** 20))
      const tool = await toolByName(String(values.tool ?? 'peerd'), bed.net)
      report(await swarmScaling(bed, tool, ks, tool.name === 'peerd'))
    })
}
