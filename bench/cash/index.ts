/**
 * `npm run bench:cash`: how fast the ledger checks signatures, validates blocks, syncs and
 * spreads blocks, in one run on regtest:
 *
 * - (a) BIP340 verifications per second of @noble/curves alone on one core (and, for
 *   information, of tiny-secp256k1, the verifier the chain uses);
 * - (b) block validation through the real `Chain` (LevelDB, signature workers on every core)
 *   on full blocks of 1-input 2-output P2TR key-path transactions, in transactions per second;
 * - (c) a node catching up full blocks from one peer (blocks/s, tx/s);
 * - (d) the time a block takes to reach all of 20 nodes joined in a sparse random graph;
 * - (e) the transactions per second a node's mempool accepts under a flood from several peers,
 *   with its memory capped, and with duplicates and invalid signatures in the flood.
 *
 * Prints b/a and exits 1 when b < 1.5 × a or when (e)'s mempool went above its cap, 0 when
 * both pass, and 2 when a measurement failed (the others still run and are printed).
 *
 * ```
 * npm run bench:cash -- [--quick] [--json] [--only abcde] [--verify-seconds S] [--blocks N]
 *   [--txs-per-block T] [--sync-blocks N] [--sync-txs T] [--nodes N] [--prop-blocks N] [--loopback-penalty]
 *   [--flood-peers P] [--flood-txs T] [--flood-cap MiB]
 * ```
 */
import { parseArgs } from 'node:util'
import { chainParams } from '../../src/cash/consensus/params.ts'
import { machineInfo } from '../share/machine.ts'
import { BENCH_KEYS, fullBlockTxs, prepareChain } from './blocks.ts'
import type { PreparedChain } from './blocks.ts'
import { measureVerify } from './crypto.ts'
import { measureFlood, prepareFlood } from './flood.ts'
import type { PreparedFlood } from './flood.ts'
import { measurePropagation } from './propagation.ts'
import { formatReport, preparedSummary, ratios } from './report.ts'
import type { CashResults } from './report.ts'
import { Scope } from './scope.ts'
import { Signer } from './signer.ts'
import { measureSync } from './sync.ts'
import { measureValidation } from './validate.ts'

const USAGE = `usage: node bench/cash/index.ts [options]
  --quick              small sizes for a smoke run (each size below can still be set)
  --json               print one JSON object on stdout (the table goes to stderr)
  --only LETTERS       run only these measurements, e.g. "ab" (default abcde)
  --verify-seconds S   (a) seconds per library (default 3; quick 0.5)
  --blocks N           (b) blocks timed (default 10; quick 2)
  --txs-per-block T    (b) transactions per block (default: as many as the weight limit allows; quick 500)
  --sync-blocks N      (c) full blocks the syncing node catches up (default 30; quick 3)
  --sync-txs T         (c) transactions per block (default: as (b); quick 300)
  --nodes N            (d) nodes (default 20; quick 6)
  --prop-blocks N      (d) blocks mined (default 10; quick 3)
  --loopback-penalty   (d) leave gossipsub's IP colocation penalty on for 127.0.0.1 (by default the
                       nodes score each other as if on distinct hosts; see bench/cash/propagation.ts)
  --flood-peers P      (e) peers flooding the target (default 4; quick 3)
  --flood-txs T        (e) transactions each peer sends a round (default 3000; quick 300)
  --flood-cap MiB      (e) maxBytes of the capped round's mempool (default 4; quick 0.5)`

/** Bad command-line arguments: printed without a stack trace. */
class UsageError extends Error {
  constructor (message: string) {
    super(`${message}\n${USAGE}`)
    this.name = 'UsageError'
  }
}

interface Options {
  quick: boolean
  json: boolean
  help: boolean
  only: Set<string>
  verifySeconds: number
  blocks: number
  txsPerBlock: number
  syncBlocks: number
  syncTxs: number
  nodes: number
  propBlocks: number
  loopbackPenalty: boolean
  floodPeers: number
  floodTxs: number
  floodCapBytes: number
}

function positive (value: string | undefined, fallback: number, name: string, integer = true): number {
  if (value == null) return fallback
  const n = Number(value)
  if (!(n > 0) || (integer && !Number.isInteger(n))) throw new UsageError(`--${name} must be a positive ${integer ? 'integer' : 'number'}, not "${value}"`)
  return n
}

