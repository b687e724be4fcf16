/**
 * The chain state: block index, best chain, UTXO set and transaction index on LevelDB, and the
 * logic that extends it, follows the most-work branch and rolls back (see `index.ts` for use).
 *
 * Every mutation runs under one lock (public method → `_twin`). Connecting or disconnecting a
 * block is one `db.batch()` (coins, undo, tx index, height index, tip and the entry's status),
 * so whatever instant the process dies at, the store holds the state after some whole block.
 * In-memory state (entries, main chain, tip) is changed only after its batch is written.
 */
import { EventEmitter } from 'node:events'
import type { Block } from '../primitives/block.ts'
import { blockSize, decodeBlock, encodeBlock } from '../primitives/block.ts'
import { bytesEqual, hashToHex } from '../primitives/hash.ts'
import { encodeHeader, HEADER_SIZE, headerHash } from '../primitives/header.ts'
import type { BlockHeader } from '../primitives/header.ts'
import { decodeTx, txid as computeTxid } from '../primitives/tx.ts'
import type { OutPoint, Transaction } from '../primitives/tx.ts'
import { checkBlock, checkHeader } from '../consensus/check-block.ts'
import { isUnspendable } from '../consensus/check-tx.ts'
import type { Coin } from '../consensus/coins.ts'
import { checkBlockContext, checkHeaderContext, nextBits } from '../consensus/context.ts'
import { genesisBlock } from '../consensus/genesis.ts'
import type { ChainParams } from '../consensus/params.ts'
import { blockWork } from '../consensus/pow.ts'
import { VerifyError } from '../consensus/verify-error.ts'
import { SILENT_LOGGER } from '../../utils/logger.ts'
import type { Logger } from '../../utils/logger.ts'
import { ChainDb, openChainLevel, ops, utxoStatsOf } from './chain-db.ts'
import type { ChainLevel, UtxoStats } from './chain-db.ts'
import { ChainClosedError, ChainDbError } from './errors.ts'
import { Mutex } from './lock.ts'
import { SigPool } from './sig-pool.ts'
import { BlockIndex, entryRecord } from './block-index.ts'
import { HeaderBranch } from './header-branch.ts'
import type { ChainEntry, IndexEntry } from './block-index.ts'
import { committedByHeader, connectBlockOps, disconnectBlockOps, hex, txIndexOps } from './connect.ts'

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

const MAX_REMEMBERED_INVALID = 10_000

/** Chain state on LevelDB. */
export class Chain extends EventEmitter<ChainEvents> {
  readonly params: ChainParams
  private readonly db: ChainDb
  private readonly ownsDb: boolean
  private readonly pool: SigPool
  private readonly ownsPool: boolean
  private readonly log: Logger
  private readonly now: () => number
  private readonly lock = new Mutex()
  private readonly index: BlockIndex
  /** Hashes (hex) of blocks known invalid that have no entry (rejected before storing). */
  private readonly invalid = new Set<string>()
  private opened = false

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
    this.now = options.now ?? (() => Math.floor(Date.now() / 1000))
    this.index = new BlockIndex(this.params.medianTimeSpan)
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
      await this.activateBest()
      await this.pruneStale()
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
   *   'orphan' (parent unknown: not stored, the caller keeps it), 'duplicate' or 'ignored'
   *   (`unsolicited` with too little work: not stored)
   * @throws VerifyError when the block (or, during a reorganisation, a block of its branch) is
   *   invalid; 'duplicate-invalid' for a block already found invalid; 'bad-prevblk' for a child
   *   of one; 'bad-fork-prior-to-checkpoint' (score 0) for a fork deeper than `maxReorgDepth`
   */
  async addBlock (block: Block, options: AddBlockOptions = {}): Promise<AddResult> {
    return await this.lock.run(async () => await this._addBlock(block, options))
  }

