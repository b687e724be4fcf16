/**
 * Mempool policy: the public entry type, default limits, the memory estimate of an entry and
 * the fee-rate histogram. Nothing here is consensus: a block may hold what the mempool refuses.
 * @module
 */
import type { Transaction } from '../primitives/tx.ts'

/** A transaction in the mempool with what it costs and pays. */
export interface MempoolEntry {
  readonly tx: Transaction
  /** Internal byte order. */
  readonly txid: Uint8Array
  readonly wtxid: Uint8Array
  /** Inputs minus outputs, base units. */
  readonly fee: bigint
  /** BIP141 virtual size (weight / 4, rounded up). */
  readonly vsize: number
  /** BIP141 weight. */
  readonly weight: number
  /** fee / vsize, base units per vbyte. */
  readonly feeRate: number
  /** When it was accepted, Unix seconds. */
  readonly time: number
  /** Estimate of the memory the entry holds (see {@link entryMemory}). */
  readonly bytes: number
}

/** Why an entry left the mempool. */
export type RemovalReason = 'block' | 'conflict' | 'evicted' | 'reorg' | 'expired'

/**
 * Where an accepted transaction came from: `local` (added without a peer: wallet, API),
 * `peer`, `orphan` (held until its parent arrived) or `reorg` (a disconnected block's).
 */
export type TxOrigin = 'local' | 'peer' | 'orphan' | 'reorg'

/** Default memory cap: 64 MiB. */
export const DEFAULT_MAX_BYTES = 64 * 1024 * 1024
/** Default minimum relay fee rate: 1 base unit per vbyte. */
export const DEFAULT_MIN_FEE_RATE = 1
/**
 * Most in-mempool ancestors (itself included) a transaction may have, and most descendants
 * (itself included) any mempool transaction may get: Bitcoin Core's 25. Keeps every
 * package walk (ancestor fee rates, eviction, removal) small.
 */
export const DEFAULT_MAX_CHAIN = 25
/**
 * Heaviest transaction relayed: a quarter of Bitcoin Core's MAX_STANDARD_TX_WEIGHT (400,000).
 * It bounds what one transaction costs to check: at most 434 key-path inputs, ~85 ms of BIP340
 * verification on one core (bench:cash a′, ~5,200 a second), against ~1,700 inputs at Core's
 * limit. The wallet refuses payments that would need more inputs than fit.
 */
export const DEFAULT_MAX_TX_WEIGHT = 100_000
/** Entries older than this are dropped (seconds): two weeks, as Bitcoin Core's 336 hours. */
export const DEFAULT_EXPIRY = 14 * 24 * 60 * 60
/** Weight {@link Mempool.selectForBlock} leaves for the header, tx count and coinbase. */
export const COINBASE_RESERVE = 4000

/** Lower bounds of the fee-rate histogram buckets (base units per vbyte); the last is open. */
export const FEE_RATE_BUCKETS: readonly number[] = [1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144]

/** One bucket of the fee-rate histogram. */
export interface FeeRateBucket {
  /** Lower bound in base units per vbyte (the first bucket also holds anything below it). */
  from: number
  /** Upper bound (exclusive), or null for the last, open bucket. */
  to: number | null
  count: number
  vsize: number
  fees: bigint
}

/** Counts, virtual sizes and fees of `entries` per {@link FEE_RATE_BUCKETS} bucket. */
export function feeRateHistogram (entries: Iterable<MempoolEntry>): FeeRateBucket[] {
  const buckets: FeeRateBucket[] = FEE_RATE_BUCKETS.map((from, i) => ({ from, to: FEE_RATE_BUCKETS[i + 1] ?? null, count: 0, vsize: 0, fees: 0n }))
  for (const e of entries) {
    let i = buckets.length - 1
    while (i > 0 && e.feeRate < (buckets[i] as FeeRateBucket).from) i--
    const b = buckets[i] as FeeRateBucket
    b.count++
    b.vsize += e.vsize
    b.fees += e.fee
  }
  return buckets
}

/**
 * Heap footprint of an entry, fitted (within a few percent) to measurements in Node 24 of
 * decoded gossiped transactions from 1 to 20 inputs and 1 to 10 outputs: the message bytes
 * the decoded fields point into, an object and typed array per input, output, script and
 * witness item, the txid and wtxid, the graph node with its two sets, and the map entries that
 * index it (txid, one outpoint per input).
 */
export function entryMemory (tx: Transaction): number {
  let n = 1550
  for (const input of tx.inputs) {
    n += 720 + input.scriptSig.length
    for (const item of input.witness) n += 100 + item.length
  }
  for (const output of tx.outputs) n += 275 + output.script.length
  return n
}

/** The least fee a transaction of `vsize` must pay at `feeRate` base units per vbyte. */
export function minFee (vsize: number, feeRate: number): bigint {
  return BigInt(Math.ceil(vsize * feeRate))
}
