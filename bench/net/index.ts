/**
 * `npm run bench:net`: peerd on a LAN of separate hosts (Linux network namespaces with their own
 * uplink and downlink limits), every scenario of the net bench in one run:
 *
 * 1. swarm scaling: one downloader, k = 1, 2, 4, 8 seeders of 20 Mbit/s (target ≥ 85% of the limit);
 * 2. flash crowd: one seeder, 8 downloaders at once, against the seeder's upload bound;
 * 3. churn: 16 hosts, 30% killed with SIGKILL during a download; survivors complete, DHT answers;
 * 4. partition and heal (cash): 6 hosts split 3 / 3 mine and pay on both sides, then heal: one
 *    tip everywhere within 60 s, no coins created or lost;
 * 5. comparison: 1 and 2 again with BitTorrent (aria2c) and IPFS (Helia) peers;
 * 6. NAT traversal: two homes behind nftables routers (endpoint-independent, symmetric, each
 *    with and without UPnP): AutoNAT, relay reservations, hole punching, transfer rate;
 * 7. bandwidth caps: upload and download caps held over 30 s, a block mined under a saturated cap;
 * 8. free-riders: the flash crowd with 2 of the 8 downloaders never serving (`--no-serve`), and
 *    without them: the free-riders finish last, the others not more than 10% slower.
 *
 * Needs root (exit 2 otherwise). Exit 0 when every target is met, 1 when one is missed.
 *
 * ```
 * npm run bench:net -- [--size MiB (128)] [--ks 1,2,4,8] [--churn-hosts 16] [--churn-size MiB (64)]
 *                      [--skip scaling,flash,churn,cash,bittorrent,helia,nat,caps,free-riders]
 *                      [--nat-attempts 20] [--nat-size MiB (64)] [--json] [--out FILE]
 * ```
 */
import { bandwidthCaps } from './scenarios/bandwidth-caps.ts'
import { createBed } from './scenarios/bed.ts'
import { cashPartition } from './scenarios/cash-partition.ts'
import { churn } from './scenarios/churn.ts'
import { numberOption, runCommand } from './scenarios/common.ts'
import { comparison, otherTools, runTool } from './scenarios/compare.ts'
import type { ToolRun } from './scenarios/compare.ts'
import { flashCrowd } from './scenarios/flash-crowd.ts'
import { freeRiders } from './scenarios/free-riders.ts'
import { natTraversal } from './scenarios/nat.ts'
import { swarmScaling } from './scenarios/swarm-scaling.ts'
import { peerdTool } from './tools/index.ts'

const USAGE = `usage: npm run bench:net -- [--size MiB (128)] [--ks 1,2,4,8] [--churn-hosts 16] [--churn-size MiB (64)]
                            [--skip scaling,flash,churn,cash,bittorrent,helia,nat,caps,free-riders]
                            [--nat-attempts 20] [--nat-size MiB (64)] [--json] [--out FILE]`

await runCommand(USAGE, {
  size: { type: 'string' },
  ks: { type: 'string' },
  'churn-hosts': { type: 'string' },
  'churn-size': { type: 'string' },
  skip: { type: 'string' },
  'nat-attempts': { type: 'string' },
  'nat-size': { type: 'string' }
}, async (values, report) => {
  const skip = String(values.skip ?? '').split(',').filter(Boolean)
  const ks = String(values.ks ?? '1,2,4,8').split(',').map(Number)
  if (ks.some(k => !(k >= 1 && k <= 8))) throw new Error('--ks: each k must be 1 to 8')
  const sizeBytes = Math.round(numberOption(values, 'size', 128) * 2 ** 20)
  if (!skip.includes('scaling') || !skip.includes('flash') || !skip.includes('free-riders')) {
    const bed = await createBed(sizeBytes)
    try {
      const peerd = peerdTool()
      const scaling = skip.includes('scaling') ? undefined : await swarmScaling(bed, peerd, ks, true)
      if (scaling != null) report(scaling)
      const flash = skip.includes('flash') ? undefined : await flashCrowd(bed, peerd, true)
      if (flash != null) report(flash)
      if (scaling != null && flash != null) {
        const { tools, notes } = await otherTools(bed, skip)
        const others: ToolRun[] = []
        for (const t of tools) others.push(await runTool(bed, t, ks, report))
        if (others.length > 0) report(comparison({ tool: 'peerd', scaling, flash }, others, notes))
      }
      if (!skip.includes('free-riders')) report(await freeRiders(bed))
    } finally {
      await bed.destroy()
    }
  }
  if (!skip.includes('churn')) {
    report(await churn({
      hosts: numberOption(values, 'churn-hosts', 16),
      sizeBytes: Math.round(numberOption(values, 'churn-size', 64) * 2 ** 20)
    }))
  }
  if (!skip.includes('cash')) report(await cashPartition())
  if (!skip.includes('nat')) {
    report(await natTraversal({
      kinds: ['eim', 'symmetric', 'eim+upnp', 'symmetric+upnp'],
      attempts: numberOption(values, 'nat-attempts', 20),
      sizeBytes: Math.round(numberOption(values, 'nat-size', 64) * 2 ** 20),
      mbit: 20
    }))
  }
  if (!skip.includes('caps')) report(await bandwidthCaps())
})
