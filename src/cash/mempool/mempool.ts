/**
 * The mempool: unconfirmed transactions that would be valid in the next block, checked against
 * the chain's UTXO set plus the outputs of other mempool transactions, kept within a memory
 * cap, and brought up to date when blocks connect and disconnect (see `index.ts` for use).
 *
 * Concurrency: `add` and the post-reorg rebuild run under one lock. Chain events are handled
 * synchronously as they fire, so the mempool never offers a confirmed or conflicting
 * transaction to a miner reacting to the same event; an `add` in flight notices the coins
 * those events touched (`watch`) and reads them again.
 * @module
 */
import { EventEmitter } from 'node:events'
import type { Logger } from '../../utils/logger.ts'
import type { ChainEntry } from '../chain/index.ts'
import { Mutex } from '../chain/lock.ts'
import { checkTransaction, isUnspendable } from '../consensus/check-tx.ts'
import type { Coin, SigCheck } from '../consensus/coins.ts'
import type { ChainParams } from '../consensus/params.ts'
import { VerifyError } from '../consensus/verify-error.ts'
import type { Block } from '../primitives/block.ts'
import { blockWeight } from '../primitives/block.ts'
import { isCoinbase, txid as computeTxid, txWeight, wtxid as computeWtxid } from '../primitives/tx.ts'
import type { OutPoint, Transaction } from '../primitives/tx.ts'
import { planEviction, readCoins, resolveInputs } from './admission.ts'
import { SIG_BUDGET_REASON, SigCheckBudget } from './budget.ts'
import type { ReadCoins } from './admission.ts'
import { FeeEstimator } from './estimate.ts'
import { TxOrphanPool } from './orphans.ts'
import { COINBASE_RESERVE, DEFAULT_EXPIRY, DEFAULT_MAX_BYTES, DEFAULT_MAX_CHAIN, DEFAULT_MAX_TX_WEIGHT, DEFAULT_MIN_FEE_RATE, entryMemory, feeRateHistogram } from './policy.ts'
import type { MempoolEntry, RemovalReason, TxOrigin } from './policy.ts'
import type { AddTxOptions, AddTxResult, MempoolChain, MempoolEvents, MempoolInfo, MempoolInit } from './types.ts'
import { hexKey, outKey, sortParentsFirst, TxGraph } from './pool.ts'
import type { PoolNode } from './pool.ts'
import { selectPackages } from './select.ts'
import { checkTxPolicy, verifyTxSignatures } from './validate.ts'
import { verifySigChecks } from '../consensus/verify.ts'

/** Most memory the transactions of disconnected blocks hold until the rebuild (Core's 20 MB). */
const MAX_DISCONNECTED_BYTES = 20 * 1024 * 1024
/** Times an add re-reads coins that chain events touched before it treats them as missing. */
const MAX_RETRIES = 3
/** Transactions whose signatures failed, remembered so a repeat costs no verification. */
const MAX_REJECTED = 10_000

interface AddOutcome { status: AddTxResult, key: string }
/** {@link Mempool.accept}'s answer when every rule but the signatures passed. */
interface Unverified { unverified: Coin[] }

/** Unconfirmed transactions on top of the chain's tip. */
export class Mempool extends EventEmitter<MempoolEvents> {
  readonly params: ChainParams
  readonly maxBytes: number
  readonly minFeeRate: number
  private readonly chain: MempoolChain
  private readonly log: Logger
  private readonly maxChain: number
  /** Heaviest transaction accepted (weight units): `tx-size` above it. */
  readonly maxTxWeight: number
  private readonly expiry: number
  private readonly now: () => number
  private readonly lock = new Mutex()
  private readonly graph = new TxGraph()
  private readonly orphans: TxOrphanPool
  private readonly estimator = new FeeEstimator()
  private readonly verify: (checks: readonly SigCheck[]) => Promise<number>
  private readonly budget: SigCheckBudget
  /** Wtxids (hex) whose signatures failed, and why; oldest first. */
  private readonly rejected = new Map<string, string>()
  private watch: Set<string> | undefined
  /** Non-coinbase transactions of disconnected blocks, the first disconnected (highest) first. */
  private disconnected: Transaction[][] = []
  private disconnectedBytes = 0
  /** Entries that spent a disconnected block's outputs, to check again after the reorg. */
  private stash: MempoolEntry[] = []
  /** Bumped on every change, for cached answers. */
  private version = 0
  private estimateCache: { version: number, rate: number } | undefined
  private started = false

