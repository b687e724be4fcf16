/**
 * Scenario 5, comparison: scenarios 1 and 2 on the same bed and file with BitTorrent peers
 * (aria2c) and IPFS peers (Helia), and peerd's time divided by theirs (below 1: peerd is
 * faster). Target (issue 19): the flash crowd done no later than BitTorrent's in the same run
 * ({@link FLASH_VS_BITTORRENT_TARGET}).
 *
 * ```
 * node bench/net/scenarios/compare.ts [--size MiB (128)] [--ks 1,2,4,8] [--skip bittorrent|helia] [--json] [--out FILE]
 * ```
 */
import { createBed } from './bed.ts'
import type { Bed } from './bed.ts'
import { numberOption, round, runCommand } from './common.ts'
import type { ScenarioResult } from './common.ts'
import { flashCrowd } from './flash-crowd.ts'
import type { FlashSample } from './flash-crowd.ts'
import { swarmScaling } from './swarm-scaling.ts'
import type { ScalingSample } from './swarm-scaling.ts'
import { aria2Version, bittorrentTool, ensureAria2, heliaTool, peerdTool } from '../tools/index.ts'
import type { SwarmTool } from '../tools/index.ts'

/** Target: peerd's flash crowd time over aria2c's, in the same run. */
export const FLASH_VS_BITTORRENT_TARGET = 1

/** One tool's results of scenarios 1 and 2. */
export interface ToolRun { tool: string, scaling: ScenarioResult, flash: ScenarioResult }

/** Runs scenarios 1 and 2 with `tool` on `bed` (no targets: they are peerd's). */
export async function runTool (bed: Bed, tool: SwarmTool, ks: number[], report: (r: ScenarioResult) => void): Promise<ToolRun> {
  const scaling = await swarmScaling(bed, tool, ks, false)
  report(scaling)
  const flash = await flashCrowd(bed, tool, false)
  report(flash)
  return { tool: tool.name, scaling, flash }
}

/** The other tools that can run here, and why any cannot. */
export async function otherTools (bed: Bed, skip: string[]): Promise<{ tools: SwarmTool[], notes: string[] }> {
  const tools: SwarmTool[] = []
  const notes: string[] = []
  if (!skip.includes('bittorrent')) {
    const why = await ensureAria2()
    if (why == null) { tools.push(bittorrentTool(bed.net)); notes.push(`BitTorrent: ${await aria2Version()}`) } else notes.push(`BitTorrent left out: ${why}`)
  }
  if (!skip.includes('helia')) tools.push(heliaTool())
  return { tools, notes }
}

/** Builds the comparison table: peerd's seconds over each other tool's, per case. */
export function comparison (peerd: ToolRun, others: ToolRun[], notes: string[]): ScenarioResult {
  // a failed download has no time: it shows as "failed" and gives no ratio
  const scal = (r: ToolRun): ScalingSample[] => (r.scaling.data.samples as ScalingSample[])
  const ok = (seconds: number | undefined): number | undefined => seconds != null && seconds > 0 ? seconds : undefined
  const flash = (r: ToolRun): number | undefined => ok((r.flash.data.sample as FlashSample | undefined)?.seconds)
  const cases = [
    ...scal(peerd).map(s => ({ name: `1. scaling k=${s.k}`, peerd: ok(s.seconds), of: (r: ToolRun) => ok(scal(r).find(x => x.k === s.k)?.seconds) })),
    { name: '2. flash crowd (all done)', peerd: flash(peerd), of: flash }
  ]
  const rows = cases.map(c => {
    const row: Record<string, string | number> = { case: c.name, 'peerd s': c.peerd ?? 'failed' }
    for (const o of others) {
      const t = c.of(o)
      row[`${o.tool} s`] = t ?? 'failed'
      row[`peerd/${o.tool}`] = t == null || c.peerd == null ? '-' : round(c.peerd / t)
    }
    return row
  })
  const bt = others.find(o => o.tool === 'bittorrent')
  const btFlash = bt == null ? undefined : flash(bt)
  const peerdFlash = flash(peerd)
  const checks = btFlash == null
    ? []
    : [{
        name: 'flash crowd: peerd\'s time / BitTorrent\'s (aria2c), same run',
        value: peerdFlash == null ? Infinity : round(peerdFlash / btFlash),
        target: `≤ ${FLASH_VS_BITTORRENT_TARGET}`,
        pass: peerdFlash != null && peerdFlash / btFlash <= FLASH_VS_BITTORRENT_TARGET
      }]
  return {
    id: 'comparison',
    title: '5. comparison: peerd\'s time / theirs (below 1: peerd is faster)',
    params: { tools: ['peerd', ...others.map(o => o.tool)] },
    rows,
    checks,
    notes: ['targets: the flash crowd no slower than BitTorrent\'s; no target for the scaling ratios', ...notes],
    data: { rows }
  }
}

if (import.meta.main) {
  await runCommand('usage: node bench/net/scenarios/compare.ts [--size MiB (128)] [--ks 1,2,4,8] [--skip bittorrent|helia] [--json] [--out FILE]',
    { size: { type: 'string' }, ks: { type: 'string' }, skip: { type: 'string' } },
    async (values, report) => {
      const ks = String(values.ks ?? '1,2,4,8').split(',').map(Number)
      const bed = await createBed(Math.round(numberOption(values, 'size', 128) * 2 ** 20))
      const skip = String(values.skip ?? '').split(',')
      const peerd = await runTool(bed, peerdTool(), ks, report)
      const { tools, notes } = await otherTools(bed, skip)
      const others: ToolRun[] = []
      for (const t of tools) others.push(await runTool(bed, t, ks, report))
      report(comparison(peerd, others, notes))
    })
}
