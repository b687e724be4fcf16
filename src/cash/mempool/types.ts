/**
 * Public types of the mempool: its options, what `add` answers, its events and `info()`.
 * @module
 */
import type { Chain, SigPool } from '../chain/index.ts'
import type { ChainParams } from '../consensus/params.ts'
import type { Logger } from '../../utils/logger.ts'
import type { SigCheckBudgetInit } from './budget.ts'
import type { OrphanLimits } from './orphans.ts'
import type { FeeRateBucket, MempoolEntry, RemovalReason, TxOrigin } from './policy.ts'

/** What the mempool needs of the chain. */
export type MempoolChain = Pick<Chain, 'tip' | 'getCoins' | 'getTx' | 'getEntryByHeight' | 'on' | 'off'>

/** Options of {@link Mempool}. */
export interface MempoolInit {
  chain: MempoolChain
  params: ChainParams
  log: Logger
  /** Memory cap of the entries (default 64 MiB); the lowest fee rates go first past it. */
  maxBytes?: number
  /** Minimum relay fee rate, base units per vbyte (default 1). */
  minFeeRate?: number
  /** Most ancestors and descendants (each counting itself) of an entry (default 25). */
  maxChain?: number
  /** Heaviest transaction accepted, weight units (default 100,000): `tx-size` above it. */
  maxTxWeight?: number
  /**
   * Worker threads that verify signatures (the chain's, shared), so a heavy transaction does
   * not hold this thread; without it, signatures are verified on this thread.
   */
  sigPool?: Pick<SigPool, 'verify'>
  /**
   * Signature checks peers' transactions may cost (see {@link SigCheckBudget} for the
   * defaults), charged to the sender just before they are verified (an orphan's when its
   * parent arrives); over budget, the transaction is refused unverified (`sigcheck-budget`, 0).
   */
  sigBudget?: SigCheckBudgetInit
  /** Seconds an entry may wait for a block before it is dropped (default two weeks). */
  expiry?: number
  orphans?: OrphanLimits
  /** The clock, Unix seconds (default: the system clock). */
  now?: () => number
}

/** What {@link Mempool.add} did with a transaction. */
export type AddTxResult = 'accepted' | 'duplicate' | 'orphan'

/** Options of {@link Mempool.add}. */
export interface AddTxOptions {
  /** The peer that sent it (orphan limits are per peer); none for a local transaction. */
  peer?: string
}

/** Events of a {@link Mempool}. */
export interface MempoolEvents {
  /** An entry was accepted. */
  tx: [entry: MempoolEntry, origin: TxOrigin]
  /** An entry left the mempool. */
  removed: [entry: MempoolEntry, reason: RemovalReason]
}

/** {@link Mempool.info}: for status output and the dashboard. */
export interface MempoolInfo {
  /** Transactions. */
  size: number
  /** Memory estimate of the entries. */
  bytes: number
  maxBytes: number
  /** Sum of the entries' virtual sizes. */
  vsize: number
  fees: bigint
  minFeeRate: number
  orphans: number
  histogram: FeeRateBucket[]
}