  private async _addBlock (block: Block, options: AddBlockOptions): Promise<AddResult> {
    const tip = this.tip
    const hash = headerHash(block.header)
    const key = hex(hash)
    const known = this.index.get(hash)
    // stored with more work than the tip yet not connected: its connection failed on a write
    // (disk full, I/O error), so a retry connects it instead of being ignored as a duplicate
    if (known?.status === 'stored' && known.chainwork > tip.chainwork) {
      await this.activate(known)
      return 'connected'
    }
    if (known !== undefined && known.status !== 'invalid') return 'duplicate'
    if (known !== undefined || this.invalid.has(key)) {
      throw new VerifyError('block', 'duplicate-invalid', 100, `block ${hashToHex(hash)} is known to be invalid`)
    }
    const prev = this.index.get(block.header.prevHash)
    if (prev === undefined) {
      this.checkBody(block, key) // the caller keeps orphans: only well-formed ones
      return 'orphan'
    }
    if (prev.status === 'invalid') {
      this.rememberInvalid(key)
      throw new VerifyError('block', 'bad-prevblk', 100, `parent ${hashToHex(prev.hash)} is invalid`)
    }
    try {
      checkHeader(block.header, this.params, hash)
      checkHeaderContext(block.header, {
        prevHeight: prev.height,
        prevMedianTimePast: prev.medianTimePast,
        expectedBits: nextBits({ height: prev.height, time: prev.header.time }, this.params),
        now: this.now()
      }, this.params)
    } catch (err) {
      if (err instanceof VerifyError && err.reason !== 'time-too-new') this.rememberInvalid(key)
      throw err
    }
    const fork = this.index.findFork(prev)
    this.checkReorgDepth(tip.height - fork.height)
    const chainwork = prev.chainwork + blockWork(block.header.bits)
    // Before the body is looked at: junk on a cheap side branch costs one header check.
    if (options.unsolicited === true && (chainwork < tip.chainwork || chainwork < this.params.minimumChainWork)) {
      this.log.debug('unsolicited block with too little work ignored', { hash: hashToHex(hash), height: prev.height + 1, peer: options.peer })
      return 'ignored'
    }
    const txids = this.checkBody(block, key)
    try {
      checkBlockContext(block, prev.height + 1, prev.medianTimePast, this.params)
    } catch (err) {
      if (err instanceof VerifyError) this.rememberInvalid(key)
      throw err
    }
    const entry: IndexEntry = {
      hash,
      prevHash: block.header.prevHash,
      height: prev.height + 1,
      header: block.header,
      chainwork,
      medianTimePast: this.index.mtpAfter(prev, block.header.time),
      status: 'stored'
    }
    await this.db.write([ops.entry(hash, entryRecord(entry)), ops.block(hash, blockBytes(block, options.bytes))])
    this.index.add(entry)
    if (entry.chainwork <= tip.chainwork) {
      this.log.debug('side block stored', { hash: hashToHex(hash), height: entry.height, peer: options.peer })
      return 'side'
    }
    await this.activate(entry, new Map([[key, { block, txids }]]))
    return fork === tip ? 'connected' : 'reorganized'
  }

  /** checkBlock, remembering the hash as invalid only when the header commits to every byte that broke a rule. */
  private checkBody (block: Block, key: string): Uint8Array[] {
    try {
      return checkBlock(block, this.params)
    } catch (err) {
      if (err instanceof VerifyError && !err.malleated && committedByHeader(block)) this.rememberInvalid(key)
      throw err
    }
  }

  private checkReorgDepth (depth: number): void {
    if (depth > this.params.maxReorgDepth) {
      throw new VerifyError('block', 'bad-fork-prior-to-checkpoint', 0,
        `forks ${depth} blocks below the tip, more than the ${this.params.maxReorgDepth} this node follows`)
    }
  }

  /**
   * Makes `target` the tip: disconnects down to the fork point, connects its branch. When a
   * block of the branch breaks a rule, it and its descendants are marked invalid and the chain
   * returns to the old tip unless the part of the branch already connected has more work; the
   * VerifyError is then rethrown.
   */
  private async activate (target: IndexEntry, cache = new Map<string, CachedBlock>(), announce = true): Promise<void> {
    const old = this.tip as IndexEntry
    const fork = this.index.findFork(target)
    this.checkReorgDepth(old.height - fork.height)
    const path = this.index.pathFrom(fork, target)
    if (fork !== old) {
      this.log.info('reorganising', { from: hashToHex(old.hash), to: hashToHex(target.hash), disconnect: old.height - fork.height, connect: path.length })
    }
    while (this.index.tip !== fork) await this.disconnectTip()
    let failed: VerifyError | undefined
    for (const entry of path) {
      try {
        await this.connect(entry, cache.get(hex(entry.hash)))
      } catch (err) {
        if (!(err instanceof VerifyError)) throw err
        this.log.warn('invalid block', { hash: hashToHex(entry.hash), height: entry.height, reason: err.reason })
        await this.markInvalid(entry)
        failed = err
        break
      }
    }
    const now = this.tip
    // Ties go to the old branch: it was there first. It was connected before, so going back
    // cannot fail on a rule.
    if (failed !== undefined && now !== old && old.chainwork >= now.chainwork) await this.activate(old, undefined, false)
    if (this.tip !== old) await this.pruneStale()
    if (announce && this.tip !== old) this.emitSafe('tip', this.tip)
    if (failed !== undefined) throw failed
  }