  constructor (init: MempoolInit) {
    super()
    this.chain = init.chain
    this.params = init.params
    this.log = init.log
    this.maxBytes = init.maxBytes ?? DEFAULT_MAX_BYTES
    this.minFeeRate = init.minFeeRate ?? DEFAULT_MIN_FEE_RATE
    this.maxChain = init.maxChain ?? DEFAULT_MAX_CHAIN
    this.maxTxWeight = init.maxTxWeight ?? DEFAULT_MAX_TX_WEIGHT
    this.expiry = init.expiry ?? DEFAULT_EXPIRY
    this.now = init.now ?? (() => Math.floor(Date.now() / 1000))
    this.orphans = new TxOrphanPool({ maxTxWeight: this.maxTxWeight, ...init.orphans })
    this.budget = new SigCheckBudget(init.sigBudget)
    const pool = init.sigPool
    this.verify = pool === undefined
      ? async (checks) => verifySigChecks(checks)
      // Even one check goes to the workers: posting it costs this thread less than verifying it.
      : async (checks) => await pool.verify(checks, 1)
  }

  /** Follows the chain: 'block' removes what it confirms or conflicts with, a reorg re-adds. */
  start (): void {
    if (this.started) return
    this.started = true
    this.chain.on('block', this.onBlock)
    this.chain.on('disconnect', this.onDisconnect)
    this.chain.on('tip', this.onTip)
  }

  /** Stops following the chain and waits for the mutation in progress. */
  async stop (): Promise<void> {
    if (!this.started) return
    this.started = false
    this.chain.off('block', this.onBlock)
    this.chain.off('disconnect', this.onDisconnect)
    this.chain.off('tip', this.onTip)
    await this.idle()
  }

  /** Resolves once every mutation queued so far (adds, the post-reorg rebuild) is done. */
  async idle (): Promise<void> {
    await this.lock.run(async () => {})
  }

  /** Transactions held. */
  get size (): number { return this.graph.size }

  /** Memory estimate of the entries (the quantity `maxBytes` caps). */
  get bytes (): number { return this.graph.bytes }

  /** Orphan transactions held. */
  get orphanCount (): number { return this.orphans.size }

  has (txid: Uint8Array): boolean { return this.graph.get(hexKey(txid)) !== undefined }

  get (txid: Uint8Array): MempoolEntry | undefined { return this.graph.get(hexKey(txid))?.entry }

  /** Every entry, oldest first. */
  * entries (): IterableIterator<MempoolEntry> {
    for (const n of this.graph.nodes.values()) yield n.entry
  }

  /**
   * An output of a mempool transaction (height tip + 1), whether or not another mempool
   * transaction spends it (see {@link spender}); undefined for OP_RETURN outputs.
   */
  getCoin (outpoint: OutPoint): Coin | undefined {
    const out = this.graph.get(hexKey(outpoint.txid))?.entry.tx.outputs[outpoint.index]
    if (out === undefined || isUnspendable(out.script)) return undefined
    return { amount: out.amount, script: out.script, height: this.chain.tip.height + 1, coinbase: false }
  }

  /** Txid of the mempool transaction spending `outpoint` (a chain coin or a mempool output). */
  spender (outpoint: OutPoint): Uint8Array | undefined {
    return this.graph.spends.get(outKey(outpoint))?.entry.txid
  }

  info (): MempoolInfo {
    let vsize = 0
    let fees = 0n
    for (const n of this.graph.nodes.values()) {
      vsize += n.entry.vsize
      fees += n.entry.fee
    }
    const { size, bytes, maxBytes, minFeeRate } = this
    return { size, bytes, maxBytes, vsize, fees, minFeeRate, orphans: this.orphans.size, histogram: feeRateHistogram(this.entries()) }
  }

  /**
   * Transactions for a block of at most `maxWeight` (the whole block's;
   * {@link COINBASE_RESERVE} is left for the header and coinbase), by ancestor fee rate,
   * parents before children, with the sum of their fees.
   */
  selectForBlock (maxWeight: number): { txs: Transaction[], fees: bigint } {
    const sel = selectPackages(this.graph.nodes.values(), Math.max(0, maxWeight - COINBASE_RESERVE))
    return { txs: sel.nodes.map((n) => n.entry.tx), fees: sel.fees }
  }

