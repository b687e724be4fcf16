/**
 * Following the chain: applying a connected block, undoing a disconnected one, and catching up
 * with the chain's best tip from wherever the wallet stopped (a fork left while the wallet was
 * closed included). Each block's changes are one batch; memory follows once it is written.
 */
import type { Chain } from '../chain/index.ts'
import { outpointKey } from '../consensus/coins.ts'
import type { ChainParams } from '../consensus/params.ts'
import type { Block } from '../primitives/block.ts'
import { bytesEqual, hashToHex } from '../primitives/hash.ts'
import { txid as computeTxid } from '../primitives/tx.ts'
import type { Logger } from '../../utils/logger.ts'
import { TIP_KEY, blockKey, coinKey, encodeBlockUndo, encodeCoin, encodeHistory, encodeTip, historyKey, sentKey } from './layout.ts'
import type { BlockUndo } from './layout.ts'
import type { PendingPool, WalletMempool } from './pending.ts'
import { scanBlock } from './scan.ts'
import type { WalletOp, WalletState } from './state.ts'
import type { WalletDb } from './wallet-db.ts'

/** What the wallet reads from the chain. */
export type WalletChain = Pick<Chain, 'tip' | 'getEntryByHeight' | 'getBlock' | 'on' | 'off'>

/** Everything the sync functions work on. */
export interface SyncContext {
  db: WalletDb
  state: WalletState
  pending: PendingPool
  chain: WalletChain
  mempool?: WalletMempool
  params: ChainParams
  log: Logger
  now: () => number
}

/** Catch-up rounds against a chain that keeps moving before the wallet gives up until the next event. */
const MAX_CATCH_UP_ROUNDS = 8

/** Undo records kept: enough for the deepest reorganisation the chain follows. */
export function undoWindow (params: ChainParams): number {
  return params.maxReorgDepth + 1
}

/** Applies a block that extends the wallet's tip: one batch, then memory. */
export async function connectBlock (ctx: SyncContext, height: number, hash: Uint8Array, block: Block): Promise<void> {
  const { state, db } = ctx
  const scan = scanBlock(state, block, height)
  const ops: WalletOp[] = []
  for (const coin of scan.created) ops.push({ type: 'put', key: coinKey(coin.prevout), value: encodeCoin(coin) })
  for (const coin of scan.spent) ops.push({ type: 'del', key: coinKey(coin.prevout) })
  for (const rec of scan.history) ops.push({ type: 'put', key: historyKey(rec.txid), value: encodeHistory(rec) }, { type: 'del', key: sentKey(rec.txid) })
  const undo: BlockUndo = {
    hash,
    prevHash: block.header.prevHash,
    created: scan.created.map((c) => c.prevout),
    spent: scan.spent,
    txids: scan.history.map((r) => r.txid)
  }
  ops.push({ type: 'put', key: blockKey(height), value: encodeBlockUndo(undo) })
  const stale = height - undoWindow(ctx.params)
  if (stale > 0) ops.push({ type: 'del', key: blockKey(stale) })
  ops.push({ type: 'put', key: TIP_KEY, value: encodeTip({ hash, height }) }, ...state.book.ops())
  await db.write(ops)
  state.book.committed()
  for (const coin of scan.spent) state.coins.delete(outpointKey(coin.prevout))
  for (const coin of scan.created) state.addCoin(coin)
  for (const rec of scan.history) state.addHistory(rec)
  state.tip = { hash, height }
  ctx.pending.afterBlock(scan.txids, scan.spentKeys)
  if (scan.history.length > 0) ctx.log.debug('wallet block', { height, txs: scan.history.length })
}

/**
 * Undoes the wallet's tip block with its undo record. Its transactions that the mempool holds
 * again become unconfirmed (when `block` is given; otherwise the mempool's `tx` events bring
 * them back); the others leave the history.
 */
export async function disconnectTip (ctx: SyncContext, undo: BlockUndo, block?: Block): Promise<void> {
  const { state, db } = ctx
  const height = state.tip.height
  const ops: WalletOp[] = []
  for (const prevout of undo.created) ops.push({ type: 'del', key: coinKey(prevout) })
  for (const coin of undo.spent) ops.push({ type: 'put', key: coinKey(coin.prevout), value: encodeCoin(coin) })
  for (const id of undo.txids) ops.push({ type: 'del', key: historyKey(id) })
  ops.push({ type: 'del', key: blockKey(height) }, { type: 'put', key: TIP_KEY, value: encodeTip({ hash: undo.prevHash, height: height - 1 }) })
  await db.write(ops)
  for (const prevout of undo.created) state.coins.delete(outpointKey(prevout))
  for (const coin of undo.spent) state.addCoin(coin)
  for (const id of undo.txids) state.history.delete(hashToHex(id))
  state.tip = { hash: undo.prevHash, height: height - 1 }
  if (block !== undefined && ctx.mempool !== undefined && undo.txids.length > 0) {
    const ours = new Set(undo.txids.map((t) => hashToHex(t)))
    for (const tx of block.txs.slice(1)) {
      const id = computeTxid(tx)
      if (ours.has(hashToHex(id)) && ctx.mempool.has(id)) ctx.pending.add(state, tx, id, ctx.now())
    }
    await persistBook(ctx)
  }
  ctx.pending.prune(state)
  ctx.log.debug('wallet block undone', { height })
}

