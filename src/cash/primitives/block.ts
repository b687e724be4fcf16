/**
 * Blocks: the 80-byte header, a CompactSize transaction count, then the transactions (BIP144
 * format for those with witnesses). Decoding checks the size limit before reading anything and
 * bounds the transaction count by what that size could hold.
 */
import { CompactSize } from '@scure/btc-signer/script.js'
import { DecodeError } from './errors.ts'
import { HEADER_SIZE, decodeHeader, encodeHeader } from './header.ts'
import type { BlockHeader } from './header.ts'
import { ByteScanner, WITNESS_SCALE_FACTOR, compactSizeLength, decodeTxAt, encodeTx, txSize } from './tx.ts'
import type { Transaction } from './tx.ts'

/** Bitcoin's MAX_BLOCK_SERIALIZED_SIZE: no block of weight ≤ 4,000,000 is larger in bytes. */
export const DEFAULT_MAX_BLOCK_SIZE = 4_000_000
/**
 * Smallest transaction a block can usefully hold: version, one input, one output, lockTime
 * (4 + 1 + 41 + 1 + 9 + 4). It only bounds the count; consensus rules judge the rest.
 */
export const MIN_TX_SIZE = 60

/** A block: header and transactions, the first of which should be the coinbase. */
export interface Block {
  header: BlockHeader
  txs: Transaction[]
}

/** Options for `decodeBlock`. */
export interface DecodeBlockOptions {
  /** Largest accepted serialization in bytes (default {@link DEFAULT_MAX_BLOCK_SIZE}). */
  maxSize?: number
}

/** Serializes a block, transactions with their witnesses. */
export function encodeBlock (block: Block): Uint8Array {
  const parts = [encodeHeader(block.header), CompactSize.encode(BigInt(block.txs.length)), ...block.txs.map((tx) => encodeTx(tx, { witness: true }))]
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let at = 0
  for (const part of parts) {
    out.set(part, at)
    at += part.length
  }
  return out
}

/**
 * Parses a serialized block that must fill `bytes` exactly. Throws `DecodeError`:
 * `block-oversize` (checked before anything is read), `block-truncated`, `block-too-many-txs`
 * (more than `maxSize / 60`, or than the bytes left could hold), `block-trailing-bytes`, or a
 * `tx-*` reason from the transaction that failed.
 */
export function decodeBlock (bytes: Uint8Array, options: DecodeBlockOptions = {}): Block {
  const maxSize = options.maxSize ?? DEFAULT_MAX_BLOCK_SIZE
  if (bytes.length > maxSize) throw new DecodeError('block-oversize', `block is ${bytes.length} bytes, limit ${maxSize}`)
  if (bytes.length < HEADER_SIZE + 1) throw new DecodeError('block-truncated', `a block is at least ${HEADER_SIZE + 1} bytes, got ${bytes.length}`)
  const header = decodeHeader(bytes.subarray(0, HEADER_SIZE))
  const r = new ByteScanner(bytes, HEADER_SIZE, 'block-truncated')
  const count = r.compactSize()
  const maxTxs = Math.floor(maxSize / MIN_TX_SIZE)
  if (count > maxTxs) throw new DecodeError('block-too-many-txs', `${count} transactions, limit ${maxTxs} for ${maxSize} bytes`)
  // A transaction of zero inputs and outputs is 10 bytes: no smaller one can be in the bytes.
  if (count * 10 > bytes.length - r.pos) throw new DecodeError('block-too-many-txs', `${count} transactions cannot fit in ${bytes.length - r.pos} bytes`)
  const txs: Transaction[] = []
  let at = r.pos
  for (let i = 0; i < count; i++) {
    const { tx, end } = decodeTxAt(bytes, at)
    txs.push(tx)
    at = end
  }
  if (at !== bytes.length) throw new DecodeError('block-trailing-bytes', `${bytes.length - at} bytes after the last transaction`)
  return { header, txs }
}

/** Serialized size in bytes, with or without witnesses. */
export function blockSize (block: Block, options: { witness: boolean }): number {
  let size = HEADER_SIZE + compactSizeLength(block.txs.length)
  for (const tx of block.txs) size += txSize(tx, options)
  return size
}

/** BIP141 block weight: size without witnesses × 3 + size with them. */
export function blockWeight (block: Block): number {
  return blockSize(block, { witness: false }) * (WITNESS_SCALE_FACTOR - 1) + blockSize(block, { witness: true })
}