  /**
   * Fee rate (base units per vbyte) to pay to be in the next block: above the cheapest
   * package of the next template when the mempool fills one, at least the median cut-off of
   * recent full blocks, never below the minimum relay fee rate.
   */
  estimateFeeRate (): number {
    if (this.estimateCache?.version !== this.version) {
      const next = selectPackages(this.graph.nodes.values(), this.params.maxBlockWeight - COINBASE_RESERVE)
      this.estimateCache = { version: this.version, rate: this.estimator.estimate(next, this.minFeeRate) }
    }
    return this.estimateCache.rate
  }

  /**
   * Validates `tx` against the tip and the mempool and keeps it; a transaction spending
   * outputs nobody has seen is kept as an orphan until a parent arrives. Accepting a
   * transaction re-tries the orphans that spend its outputs.
   *
   * @returns 'accepted', 'duplicate' (in the mempool, held as an orphan, or confirmed) or 'orphan'
   * @throws VerifyError (kind 'tx'): context-free reasons of `checkTransaction` (100),
   *   `coinbase` (100), `tx-size` (0, above `maxTxWeight`), `txn-mempool-conflict` (0),
   *   `bad-txns-inputs-missingorspent` (0, an output a mempool parent does not have), the
   *   `checkTxInputs` reasons (100), `non-final` (0), `non-BIP68-final` (0),
   *   `min relay fee not met` (0), `too-long-mempool-chain` (0), `mempool full` (0),
   *   `bad-witness-shape` / `bad-txns-signature` (100; remembered by wtxid, so the same
   *   transaction again is refused without verifying it); `sigcheck-budget` (0, a peer's transaction
   *   when its sender's signature-check budget or the total is spent)
   */
  async add (tx: Transaction, options: AddTxOptions = {}): Promise<AddTxResult> {
    return await this.lock.run(async () => {
      const result = await this.addOne(tx, options.peer === undefined ? 'local' : 'peer', options.peer ?? '')
      if (result.status === 'accepted') await this.acceptOrphans(result.key)
      return result.status
    })
  }

  // ---- validation (under the lock) ----

  private async addOne (tx: Transaction, origin: TxOrigin, peer: string, keep?: { time: number }): Promise<AddOutcome> {
    const id = computeTxid(tx)
    const key = hexKey(id)
    if (this.graph.get(key) !== undefined || (origin !== 'reorg' && this.orphans.has(key))) return { status: 'duplicate', key }
    checkTransaction(tx, this.params)
    if (isCoinbase(tx)) throw new VerifyError('tx', 'coinbase', 100, 'a coinbase is only valid as the first transaction of a block')
    const weight = txWeight(tx)
    if (weight > this.maxTxWeight) throw new VerifyError('tx', 'tx-size', 0, `weight ${weight} above ${this.maxTxWeight}`)
    const wkey = hexKey(computeWtxid(tx))
    const known = this.rejected.get(wkey)
    if (known !== undefined) throw new VerifyError('tx', known, 100, 'its signatures failed before')
    // Transactions of disconnected blocks and former entries had their signatures checked, and
    // a signature commits to the spent coins (BIP341), which their outpoints fix.
    let verified = origin === 'reorg'
    for (let attempt = 1; ;) {
      let result: PoolNode | Unverified | 'missing' | 'retry'
      const touched = new Set<string>()
      this.watch = touched
      try {
        const read = await readCoins(tx, this.graph, this.chain)
        result = this.accept(tx, id, read, touched, origin, attempt >= MAX_RETRIES, verified, keep)
      } finally {
        this.watch = undefined
      }
      if (result === 'retry') {
        attempt++
        continue
      }
      if (result === 'missing') break
      if ('unverified' in result) {
        // Charged only now that the checks will run: a peer's junk that a cheaper rule refused
        // or that waits as an orphan must not spend the total that honest peers share.
        if (peer !== '' && !this.budget.take(peer, result.unverified.length)) {
          throw new VerifyError('tx', SIG_BUDGET_REASON, 0, `${result.unverified.length} signature checks over its sender's budget`)
        }
        // Verified off this thread (the signature pool) while chain events may change the
        // mempool, so the coins are read and every other rule checked again afterwards. The
        // verdict stands: an outpoint's amount and script, which BIP341 signs, never change.
        await this.checkSignatures(tx, result.unverified, wkey)
        verified = true
        continue
      }
      return { status: 'accepted', key }
    }
    if (origin === 'reorg') throw new VerifyError('tx', 'bad-txns-inputs-missingorspent', 0)
    if (await this.chain.getTx(id) !== undefined) return { status: 'duplicate', key }
    this.orphans.add(tx, key, peer, this.now())
    return { status: 'orphan', key }
  }