/**
 * Writes the address indexes and the addresses derived outside a block batch, flushed to disk:
 * it runs before an address is handed out, and a lost index would hand it out again.
 */
export async function persistBook (ctx: SyncContext): Promise<void> {
  await ctx.db.write(ctx.state.book.ops(), { sync: true })
  ctx.state.book.committed()
}

/**
 * Brings the wallet to the chain's best tip: undoes its blocks down to the fork point, then
 * applies the best chain's blocks after it. When the fork point is below the undo records kept
 * (or the records do not match), forgets coins and history and rescans from genesis.
 */
export async function catchUp (ctx: SyncContext): Promise<void> {
  for (let round = 0; round < MAX_CATCH_UP_ROUNDS; round++) {
    if (bytesEqual(ctx.state.tip.hash, ctx.chain.tip.hash)) return
    await rollBack(ctx)
    await rollForward(ctx)
  }
  if (!bytesEqual(ctx.state.tip.hash, ctx.chain.tip.hash)) ctx.log.warn('wallet behind a moving chain; it catches up on the next block', { height: ctx.state.tip.height })
}

async function rollBack (ctx: SyncContext): Promise<void> {
  const { state, chain, db } = ctx
  while (state.tip.height > 0) {
    const entry = await chain.getEntryByHeight(state.tip.height)
    if (entry !== undefined && bytesEqual(entry.hash, state.tip.hash)) return
    const undo = await db.blockUndo(state.tip.height)
    if (undo === undefined || !bytesEqual(undo.hash, state.tip.hash)) {
      ctx.log.warn('wallet fork point below its undo records: rescanning from genesis', { height: state.tip.height })
      await resetToGenesis(ctx)
      return
    }
    const block = ctx.mempool !== undefined && undo.txids.length > 0 ? await chain.getBlock(undo.hash) : undefined
    await disconnectTip(ctx, undo, block)
  }
}

async function rollForward (ctx: SyncContext): Promise<void> {
  const { state, chain } = ctx
  const start = state.tip.height
  while (state.tip.height < chain.tip.height) {
    const entry = await chain.getEntryByHeight(state.tip.height + 1)
    // The chain moved under us (a reorg while we read): the caller starts another round.
    if (entry === undefined || !bytesEqual(entry.header.prevHash, state.tip.hash)) return
    const block = await chain.getBlock(entry.hash)
    if (block === undefined) return
    await connectBlock(ctx, entry.height, entry.hash, block)
    if ((entry.height - start) % 1000 === 0) ctx.log.info('wallet scanning the chain', { height: entry.height, tip: chain.tip.height })
  }
}

/** Forgets coins, history and undo records, and sets the tip to genesis (a full rescan follows). */
export async function resetToGenesis (ctx: SyncContext): Promise<void> {
  const genesis = await ctx.chain.getEntryByHeight(0)
  if (genesis === undefined) throw new Error('chain has no genesis entry')
  const ops = await ctx.db.resetOps()
  ops.push({ type: 'put', key: TIP_KEY, value: encodeTip({ hash: genesis.hash, height: 0 }) })
  await ctx.db.write(ops)
  ctx.state.coins.clear()
  ctx.state.history.clear()
  ctx.state.tip = { hash: genesis.hash, height: 0 }
  ctx.pending.clear()
}

/** Adds the mempool's current transactions that concern us (at open, after a rescan). */
export async function loadMempool (ctx: SyncContext): Promise<void> {
  if (ctx.mempool?.entries === undefined) return
  for (const entry of ctx.mempool.entries()) ctx.pending.add(ctx.state, entry.tx, computeTxid(entry.tx), entry.time ?? ctx.now())
  await persistBook(ctx)
}

/**
 * Undo records for the chain's last blocks up to `tip`, with nothing to undo: a wallet created
 * on a long chain then follows a reorganisation below its birth without a rescan.
 */
export async function birthUndoOps (ctx: Pick<SyncContext, 'chain' | 'params'>, tipHeight: number): Promise<WalletOp[]> {
  const ops: WalletOp[] = []
  for (let h = Math.max(1, tipHeight - undoWindow(ctx.params) + 1); h <= tipHeight; h++) {
    const entry = await ctx.chain.getEntryByHeight(h)
    if (entry === undefined) break
    ops.push({ type: 'put', key: blockKey(h), value: encodeBlockUndo({ hash: entry.hash, prevHash: entry.header.prevHash, created: [], spent: [], txids: [] }) })
  }
  return ops
}
