import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { janitor, netUnavailable, removeStale } from '../../bench/net/harness/index.ts'
import { LARGE, SMALL } from '../../bench/onion/measure.ts'
import type { PerfResult } from '../../bench/onion/measure.ts'
import { runSystem } from '../../bench/onion/topology.ts'
import { torVersion } from '../../bench/onion/tor-network.ts'

// Namespaces and tc need root on Linux; the Tor side needs Debian's tor (the bench installs it, a test does not).
const unavailable = await netUnavailable() ?? (await torVersion() == null ? 'tor is not installed (apt-get install tor)' : undefined)

const UP_MBIT = 20
const options = { upMbit: UP_MBIT, downMbit: 100, runs: 1, cpuBytes: 0, progress: () => {} }

/** What any run of OnionPerf's model over these links must show, whichever system. */
function checkRun (r: PerfResult | undefined): void {
  assert.ok(r != null)
  assert.equal(r.samples.length, 1, r.failures.join('; '))
  const s = r.samples[0]
  assert.ok(s != null)
  assert.ok(s.buildMs > 0, `build ${s.buildMs} ms`)
  assert.ok(s.ttfbMs > 0 && s.ttfbMs <= s.smallMs, `ttfb ${s.ttfbMs} ms, 50 KiB ${s.smallMs} ms`)
  // every byte crossed the server's shaped uplink: 5 MiB cannot arrive faster than it allows
  const bound = LARGE * 8 / (UP_MBIT * 1e6) * 1000
  assert.ok(s.largeMs >= bound * 0.95, `5 MiB in ${s.largeMs} ms, faster than the ${UP_MBIT} Mbit/s link allows (${Math.round(bound)} ms)`)
  assert.ok(s.largeMs > s.smallMs, `5 MiB in ${s.largeMs} ms, ${SMALL / 1024} KiB in ${s.smallMs} ms`)
}

describe('onion bench, smallest configuration: one run of OnionPerf\'s model per system on shaped links', { skip: unavailable }, () => {
  before(() => {
    janitor.installExitHook()
    removeStale()
  })
  after(async () => { await janitor.cleanup() })

  it('tor: a private Tor network forms, the client fetches over the pinned guard → middle → exit path', { timeout: 150_000 }, async () => {
    const r = await runSystem('tor', options, { perf: true, cpu: false })
    assert.deepEqual(r.errors, [])
    checkRun(r.perf)
    assert.deepEqual(r.perf?.samples[0]?.hops, ['guard', 'middle', 'exit'])
  })

  it('peerd: the client fetches through a 3-hop circuit of the relay daemons, ending at the exit', { timeout: 150_000 }, async () => {
    const r = await runSystem('peerd', options, { perf: true, cpu: false })
    assert.deepEqual(r.errors, [])
    checkRun(r.perf)
    const hops = r.perf?.samples[0]?.hops ?? []
    assert.equal(hops.length, 3, hops.join(' → '))
    assert.equal(hops[2], 'exit')
    assert.deepEqual(new Set(hops), new Set(['guard', 'middle', 'exit']))
  })
})