function parseOptions (fullTxs: number): Options {
  let values
  try {
    values = parseArgs({
      options: {
        quick: { type: 'boolean', default: false },
        json: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
        only: { type: 'string' },
        'verify-seconds': { type: 'string' },
        blocks: { type: 'string' },
        'txs-per-block': { type: 'string' },
        'sync-blocks': { type: 'string' },
        'sync-txs': { type: 'string' },
        nodes: { type: 'string' },
        'prop-blocks': { type: 'string' },
        'loopback-penalty': { type: 'boolean', default: false },
        'flood-peers': { type: 'string' },
        'flood-txs': { type: 'string' },
        'flood-cap': { type: 'string' }
      }
    }).values
  } catch (err) {
    throw new UsageError((err as Error).message)
  }
  const q = values.quick
  const only = new Set((values.only ?? 'abcde').toLowerCase().replace(/[^a-z]/g, ''))
  for (const x of only) if (!'abcde'.includes(x)) throw new UsageError(`--only takes letters of abcde, not "${values.only}"`)
  const txsPerBlock = positive(values['txs-per-block'], q ? 500 : fullTxs, 'txs-per-block')
  const o: Options = {
    quick: q,
    json: values.json,
    help: values.help,
    only,
    verifySeconds: positive(values['verify-seconds'], q ? 0.5 : 3, 'verify-seconds', false),
    blocks: positive(values.blocks, q ? 2 : 10, 'blocks'),
    txsPerBlock,
    syncBlocks: positive(values['sync-blocks'], q ? 3 : 30, 'sync-blocks'),
    syncTxs: positive(values['sync-txs'], q ? 300 : txsPerBlock, 'sync-txs'),
    nodes: positive(values.nodes, q ? 6 : 20, 'nodes'),
    propBlocks: positive(values['prop-blocks'], q ? 3 : 10, 'prop-blocks'),
    loopbackPenalty: values['loopback-penalty'],
    floodPeers: positive(values['flood-peers'], q ? 3 : 4, 'flood-peers'),
    floodTxs: positive(values['flood-txs'], q ? 300 : 3000, 'flood-txs'),
    floodCapBytes: Math.round(positive(values['flood-cap'], q ? 0.5 : 4, 'flood-cap', false) * 2 ** 20)
  }
  for (const [name, t] of [['txs-per-block', o.txsPerBlock], ['sync-txs', o.syncTxs]] as const) {
    if (t > fullTxs) throw new UsageError(`--${name} ${t} is more than a block holds (${fullTxs})`)
  }
  if (o.nodes < 2) throw new UsageError('--nodes must be at least 2')
  if (o.floodPeers * o.floodTxs > 40_000) throw new UsageError('--flood-peers × --flood-txs must be at most 40000 (the fan-out funds coins of one coinbase)')
  return o
}

/** b/a met its target (when measured) and (e) kept every mempool within its cap. */
function passed (results: CashResults, rs: ReturnType<typeof ratios>): boolean {
  return rs.every(r => r.pass !== false) && results.e?.withinCap !== false
}

function log (s: string): void {
  process.stderr.write(`${s}\n`)
}

