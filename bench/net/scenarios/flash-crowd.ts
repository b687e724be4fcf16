/**
 * Scenario 2, flash crowd: one seeder (20 Mbit/s up) and 8 downloaders (20 Mbit/s up,
 * 200 Mbit/s down each) that start together. Measures the time until all have the file against
 * the bound the seeder's uplink sets (every byte must leave the seeder once: size / uplink; the
 * crowd's total uplink gives a second, lower bound here), and how many bytes the downloaders
 * sent (their links' counters): the share of the crowd's bytes that did not come from the seeder.
 *
 * Targets: all done within {@link FLASH_TIME_TARGET} × the bound, at least
 * {@link FLASH_PEER_SHARE_TARGET} of the bytes received by downloaders sent by other downloaders,
 * and the seeder sending at most {@link FLASH_SEEDER_COPIES_TARGET} copies of the file (issue 19;
 * its other target, no slower than BitTorrent in the same run, is checked by the comparison).
 *
 * ```
 * node bench/net/scenarios/flash-crowd.ts [--size MiB (128)] [--tool peerd|bittorrent|helia] [--json] [--out FILE]
 * ```
 */
import type { Bed } from './bed.ts'
import { createBed, DOWN_MBIT, UP_MBIT } from './bed.ts'
import { cpuMeter, median, numberOption, progress, rateMbit, round, runCommand } from './common.ts'
import type { Check, CpuUse, ScenarioResult } from './common.ts'
import type { FetchTime, SwarmTool } from '../tools/swarm.ts'
import { toolByName } from '../tools/index.ts'

/** Target: all done within this many times the bound. */
export const FLASH_TIME_TARGET = 1.5
/** Target: at least this share of the downloaders' bytes came from other downloaders. */
export const FLASH_PEER_SHARE_TARGET = 0.5
/** Target: the seeder sends at most this many copies of the file. */
export const FLASH_SEEDER_COPIES_TARGET = 1.2

/** The scenario's figures. */
export interface FlashSample {
  /** Seconds until the last downloader had the file. */
  seconds: number
  /** size / seeder uplink, seconds. */
  bound: number
  /** bound / seconds. */
  efficiency: number
  times: FetchTime[]
  /** Bytes the seeder sent, in copies of the file. */
  seederCopies: number
  /** Of everything the downloaders received, the share that other downloaders sent. */
  peerShare: number
  cpu: CpuUse
}

