/**
 * The chain state: block index, best chain, UTXO set and transaction index on LevelDB, and the
 * logic that extends it, follows the most-work branch and rolls back (see `index.ts` for use).
 *
 * Every mutation runs under one lock: the public method takes it and calls its unlocked twin
 * (`addBlock` → `acceptBlock` in `accept.ts`, which hands a branch with more work to `activate`
 * in `reorg.ts`, which prunes stale side branches with `prune.ts`); reads beyond one look-up are
 * in `queries.ts`. Connecting or disconnecting a block is one `db.batch()` (coins, undo, tx
 * index, height index, tip and the entry's status), so whatever instant the process dies at,
 * the store holds the state after some whole block. In-memory state (entries, main chain, tip)
 * is changed only after its batch is written.
 */
import { EventEmitter } from 'node:events'
import type { Block } from '../primitives/block.ts'
import { decodeBlock, encodeBlock } from '../primitives/block.ts'
import { bytesEqual, hashToHex } from '../primitives/hash.ts'
import { headerHash } from '../primitives/header.ts'
import type { BlockHeader } from '../primitives/header.ts'
import type { OutPoint } from '../primitives/tx.ts'
import type { Coin } from '../consensus/coins.ts'
import { genesisBlock } from '../consensus/genesis.ts'
import type { ChainParams } from '../consensus/params.ts'
import { blockWork } from '../consensus/pow.ts'
import { SILENT_LOGGER } from '../../utils/logger.ts'
import type { Logger } from '../../utils/logger.ts'
import { acceptBlock } from './accept.ts'
import { BlockIndex } from './block-index.ts'
import type { ChainEntry, IndexEntry } from './block-index.ts'
import { ChainDb, ChainWriteError, openChainLevel, ops } from './chain-db.ts'
import type { UtxoStats } from './chain-db.ts'
import { InvalidHashes } from './chain-state.ts'
import type { ChainState } from './chain-state.ts'
import { txIndexOps } from './connect.ts'
import { ChainClosedError, ChainDbError } from './errors.ts'
import type { HeaderBranch } from './header-branch.ts'
import { Mutex } from './lock.ts'
import { pruneStale } from './prune.ts'
import { findTx, headerBranchAt, isKnownInvalid, nextBlockContext, rebuildUtxoFromBlocks } from './queries.ts'
import { activateBest } from './reorg.ts'
import { SigPool } from './sig-pool.ts'
import type { AddBlockOptions, AddResult, BlockContext, ChainEvents, ChainOptions, TxLookup } from './types.ts'

export type { AddBlockOptions, AddResult, BlockContext, ChainEvents, ChainOptions, TxLookup } from './types.ts'

/** Chain state on LevelDB. */
export class Chain extends EventEmitter<ChainEvents> {
  readonly params: ChainParams
  private readonly db: ChainDb
  private readonly ownsDb: boolean
  private readonly pool: SigPool
  private readonly ownsPool: boolean
  private readonly log: Logger
  private readonly lock = new Mutex()
  private readonly index: BlockIndex
  /** What `accept.ts`, `reorg.ts`, `prune.ts` and `queries.ts` work on. */
  private readonly state: ChainState
  private opened = false
  /** A block write failed: a stored branch may out-work the tip until {@link activateBestChain} connects it. */
  private stuck = false

  constructor (options: ChainOptions) {
    super()
    this.params = options.params
    if (options.db !== undefined) {
      this.db = new ChainDb(options.db)
      this.ownsDb = false
    } else if (options.location !== undefined) {
      this.db = new ChainDb(openChainLevel(options.location))
      this.ownsDb = true
    } else {
      throw new TypeError('Chain needs a location or a db')
    }
    this.log = options.logger ?? SILENT_LOGGER
    this.ownsPool = !(options.workers instanceof SigPool)
    this.pool = options.workers instanceof SigPool ? options.workers : new SigPool({ size: options.workers, logger: this.log })
    this.index = new BlockIndex(this.params.medianTimeSpan)
    this.state = {
      params: this.params,
      db: this.db,
      index: this.index,
      pool: this.pool,
      log: this.log,
      now: options.now ?? (() => Math.floor(Date.now() / 1000)),
      invalid: new InvalidHashes(),
      tip: () => this.tip as IndexEntry,
      emit: (event, ...args) => { this.emitSafe(event, ...args) }
    }
  }

