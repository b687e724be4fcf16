/**
 * What the parts of the chain share: the store, the block index, the signature workers, the
 * remembered invalid hashes and the chain's events. {@link Chain} owns it and lends it to
 * `accept.ts`, `reorg.ts`, `prune.ts` and `queries.ts` only while it holds its lock (queries
 * that read the index alone need none: it changes only after a batch is written).
 * @module
 */
import type { Block } from '../primitives/block.ts'
import { decodeBlock } from '../primitives/block.ts'
import { hashToHex } from '../primitives/hash.ts'
import type { ChainParams } from '../consensus/params.ts'
import { VerifyError } from '../consensus/verify-error.ts'
import type { Logger } from '../../utils/logger.ts'
import type { ChainDb } from './chain-db.ts'
import type { BlockIndex, IndexEntry } from './block-index.ts'
import { ChainDbError } from './errors.ts'
import type { SigPool } from './sig-pool.ts'
import type { ChainEvents } from './types.ts'

/** The chain's state, as its parts see it. */
export interface ChainState {
  readonly params: ChainParams
  readonly db: ChainDb
  readonly index: BlockIndex
  readonly pool: SigPool
  readonly log: Logger
  /** The clock for `time-too-new`, Unix seconds. */
  readonly now: () => number
  readonly invalid: InvalidHashes
  /** The best block. @throws ChainClosedError when the chain is not open */
  tip: () => IndexEntry
  /** Emits a chain event; a listener's exception is logged, so it cannot break a sequence of batches. */
  emit: <K extends keyof ChainEvents>(event: K, ...args: ChainEvents[K]) => void
}

/**
 * Hashes (hex) of blocks known invalid that have no entry (rejected before storing), the
 * oldest forgotten past `max` so a flood of junk cannot grow it.
 */
export class InvalidHashes {
  private readonly keys = new Set<string>()
  private readonly max: number

  constructor (max = 10_000) {
    this.max = max
  }

  has (key: string): boolean { return this.keys.has(key) }

  add (key: string): void {
    if (this.keys.size >= this.max) this.keys.delete(this.keys.values().next().value as string)
    this.keys.add(key)
  }
}

/** A stored block, decoded. @throws ChainDbError when it is not stored */
export async function readBlock (s: ChainState, hash: Uint8Array): Promise<Block> {
  const bytes = await s.db.blockBytes(hash)
  if (bytes === undefined) throw new ChainDbError(`block ${hashToHex(hash)} is not stored`)
  return decodeBlock(bytes)
}

/** @throws VerifyError 'bad-fork-prior-to-checkpoint' (score 0) for a fork deeper than `maxReorgDepth` */
export function checkReorgDepth (params: ChainParams, depth: number): void {
  if (depth > params.maxReorgDepth) {
    throw new VerifyError('block', 'bad-fork-prior-to-checkpoint', 0,
      `forks ${depth} blocks below the tip, more than the ${params.maxReorgDepth} this node follows`)
  }
}
