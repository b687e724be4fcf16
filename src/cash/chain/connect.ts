/**
 * The batch contents of connecting and disconnecting one block: the pure part of the chain's
 * writes. {@link connectBlockOps} runs the consensus input rules and the signature checks, then
 * lists the coin, undo and tx-index writes; {@link disconnectBlockOps} inverts them from the
 * undo data. The chain adds the entry, height and tip writes and commits one batch.
 */
import type { Block } from '../primitives/block.ts'
import { bytesEqual, HASH_SIZE } from '../primitives/hash.ts'
import { compactSizeLength, hasWitness, txSize, txid as computeTxid } from '../primitives/tx.ts'
import type { OutPoint, Transaction } from '../primitives/tx.ts'
import { HEADER_SIZE } from '../primitives/header.ts'
import { MapCoinView } from '../consensus/coins.ts'
import type { Coin, SigCheck } from '../consensus/coins.ts'
import { applyBlock } from '../consensus/inputs.ts'
import { blockMerkleRoot, witnessCommitment, witnessCommitmentIndex, witnessMerkleRoot, WITNESS_COMMITMENT_HEADER } from '../consensus/merkle.ts'
import type { ChainParams } from '../consensus/params.ts'
import { VerifyError } from '../consensus/verify-error.ts'
import { ops } from './chain-db.ts'
import type { ChainOp } from './chain-db.ts'
import { ChainDbError } from './errors.ts'

/** Lowercase hex of bytes in their order (map keys, not for display). */
export function hex (bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('hex')
}

/** What {@link connectBlockOps} needs. */
export interface ConnectInput {
  block: Block
  hash: Uint8Array
  height: number
  /** The block's txids when known (from `checkBlock`). */
  txids?: readonly Uint8Array[]
  /** Prevouts of every non-coinbase input, in block order. */
  prevouts: readonly OutPoint[]
  /** The stored coin of each prevout, or undefined (spent, missing, or created in this block). */
  found: ReadonlyArray<Coin | undefined>
  params: ChainParams
  prevMedianTimePast: number
  mtpAt: (height: number) => number
  /** Verifies signature checks: index of the first invalid one, or -1. */
  verify: (checks: SigCheck[]) => Promise<number>
}

/**
 * Applies the block's inputs to the coins it spends (consensus `applyBlock`) and verifies its
 * signatures, then lists the writes: spent coins deleted, created coins put, the undo data and
 * the tx index records.
 *
 * @throws VerifyError when the block breaks an input rule or carries a bad signature
 */
export async function connectBlockOps (input: ConnectInput): Promise<ChainOp[]> {
  const { block, hash, height, prevouts, found, params } = input
  const view = new MapCoinView()
  found.forEach((coin, i) => { if (coin !== undefined) view.add(prevouts[i] as OutPoint, coin) })
  const txids = input.txids ?? block.txs.map(computeTxid)
  const applied = applyBlock(block, height, view, params, { prevMedianTimePast: input.prevMedianTimePast, mtpAt: input.mtpAt, txids })
  // The workers verify while this thread lists the writes.
  const verified = input.verify(applied.sigChecks)
  const batch: ChainOp[] = []
  // Coins created and spent within the block were never stored: deleting them is a no-op.
  for (const prevout of prevouts) batch.push(ops.delCoin(prevout))
  for (const { prevout, coin } of applied.created) batch.push(ops.coin(prevout, coin))
  batch.push(ops.undo(hash, applied.spent.flat()))
  batch.push(...txIndexOps(block, hash, txids))
  const bad = await verified
  if (bad >= 0) throw new VerifyError('block', 'bad-txns-signature', 100, `signature check ${bad} failed`)
  return batch
}

/**
 * The writes that undo a connected block: transactions last to first, each one's outputs
 * deleted, then the coins its inputs spent restored from `undo`. LevelDB applies a batch in
 * order, so a coin created by an earlier transaction of the block and spent by a later one is
 * restored, then deleted again with its creator's outputs.
 *
 * @param undo - the block's undo data (the spent coins in transaction and input order)
 */
export function disconnectBlockOps (block: Block, hash: Uint8Array, undo: readonly Coin[]): ChainOp[] {
  const batch: ChainOp[] = []
  let at = undo.length
  for (let t = block.txs.length - 1; t >= 0; t--) {
    const tx = block.txs[t] as Transaction
    const id = computeTxid(tx)
    tx.outputs.forEach((_o, index) => { batch.push(ops.delCoin({ txid: id, index })) })
    if (t > 0) {
      for (let i = tx.inputs.length - 1; i >= 0; i--) {
        const coin = undo[--at]
        if (coin === undefined) throw new ChainDbError('undo data has fewer coins than the block has inputs')
        batch.push(ops.coin((tx.inputs[i] as Transaction['inputs'][number]).prevout, coin))
      }
    }
    batch.push(ops.delTx(id))
  }
  if (at !== 0) throw new ChainDbError('undo data has more coins than the block has inputs')
  batch.push(ops.delUndo(hash))
  return batch
}

/** Tx index records of every transaction of a block, with their offsets in its serialization. */
export function txIndexOps (block: Block, hash: Uint8Array, txids?: readonly Uint8Array[]): ChainOp[] {
  let offset = HEADER_SIZE + compactSizeLength(block.txs.length)
  return block.txs.map((tx, position) => {
    const length = txSize(tx, { witness: true })
    const op = ops.tx(txids?.[position] ?? computeTxid(tx), { blockHash: hash, position, offset, length })
    offset += length
    return op
  })
}

/**
 * Whether the header commits to every byte of the block: the merkle root matches and is not
 * mutated (CVE-2012-2459), and the witnesses match the coinbase's commitment (or there are none
 * and no commitment). Only then may a rule failure mark the block hash invalid; otherwise
 * someone may have tampered with a valid block (a witness, say) in transit.
 */
export function committedByHeader (block: Block): boolean {
  try {
    const merkle = blockMerkleRoot(block)
    if (merkle.mutated || !bytesEqual(merkle.root, block.header.merkleRoot)) return false
    const coinbase = block.txs[0]
    if (coinbase === undefined) return true
    const index = witnessCommitmentIndex(coinbase)
    if (index < 0) return !block.txs.some(hasWitness)
    const reserved = coinbase.inputs[0]?.witness
    if (reserved?.length !== 1 || (reserved[0] as Uint8Array).length !== HASH_SIZE) return false
    const script = (coinbase.outputs[index] as Transaction['outputs'][number]).script
    const committed = script.subarray(WITNESS_COMMITMENT_HEADER.length, WITNESS_COMMITMENT_HEADER.length + HASH_SIZE)
    return bytesEqual(committed, witnessCommitment(witnessMerkleRoot(block).root, reserved[0] as Uint8Array))
  } catch {
    return false
  }
}