  /** The best block. @throws ChainClosedError when the chain is not open */
  get tip (): ChainEntry {
    const tip = this.index.tip
    if (!this.opened || tip === undefined) throw new ChainClosedError()
    return tip
  }

  /** Height of the best block. */
  get height (): number { return this.tip.height }

  /**
   * Opens the store: writes genesis into a new one (its outputs are not coins), otherwise loads
   * the index and tip; then connects any stored branch with more work than the tip (left by a
   * crash between storing and connecting a block).
   *
   * @throws ChainDbError for another format version or another network's store
   */
  async open (): Promise<void> {
    await this.lock.run(async () => {
      if (this.opened) return
      if (await this.db.open()) await this.writeGenesis()
      const records = []
      for await (const r of this.db.entries()) records.push(r)
      this.index.load(records, await this.db.tipHash())
      const genesis = this.index.at(0) as IndexEntry
      if (!bytesEqual(genesis.hash, this.params.genesis.hash)) {
        throw new ChainDbError(`this chain database belongs to another network (genesis ${hashToHex(genesis.hash)})`)
      }
      this.opened = true
      this.pool.start()
      const tip = this.tip
      this.log.info('chain loaded', { height: tip.height, tip: hashToHex(tip.hash), blocks: this.index.size })
      await activateBest(this.state)
      await pruneStale(this.state)
    })
  }

  /** Waits for the running mutation, then stops the workers and closes the DB (those the chain made). */
  async close (): Promise<void> {
    await this.lock.run(async () => {
      this.opened = false
      if (this.ownsPool) await this.pool.close()
      if (this.ownsDb && this.db.db.status === 'open') await this.db.db.close()
    })
  }

  /**
   * Validates and stores a block, and connects it when its branch has the most work (which may
   * reorganise the chain). Context-free rules and the header's context are checked before it is
   * stored; inputs and signatures when it is connected.
   *
   * @returns 'connected' (new tip), 'reorganized', 'side' (stored, not more work than the tip),
   *   'orphan' (parent unknown: not stored, the caller asks for headers), 'duplicate' or 'ignored'
   *   (`unsolicited` with too little work: not stored)
   * @throws VerifyError when the block (or, during a reorganisation, a block of its branch) is
   *   invalid; 'duplicate-invalid' for a block already found invalid; 'bad-prevblk' for a child
   *   of one; 'bad-fork-prior-to-checkpoint' (score 0) for a fork deeper than `maxReorgDepth`
   */
  async addBlock (block: Block, options: AddBlockOptions = {}): Promise<AddResult> {
    return await this.lock.run(async () => {
      try {
        return await acceptBlock(this.state, block, options)
      } catch (err) {
        if (err instanceof ChainWriteError) this.stuck = true
        throw err
      }
    })
  }

  /**
   * After a failed block write, connects the stored branch with the most work (Core's
   * ActivateBestChain, run after every block and at startup); a stored block is otherwise
   * connected again only when its child arrives, since repeats of a known block are ignored.
   * Cheap when no write failed. Returns whether the tip moved.
   *
   * @throws ChainWriteError when the disk still refuses the write
   */
  async activateBestChain (): Promise<boolean> {
    if (!this.stuck) return false
    return await this.lock.run(async () => {
      if (!this.opened) return false
      const before = this.state.tip()
      try {
        await activateBest(this.state)
      } catch (err) {
        if (!(err instanceof ChainWriteError)) this.stuck = false
        throw err
      }
      this.stuck = false
      return this.state.tip() !== before
    })
  }

  // ---- queries ----

  /** The entry of a stored block (any branch, any status). */
  async getEntry (hash: Uint8Array): Promise<ChainEntry | undefined> {
    return this.index.get(hash)
  }

  /** Whether `hash` names a block known to be invalid (stored as invalid, or rejected before storing). */
  isKnownInvalid (hash: Uint8Array): boolean {
    return isKnownInvalid(this.state, hash)
  }

