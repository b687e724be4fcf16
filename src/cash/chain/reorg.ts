/**
 * Moving the tip: connecting a block (its inputs, rules and signatures, then one batch),
 * disconnecting the tip with its undo data (one batch), and reorganising to a branch with
 * more work, returning to the old tip when the branch breaks a rule. In-memory state changes
 * only after its batch is written.
 * @module
 */
import type { Block } from '../primitives/block.ts'
import { hashToHex } from '../primitives/hash.ts'
import type { OutPoint, Transaction } from '../primitives/tx.ts'
import { VerifyError } from '../consensus/verify-error.ts'
import { ops } from './chain-db.ts'
import { entryRecord } from './block-index.ts'
import type { IndexEntry } from './block-index.ts'
import { checkReorgDepth, readBlock } from './chain-state.ts'
import type { ChainState } from './chain-state.ts'
import { connectBlockOps, disconnectBlockOps, hex } from './connect.ts'
import { ChainDbError } from './errors.ts'
import { pruneStale } from './prune.ts'

/** A block already decoded and checked by acceptance, so connecting it reads and hashes nothing again. */
export interface CachedBlock { block: Block, txids?: Uint8Array[] }

/**
 * Makes `target` the tip: disconnects down to the fork point, connects its branch. When a
 * block of the branch breaks a rule, it and its descendants are marked invalid and the chain
 * returns to the old tip unless the part of the branch already connected has more work; the
 * VerifyError is then rethrown.
 */
export async function activate (s: ChainState, target: IndexEntry, cache = new Map<string, CachedBlock>(), announce = true): Promise<void> {
  const old = s.tip()
  const fork = s.index.findFork(target)
  checkReorgDepth(s.params, old.height - fork.height)
  const path = s.index.pathFrom(fork, target)
  if (fork !== old) {
    s.log.info('reorganising', { from: hashToHex(old.hash), to: hashToHex(target.hash), disconnect: old.height - fork.height, connect: path.length })
  }
  while (s.index.tip !== fork) await disconnectTip(s)
  let failed: VerifyError | undefined
  for (const entry of path) {
    try {
      await connectTip(s, entry, cache.get(hex(entry.hash)))
    } catch (err) {
      if (!(err instanceof VerifyError)) throw err
      s.log.warn('invalid block', { hash: hashToHex(entry.hash), height: entry.height, reason: err.reason })
      await markInvalid(s, entry)
      failed = err
      break
    }
  }
  const now = s.tip()
  // Ties go to the old branch: it was there first. It was connected before, so going back
  // cannot fail on a rule.
  if (failed !== undefined && now !== old && old.chainwork >= now.chainwork) await activate(s, old, undefined, false)
  if (s.tip() !== old) await pruneStale(s)
  if (announce && s.tip() !== old) s.emit('tip', s.tip())
  if (failed !== undefined) throw failed
}

/** At open: connect the stored branch with the most work when it beats the tip. */
export async function activateBest (s: ChainState): Promise<void> {
  // Each failed try marks a block invalid, so this ends; the bound is a belt.
  for (let tries = 0; tries < 100; tries++) {
    const best = s.index.best()
    if (best === undefined || best === s.index.tip) return
    try {
      await activate(s, best)
    } catch (err) {
      if (!(err instanceof VerifyError)) throw err
      if (err.reason === 'bad-fork-prior-to-checkpoint') return
    }
  }
}

/** Connects `entry` (a child of the tip): loads its inputs, applies the rules, writes one batch. */
async function connectTip (s: ChainState, entry: IndexEntry, cached?: CachedBlock): Promise<void> {
  const prev = s.tip()
  const block = cached?.block ?? await readBlock(s, entry.hash)
  const prevouts: OutPoint[] = []
  for (let t = 1; t < block.txs.length; t++) for (const input of (block.txs[t] as Transaction).inputs) prevouts.push(input.prevout)
  const batch = await connectBlockOps({
    block,
    hash: entry.hash,
    height: entry.height,
    txids: cached?.txids,
    prevouts,
    found: await s.db.coins(prevouts),
    params: s.params,
    prevMedianTimePast: prev.medianTimePast,
    mtpAt: (h) => (s.index.at(h) as IndexEntry).medianTimePast,
    verify: async (checks) => await s.pool.verify(checks)
  })
  batch.push(ops.entry(entry.hash, { ...entryRecord(entry), status: 'valid' }), ops.height(entry.height, entry.hash), ops.tip(entry.hash))
  await s.db.write(batch)
  entry.status = 'valid'
  s.index.pushTip(entry)
  s.log.debug('block connected', { hash: hashToHex(entry.hash), height: entry.height, txs: block.txs.length })
  s.emit('block', entry, block)
}

/** Disconnects the tip with its undo data, in one batch. */
async function disconnectTip (s: ChainState): Promise<void> {
  const entry = s.tip()
  if (entry.height === 0) throw new ChainDbError('cannot disconnect the genesis block')
  const block = await readBlock(s, entry.hash)
  const undo = await s.db.undo(entry.hash)
  if (undo === undefined) throw new ChainDbError(`no undo data for best-chain block ${hashToHex(entry.hash)}`)
  const batch = disconnectBlockOps(block, entry.hash, undo)
  batch.push(ops.delHeight(entry.height), ops.tip(entry.prevHash))
  await s.db.write(batch)
  s.index.popTip()
  s.log.debug('block disconnected', { hash: hashToHex(entry.hash), height: entry.height })
  s.emit('disconnect', entry, block)
}

/** Marks `bad` and every stored descendant invalid (one batch); their block bytes are dropped. */
async function markInvalid (s: ChainState, bad: IndexEntry): Promise<void> {
  const changed = s.index.descendants(bad).filter(e => e.status !== 'invalid')
  await s.db.write(changed.flatMap(e => [ops.entry(e.hash, { ...entryRecord(e), status: 'invalid' }), ops.delBlock(e.hash)]))
  for (const e of changed) e.status = 'invalid'
}
