/**
 * IPFS (Helia over Bitswap) as a {@link SwarmTool}: a `helia-node.ts serve` per seeder (the file
 * imported into memory, same CID as peerd); a `helia-node.ts fetch` per downloader, dialled to
 * every seeder and every other downloader before the clock starts, then `unixfs.cat` to the end.
 * Favoured against peerd: blocks stay in memory and nothing is written to a file.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { NetHost, NsProcess } from '../harness/index.ts'
import type { FetchTime, InputFile, SwarmTool } from './swarm.ts'

const NODE = fileURLToPath(new URL('./helia-node.ts', import.meta.url))
/**
 * Error logs of libp2p's connection monitor and of Bitswap (summarised in the report);
 * `HELIA_DEBUG` replaces the selection, `HELIA_LOG_DIR` keeps every process's log there.
 */
const DEBUG_ENV = { ...process.env, DEBUG: process.env.HELIA_DEBUG ?? 'libp2p:connection-monitor:error,helia:bitswap*:error' }
const LOG_DIR = process.env.HELIA_LOG_DIR
/** No byte for this long on any downloader: the run has stalled. */
const STALL_MS = 60_000

/** Creates the Helia tool. */
export function heliaTool (): SwarmTool {
  let procs: NsProcess[] = []
  let fetchers: Array<{ host: NetHost, proc: NsProcess }> = []
  let cid = ''
  let size = 0

  return {
    name: 'helia',
    description: 'Helia 7 + @helia/bitswap 4, memory blockstore, `unixfs.cat` counting bytes; connection monitor not aborting on ping failure, Bitswap one block per message and 120 s message receive timeout',
    prepare: async (input: InputFile, seeders, downloaders) => {
      size = input.size
      const served = await Promise.all(seeders.map(async h => {
        const p = h.spawn(process.execPath, [NODE, 'serve', input.path, h.ip], { env: DEBUG_ENV })
        procs.push(p)
        return await p.waitForJson(v => v.cid != null, 300_000)
      }))
      cid = served[0]?.cid as string
      fetchers = downloaders.map(host => ({ host, proc: host.spawn(process.execPath, [NODE, 'fetch', host.ip], { stdin: true, env: DEBUG_ENV }) }))
      procs.push(...fetchers.map(f => f.proc))
      const addrs = await Promise.all(fetchers.map(async f => (await f.proc.waitForJson(v => v.address != null)).address as string))
      for (const [i, f] of fetchers.entries()) {
        f.proc.send(JSON.stringify({ dial: [...served.map(s => s.address as string), ...addrs.filter((_, j) => j > i)] }))
        await f.proc.waitForJson(v => v.dialled != null)
      }
    },
    fetchAll: async (timeoutMs) => {
      const t0 = performance.now()
      const results = fetchers.map(f => {
        const sent = (performance.now() - t0) / 1000
        f.proc.send(JSON.stringify({ cid, size }))
        return f.proc.waitForJson(v => v.event === 'done', timeoutMs).then(done => ({ host: f.host.name, seconds: sent + (done.seconds as number) }) satisfies FetchTime)
      })
      for (const r of results) r.catch(() => {}) // reported below
      const pingAborts = (): number => procs.reduce((n, p) => n + p.stderr().split('aborting connection due to ping failure').length - 1, 0)
      // Bitswap can stall for good: give up when no downloader has made progress for a while
      const progress = (): number => fetchers.reduce((sum, f) => sum + Math.max(0, ...f.proc.stdout().split('\n').filter(l => l.startsWith('{"progress"')).map(l => (JSON.parse(l) as { progress: number }).progress)), 0)
      let last = -1
      let lastChange = performance.now()
      let settled = 0
      for (const r of results) void r.then(() => { settled++ }, () => { settled++ })
      while (settled < results.length) {
        await new Promise(resolve => setTimeout(resolve, 1_000))
        const p = progress()
        if (p !== last) { last = p; lastChange = performance.now() }
        if (performance.now() - lastChange > STALL_MS && settled < results.length) {
          const done = fetchers.filter(f => f.proc.stdout().includes('"event":"done"')).length
          throw new Error(`Helia stalled: no progress for ${STALL_MS / 1000} s; ${done} of ${fetchers.length} downloaders had the file after ${Math.round((performance.now() - t0) / 1000)} s; ${pingAborts()} connections aborted by libp2p's connection monitor`)
        }
      }
      return await Promise.all(results)
    },
    diagnostics: async () => {
      // error lines of every process, without timestamps, peer ids, CIDs and numbers, counted
      const counts = new Map<string, number>()
      for (const p of procs) {
        for (const line of p.stderr().split('\n')) {
          if (!/:error /.test(line)) continue
          const key = line.replace(/^\S+Z /, '').replace(/\b(12D3Koo|Qm|bafy|bafk)\w+/g, '…').replace(/\b\d+\b/g, 'N').slice(0, 160)
          counts.set(key, (counts.get(key) ?? 0) + 1)
        }
      }
      return [...counts].sort((a, b) => b[1] - a[1]).slice(0, 6).map(([k, n]) => `${n} × ${k}`)
    },
    reset: async () => {
      if (LOG_DIR != null) {
        mkdirSync(LOG_DIR, { recursive: true })
        for (const [i, p] of procs.entries()) writeFileSync(join(LOG_DIR, `${Date.now()}-${i}.log`), p.stdout() + '\n----\n' + p.stderr())
      }
      await Promise.all(procs.map(async p => { await p.stop(5_000) }))
      procs = []
      fetchers = []
    }
  }
}