  /**
   * A {@link HeaderBranch} starting at the stored block `hash`, to check a peer's headers in
   * context and sum their work before any of their blocks is asked for; undefined when the
   * block is not stored.
   *
   * @throws VerifyError 'bad-prevblk' (100) for an invalid block; 'bad-fork-prior-to-checkpoint'
   *   (0) when it leaves the best chain more than `maxReorgDepth` below the tip
   */
  headerBranch (hash: Uint8Array): HeaderBranch | undefined {
    return headerBranchAt(this.state, hash)
  }

  /** The best-chain entry at `height`. */
  async getEntryByHeight (height: number): Promise<ChainEntry | undefined> {
    return this.index.at(height)
  }

  /** Whether `entry` is on the best chain. */
  isMainChain (entry: ChainEntry): boolean {
    return this.index.isMain(entry)
  }

  /** A stored block's bytes (undefined for unknown and invalid blocks). */
  async getBlockBytes (hash: Uint8Array): Promise<Uint8Array | undefined> {
    return await this.db.blockBytes(hash)
  }

  /** A stored block (undefined for unknown and invalid blocks). */
  async getBlock (hash: Uint8Array): Promise<Block | undefined> {
    const bytes = await this.db.blockBytes(hash)
    return bytes === undefined ? undefined : decodeBlock(bytes)
  }

  /** A best-chain transaction by txid (the tx index). */
  async getTx (txid: Uint8Array): Promise<TxLookup | undefined> {
    return await findTx(this.state, txid)
  }

  /** An unspent output of the best chain. */
  async getCoin (prevout: OutPoint): Promise<Coin | undefined> {
    return await this.db.coin(prevout)
  }

  /** Unspent outputs of the best chain, in order (undefined where none): one LevelDB multi-get. */
  async getCoins (prevouts: readonly OutPoint[]): Promise<Array<Coin | undefined>> {
    return await this.db.coins(prevouts)
  }

  /** Block locator (Bitcoin's): the tip, the 9 blocks below it, then steps doubling, and genesis. */
  async getLocator (): Promise<Uint8Array[]> {
    return this.index.locator()
  }

  /**
   * Headers of the best chain after the first locator hash on it (genesis when none is), up to
   * `max` of them or through `stop`.
   */
  async findHeaders (locator: readonly Uint8Array[], stop?: Uint8Array, max = 2000): Promise<BlockHeader[]> {
    return this.index.headersAfter(locator, stop, max)
  }

  /** Parent hash, height, bits and time bounds of the next block on the tip. */
  nextBlockContext (): BlockContext {
    return nextBlockContext(this.state)
  }

  /** Count, total and digest of the stored UTXO set. */
  async utxoStats (): Promise<UtxoStats> {
    return await this.db.utxoStats()
  }

  /**
   * Replays the stored best-chain blocks from genesis into a fresh in-memory UTXO set by the
   * plain rule (spend every input, add every spendable output), not the undo and batch code,
   * and returns its {@link UtxoStats}: equal to {@link utxoStats} when the store is consistent.
   */
  async rebuildUtxoFromBlocks (): Promise<UtxoStats> {
    return await this.lock.run(async () => await rebuildUtxoFromBlocks(this.state))
  }

  // ---- helpers ----

  private async writeGenesis (): Promise<void> {
    const block = genesisBlock(this.params.network)
    const hash = headerHash(block.header)
    if (!bytesEqual(hash, this.params.genesis.hash)) throw new ChainDbError(`genesis block of ${this.params.network} does not hash to params.genesis`)
    const rec = { header: block.header, height: 0, chainwork: blockWork(block.header.bits), status: 'valid' as const }
    // No coins and no undo: the outputs of a genesis block are not spendable (as Bitcoin's).
    await this.db.write([ops.version(), ops.entry(hash, rec), ops.block(hash, encodeBlock(block)), ...txIndexOps(block, hash),
      ops.height(0, hash), ops.tip(hash)])
  }

  /** Emits without letting a listener's exception break a sequence of batches. */
  private emitSafe<K extends keyof ChainEvents> (event: K, ...args: ChainEvents[K]): void {
    try {
      // EventEmitter's typed overloads do not accept a generic rest tuple.
      (this.emit as (e: string, ...a: unknown[]) => boolean)(event, ...args)
    } catch (err) {
      this.log.error(`chain '${event}' listener threw`, { err: err as Error })
    }
  }
}
