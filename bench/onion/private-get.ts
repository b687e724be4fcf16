/**
 * `node bench/onion/private-get.ts`: the price of `peerd get --private` (issue 17, point 7) — a
 * private get's rate as a share of a direct get's, on the same nodes and links. Relays, providers
 * that all share one random file, and a downloader run as `createNode` nodes on loopback in this
 * process; the downloader fetches the file directly and privately in turn (dropping it between
 * runs with unshare, gc and deleting the output), and the bench prints each run's MiB/s, the
 * medians and their ratio (the target: ≥ 0.5).
 *
 * One process: every hop's crypto and every node's event loop share one thread, as on a small
 * machine running a whole network; a private get does three layers of AES and SHA per cell that a
 * direct one does not, so the ratio is a lower bound of what separate machines would see.
 *
 * Options: `--mib N` (file size, default 64), `--providers N` (default 4), `--relays N` (default
 * 5), `--runs N` (each kind, default 3).
 * @module
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { CID } from 'multiformats/cid'
import { createNode } from '../../src/node/node.ts'
import type { NodeOptions, PeerdNode } from '../../src/node/node.ts'
import { tuneHeapForTransfers } from '../../src/net/transport.ts'
import { sha256File, writeRandomFile } from '../../test/utils/share.ts'
import { waitFor } from '../../test/utils/index.ts'

const MiB = 1024 * 1024

function median (xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 === 1 ? s[m] as number : ((s[m - 1] as number) + (s[m] as number)) / 2
}

async function main (): Promise<void> {
  const { values } = parseArgs({
    options: {
      mib: { type: 'string', default: '64' },
      providers: { type: 'string', default: '4' },
      relays: { type: 'string', default: '5' },
      runs: { type: 'string', default: '3' }
    }
  })
  const mib = Number(values.mib)
  const nProviders = Number(values.providers)
  const nRelays = Math.max(3, Number(values.relays))
  const runs = Number(values.runs)
  tuneHeapForTransfers()
  const root = await mkdtemp(join(tmpdir(), 'peerd-bench-private-get-'))
  const nodes: PeerdNode[] = []
  const node = async (options: Partial<NodeOptions>): Promise<PeerdNode> => {
    const n = await createNode({ dataDir: await mkdtemp(join(root, 'node-')), network: 'regtest', mdns: false, listen: ['/ip4/127.0.0.1/tcp/0'], logLevel: 'silent', onionRelayRate: 1_000_000_000, ...options })
    nodes.push(n)
    return n
  }
  const cleanup = async (): Promise<void> => {
    for (const n of nodes.splice(0).reverse()) await n.stop().catch(() => {})
    await rm(root, { recursive: true, force: true })
  }
  // bench:onion stops it with SIGTERM when interrupted: the nodes and the temporary dir go too
  process.once('SIGTERM', () => { void cleanup().finally(() => process.exit(143)) })
  try {
    const first = await node({})
    const boot = first.addresses()
    const relays = [first]
    for (let i = 1; i < nRelays; i++) relays.push(await node({ bootstrap: boot }))
    const providers: PeerdNode[] = []
    for (let i = 0; i < nProviders; i++) providers.push(await node({ bootstrap: boot, onionRelay: false }))
    const file = join(root, 'file.bin')
    const digest = await writeRandomFile(file, mib * MiB)
    const cids = await Promise.all(providers.map(async p => (await p.share.share(file)).cid))
    const cid = cids[0] as string
    if (cids.some(c => c !== cid)) throw new Error('providers disagree on the CID')
    const downloader = await node({ bootstrap: boot, onionRelay: false, reshare: false })
    downloader.share.attachOnion(downloader.onion)
    await waitFor(() => downloader.onion.status().relaysKnown >= nRelays, { timeoutMs: 60_000, what: `the downloader to learn ${nRelays} relays` })
    // every provider record is in the DHT before the first get
    await waitFor(async () => {
      const ids = new Set<string>()
      for await (const e of first.libp2p.services.dht.findProviders(CID.parse(cid), { signal: AbortSignal.timeout(10_000) })) {
        if (e.name === 'PROVIDER') for (const p of e.providers) ids.add(p.id.toString())
      }
      return providers.every(p => ids.has(p.peerId))
    }, { timeoutMs: 60_000, intervalMs: 1000, what: 'every provider in the DHT' })
    process.stdout.write(`private get vs direct get: ${mib} MiB from ${nProviders} providers, ${nRelays} relays, ${runs} runs each, one process\n`)
    const rates: Record<'direct' | 'private', number[]> = { direct: [], private: [] }
    for (let run = 0; run < runs; run++) {
      // alternate which goes first, so neither always meets a warmer machine
      const order: Array<'direct' | 'private'> = run % 2 === 0 ? ['direct', 'private'] : ['private', 'direct']
      for (const kind of order) {
        const output = join(root, `out-${kind}-${run}`)
        const started = performance.now()
        const r = await downloader.share.get(cid, { output, private: kind === 'private', timeoutSeconds: 120 })
        const seconds = (performance.now() - started) / 1000
        if (await sha256File(output) !== digest) throw new Error(`${kind} get ${run}: wrong bytes`)
        const rate = mib / seconds
        rates[kind].push(rate)
        process.stdout.write(`  run ${run + 1} ${kind.padEnd(7)} ${rate.toFixed(1).padStart(6)} MiB/s  ${seconds.toFixed(2)} s  from ${r.peers} providers\n`)
        await downloader.share.unshare(cid)
        await downloader.share.gc()
        await rm(output, { force: true })
        if (kind === 'private') downloader.onion.newCircuits()
      }
    }
    const d = median(rates.direct)
    const p = median(rates.private)
    process.stdout.write(`median direct ${d.toFixed(1)} MiB/s, private ${p.toFixed(1)} MiB/s, private/direct ${(p / d).toFixed(2)} (target ≥ 0.50)\n`)
  } finally {
    await cleanup()
  }
}

await main()