async function main (scope: Scope): Promise<number> {
  const params = chainParams('regtest')
  const opts = parseOptions(fullBlockTxs(params))
  if (opts.help) { console.log(USAGE); return 0 }
  const machine = machineInfo()
  log(`bench:cash: ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGiB} GiB, Node.js ${machine.node}, load average ${machine.load}`)
  const results: CashResults = { prepared: [] }

  if (opts.only.has('a')) {
    log(`(a) Schnorr verification on one core, ${opts.verifySeconds} s per library`)
    results.a = measureVerify(opts.verifySeconds)
  }

  // One prepared chain serves (b) and (c) when their blocks have the same size.
  const wantB = opts.only.has('b')
  const wantC = opts.only.has('c')
  const chains = new Map<number, { blocks: number, uses: string }>()
  if (wantB) chains.set(opts.txsPerBlock, { blocks: opts.blocks, uses: 'b' })
  if (wantC) {
    const same = chains.get(opts.syncTxs)
    if (same != null) chains.set(opts.syncTxs, { blocks: Math.max(same.blocks, opts.syncBlocks), uses: 'b and c' })
    else chains.set(opts.syncTxs, { blocks: opts.syncBlocks, uses: 'c' })
  }
  const prepared = new Map<number, PreparedChain>()
  const wantE = opts.only.has('e')
  let flood: PreparedFlood | undefined
  if (chains.size > 0 || wantE) {
    const signer = new Signer(BENCH_KEYS.map(k => k.secret))
    try {
      for (const [txsPerBlock, { blocks, uses }] of chains) {
        log(`preparing ${blocks} blocks of ${txsPerBlock} transactions for ${uses} (signing on ${machine.cores} threads; not timed)`)
        const p = await prepareChain(params, { blocks, txsPerBlock }, signer, log)
        prepared.set(txsPerBlock, p)
        results.prepared.push(preparedSummary(uses, p))
      }
      if (wantE) {
        log(`preparing ${opts.floodPeers} × ${opts.floodTxs} transactions for e (not timed)`)
        flood = await prepareFlood(params, opts.floodPeers, opts.floodTxs, signer, log)
        results.prepared.push({ for: 'e', blocks: flood.setup.length, txsPerBlock: 0, transactions: flood.txs.length, seconds: flood.seconds, signatures: flood.signatures, blockBytes: 0, blockWeight: 0 })
      }
    } finally {
      await signer.close()
    }
  }

  // A failed measurement is reported and the others still run.
  const attempt = async (key: 'b' | 'c' | 'd' | 'e', run: () => Promise<void>): Promise<void> => {
    try {
      await run()
    } catch (err) {
      if (scope.interrupted) throw err
      log(`(${key}) failed: ${(err as Error).stack ?? String(err)}`)
      results.errors = { ...results.errors, [key]: (err as Error).message }
    }
  }
  if (wantB) {
    log(`(b) Chain.addBlock of ${opts.blocks} blocks of ${opts.txsPerBlock} transactions`)
    const dir = await scope.tempDir('peerd-bench-cash-chain-')
    await attempt('b', async () => { results.b = await measureValidation(prepared.get(opts.txsPerBlock) as PreparedChain, opts.blocks, params, dir, log) })
  }
  if (wantC) {
    log(`(c) a node syncing ${opts.syncBlocks} blocks of ${opts.syncTxs} transactions from one peer`)
    await attempt('c', async () => { results.c = await measureSync(scope, prepared.get(opts.syncTxs) as PreparedChain, opts.syncBlocks, log) })
  }
  prepared.clear()
  if (opts.only.has('d')) {
    log(`(d) propagation of ${opts.propBlocks} blocks to ${opts.nodes} nodes`)
    await attempt('d', async () => { results.d = await measurePropagation(scope, opts.nodes, opts.propBlocks, { loopbackPenalty: opts.loopbackPenalty }, log) })
  }
  if (flood !== undefined) {
    log(`(e) mempool under a flood of ${opts.floodPeers} × ${opts.floodTxs} transactions; capped round at ${(opts.floodCapBytes / 2 ** 20).toFixed(2)} MiB`)
    const f = flood
    await attempt('e', async () => { results.e = await measureFlood(scope, f, { peers: opts.floodPeers, capBytes: opts.floodCapBytes }, log) })
  }

  const rs = ratios(results)
  const table = ['', ...formatReport(machine, results, rs)].join('\n')
  if (opts.json) {
    log(table)
    console.log(JSON.stringify({ machine, options: { ...opts, only: [...opts.only].join('') }, ...results, ratios: rs, pass: passed(results, rs) }))
  } else {
    console.log(table)
    const busy = (['a', 'b', 'c', 'd', 'e'] as const).filter(k => {
      const v = results[k]
      const bg = v == null ? undefined : 'noble' in v ? Math.max(v.noble.background ?? 0, v.tiny.background ?? 0) : 'rounds' in v ? Math.max(...v.rounds.map(r => r.background ?? 0)) : v.background
      return (bg ?? 0) > 0.2
    })
    if (busy.length > 0) console.log(`\nwarning: other processes used CPU during ${busy.join(', ')}; those figures are skewed (run again on a quiet machine)`)
  }
  if (results.errors != null) return 2
  return passed(results, rs) ? 0 : 1
}

const scope = new Scope()
scope.exitOnSignals()
let code: number
try {
  code = await main(scope)
} catch (err) {
  if (err instanceof UsageError) log(err.message)
  else if (!scope.interrupted) log(`bench:cash failed: ${(err as Error).stack ?? String(err)}`)
  code = 2
} finally {
  await scope.cleanup()
}
process.exit(code)