  /** Verifies every input's signature; a failure is remembered by wtxid (`wkey`). */
  private async checkSignatures (tx: Transaction, coins: readonly Coin[], wkey: string): Promise<void> {
    try {
      await verifyTxSignatures(tx, coins, this.verify)
    } catch (err) {
      if (err instanceof VerifyError) {
        if (this.rejected.size >= MAX_REJECTED) this.rejected.delete(this.rejected.keys().next().value as string)
        this.rejected.set(wkey, err.reason)
      }
      throw err
    }
  }

  /**
   * The synchronous rest of an add: every rule, eviction, insertion, the 'tx' event. Unless
   * `verified`, stops before changing anything and answers the coins whose signatures to check.
   */
  private accept (tx: Transaction, id: Uint8Array, read: ReadCoins, touched: ReadonlySet<string>, origin: TxOrigin, last: boolean, verified: boolean, keep?: { time: number }): PoolNode | Unverified | 'missing' | 'retry' {
    const tip = this.chain.tip
    const height = tip.height + 1
    const resolved = resolveInputs(tx, this.graph, read, touched, height, last)
    if (typeof resolved === 'string') return resolved
    const { coins, parents } = resolved
    const cost = checkTxPolicy(tx, coins, {
      height,
      prevMedianTimePast: tip.medianTimePast,
      mtpAt: (h) => h >= tip.height ? tip.medianTimePast : read.mtps.get(h) ?? tip.medianTimePast,
      params: this.params,
      minFeeRate: this.minFeeRate
    })
    const ancestors = this.graph.ancestorsOf(parents)
    if (ancestors.size + 1 > this.maxChain || [...ancestors].some((a) => a.descCount + 1 > this.maxChain)) {
      throw new VerifyError('tx', 'too-long-mempool-chain', 0, `more than ${this.maxChain} unconfirmed ancestors or descendants`)
    }
    const entry: MempoolEntry = {
      tx,
      txid: id,
      wtxid: computeWtxid(tx),
      fee: cost.fee,
      vsize: cost.vsize,
      weight: cost.weight,
      feeRate: Number(cost.fee) / cost.vsize,
      time: keep?.time ?? this.now(),
      bytes: entryMemory(tx)
    }
    const evict = planEviction(this.graph, entry, ancestors, this.maxBytes)
    if (!verified) return { unverified: coins }
    const node = this.graph.insert(entry, parents, ancestors)
    this.orphans.remove(node.key)
    this.version++
    for (const n of evict) {
      this.graph.remove(n)
      this.emitSafe('removed', n.entry, 'evicted')
    }
    if (keep === undefined) this.emitSafe('tx', entry, origin)
    return node
  }

  /** Re-tries, in waves, the orphans spending outputs of `parentKey` and of what they let in. */
  private async acceptOrphans (parentKey: string): Promise<void> {
    const queue = [parentKey]
    for (let k = queue.shift(); k !== undefined; k = queue.shift()) {
      for (const o of this.orphans.takeChildren(k)) {
        try {
          const r = await this.addOne(o.tx, 'orphan', o.peer)
          if (r.status === 'accepted') queue.push(r.key)
        } catch (err) {
          this.log.debug('orphan transaction rejected', { txid: o.key, peer: o.peer, reason: err instanceof VerifyError ? err.reason : String(err) })
        }
      }
    }
  }

  // ---- following the chain ----

