/**
 * The public types of {@link Chain}: its options, events, and what its methods return.
 * @module
 */
import type { Block } from '../primitives/block.ts'
import type { Transaction } from '../primitives/tx.ts'
import type { ChainParams } from '../consensus/params.ts'
import type { Logger } from '../../utils/logger.ts'
import type { ChainLevel } from './chain-db.ts'
import type { ChainEntry } from './block-index.ts'
import type { SigPool } from './sig-pool.ts'

/**
 * What {@link Chain.addBlock} did with a block; 'ignored': unsolicited with less work than the
 * tip (or than `params.minimumChainWork`), not stored.
 */
export type AddResult = 'connected' | 'reorganized' | 'side' | 'orphan' | 'duplicate' | 'ignored'

/** Options of {@link Chain.addBlock}. */
export interface AddBlockOptions {
  /**
   * The block's serialization as received (`encodeBlock(block)`), stored as is to save
   * re-encoding; bytes whose header or length do not match the block are ignored.
   */
  bytes?: Uint8Array
  /** Who sent it, for the logs. */
  peer?: string
  /**
   * A peer pushed it without being asked (gossip, an orphan it completed): stored only when its
   * chain has at least the tip's work and the network's minimum (Bitcoin Core's AcceptBlock
   * without `fRequested`). Blocks this node asked for after checking their headers, and its
   * own, leave this unset.
   */
  unsolicited?: boolean
}

/** What a miner needs to build on the tip. */
export interface BlockContext {
  prevHash: Uint8Array
  height: number
  bits: number
  medianTimePast: number
  /** Earliest valid time of the next block: `medianTimePast + 1`. */
  minTime: number
}

/** A main-chain transaction found by the tx index. */
export interface TxLookup {
  tx: Transaction
  blockHash: Uint8Array
  height: number
  /** Position in the block (0 = coinbase). */
  position: number
}

/** Events of a {@link Chain}. */
export interface ChainEvents {
  /** A block was connected to the best chain (in order, also during reorganisations). */
  block: [entry: ChainEntry, block: Block]
  /** The tip block was disconnected (a reorganisation). */
  disconnect: [entry: ChainEntry, block: Block]
  /** The tip changed; sent once per `addBlock` that changed it. */
  tip: [entry: ChainEntry]
}

/** Options of {@link Chain}. */
export interface ChainOptions {
  params: ChainParams
  /** Directory of the LevelDB (opened and closed by the chain). */
  location?: string
  /** Or a LevelDB with 'view' key and value encodings, which the caller closes. */
  db?: ChainLevel
  logger?: Logger
  /**
   * Signature worker threads (default: available cores; 0 verifies on the calling thread), or a
   * pool to share, which the caller closes.
   */
  workers?: number | SigPool
  /** The clock for `time-too-new`, Unix seconds (default: the system clock). */
  now?: () => number
}
