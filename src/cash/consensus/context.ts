/**
 * Rules that depend on where a header or block sits in the chain: median time past (BIP113),
 * the required difficulty (aserti3-2d anchored at genesis), header time bounds, the BIP34
 * height in the coinbase, lock-time finality (BIP113) and relative lock times (BIP68).
 *
 * @example
 * ```ts
 * const expectedBits = nextBits({ height: prev.height, time: prev.header.time }, params)
 * checkHeaderContext(block.header, { prevHeight, prevMedianTimePast, expectedBits, now }, params)
 * checkBlockContext(block, prevHeight + 1, prevMedianTimePast, params)
 * ```
 * @module
 */
import type { Block } from '../primitives/block.ts'
import type { BlockHeader } from '../primitives/header.ts'
import type { Transaction, TxInput } from '../primitives/tx.ts'
import { nextBitsAsert } from './asert.ts'
import type { ChainParams } from './params.ts'
import { decodeCompact } from './pow.ts'
import { VerifyError } from './verify-error.ts'
import type { VerifyKind } from './verify-error.ts'

/** nLockTime below this is a height, at or above it a Unix time (Core's LOCKTIME_THRESHOLD). */
export const LOCKTIME_THRESHOLD = 500_000_000
/** nSequence of an input that opts out of lock time and relative lock time. */
export const SEQUENCE_FINAL = 0xffffffff
/** BIP68: this bit set disables the input's relative lock. */
export const SEQUENCE_LOCKTIME_DISABLE_FLAG = 0x80000000
/** BIP68: this bit set makes the lock a time in units of 512 s, clear a number of blocks. */
export const SEQUENCE_LOCKTIME_TYPE_FLAG = 0x00400000
/** BIP68: the low 16 bits hold the lock value. */
export const SEQUENCE_LOCKTIME_MASK = 0x0000ffff
/** BIP68: time locks count in units of 2^9 = 512 seconds. */
export const SEQUENCE_LOCKTIME_GRANULARITY = 9

/**
 * Median of the given block times (Core's GetMedianTimePast): the caller passes the times of
 * the last `params.medianTimeSpan` (11) blocks ending at the block in question, or all of
 * them near genesis; order does not matter.
 *
 * @throws RangeError for an empty list
 */
export function medianTimePast (times: readonly number[]): number {
  if (times.length === 0) throw new RangeError('medianTimePast needs at least one time')
  const sorted = times.slice().sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)] as number
}

/**
 * The bits the block after `prev` must carry. With `noRetargeting` (regtest) always
 * `powLimitBits`; otherwise aserti3-2d anchored at genesis: anchor height 0, anchor target
 * from the genesis bits, and the anchor's (non-existent) parent time taken as
 * `genesis.time - targetSpacing`, so a chain exactly on schedule keeps the genesis bits.
 *
 * The schedule runs from genesis: a network that starts mining long after `genesis.time` is
 * behind it and stays at powLimit (the genesis bits) until its height catches up with
 * `(time - genesis.time) / targetSpacing`. Hence a genesis time close to launch.
 */
export function nextBits (prev: { height: number, time: number }, params: ChainParams): number {
  if (params.noRetargeting) return params.powLimitBits
  const { genesis } = params
  return nextBitsAsert({
    anchorTarget: decodeCompact(genesis.bits).target,
    timeDiff: BigInt(prev.time - (genesis.time - params.targetSpacing)),
    heightDiff: BigInt(prev.height),
    targetSpacing: params.targetSpacing,
    halfLife: params.asertHalfLife,
    powLimit: params.powLimit
  })
}

/** What {@link checkHeaderContext} needs to know about the header's parent and the clock. */
export interface HeaderContext {
  /** Height of the parent block. */
  prevHeight: number
  /** Median time past of the parent (the 11 blocks ending at it). */
  prevMedianTimePast: number
  /** {@link nextBits} of the parent. */
  expectedBits: number
  /** The node's (adjusted) clock, Unix seconds. */
  now: number
}

/**
 * Core's ContextualCheckBlockHeader: `bad-diffbits` (bits other than expected, 100),
 * `time-too-old` (time ≤ parent's median time past, 100), `time-too-new` (more than
 * `maxFutureBlockTime` ahead of `now`; 0, it may become valid later).
 *
 * @throws VerifyError of kind 'header'
 */
export function checkHeaderContext (header: BlockHeader, ctx: HeaderContext, params: ChainParams): void {
  if (header.bits !== ctx.expectedBits) {
    throw new VerifyError('header', 'bad-diffbits', 100, `bits 0x${header.bits.toString(16)}, expected 0x${ctx.expectedBits.toString(16)}`)
  }
  if (header.time <= ctx.prevMedianTimePast) {
    throw new VerifyError('header', 'time-too-old', 100, `time ${header.time} ≤ median time past ${ctx.prevMedianTimePast}`)
  }
  if (header.time > ctx.now + params.maxFutureBlockTime) {
    throw new VerifyError('header', 'time-too-new', 0, `time ${header.time} more than ${params.maxFutureBlockTime} s ahead of ${ctx.now}`)
  }
}