/** Runs the flash crowd with `tool` (seeder h2, downloaders the other eight hosts). */
export async function flashCrowd (bed: Bed, tool: SwarmTool, withTargets: boolean): Promise<ScenarioResult> {
  const [first, seeder, ...others] = bed.net.hosts
  if (first == null || seeder == null) throw new Error('the bed has too few hosts')
  const downloaders = [first, ...others]
  const n = downloaders.length
  const size = bed.input.size
  const seederBound = size / (UP_MBIT * 1e6 / 8)
  // the crowd's total uplink must carry n copies; each downlink one copy
  const crowdBound = Math.max(n * size / ((n + 1) * UP_MBIT * 1e6 / 8), size / (DOWN_MBIT * 1e6 / 8))
  const bound = Math.max(seederBound, crowdBound)
  let sample: FlashSample | undefined
  let error: string | undefined
  let diagnostics: string[]
  try {
    await tool.prepare(bed.input, [seeder], downloaders)
    const before = await Promise.all(bed.net.hosts.map(async h => await h.counters()))
    const busy = cpuMeter(bed.net.namespaces())
    const times = await tool.fetchAll(Math.round(Math.max(10 * seederBound, n * seederBound * 1.5) * 1000 + 60_000))
    const cpu = busy()
    const after = await Promise.all(bed.net.hosts.map(async h => await h.counters()))
    const tx = after.map((a, i) => a.txBytes - (before[i]?.txBytes ?? 0))
    const seederTx = tx[seeder.index - 1] as number
    const crowdTx = downloaders.reduce((sum, h) => sum + (tx[h.index - 1] as number), 0)
    const seconds = Math.max(...times.map(t => t.seconds))
    sample = { seconds: round(seconds), bound: round(bound), efficiency: round(bound / seconds), times, seederCopies: round(seederTx / size), peerShare: round(crowdTx / (crowdTx + seederTx)), cpu }
    progress(`${tool.name} flash crowd: ${round(seconds)} s (bound ${round(bound)} s), seeder sent ${sample.seederCopies} copies`)
  } catch (err) {
    // a failed run is a result too (a missed target), not the end of the bench
    error = (err as Error).message.split('\n')[0] ?? 'failed'
    progress(`${tool.name} flash crowd: FAILED: ${error}`)
  } finally {
    diagnostics = await tool.diagnostics?.().catch(() => []) ?? []
    await tool.reset()
  }
  const params = { tool: tool.name, sizeMiB: size / 2 ** 20, upMbit: UP_MBIT, downMbit: DOWN_MBIT, downloaders: n }
  const title = `2. flash crowd (${tool.name}): 1 seeder, ${n} downloaders at once`
  if (sample == null) {
    return {
      id: 'flash-crowd',
      title,
      params,
      rows: [{ 'all done s': 'failed' }],
      checks: withTargets ? [{ name: 'every downloader has the file', value: 0, target: '= 1', pass: false }] : [],
      notes: [`failed: ${error ?? ''}`, ...diagnostics],
      data: { error }
    }
  }
  const secs = sample.times.map(t => t.seconds)
  const checks: Check[] = withTargets
    ? [
        { name: 'time until all have the file / bound', value: round(sample.seconds / bound), target: `≤ ${FLASH_TIME_TARGET}`, pass: sample.seconds / bound <= FLASH_TIME_TARGET },
        { name: 'share of the crowd\'s bytes sent by downloaders', value: sample.peerShare, target: `≥ ${FLASH_PEER_SHARE_TARGET}`, pass: sample.peerShare >= FLASH_PEER_SHARE_TARGET },
        { name: 'copies of the file the seeder sent', value: sample.seederCopies, target: `≤ ${FLASH_SEEDER_COPIES_TARGET}`, pass: sample.seederCopies <= FLASH_SEEDER_COPIES_TARGET }
      ]
    : []
  return {
    id: 'flash-crowd',
    title,
    params,
    rows: [{
      'all done s': sample.seconds,
      'bound s': sample.bound,
      'bound/time': sample.efficiency,
      'first/median/last s': `${round(Math.min(...secs), 1)} / ${round(median(secs), 1)} / ${round(Math.max(...secs), 1)}`,
      'seeder sent (copies)': sample.seederCopies,
      'sent by downloaders': sample.peerShare,
      'mean Mbit/s per downloader': round(rateMbit(size, median(secs)), 1),
      'cores busy (bench)': `${sample.cpu.busy} (${sample.cpu.ours})`
    }],
    checks,
    notes: [...diagnostics, `bound = max(size / seeder uplink = ${round(seederBound)} s, crowd bound ${round(crowdBound)} s); without sharing among downloaders the seeder alone would need ${round(n * seederBound)} s; ${tool.description}`],
    data: { sample }
  }
}

if (import.meta.main) {
  await runCommand('usage: node bench/net/scenarios/flash-crowd.ts [--size MiB (128)] [--tool peerd|bittorrent|helia] [--json] [--out FILE]',
    { size: { type: 'string' }, tool: { type: 'string' } },
    async (values, report) => {
      const bed = await createBed(Math.round(numberOption(values, 'size', 128) * 2 ** 20))
      const tool = await toolByName(String(values.tool ?? 'peerd'), bed.net)
      report(await flashCrowd(bed, tool, tool.name === 'peerd'))
    })
}
