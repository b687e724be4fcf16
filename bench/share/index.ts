/**
 * `npm run bench:share`: how fast peerd moves a file, next to what it is built on and what it
 * replaces, all on loopback in one run:
 *
 * - (a) a raw libp2p stream (TCP + Noise + Yamux) between two processes, with peerd's transport
 *   stack (src/net/transport.ts);
 * - (a-disk) the same, the receiver writing what it reads to a file (the least a download costs);
 * - (a0) the same with stock js-libp2p: `noise()` and `yamux()` defaults, no V8 heap setting;
 * - (b) `peerd get` of the file from one peerd daemon;
 * - (c) Helia fetching the same file over Bitswap, both ends with in-memory blockstores;
 * - (c-fs) the same, the fetching Helia keeping its blocks on disk (blockstore-fs);
 * - (d) `peerd get` from four daemons at once.
 *
 * Prints b/a, b/c and d/b (ratios of rates) and exits non-zero when b < 0.6·a or b < 4·c; also
 * b/a0 and b/c-fs against the same targets, for information. `--skip-helia` skips c and c-fs.
 *
 * ```
 * npm run bench:share -- [--size MiB] [--runs N] [--json] [--skip-helia]
 * ```
 */
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { writeRandomFile } from './files.ts'
import { Harness } from './harness.ts'
import { machineInfo } from './machine.ts'
import { formatReport, passes, ratios, summarise } from './report.ts'
import type { ScenarioResult } from './report.ts'
import { heliaBitswap, onTmpfs, peerdGet, rawStream, shareOn, startDaemon, startHeliaServer, stopDaemon } from './scenarios.ts'
import type { Daemon, Input } from './scenarios.ts'

const USAGE = 'usage: node bench/share/index.ts [--size MiB (default 1024)] [--runs N (default 1)] [--json] [--skip-helia]'
const MULTI_PEERS = 4

/** Bad command-line arguments: printed without a stack trace. */
class UsageError extends Error {
  constructor (message: string) {
    super(`${message}\n${USAGE}`)
    this.name = 'UsageError'
  }
}

function positiveInt (value: string | undefined, fallback: number, name: string): number {
  if (value == null) return fallback
  const n = Number(value)
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`--${name} must be a positive integer, not "${value}"`)
  return n
}

function parseOptions (): { sizeMiB: number, runs: number, json: boolean, skipHelia: boolean, help: boolean } {
  let values
  try {
    values = parseArgs({
      options: {
        size: { type: 'string' },
        runs: { type: 'string' },
        json: { type: 'boolean', default: false },
        'skip-helia': { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false }
      }
    }).values
  } catch (err) {
    throw new UsageError((err as Error).message)
  }
  return {
    sizeMiB: positiveInt(values.size, 1024, 'size'),
    runs: positiveInt(values.runs, 1, 'runs'),
    json: values.json,
    skipHelia: values['skip-helia'],
    help: values.help
  }
}

function log (s: string): void {
  process.stderr.write(`${s}\n`)
}

