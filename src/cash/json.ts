/**
 * JSON views of blocks and transactions for the API and CLI. Hashes are shown as the usual
 * reversed hex, amounts as numbers of base units (exact: the supply cap is below 2^53).
 * @module
 */
import { bytesToHex } from '@noble/hashes/utils.js'
import type { ChainParams } from './consensus/params.ts'
import { decodeCompact } from './consensus/pow.ts'
import { encodeAddress, programFromScript } from './primitives/address.ts'
import { blockSize, blockWeight } from './primitives/block.ts'
import type { Block } from './primitives/block.ts'
import { hashToHex } from './primitives/hash.ts'
import type { BlockHeader } from './primitives/header.ts'
import { isCoinbase, txid, txTotalSize, txVsize, txWeight, wtxid } from './primitives/tx.ts'
import type { Transaction } from './primitives/tx.ts'
import type { BlockJson, TxJson } from './json-types.ts'

export type { BlockJson, TxJson }

/** Difficulty as Bitcoin shows it: how many times harder than the easiest allowed target. */
export function difficultyOf (bits: number, params: ChainParams): number {
  const target = decodeCompact(bits).target
  if (target <= 0n) return 0
  // keep 6 significant digits of the ratio without leaving bigint for huge values
  const scaled = (params.powLimit * 1_000_000n) / target
  return Number(scaled) / 1_000_000
}

/** The JSON view of a block. */
export function blockJson (block: Block, entry: { hash: Uint8Array, height: number, chainwork: bigint, header: BlockHeader }, ctx: { params: ChainParams, tipHeight: number, best: boolean, next?: Uint8Array }): BlockJson {
  const h = block.header
  return {
    hash: hashToHex(entry.hash),
    height: entry.height,
    confirmations: ctx.best ? ctx.tipHeight - entry.height + 1 : 0,
    version: h.version,
    prevHash: hashToHex(h.prevHash),
    merkleRoot: hashToHex(h.merkleRoot),
    time: h.time,
    bits: h.bits.toString(16).padStart(8, '0'),
    nonce: h.nonce,
    difficulty: difficultyOf(h.bits, ctx.params),
    chainwork: entry.chainwork.toString(16).padStart(64, '0'),
    size: blockSize(block, { witness: true }),
    weight: blockWeight(block),
    txCount: block.txs.length,
    txs: block.txs.map((tx) => hashToHex(txid(tx))),
    nextHash: ctx.next == null ? null : hashToHex(ctx.next)
  }
}

/** The JSON view of a confirmed transaction. */
export function txJson (tx: Transaction, ctx: { params: ChainParams, blockHash: Uint8Array, height: number, tipHeight: number }): TxJson {
  const coinbase = isCoinbase(tx)
  return {
    txid: hashToHex(txid(tx)),
    wtxid: hashToHex(wtxid(tx)),
    blockHash: hashToHex(ctx.blockHash),
    height: ctx.height,
    confirmations: ctx.tipHeight - ctx.height + 1,
    coinbase,
    version: tx.version,
    lockTime: tx.lockTime,
    size: txTotalSize(tx),
    vsize: txVsize(tx),
    weight: txWeight(tx),
    inputs: coinbase ? [] : tx.inputs.map((i) => ({ txid: hashToHex(i.prevout.txid), index: i.prevout.index, sequence: i.sequence })),
    outputs: tx.outputs.map((o) => {
      const program = programFromScript(o.script)
      return { amount: Number(o.amount), address: program == null ? null : encodeAddress(ctx.params.bech32Hrp, program), script: bytesToHex(o.script) }
    })
  }
}
