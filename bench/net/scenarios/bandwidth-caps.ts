/**
 * Bandwidth caps (issue 18, point 6): three regtest hosts on 100 Mbit/s links. Host 1 runs with
 * `--max-upload` and serves a file to host 2; host 1's link counters (what its interface sent,
 * every header included) are read over 30 s while the transfer saturates the cap, and a block
 * host 1 mines meanwhile must reach host 2 promptly (control traffic goes first). Then host 1's
 * cap is lifted through the API, without a restart, and host 3, run with `--max-download`,
 * fetches the same file from hosts 1 and 2; its link's received bytes are read over 30 s.
 * Each rate must be within 5 % of its cap (and use at least 90 % of it).
 *
 * ```
 * node bench/net/scenarios/bandwidth-caps.ts [--cap-mbit 20] [--seconds 30] [--json] [--out FILE]
 * ```
 */
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { Network, PeerdDaemon, tempDir, writeRandomFile } from '../harness/index.ts'
import type { NetHost } from '../harness/index.ts'
import { mbit, numberOption, progress, rateMbit, round, runCommand } from './common.ts'
import type { Check, ScenarioResult } from './common.ts'

/** Options of the bandwidth-caps scenario. */
export interface BandwidthCapsOptions {
  /** The caps, Mbit/s (default 20; the links carry 100). */
  capMbit?: number
  /** Seconds each rate is measured over (default 30). */
  seconds?: number
}

const LINK_MBIT = 100
/** Measured after this long: the first wants, the TCP windows opening. */
const WARMUP_S = 3
/** A block mined under the saturated cap must reach the peer within this. */
const BLOCK_TARGET_S = 2

interface Info { height: number }

/** Rate of a link counter over `seconds`, after the warm-up; `during` runs meanwhile. */
async function linkRate (host: NetHost, which: 'txBytes' | 'rxBytes', seconds: number, during?: () => Promise<void>): Promise<{ bytes: number, seconds: number }> {
  await sleep(WARMUP_S * 1000)
  const c0 = await host.counters()
  const t0 = performance.now()
  await Promise.all([sleep(seconds * 1000), during?.()])
  const c1 = await host.counters()
  return { bytes: c1[which] - c0[which], seconds: (performance.now() - t0) / 1000 }
}

