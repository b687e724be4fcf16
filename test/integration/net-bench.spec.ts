import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { janitor, Network, netUnavailable, removeStale } from '../../bench/net/harness/index.ts'
import { createBed } from '../../bench/net/scenarios/bed.ts'
import { cashPartition } from '../../bench/net/scenarios/cash-partition.ts'
import { churn } from '../../bench/net/scenarios/churn.ts'
import type { ScenarioResult } from '../../bench/net/scenarios/common.ts'
import { swarmScaling } from '../../bench/net/scenarios/swarm-scaling.ts'
import type { ScalingSample } from '../../bench/net/scenarios/swarm-scaling.ts'
import { peerdTool } from '../../bench/net/tools/index.ts'

// The net bench's hosts are network namespaces with tc-shaped links: root and Linux only.
const unavailable = await netUnavailable()

/**
 * Below the bench's 85%: a 24 MiB file is short enough that connecting, the first round trips
 * and the last blocks weigh (measured 2026-12-06, quiet machine: 0.95 at k = 1 and 0.70 at
 * k = 2 on every run, against 0.95 at k = 2 for 128 MiB), and the test shares this machine with
 * other work (0.69 at k = 2 in one loaded CI run). Still above what k seeders that do not add
 * up would give (0.5 at k = 2: one seeder's 20 Mbit/s).
 */
const SHORT_SCALING_TARGET = 0.6

function failures (r: ScenarioResult): string {
  return r.checks.filter(c => !c.pass).map(c => `${c.name}: ${c.value} (${c.target})`).join('; ') + ` ${r.notes.join(' ')}`
}

describe('net bench, short: separate hosts with shaped links', { skip: unavailable }, () => {
  before(() => {
    janitor.installExitHook()
    removeStale()
  })
  after(async () => { await janitor.cleanup() })

  it('partition cuts hosts in different groups apart, heal joins them again', { timeout: 30_000 }, async () => {
    const net = await Network.create([{}, {}, {}])
    try {
      const [a, b, c] = net.hosts as [typeof net.hosts[0], typeof net.hosts[0], typeof net.hosts[0]]
      assert.ok(await net.reachable(a, b))
      await net.partition([[a], [b, c]])
      assert.equal(await net.reachable(a, b), false)
      assert.equal(await net.reachable(c, a), false)
      assert.ok(await net.reachable(b, c))
      await net.heal()
      assert.ok(await net.reachable(a, b))
      assert.ok(await net.reachable(a, c))
    } finally {
      await net.destroy()
    }
  })

  it('scaling: k seeders of 20 Mbit/s give about k × 20 Mbit/s (k = 1, 2; 24 MiB)', { timeout: 120_000 }, async () => {
    const bed = await createBed(24 * 2 ** 20, 3)
    try {
      const r = await swarmScaling(bed, peerdTool(), [1, 2], true)
      const samples = r.data.samples as ScalingSample[]
      for (const s of samples) {
        assert.equal(s.error, undefined, `k=${s.k}: ${s.error ?? ''}`)
        assert.ok(s.ratio >= SHORT_SCALING_TARGET, `k=${s.k}: ${s.rateMbit} Mbit/s is ${s.ratio} of ${s.limitMbit} Mbit/s (want ≥ ${SHORT_SCALING_TARGET}); ${failures(r)}`)
      }
    } finally {
      await bed.destroy()
    }
  })

  it('churn: 6 hosts, 2 killed with SIGKILL mid-download: survivors complete, the DHT answers, the killed resume', { timeout: 150_000 }, async () => {
    const r = await churn({ hosts: 6, seeders: 2, sizeBytes: 16 * 2 ** 20, upMbit: 20, probes: 1 })
    assert.ok(r.checks.every(c => c.pass), failures(r))
  })

  it('partition and heal (cash): 6 hosts split 3 / 3 mine and pay on both sides; one tip after the heal, no coins created or lost', { timeout: 90_000 }, async () => {
    const r = await cashPartition({ sideABlocks: 2, sideBBlocks: 3, targetSeconds: 60 })
    assert.ok(r.checks.every(c => c.pass), failures(r))
  })
})