  private readonly onBlock = (_entry: ChainEntry, block: Block): void => {
    const txids = new Set<string>()
    const spent = new Set<string>()
    const rates: number[] = []
    for (let t = 1; t < block.txs.length; t++) {
      const tx = block.txs[t] as Transaction
      const key = hexKey(computeTxid(tx))
      txids.add(key)
      const node = this.graph.get(key)
      if (node !== undefined) {
        rates.push(node.entry.feeRate)
        this.graph.remove(node)
        this.emitSafe('removed', node.entry, 'block')
      }
      for (const input of tx.inputs) {
        const k = outKey(input.prevout)
        spent.add(k)
        this.watch?.add(k)
        const other = this.graph.spends.get(k)
        if (other !== undefined) this.removeTree(other, 'conflict')
      }
    }
    this.orphans.removeForBlock(txids, spent)
    const cutoff = this.now() - this.expiry
    for (const n of [...this.graph.nodes.values()]) {
      if (n.entry.time < cutoff && this.graph.get(n.key) === n) this.removeTree(n, 'expired')
    }
    this.estimator.addBlock(blockWeight(block), this.params.maxBlockWeight - COINBASE_RESERVE, rates)
    this.version++
    // Orphans whose parent was confirmed without passing through the mempool.
    const parents = [...txids].filter((k) => this.orphans.hasChildren(k))
    if (parents.length > 0) this.queue(async () => { for (const k of parents) await this.acceptOrphans(k) })
  }

  private readonly onDisconnect = (_entry: ChainEntry, block: Block): void => {
    for (const tx of block.txs) {
      const id = computeTxid(tx)
      for (let index = 0; index < tx.outputs.length; index++) {
        const k = outKey({ txid: id, index })
        this.watch?.add(k)
        const spender = this.graph.spends.get(k)
        // Its parent is gone from the UTXO set until the rebuild puts it back in the mempool.
        if (spender !== undefined) for (const n of this.graph.removeWithDescendants(spender)) this.stash.push(n.entry)
      }
    }
    const txs = block.txs.slice(1)
    this.disconnected.push(txs)
    for (const tx of txs) this.disconnectedBytes += entryMemory(tx)
    // A deep reorg keeps the lowest blocks' transactions (the others' parents); Core's 20 MB.
    while (this.disconnectedBytes > MAX_DISCONNECTED_BYTES && this.disconnected.length > 1) {
      for (const tx of this.disconnected.shift() as Transaction[]) this.disconnectedBytes -= entryMemory(tx)
    }
    this.version++
  }

  private readonly onTip = (): void => {
    if (this.disconnected.length > 0 || this.stash.length > 0) this.queue(async () => { await this.rebuild() })
  }

  /**
   * After a reorg: the disconnected blocks' transactions (lowest block first), then every
   * former entry, are checked again on the new tip. Former entries that fail leave with
   * 'reorg' (or 'evicted' past the cap); resurrected transactions that pass are announced
   * with origin 'reorg'.
   */
  private async rebuild (): Promise<void> {
    const blocks = this.disconnected.reverse()
    this.disconnected = []
    this.disconnectedBytes = 0
    const former = sortParentsFirst([...this.graph.clear().map((n) => n.entry), ...this.stash])
    this.stash = []
    this.version++
    const back: string[] = []
    for (const tx of blocks.flat()) {
      try {
        const r = await this.addOne(tx, 'reorg', '')
        if (r.status === 'accepted') back.push(r.key)
      } catch (err) {
        this.log.debug('transaction of a disconnected block dropped', { reason: err instanceof VerifyError ? err.reason : String(err) })
      }
    }
    let dropped = 0
    for (const e of former) {
      let reason: RemovalReason | undefined = 'reorg'
      try {
        if ((await this.addOne(e.tx, 'reorg', '', { time: e.time })).status === 'accepted') reason = undefined
      } catch (err) {
        if (err instanceof VerifyError && err.reason === 'mempool full') reason = 'evicted'
      }
      if (reason !== undefined) {
        dropped++
        this.emitSafe('removed', e, reason)
      }
    }
    for (const key of back) await this.acceptOrphans(key)
    this.log.info('mempool updated after a reorg', { resurrected: back.length, dropped, size: this.size })
  }

  private removeTree (node: PoolNode, reason: RemovalReason): void {
    for (const n of this.graph.removeWithDescendants(node)) this.emitSafe('removed', n.entry, reason)
  }

  private queue (fn: () => Promise<void>): void {
    this.lock.run(fn).catch((err: unknown) => { this.log.error('mempool update failed', { err: err as Error }) })
  }

  /** Emits without letting a listener's exception break a mutation half way. */
  private emitSafe<K extends keyof MempoolEvents> (event: K, ...args: MempoolEvents[K]): void {
    try {
      (this.emit as (e: string, ...a: unknown[]) => boolean)(event, ...args)
    } catch (err) {
      this.log.error(`mempool '${event}' listener threw`, { err: err as Error })
    }
  }
}