/** Runs the scenario; see the module comment. */
export async function bandwidthCaps (options: BandwidthCapsOptions = {}): Promise<ScenarioResult> {
  const capMbit = options.capMbit ?? 20
  const seconds = options.seconds ?? 30
  const cap = Math.round(mbit(capMbit))
  if (capMbit >= LINK_MBIT * 0.8) throw new Error(`--cap-mbit must stay below the links' ${LINK_MBIT} Mbit/s`)
  const dir = await tempDir('bandwidth-caps')
  const net = await Network.create(Array.from({ length: 3 }, (_, i) => ({ name: `h${i + 1}`, upMbit: LINK_MBIT, downMbit: LINK_MBIT })))
  try {
    // the file outlasts the warm-up and the window at the cap, with a margin
    const mib = Math.ceil(cap * (WARMUP_S + seconds + 8) / 1024 / 1024)
    const file = join(dir.path, 'file.bin')
    await writeRandomFile(file, mib * 1024 * 1024)
    const [h1, h2, h3] = net.hosts as [NetHost, NetHost, NetHost]
    const d1 = new PeerdDaemon(h1, { dataDir: join(dir.path, 'h1'), extraArgs: ['--max-upload', `${capMbit}Mbit`] })
    await d1.start()
    const d2 = new PeerdDaemon(h2, { dataDir: join(dir.path, 'h2'), bootstrap: [d1.address] })
    const d3 = new PeerdDaemon(h3, { dataDir: join(dir.path, 'h3'), bootstrap: [d1.address], extraArgs: ['--max-download', `${capMbit}Mbit`] })
    await Promise.all([d2.start(), d3.start()])
    const cid = await d1.share(file)
    // the block is mined to h1's wallet
    await d1.api('POST', '/api/v1/wallet/create', { passphrase: 'bench-net-bandwidth-caps' })
    progress(`bandwidth-caps: ${mib} MiB shared by h1 (upload cap ${capMbit} Mbit/s)`)

    // 1. upload cap, with a block mined under it
    const get2 = d2.get(cid, join(dir.path, 'out2'), 300)
    let blockSeconds = Infinity
    let mineSeconds = 0
    const up = await linkRate(h1, 'txBytes', seconds, async () => {
      await sleep(seconds * 1000 / 3)
      const height = (await d1.api<Info>('GET', '/api/v1/chain/info')).height
      const m = performance.now()
      await d1.api('POST', '/api/v1/mine', { blocks: 1 }, 120_000)
      // from when h1 has the block (the mine call's own time is mining and a client's start)
      const t = performance.now()
      mineSeconds = (t - m) / 1000
      while ((await d2.api<Info>('GET', '/api/v1/chain/info')).height <= height) {
        if (performance.now() - t > 20_000) return
        await sleep(50)
      }
      blockSeconds = (performance.now() - t) / 1000
    })
    const upMbit = rateMbit(up.bytes, up.seconds)
    progress(`bandwidth-caps: h1 sent ${round(upMbit, 2)} Mbit/s over ${round(up.seconds, 1)} s (cap ${capMbit}); the block reached h2 in ${round(blockSeconds, 2)} s`)
    // lifted at runtime: h2 finishes at the link's rate
    await d1.api('POST', '/api/v1/bandwidth/limits', { maxUpload: 0 })
    await get2

    // 2. download cap, h3 fetching from h1 and h2
    const get3 = d3.get(cid, join(dir.path, 'out3'), 300)
    const down = await linkRate(h3, 'rxBytes', seconds)
    const downMbit = rateMbit(down.bytes, down.seconds)
    progress(`bandwidth-caps: h3 received ${round(downMbit, 2)} Mbit/s over ${round(down.seconds, 1)} s (cap ${capMbit})`)
    await d3.api('POST', '/api/v1/bandwidth/limits', { maxDownload: 0 })
    await get3

    const within = (rate: number): boolean => rate <= capMbit * 1.05 && rate >= capMbit * 0.9
    const checks: Check[] = [
      { name: 'upload of h1 (link counter) / cap', value: round(upMbit / capMbit, 3), target: '0.90 – 1.05', pass: within(upMbit) },
      { name: 'download of h3 (link counter) / cap', value: round(downMbit / capMbit, 3), target: '0.90 – 1.05', pass: within(downMbit) },
      { name: 'seconds for a block mined under the saturated upload cap to reach h2', value: round(blockSeconds, 2), target: `≤ ${BLOCK_TARGET_S}`, pass: blockSeconds <= BLOCK_TARGET_S }
    ]
    return {
      id: 'bandwidth-caps',
      title: `Bandwidth caps: ${capMbit} Mbit/s on ${LINK_MBIT} Mbit/s links, measured over ${seconds} s`,
      params: { capMbit, seconds, linkMbit: LINK_MBIT, fileMiB: mib },
      rows: [
        { cap: 'h1 --max-upload', 'Mbit/s': round(upMbit, 2), 'cap Mbit/s': capMbit, ratio: round(upMbit / capMbit, 3), seconds: round(up.seconds, 1) },
        { cap: 'h3 --max-download', 'Mbit/s': round(downMbit, 2), 'cap Mbit/s': capMbit, ratio: round(downMbit / capMbit, 3), seconds: round(down.seconds, 1) }
      ],
      checks,
      notes: [
        'rates are the hosts\' interface byte counters (ip -s link): Ethernet, IP and TCP headers and the ACKs the host sends or receives included',
        `the block took ${round(blockSeconds, 2)} s from the end of the mine call on h1 (which took ${round(mineSeconds, 2)} s) to h2's chain info showing it; each poll of h2 starts an API client process, a few tenths of a second on a busy machine`
      ],
      data: { up, down, blockSeconds, mineSeconds, cap }
    }
  } finally {
    await net.destroy()
    await dir.remove()
  }
}

if (import.meta.main) {
  await runCommand('usage: node bench/net/scenarios/bandwidth-caps.ts [--cap-mbit 20] [--seconds 30] [--json] [--out FILE]',
    { 'cap-mbit': { type: 'string' }, seconds: { type: 'string' } },
    async (values, report) => {
      report(await bandwidthCaps({ capMbit: numberOption(values, 'cap-mbit', 20), seconds: numberOption(values, 'seconds', 30) }))
    })
}
