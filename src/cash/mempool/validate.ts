/**
 * The mempool's checks of one transaction once the coins it spends are known: pure functions
 * over the coins and the tip's context, in Bitcoin Core's order (cheap policy first,
 * signatures last).
 * @module
 */
import type { Coin, SigCheck } from '../consensus/coins.ts'
import { checkSequenceLocks, isFinalTx } from '../consensus/context.ts'
import { checkTxInputs, txSigChecks } from '../consensus/inputs.ts'
import type { ChainParams } from '../consensus/params.ts'
import { VerifyError } from '../consensus/verify-error.ts'
import type { Transaction } from '../primitives/tx.ts'
import { txWeight, WITNESS_SCALE_FACTOR } from '../primitives/tx.ts'
import { minFee } from './policy.ts'

/** Where the transaction would be mined: the block after the tip. */
export interface SpendContext {
  /** Tip height + 1. */
  height: number
  /** Median time past of the tip (BIP113 lock-time cutoff of the next block). */
  prevMedianTimePast: number
  /** Median time past of a best-chain block below the next one (BIP68 time locks). */
  mtpAt: (height: number) => number
  params: ChainParams
  /** Minimum relay fee rate, base units per vbyte. */
  minFeeRate: number
}

/** Fee and size of a transaction that passed {@link checkTxPolicy}. */
export interface TxCost {
  fee: bigint
  weight: number
  vsize: number
}

/**
 * Core's CheckTxInputs at the next height (maturity, value ranges, in ≥ out), then finality
 * (`non-final`, score 0: valid later), BIP68 (`non-BIP68-final`, score 0 here for the same
 * reason) and the minimum relay fee (`min relay fee not met`, score 0).
 *
 * @param coins - the coin each input spends, in input order
 * @throws VerifyError of kind 'tx'
 */
export function checkTxPolicy (tx: Transaction, coins: readonly Coin[], ctx: SpendContext): TxCost {
  // keyed by the inputs' own outpoint objects: a hex key per input would cost more than the lookup
  const byPrevout = new Map(tx.inputs.map((input, i) => [input.prevout, coins[i] as Coin]))
  const fee = checkTxInputs(tx, { getCoin: (prevout) => byPrevout.get(prevout) }, ctx.height, ctx.params)
  if (!isFinalTx(tx, ctx.height, ctx.prevMedianTimePast)) {
    throw new VerifyError('tx', 'non-final', 0, `lock time ${tx.lockTime} not reached at height ${ctx.height}`)
  }
  try {
    checkSequenceLocks(tx, coins.map((c) => c.height), ctx.height, ctx.prevMedianTimePast, ctx.mtpAt, 'tx')
  } catch (err) {
    // A relative lock that has not expired yet is no fault of whoever relays the transaction.
    if (err instanceof VerifyError) throw new VerifyError('tx', err.reason, 0, 'relative lock time not reached', { cause: err })
    throw err
  }
  const weight = txWeight(tx)
  const vsize = Math.ceil(weight / WITNESS_SCALE_FACTOR)
  const needed = minFee(vsize, ctx.minFeeRate)
  if (fee < needed) throw new VerifyError('tx', 'min relay fee not met', 0, `${fee} < ${needed}`)
  return { fee, weight, vsize }
}

/**
 * Every input's BIP340 signature over its BIP341 sighash, verified by `verify` (the signature
 * pool's workers, or this thread). The sighashes stay on this thread: with the transaction-wide
 * hashes computed once they cost ~5 µs an input, against ~200 µs to verify one.
 *
 * @param verify - answers the index of the first invalid check, or -1
 * @throws VerifyError `bad-txns-signature` (or `bad-witness-shape`), score 100
 */
export async function verifyTxSignatures (tx: Transaction, coins: readonly Coin[], verify: (checks: readonly SigCheck[]) => Promise<number>): Promise<void> {
  const bad = await verify(txSigChecks(tx, coins))
  if (bad !== -1) throw new VerifyError('tx', 'bad-txns-signature', 100, `input ${bad}`)
}
