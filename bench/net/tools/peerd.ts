/**
 * peerd as a {@link SwarmTool}: a fresh daemon per host (new data dir, new peer id) for every
 * run; seeders `peerd share` the file; downloaders are connected to every seeder and to each
 * other before the clock starts, then each runs `POST /api/v1/get` to a file in its data dir.
 * `flags` adds daemon flags per host (the free-rider scenario's `--no-serve`).
 */
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { PeerdDaemon, sha256File, tempDir } from '../harness/index.ts'
import type { NetHost } from '../harness/index.ts'
import type { FetchTime, InputFile, SwarmTool } from './swarm.ts'

/** Options of {@link peerdTool}. */
export interface PeerdToolOptions {
  /** Extra `peerd daemon` flags for the daemon on `host`. Default none. */
  flags?: (host: NetHost) => string[]
}

/** Creates the peerd tool. */
export function peerdTool (options: PeerdToolOptions = {}): SwarmTool {
  let daemons: PeerdDaemon[] = []
  let downloaders: PeerdDaemon[] = []
  let input: InputFile | undefined
  let cid = ''
  let dir: { path: string, remove: () => Promise<void> } | undefined

  return {
    name: 'peerd',
    description: 'peerd daemons (regtest, no mDNS), `POST /api/v1/get` to a file',
    prepare: async (file, seederHosts, downloaderHosts) => {
      input = file
      dir = await tempDir('peerd')
      const make = (h: NetHost): PeerdDaemon => new PeerdDaemon(h, { dataDir: join((dir as { path: string }).path, h.name), extraArgs: options.flags?.(h) })
      const seeders = seederHosts.map(make)
      downloaders = downloaderHosts.map(make)
      daemons = [...seeders, ...downloaders]
      const [first] = seeders
      if (first == null) throw new Error('no seeder')
      await first.start()
      for (const d of daemons.slice(1)) d.bootstrap = [first.address]
      for (let i = 1; i < daemons.length; i += 4) await Promise.all(daemons.slice(i, i + 4).map(async d => { await d.start() }))
      const cids = await Promise.all(seeders.map(async s => await s.share(file.path)))
      cid = cids[0] as string
      if (cids.some(c => c !== cid)) throw new Error(`seeders disagree on the CID: ${cids.join(', ')}`)
      // each downloader dials the seeders and the downloaders after it, all downloaders at once:
      // one API client process per dial, so in turn they would take most of the setup
      await Promise.all(downloaders.map(async (d, i) => {
        for (const s of seeders) await d.connect(s.address)
        for (const o of downloaders.slice(i + 1)) await d.connect(o.address)
      }))
    },
    fetchAll: async (timeoutMs) => {
      // the daemon's timeout is a stall timeout (no block for that long), not one for the whole get
      const gets = downloaders.map(d => ({ d, get: d.prepareGet(cid, join(d.dataDir, 'out.bin'), 60) }))
      await Promise.all(gets.map(async g => await g.get.ready))
      const t0 = performance.now()
      const timer = setTimeout(() => { for (const g of gets) void g.get.cancel() }, timeoutMs)
      try {
        const times = await Promise.all(gets.map(async ({ d, get }) => {
          const sent = (performance.now() - t0) / 1000
          const r = await get.go()
          return { host: d.host.name, seconds: sent + r.seconds, peers: r.result.peers as number }
        }))
        for (const d of downloaders) {
          const sha = await sha256File(join(d.dataDir, 'out.bin'))
          if (sha !== input?.sha256) throw new Error(`peerd on ${d.host.name} wrote a file that differs from the input`)
        }
        return times satisfies FetchTime[]
      } finally {
        clearTimeout(timer)
      }
    },
    diagnostics: async () => {
      // misbehaviour warnings and bans, from the daemons' logs (warn level and up)
      let misbehaved = 0
      let banned = 0
      for (const d of daemons) {
        const log = await readFile(join(d.dataDir, 'daemon.log'), 'utf8').catch(() => '')
        misbehaved += log.split('"msg":"peer misbehaved"').length - 1
        banned += log.split('"msg":"banned peer"').length - 1
      }
      return misbehaved + banned === 0 ? [] : [`daemon logs: ${misbehaved} "peer misbehaved" warnings, ${banned} bans`]
    },
    reset: async () => {
      await Promise.all(daemons.map(async d => { await d.stop() }))
      daemons = []
      downloaders = []
      await dir?.remove()
      dir = undefined
    }
  }
}