  /** Connects `entry` (a child of the tip): loads its inputs, applies the rules, writes one batch. */
  private async connect (entry: IndexEntry, cached?: CachedBlock): Promise<void> {
    const prev = this.tip
    const block = cached?.block ?? await this.readBlock(entry.hash)
    const prevouts: OutPoint[] = []
    for (let t = 1; t < block.txs.length; t++) for (const input of (block.txs[t] as Transaction).inputs) prevouts.push(input.prevout)
    const batch = await connectBlockOps({
      block,
      hash: entry.hash,
      height: entry.height,
      txids: cached?.txids,
      prevouts,
      found: await this.db.coins(prevouts),
      params: this.params,
      prevMedianTimePast: prev.medianTimePast,
      mtpAt: (h) => (this.index.at(h) as IndexEntry).medianTimePast,
      verify: async (checks) => await this.pool.verify(checks)
    })
    batch.push(ops.entry(entry.hash, { ...entryRecord(entry), status: 'valid' }), ops.height(entry.height, entry.hash), ops.tip(entry.hash))
    await this.db.write(batch)
    entry.status = 'valid'
    this.index.pushTip(entry)
    this.log.debug('block connected', { hash: hashToHex(entry.hash), height: entry.height, txs: block.txs.length })
    this.emitSafe('block', entry, block)
  }

  /** Disconnects the tip with its undo data, in one batch. */
  private async disconnectTip (): Promise<void> {
    const entry = this.tip
    if (entry.height === 0) throw new ChainDbError('cannot disconnect the genesis block')
    const block = await this.readBlock(entry.hash)
    const undo = await this.db.undo(entry.hash)
    if (undo === undefined) throw new ChainDbError(`no undo data for best-chain block ${hashToHex(entry.hash)}`)
    const batch = disconnectBlockOps(block, entry.hash, undo)
    batch.push(ops.delHeight(entry.height), ops.tip(entry.prevHash))
    await this.db.write(batch)
    this.index.popTip()
    this.log.debug('block disconnected', { hash: hashToHex(entry.hash), height: entry.height })
    this.emitSafe('disconnect', entry, block)
  }

  /** Marks `bad` and every stored descendant invalid (one batch); their block bytes are dropped. */
  private async markInvalid (bad: IndexEntry): Promise<void> {
    const changed = this.index.descendants(bad).filter(e => e.status !== 'invalid')
    await this.db.write(changed.flatMap(e => [ops.entry(e.hash, { ...entryRecord(e), status: 'invalid' }), ops.delBlock(e.hash)]))
    for (const e of changed) e.status = 'invalid'
  }

  /**
   * Deletes the side branches that leave the best chain more than `maxReorgDepth` blocks below
   * the tip (entries, bodies, undo data; one batch, whole subtrees): the chain refuses a
   * reorganisation to them anyway, and a branch that grows heavier is fetched again by its
   * headers. So side blocks take at most what reorganisations within that depth need.
   */
  private async pruneStale (): Promise<void> {
    const stale = this.index.staleSide(this.params.maxReorgDepth)
    if (stale.length === 0) return
    await this.db.write(stale.flatMap(e => [ops.delEntry(e.hash), ops.delBlock(e.hash), ops.delUndo(e.hash)]))
    for (const e of stale.reverse()) this.index.remove(e)
    this.log.debug('stale side blocks pruned', { count: stale.length, tip: this.tip.height })
  }

  /** At open: connect the stored branch with the most work when it beats the tip. */
  private async activateBest (): Promise<void> {
    // Each failed try marks a block invalid, so this ends; the bound is a belt.
    for (let tries = 0; tries < 100; tries++) {
      const best = this.index.best()
      if (best === undefined || best === this.index.tip) return
      try {
        await this.activate(best)
      } catch (err) {
        if (!(err instanceof VerifyError)) throw err
        if (err.reason === 'bad-fork-prior-to-checkpoint') return
      }
    }
  }

