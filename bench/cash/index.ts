/**
 * `npm run bench:cash`: how fast the ledger checks signatures, validates blocks, syncs and
 * spreads blocks, in one run on regtest:
 *
 * - (a) BIP340 verifications per second of @noble/curves alone on one core (and, for
 *   information, of tiny-secp256k1, the verifier the chain uses);
 * - (b) block validation through the real `Chain` (LevelDB, signature workers on every core)
 *   on full blocks of 1-input 2-output P2TR key-path transactions, in transactions per second;
 * - (c) a node catching up full blocks from one peer (blocks/s, tx/s);
 * - (d) the time a block takes to reach all of 20 nodes joined in a sparse random graph.
 *
 * Prints b/a and exits 1 when b < 1.5 × a, 0 when it passes, and 2 when a measurement failed
 * (the others still run and are printed).
 *
 * ```
 * npm run bench:cash -- [--quick] [--json] [--only abcd] [--verify-seconds S] [--blocks N]
 *   [--txs-per-block T] [--sync-blocks N] [--sync-txs T] [--nodes N] [--prop-blocks N] [--loopback-penalty]
 * ```
 */
import { parseArgs } from 'node:util'
import { chainParams } from '../../src/cash/consensus/params.ts'
import { machineInfo } from '../share/machine.ts'
import { BENCH_KEYS, fullBlockTxs, prepareChain } from './blocks.ts'
import type { PreparedChain } from './blocks.ts'
import { measureVerify } from './crypto.ts'
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
  --only LETTERS       run only these measurements, e.g. "ab" (default abcd)
  --verify-seconds S   (a) seconds per library (default 3; quick 0.5)
  --blocks N           (b) blocks timed (default 10; quick 2)
  --txs-per-block T    (b) transactions per block (default: as many as the weight limit allows; quick 500)
  --sync-blocks N      (c) full blocks the syncing node catches up (default 30; quick 3)
  --sync-txs T         (c) transactions per block (default: as (b); quick 300)
  --nodes N            (d) nodes (default 20; quick 6)
  --prop-blocks N      (d) blocks mined (default 10; quick 3)
  --loopback-penalty   (d) leave gossipsub's IP colocation penalty on for 127.0.0.1 (by default the
                       nodes score each other as if on distinct hosts; see bench/cash/propagation.ts)`

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
        'loopback-penalty': { type: 'boolean', default: false }
      }
    }).values
  } catch (err) {
    throw new UsageError((err as Error).message)
  }
  const q = values.quick
  const only = new Set((values.only ?? 'abcd').toLowerCase().replace(/[^a-z]/g, ''))
  for (const x of only) if (!'abcd'.includes(x)) throw new UsageError(`--only takes letters of abcd, not "${values.only}"`)
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
    loopbackPenalty: values['loopback-penalty']
  }
  for (const [name, t] of [['txs-per-block', o.txsPerBlock], ['sync-txs', o.syncTxs]] as const) {
    if (t > fullTxs) throw new UsageError(`--${name} ${t} is more than a block holds (${fullTxs})`)
  }
  if (o.nodes < 2) throw new UsageError('--nodes must be at least 2')
  return o
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
  if (chains.size > 0) {
    const signer = new Signer(BENCH_KEYS.map(k => k.secret))
    try {
      for (const [txsPerBlock, { blocks, uses }] of chains) {
        log(`preparing ${blocks} blocks of ${txsPerBlock} transactions for ${uses} (signing on ${machine.cores} threads; not timed)`)
        const p = await prepareChain(params, { blocks, txsPerBlock }, signer, log)
        prepared.set(txsPerBlock, p)
        results.prepared.push(preparedSummary(uses, p))
      }
    } finally {
      await signer.close()
    }
  }

  // A failed measurement is reported and the others still run.
  const attempt = async (key: 'b' | 'c' | 'd', run: () => Promise<void>): Promise<void> => {
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

  const rs = ratios(results)
  const table = ['', ...formatReport(machine, results, rs)].join('\n')
  if (opts.json) {
    log(table)
    console.log(JSON.stringify({ machine, options: { ...opts, only: [...opts.only].join('') }, ...results, ratios: rs, pass: rs.every(r => r.pass !== false) }))
  } else {
    console.log(table)
    const busy = (['a', 'b', 'c', 'd'] as const).filter(k => {
      const v = results[k]
      const bg = v == null ? undefined : 'noble' in v ? Math.max(v.noble.background ?? 0, v.tiny.background ?? 0) : v.background
      return (bg ?? 0) > 0.2
    })
    if (busy.length > 0) console.log(`\nwarning: other processes used CPU during ${busy.join(', ')}; those figures are skewed (run again on a quiet machine)`)
  }
  if (results.errors != null) return 2
  return rs.every(r => r.pass !== false) ? 0 : 1
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
