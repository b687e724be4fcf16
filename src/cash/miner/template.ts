/**
 * Block templates, pure: the coinbase (BIP34 height, subsidy + fees to the payout script),
 * the BIP141 witness commitment when any transaction has a witness, the merkle root, and a
 * nonce search over a range.
 *
 * @example
 * ```ts
 * const block = assembleBlock({ prevHash, height, time, bits, payoutScript, txs: [], fees: 0n, params })
 * const nonce = grind(block.header, params, 0, 1_000_000)
 * if (nonce !== undefined) block.header.nonce = nonce
 * ```
 * @module
 */
import { sha256 } from '@noble/hashes/sha2.js'
import { coinbaseHeightScript } from '../consensus/context.ts'
import { merkleRoot, witnessCommitment, witnessCommitmentScript, witnessMerkleRoot } from '../consensus/merkle.ts'
import type { ChainParams } from '../consensus/params.ts'
import { decodeCompact } from '../consensus/pow.ts'
import { blockSubsidy } from '../consensus/subsidy.ts'
import type { Block } from '../primitives/block.ts'
import { HASH_SIZE } from '../primitives/hash.ts'
import { encodeHeader } from '../primitives/header.ts'
import type { BlockHeader } from '../primitives/header.ts'
import { COINBASE_INDEX, hasWitness, txid } from '../primitives/tx.ts'
import type { Transaction } from '../primitives/tx.ts'

/** Version of the blocks this node builds. */
export const BLOCK_VERSION = 1

/**
 * A coinbase paying `value` to `payoutScript`. Its scriptSig is the BIP34 push of `height`,
 * then `extraNonce` as one push when given (≤ 75 bytes); an OP_0 pads it to the 2-byte
 * minimum when it would be shorter. No witness: {@link assembleBlock} adds the reserved value
 * when the block needs a commitment.
 *
 * @throws RangeError for a negative height or an extraNonce over 75 bytes
 */
export function coinbaseTx (height: number, payoutScript: Uint8Array, value: bigint, extraNonce?: Uint8Array): Transaction {
  const heightPush = coinbaseHeightScript(height)
  const parts: number[] = [...heightPush]
  if (extraNonce !== undefined) {
    if (extraNonce.length > 75) throw new RangeError('extraNonce must be at most 75 bytes')
    parts.push(extraNonce.length, ...extraNonce)
  }
  if (parts.length < 2) parts.push(0x00)
  return {
    version: 2,
    inputs: [{ prevout: { txid: new Uint8Array(HASH_SIZE), index: COINBASE_INDEX }, scriptSig: Uint8Array.from(parts), sequence: 0xffffffff, witness: [] }],
    outputs: [{ amount: value, script: payoutScript }],
    lockTime: 0
  }
}

/** What {@link assembleBlock} builds a block from. */
export interface BlockTemplateInput {
  prevHash: Uint8Array
  height: number
  time: number
  bits: number
  payoutScript: Uint8Array
  /** The non-coinbase transactions, in a valid order (parents before children). */
  txs: Transaction[]
  /** Sum of their fees; the coinbase claims subsidy + fees. */
  fees: bigint
  params: ChainParams
  /** Extra coinbase bytes, to make the template unique (several miners, one payout). */
  extraNonce?: Uint8Array
}

/**
 * A complete block with nonce 0: the coinbase ({@link coinbaseTx}) claiming
 * `blockSubsidy(height) + fees`, and when any transaction carries a witness, the 32 zero
 * bytes of the BIP141 reserved value as the coinbase witness and the commitment as its last
 * output; then the merkle root.
 */
export function assembleBlock (input: BlockTemplateInput): Block {
  const { height, params } = input
  const coinbase = coinbaseTx(height, input.payoutScript, blockSubsidy(height, params) + input.fees, input.extraNonce)
  const txs = [coinbase, ...input.txs]
  const header: BlockHeader = {
    version: BLOCK_VERSION,
    prevHash: input.prevHash,
    merkleRoot: new Uint8Array(HASH_SIZE),
    time: input.time,
    bits: input.bits,
    nonce: 0
  }
  const block: Block = { header, txs }
  if (input.txs.some(hasWitness)) {
    const reserved = new Uint8Array(HASH_SIZE)
    ;(coinbase.inputs[0] as Transaction['inputs'][number]).witness = [reserved]
    // The witness root replaces the coinbase's wtxid by zeros, so adding its output is safe after.
    const commitment = witnessCommitment(witnessMerkleRoot(block).root, reserved)
    coinbase.outputs.push({ amount: 0n, script: witnessCommitmentScript(commitment) })
  }
  header.merkleRoot = merkleRoot(txs.map(txid)).root
  return block
}

/**
 * The 32-byte little-endian form of the target `bits` decode to, for byte-wise comparison
 * with a hash in internal order.
 *
 * @throws RangeError when the bits are negative, overflow, zero or easier than `powLimit`
 */
export function targetBytes (bits: number, powLimit?: bigint): Uint8Array {
  const { target, negative, overflow } = decodeCompact(bits)
  if (negative || overflow || target === 0n || (powLimit !== undefined && target > powLimit)) {
    throw new RangeError(`bits 0x${bits.toString(16)} are not a valid target`)
  }
  const out = new Uint8Array(32)
  let t = target
  for (let i = 0; i < 32; i++) {
    out[i] = Number(t & 0xffn)
    t >>= 8n
  }
  return out
}

/** True when `hash` (internal order, i.e. little-endian) ≤ `target` (same order). */
export function hashMeetsTarget (hash: Uint8Array, target: Uint8Array): boolean {
  for (let i = 31; i >= 0; i--) {
    const h = hash[i] as number
    const t = target[i] as number
    if (h !== t) return h < t
  }
  return true
}

/**
 * Tries nonces `start`, `start + 1`, … (at most `count`, never past 0xffffffff) and returns
 * the first whose header hash meets `header.bits`, or undefined. `header` is not modified.
 * The first 64 header bytes do not depend on the nonce, so their SHA-256 state is computed
 * once and cloned for every try.
 *
 * @throws RangeError when the bits are not a valid target within `params.powLimit`
 */
export function grind (header: BlockHeader, params: ChainParams, start: number, count: number): number | undefined {
  const target = targetBytes(header.bits, params.powLimit)
  const bytes = encodeHeader({ ...header, nonce: 0 })
  const mid = sha256.create().update(bytes.subarray(0, 64))
  const tail = bytes.slice(64)
  const view = new DataView(tail.buffer)
  const end = Math.min(start + count, 0x100000000)
  for (let nonce = start; nonce < end; nonce++) {
    view.setUint32(12, nonce, true)
    const hash = sha256(mid.clone().update(tail).digest())
    if (hashMeetsTarget(hash, target)) return nonce
  }
  return undefined
}
