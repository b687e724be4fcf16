/**
 * The chain's reads that take more than one look-up: a transaction by the tx index, the header
 * branch a peer's headers are checked against, the next block's context, and the UTXO set
 * replayed from the stored blocks as a consistency check.
 * @module
 */
import { hashToHex } from '../primitives/hash.ts'
import { decodeTx, txid as computeTxid } from '../primitives/tx.ts'
import type { OutPoint } from '../primitives/tx.ts'
import { isUnspendable } from '../consensus/check-tx.ts'
import type { Coin } from '../consensus/coins.ts'
import { nextBits } from '../consensus/context.ts'
import { VerifyError } from '../consensus/verify-error.ts'
import { utxoStatsOf } from './chain-db.ts'
import type { UtxoStats } from './chain-db.ts'
import type { IndexEntry } from './block-index.ts'
import { checkReorgDepth, readBlock } from './chain-state.ts'
import type { ChainState } from './chain-state.ts'
import { hex } from './connect.ts'
import { ChainDbError } from './errors.ts'
import { HeaderBranch } from './header-branch.ts'
import type { BlockContext, TxLookup } from './types.ts'

/** Whether `hash` names a block known to be invalid (stored as invalid, or rejected before storing). */
export function isKnownInvalid (s: ChainState, hash: Uint8Array): boolean {
  return s.index.get(hash)?.status === 'invalid' || s.invalid.has(hex(hash))
}

/**
 * A {@link HeaderBranch} starting at the stored block `hash`; undefined when it is not stored.
 *
 * @throws VerifyError 'bad-prevblk' (100) for an invalid block; 'bad-fork-prior-to-checkpoint'
 *   (0) when it leaves the best chain more than `maxReorgDepth` below the tip
 */
export function headerBranchAt (s: ChainState, hash: Uint8Array): HeaderBranch | undefined {
  const root = s.index.get(hash)
  if (root === undefined) return undefined
  if (root.status === 'invalid') throw new VerifyError('header', 'bad-prevblk', 100, `block ${hashToHex(hash)} is invalid`)
  checkReorgDepth(s.params, s.tip().height - s.index.findFork(root).height)
  const times: number[] = []
  for (let e: IndexEntry | undefined = root; e !== undefined && times.length < s.params.medianTimeSpan;
    e = e.height === 0 ? undefined : s.index.get(e.prevHash)) times.unshift(e.header.time)
  return new HeaderBranch({
    root: { hash: root.hash, height: root.height, time: root.header.time, chainwork: root.chainwork, times },
    params: s.params,
    now: s.now,
    isInvalid: (h) => isKnownInvalid(s, h)
  })
}

/** A best-chain transaction by txid (the tx index). */
export async function findTx (s: ChainState, txid: Uint8Array): Promise<TxLookup | undefined> {
  const rec = await s.db.txIndex(txid)
  if (rec === undefined) return undefined
  const bytes = await s.db.blockBytes(rec.blockHash)
  const entry = s.index.get(rec.blockHash)
  if (bytes === undefined || entry === undefined) throw new ChainDbError(`tx index points at missing block ${hashToHex(rec.blockHash)}`)
  const tx = decodeTx(bytes.subarray(rec.offset, rec.offset + rec.length))
  return { tx, blockHash: rec.blockHash, height: entry.height, position: rec.position }
}

/** Parent hash, height, bits and time bounds of the next block on the tip. */
export function nextBlockContext (s: ChainState): BlockContext {
  const tip = s.tip()
  return {
    prevHash: tip.hash,
    height: tip.height + 1,
    bits: nextBits({ height: tip.height, time: tip.header.time }, s.params),
    medianTimePast: tip.medianTimePast,
    minTime: tip.medianTimePast + 1
  }
}

/**
 * Replays the stored best-chain blocks from genesis into a fresh in-memory UTXO set by the
 * plain rule (spend every input, add every spendable output), not the undo and batch code.
 * Runs under the chain's lock: it reads the best chain block by block.
 */
export async function rebuildUtxoFromBlocks (s: ChainState): Promise<UtxoStats> {
  const coins = new Map<string, [OutPoint, Coin]>()
  for (let h = 1; h <= s.tip().height; h++) {
    const block = await readBlock(s, (s.index.at(h) as IndexEntry).hash)
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
}