/**
 * BIP34's expected coinbase scriptSig prefix, Core's `CScript() << height`: OP_0 for 0,
 * OP_1..OP_16 for 1..16, otherwise a minimal push of the little-endian script number.
 */
export function coinbaseHeightScript (height: number): Uint8Array {
  if (!Number.isSafeInteger(height) || height < 0) throw new RangeError(`height must be a non-negative integer, got ${height}`)
  if (height === 0) return Uint8Array.of(0x00)
  if (height <= 16) return Uint8Array.of(0x50 + height)
  const num: number[] = []
  for (let n = height; n > 0; n = Math.floor(n / 256)) num.push(n % 256)
  // CScriptNum: a set top bit would read as negative, so a positive number gets a 0x00 byte.
  if (((num[num.length - 1] as number) & 0x80) !== 0) num.push(0)
  return Uint8Array.of(num.length, ...num)
}

/**
 * Core's IsFinalTx (BIP113 when `time` is the parent's median time past): final when the
 * lock time is 0, below the block's height (a height lock) or time (a time lock), or when
 * every input's sequence is final.
 *
 * @param height - height of the block that would include the transaction
 * @param time - the lock-time cutoff: median time past of the block's parent
 */
export function isFinalTx (tx: Transaction, height: number, time: number): boolean {
  if (tx.lockTime === 0) return true
  if (tx.lockTime < (tx.lockTime < LOCKTIME_THRESHOLD ? height : time)) return true
  return tx.inputs.every((input) => input.sequence === SEQUENCE_FINAL)
}

/**
 * Core's ContextualCheckBlock without the parts `checkBlock` does context-free: every
 * transaction final (`bad-txns-nonfinal`) and the coinbase scriptSig starting with the BIP34
 * push of `height` (`bad-cb-height`). Both score 100.
 *
 * @param prevMedianTimePast - median time past of the block's parent (BIP113 cutoff)
 * @throws VerifyError of kind 'block'
 */
export function checkBlockContext (block: Block, height: number, prevMedianTimePast: number, _params: ChainParams): void {
  block.txs.forEach((tx, i) => {
    if (!isFinalTx(tx, height, prevMedianTimePast)) throw new VerifyError('block', 'bad-txns-nonfinal', 100, `tx ${i}`)
  })
  const coinbase = block.txs[0]
  const expect = coinbaseHeightScript(height)
  const scriptSig = coinbase?.inputs[0]?.scriptSig
  if (scriptSig === undefined || scriptSig.length < expect.length || expect.some((b, i) => scriptSig[i] !== b)) {
    throw new VerifyError('block', 'bad-cb-height', 100, `coinbase does not start with the push of height ${height}`)
  }
}

/**
 * BIP68 relative lock times (Core's CalculateSequenceLocks + EvaluateSequenceLocks). Applies
 * to transactions of version ≥ 2 (never a coinbase). For each input without the disable flag:
 * a height lock needs `height ≥ coinHeight + value`; a time lock needs the parent's median
 * time past ≥ `mtpAt(coinHeight - 1) + value · 512`, where `coinHeight - 1` (≥ 0) is the
 * block before the one that created the coin.
 *
 * @param coinHeights - height of the coin each input spends (the block's own height for a
 *   coin created earlier in the same block)
 * @param height - height of the block that includes the transaction
 * @param prevMedianTimePast - median time past of that block's parent
 * @param mtpAt - median time past of the block at a height below `height`
 * @throws VerifyError `non-BIP68-final` (100) of the given kind
 */
export function checkSequenceLocks (
  tx: Transaction,
  coinHeights: readonly number[],
  height: number,
  prevMedianTimePast: number,
  mtpAt: (height: number) => number,
  kind: VerifyKind = 'tx'
): void {
  // Core compares nVersion as unsigned: a negative version counts as ≥ 2.
  if ((tx.version >>> 0) < 2) return
  let minHeight = -1
  let minTime = -1
  tx.inputs.forEach((input: TxInput, i) => {
    if ((input.sequence & SEQUENCE_LOCKTIME_DISABLE_FLAG) !== 0) return
    const coinHeight = coinHeights[i] as number
    const value = input.sequence & SEQUENCE_LOCKTIME_MASK
    if ((input.sequence & SEQUENCE_LOCKTIME_TYPE_FLAG) !== 0) {
      const coinTime = mtpAt(Math.max(coinHeight - 1, 0))
      // The -1 turns Core's "last invalid" bound into the comparisons below (as BIP68 does).
      minTime = Math.max(minTime, coinTime + value * 2 ** SEQUENCE_LOCKTIME_GRANULARITY - 1)
    } else {
      minHeight = Math.max(minHeight, coinHeight + value - 1)
    }
  })
  if (minHeight >= height || minTime >= prevMedianTimePast) {
    throw new VerifyError(kind, 'non-BIP68-final', 100, `locked until height > ${minHeight} / median time > ${minTime}`)
  }
}
