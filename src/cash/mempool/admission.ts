/**
 * The graph-facing steps of admitting a transaction: reading the chain coins its inputs
 * spend (async, before the checks), resolving every input to a chain coin or a mempool
 * parent's output (first seen wins on a conflict), and choosing what to evict to make room.
 * @module
 */
import { isUnspendable } from '../consensus/check-tx.ts'
import type { Coin } from '../consensus/coins.ts'
import { SEQUENCE_LOCKTIME_DISABLE_FLAG, SEQUENCE_LOCKTIME_TYPE_FLAG } from '../consensus/context.ts'
import { VerifyError } from '../consensus/verify-error.ts'
import { hashToHex } from '../primitives/hash.ts'
import type { OutPoint, Transaction } from '../primitives/tx.ts'
import type { MempoolEntry } from './policy.ts'
import { evictionScore, hexKey, outKey, topoCompare } from './pool.ts'
import type { PoolNode, TxGraph } from './pool.ts'

/** Marks an input whose parent was in the mempool when the coins were read. */
export const IN_POOL: unique symbol = Symbol('in the mempool')

/** What {@link readCoins} found. */
export interface ReadCoins {
  /** Per input: the chain's coin, IN_POOL, or undefined (missing or spent). */
  coins: Array<Coin | typeof IN_POOL | undefined>
  /** Median time past by height, for the BIP68 time locks of chain coins. */
  mtps: Map<number, number>
}

/** The chain reads {@link readCoins} needs. */
export interface CoinSource {
  /** The coins at `outpoints`, in order, undefined where there is none. */
  getCoins (outpoints: readonly OutPoint[]): Promise<Array<Coin | undefined>>
  getEntryByHeight (height: number): Promise<{ medianTimePast: number } | undefined>
}

/**
 * Reads from the chain the coins of the inputs whose parent is not in the mempool, and the
 * median time past of the blocks BIP68 time locks on them count from.
 */
export async function readCoins (tx: Transaction, graph: TxGraph, chain: CoinSource): Promise<ReadCoins> {
  const coins: ReadCoins['coins'] = tx.inputs.map((input) => graph.get(hexKey(input.prevout.txid)) !== undefined ? IN_POOL : undefined)
  // one multi-get: a read per input would cost this thread ~50 µs each
  const fromChain = tx.inputs.flatMap((input, i) => coins[i] === IN_POOL ? [] : [{ i, prevout: input.prevout }])
  if (fromChain.length > 0) {
    const found = await chain.getCoins(fromChain.map((r) => r.prevout))
    fromChain.forEach((r, k) => { coins[r.i] = found[k] })
  }
  const mtps = new Map<number, number>()
  if ((tx.version >>> 0) >= 2) {
    for (const [i, input] of tx.inputs.entries()) {
      const coin = coins[i]
      if (coin === undefined || coin === IN_POOL) continue
      if ((input.sequence & SEQUENCE_LOCKTIME_DISABLE_FLAG) !== 0 || (input.sequence & SEQUENCE_LOCKTIME_TYPE_FLAG) === 0) continue
      const h = Math.max(coin.height - 1, 0)
      const entry = mtps.has(h) ? undefined : await chain.getEntryByHeight(h)
      if (entry !== undefined) mtps.set(h, entry.medianTimePast)
    }
  }
  return { coins, mtps }
}

/** Inputs resolved to coins, and the mempool parents among them. */
export interface ResolvedInputs {
  coins: Coin[]
  parents: Set<PoolNode>
}

/**
 * Resolves every input, now, against the graph and the coins read before: a mempool
 * parent's output (height `height`), else the chain coin. 'missing' when some input is
 * nowhere; 'retry' when the read is stale: a parent left the mempool or a chain event touched
 * the coin (`touched`) since (with `last`, those count as missing instead).
 *
 * @throws VerifyError `txn-mempool-conflict` (0) for an outpoint a mempool entry spends
 *   (first seen wins); `bad-txns-inputs-missingorspent` (0) for an output a mempool parent
 *   does not have or that is OP_RETURN
 */
export function resolveInputs (tx: Transaction, graph: TxGraph, read: ReadCoins, touched: ReadonlySet<string>, height: number, last: boolean): ResolvedInputs | 'missing' | 'retry' {
  const coins: Coin[] = []
  const parents = new Set<PoolNode>()
  let missing = false
  let retry = false
  tx.inputs.forEach((input, i) => {
    const key = outKey(input.prevout)
    const spender = graph.spends.get(key)
    if (spender !== undefined) throw new VerifyError('tx', 'txn-mempool-conflict', 0, `input ${i} is spent by ${hashToHex(spender.entry.txid)}`)
    const parent = graph.get(hexKey(input.prevout.txid))
    if (parent !== undefined) {
      const out = parent.entry.tx.outputs[input.prevout.index]
      if (out === undefined || isUnspendable(out.script)) throw new VerifyError('tx', 'bad-txns-inputs-missingorspent', 0, `input ${i}: no such output`)
      coins.push({ amount: out.amount, script: out.script, height, coinbase: false })
      parents.add(parent)
      return
    }
    const coin = read.coins[i]
    if (coin === IN_POOL || touched.has(key)) {
      if (last) missing = true
      else retry = true
    } else if (coin === undefined) {
      missing = true
    } else {
      coins.push(coin)
    }
  })
  if (retry) return 'retry'
  return missing ? 'missing' : { coins, parents }
}

/**
 * The entries to evict so that `entry` fits within `maxBytes`: lowest {@link evictionScore}
 * first, each with its descendants, never an ancestor of `entry` (its child may be paying for
 * it). Children first, ready for removal one by one.
 *
 * @throws VerifyError `mempool full` (0) when `entry` would be the cheapest one there
 */
export function planEviction (graph: TxGraph, entry: MempoolEntry, ancestors: ReadonlySet<PoolNode>, maxBytes: number): PoolNode[] {
  const need = graph.bytes + entry.bytes - maxBytes
  if (need <= 0) return []
  // Only entries paying less than the newcomer can make room: rank just those, so a flood at
  // one fee rate into a full mempool costs one pass, not a sort of every entry per add.
  const ranked: Array<{ n: PoolNode, score: number }> = []
  for (const n of graph.nodes.values()) {
    if (ancestors.has(n)) continue
    const score = evictionScore(n)
    if (score < entry.feeRate) ranked.push({ n, score })
  }
  ranked.sort((a, b) => a.score - b.score || b.n.seq - a.n.seq)
  const out = new Set<PoolNode>()
  let freed = 0
  for (const { n, score } of ranked) {
    // ties go to what was there first
    if (freed >= need || score >= entry.feeRate) break
    if (out.has(n)) continue
    for (const d of [n, ...graph.descendantsOf(n)]) {
      if (out.has(d)) continue
      out.add(d)
      freed += d.entry.bytes
    }
  }
  if (freed < need) throw new VerifyError('tx', 'mempool full', 0, `fee rate ${entry.feeRate.toFixed(2)} is not above the cheapest entries'`)
  return [...out].sort(topoCompare).reverse()
}