async function main (h: Harness): Promise<number> {
  const { sizeMiB, runs, json, skipHelia, help } = parseOptions()
  if (help) { console.log(USAGE); return 0 }
  const machine = machineInfo()
  log(`bench:share: ${sizeMiB} MiB, ${runs} run(s) per scenario; ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGiB} GiB, Node.js ${machine.node}`)

  const dir = await h.tempDir('peerd-bench-input-')
  const path = join(dir, 'random.bin')
  let t0 = performance.now()
  const bytes = sizeMiB * 1024 * 1024
  const input: Input = { path, bytes, sha256: await writeRandomFile(path, bytes) }
  log(`wrote ${sizeMiB} MiB of random bytes in ${((performance.now() - t0) / 1000).toFixed(1)} s (sha256 ${input.sha256.slice(0, 16)}…)`)
  const importTimeoutMs = 600_000 + bytes / 1024

  const results: ScenarioResult[] = []
  log('(a) raw libp2p stream, peerd\'s transport stack')
  results.push(summarise('a', 'raw libp2p stream (TCP+Noise+Yamux)', 'receiver\'s timer, after the dial', await rawStream(h, input, runs, log),
    'peerd\'s Noise and Yamux (src/net/transport.ts), V8 heap flag'))
  log('(a-disk) raw libp2p stream written to a file, peerd\'s transport stack')
  const rawDisk = await onTmpfs(dir) ? 'tmpfs, so in RAM' : 'disk'
  results.push(summarise('a-disk', 'raw stream, written to a file', 'receiver\'s timer, after the dial, to the file closed', await rawStream(h, input, runs, log, false, true),
    `as (a), the receiver writing each piece at its offset to a fresh file on ${rawDisk}`))
  log('(a0) raw libp2p stream, stock js-libp2p')
  results.push(summarise('a0', 'stock js-libp2p stream (TCP+Noise+Yamux)', 'receiver\'s timer, after the dial', await rawStream(h, input, runs, log, true),
    'noise() and yamux() defaults, no heap flag'))

  log('(b) peerd get from 1 peer')
  const servers: Daemon[] = [await startDaemon(h, 'server1')]
  t0 = performance.now()
  const { cid } = await shareOn(h, servers[0] as Daemon, input, importTimeoutMs)
  log(`  peerd shared the file in ${((performance.now() - t0) / 1000).toFixed(1)} s: ${cid}`)
  results.push(summarise('b', 'peerd get, 1 peer', 'wall time of the `peerd get` process',
    await peerdGet(h, input, cid, servers, runs, log, 'peerd 1 peer')))

  if (!skipHelia) {
    log('(c) Helia Bitswap')
    const server = await startHeliaServer(h, input, log)
    try {
      const sameCid = server.cid === cid
      if (!sameCid) log(`  warning: Helia's CID ${server.cid} differs from peerd's ${cid}`)
      const cidNote = sameCid ? 'same CID as peerd' : 'DIFFERENT CID'
      results.push(summarise('c', 'Helia unixfs.cat over Bitswap', 'receiver\'s timer, after the dial',
        await heliaBitswap(h, server, input, runs, log), `${server.blockstore} blockstores, ${cidNote}`))
      log('(c-fs) Helia Bitswap, fetcher keeping its blocks on disk')
      const disk = await onTmpfs(dir) ? 'tmpfs, so in RAM' : 'disk'
      results.push(summarise('c-fs', 'Helia over Bitswap, blocks on disk', 'receiver\'s timer, after the dial',
        await heliaBitswap(h, server, input, runs, log, true),
        `fetcher: FsBlockstore in a fresh dir on ${disk}; server: ${server.blockstore}; ${cidNote}`))
    } finally {
      await server.proc.stop()
    }
  }

  log(`(d) peerd get from ${MULTI_PEERS} peers`)
  const more = await Promise.all(Array.from({ length: MULTI_PEERS - 1 }, async (_, i) => await startDaemon(h, `server${i + 2}`)))
  servers.push(...more)
  t0 = performance.now()
  const cids = await Promise.all(more.map(async d => (await shareOn(h, d, input, importTimeoutMs)).cid))
  if (cids.some(c => c !== cid)) throw new Error(`the peers imported the file under different CIDs: ${[cid, ...cids].join(', ')}`)
  log(`  ${MULTI_PEERS - 1} more peers shared the file in ${((performance.now() - t0) / 1000).toFixed(1)} s`)
  results.push(summarise('d', `peerd get, ${MULTI_PEERS} peers`, 'wall time of the `peerd get` process',
    await peerdGet(h, input, cid, servers, runs, log, `peerd ${MULTI_PEERS} peers`)))
  await Promise.all(servers.map(stopDaemon))

  const rs = ratios(Object.fromEntries(results.map(r => [r.key, r])))
  console.log(['', ...formatReport(machine, bytes, runs, results, rs)].join('\n'))
  const busy = results.filter(r => (r.background ?? 0) > 0.2)
  if (busy.length > 0) {
    console.log(`\nwarning: other processes used CPU during ${busy.map(r => r.key).join(', ')}; those figures are skewed (run again on a quiet machine)`)
  }
  const pass = passes(rs)
  if (json) {
    console.log(JSON.stringify({ machine, bytes, runs, cid, scenarios: results, ratios: rs, pass }))
  }
  return pass ? 0 : 1
}

const harness = new Harness()
harness.exitOnSignals()
let code: number
try {
  code = await main(harness)
} catch (err) {
  if (err instanceof UsageError) log(err.message)
  else if (!harness.interrupted) log(`bench:share failed: ${(err as Error).stack ?? String(err)}`)
  code = 2
} finally {
  await harness.cleanup()
}
process.exit(code)