  private async writeGenesis (): Promise<void> {
    const block = genesisBlock(this.params.network)
    const hash = headerHash(block.header)
    if (!bytesEqual(hash, this.params.genesis.hash)) throw new ChainDbError(`genesis block of ${this.params.network} does not hash to params.genesis`)
    const rec = { header: block.header, height: 0, chainwork: blockWork(block.header.bits), status: 'valid' as const }
    // No coins and no undo: the outputs of a genesis block are not spendable (as Bitcoin's).
    await this.db.write([ops.version(), ops.entry(hash, rec), ops.block(hash, encodeBlock(block)), ...txIndexOps(block, hash),
      ops.height(0, hash), ops.tip(hash)])
  }

  // ---- queries ----

  /** The entry of a stored block (any branch, any status). */
  async getEntry (hash: Uint8Array): Promise<ChainEntry | undefined> {
    return this.index.get(hash)
  }

  /** Whether `hash` names a block known to be invalid (stored as invalid, or rejected before storing). */
  isKnownInvalid (hash: Uint8Array): boolean {
    return this.index.get(hash)?.status === 'invalid' || this.invalid.has(hex(hash))
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
    const root = this.index.get(hash)
    if (root === undefined) return undefined
    if (root.status === 'invalid') throw new VerifyError('header', 'bad-prevblk', 100, `block ${hashToHex(hash)} is invalid`)
    this.checkReorgDepth(this.tip.height - this.index.findFork(root).height)
    const times: number[] = []
    for (let e: IndexEntry | undefined = root; e !== undefined && times.length < this.params.medianTimeSpan;
      e = e.height === 0 ? undefined : this.index.get(e.prevHash)) times.unshift(e.header.time)
    return new HeaderBranch({
      root: { hash: root.hash, height: root.height, time: root.header.time, chainwork: root.chainwork, times },
      params: this.params,
      now: this.now,
      isInvalid: (h) => this.isKnownInvalid(h)
    })
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
    const rec = await this.db.txIndex(txid)
    if (rec === undefined) return undefined
    const bytes = await this.db.blockBytes(rec.blockHash)
    const entry = this.index.get(rec.blockHash)
    if (bytes === undefined || entry === undefined) throw new ChainDbError(`tx index points at missing block ${hashToHex(rec.blockHash)}`)
    const tx = decodeTx(bytes.subarray(rec.offset, rec.offset + rec.length))
    return { tx, blockHash: rec.blockHash, height: entry.height, position: rec.position }
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
    const tip = this.tip
    return {
      prevHash: tip.hash,
      height: tip.height + 1,
      bits: nextBits({ height: tip.height, time: tip.header.time }, this.params),
      medianTimePast: tip.medianTimePast,
      minTime: tip.medianTimePast + 1
    }
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
    return await this.lock.run(async () => {
      const coins = new Map<string, [OutPoint, Coin]>()
      for (let h = 1; h <= this.tip.height; h++) {
        const block = await this.readBlock((this.index.at(h) as IndexEntry).hash)
        block.txs.forEach((tx, t) => {
          if (t > 0) for (const input of tx.inputs) coins.delete(`${hex(input.prevout.txid)}:${input.prevout.index}`)
          const id = computeTxid(tx)
          tx.outputs.forEach((output, index) => {
            if (isUnspendable(output.script)) return
            coins.set(`${hex(id)}:${index}`, [{ txid: id, index }, { amount: output.amount, script: output.script, height: h, coinbase: t === 0 }])
          })
        })
      }
      return utxoStatsOf(coins.values())
    })
  }

  // ---- helpers ----

  private async readBlock (hash: Uint8Array): Promise<Block> {
    const bytes = await this.db.blockBytes(hash)
    if (bytes === undefined) throw new ChainDbError(`block ${hashToHex(hash)} is not stored`)
    return decodeBlock(bytes)
  }

  private rememberInvalid (key: string): void {
    if (this.invalid.size >= MAX_REMEMBERED_INVALID) this.invalid.delete(this.invalid.values().next().value as string)
    this.invalid.add(key)
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

interface CachedBlock { block: Block, txids?: Uint8Array[] }

/**
 * The bytes to store: the caller's when their header and length match the block (a cheap
 * guard against passing another block's bytes), else a fresh encoding.
 */
function blockBytes (block: Block, given: Uint8Array | undefined): Uint8Array {
  if (given !== undefined && given.length === blockSize(block, { witness: true }) &&
    bytesEqual(given.subarray(0, HEADER_SIZE), encodeHeader(block.header))) return given
  return encodeBlock(block)
}
