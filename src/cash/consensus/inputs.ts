/**
 * Spending rules: every input exists unspent, coinbase maturity, value ranges, fees, BIP68
 * relative locks (Core's CheckTxInputs, SequenceLocks and ConnectBlock), and the signature
 * checks each input needs. Signatures are not verified here: {@link applyBlock} collects
 * them as {@link SigCheck}s so the caller can verify them in bulk (worker threads, the
 * WASM verifier; see `verify.ts`).
 *
 * @example
 * ```ts
 * const txids = checkBlock(block, params)
 * checkBlockContext(block, height, prevMtp, params)
 * const applied = applyBlock(block, height, view, params, { prevMedianTimePast: prevMtp, mtpAt, txids })
 * checkBlockSignatures(applied) // or verifySigChecks in a worker pool
 * // then: delete every spent coin from the UTXO set, add applied.created
 * ```
 * @module
 */
import type { Block } from '../primitives/block.ts'
import { precomputeSighash, SighashError, taprootSighash } from '../primitives/sighash.ts'
import type { SighashTx } from '../primitives/sighash.ts'
import { txid as computeTxid } from '../primitives/tx.ts'
import type { OutPoint, Transaction } from '../primitives/tx.ts'
import { isUnspendable, keyPathHashType } from './check-tx.ts'
import { outpointKey } from './coins.ts'
import type { Coin, CoinView, SigCheck } from './coins.ts'
import { checkSequenceLocks } from './context.ts'
import type { ChainParams } from './params.ts'
import { blockSubsidy } from './subsidy.ts'
import { VerifyError } from './verify-error.ts'
import type { VerifyKind } from './verify-error.ts'

/** The chain context {@link applyBlock} needs beyond the coins. */
export interface ApplyBlockContext {
  /** Median time past of the block's parent (BIP68 time locks compare against it). */
  prevMedianTimePast: number
  /**
   * Median time past of the block at `height` on this chain (heights below the block's; for
   * BIP68 time locks, called only for inputs that have one).
   */
  mtpAt (height: number): number
  /** The block's txids when the caller has them (as `checkBlock` returns them), to skip rehashing. */
  txids?: readonly Uint8Array[]
}

/** A newly created coin and where it is. */
export interface CreatedCoin {
  prevout: OutPoint
  coin: Coin
}

/** What connecting a block does to the UTXO set, and what remains to verify. */
export interface AppliedBlock {
  /** Sum of the fees of the non-coinbase transactions. */
  fees: bigint
  /** Coins spent, per transaction (index 0, the coinbase, is empty), per input: the undo data. */
  spent: Coin[][]
  /** Outputs still unspent at the end of the block, in creation order; no OP_RETURN outputs. */
  created: CreatedCoin[]
  /** Every signature the block's inputs carry, in block order; none verified yet. */
  sigChecks: SigCheck[]
}

function hexOf (hash: Uint8Array): string {
  let hex = ''
  for (const b of hash) hex += (b < 16 ? '0' : '') + b.toString(16)
  return hex
}

/**
 * Checks every non-coinbase transaction's inputs in block order against `view` and the
 * outputs of earlier transactions of the same block, then the coinbase's value. Reasons (kind
 * 'block'): `bad-txns-inputs-missingorspent` (its parent is known, so the block itself is
 * invalid, as Core scores it),
 * `bad-txns-premature-spend-of-coinbase`, `bad-txns-inputvalues-outofrange`,
 * `bad-txns-in-belowout`, `bad-txns-fee-outofrange`, `non-BIP68-final`,
 * `bad-witness-shape`, `bad-txns-signature` (a SIGHASH_SINGLE without its output, which can
 * never verify), `bad-cb-amount` (coinbase outputs above subsidy + fees); all 100.
 *
 * Assumes `checkBlock` passed (one coinbase, first; outputs in range; witness shapes). The
 * view is only read; the caller applies `spent` and `created` to its UTXO set. Outputs of the
 * genesis block (height 0) are never coins, as in Bitcoin.
 *
 * @throws VerifyError
 */
export function applyBlock (block: Block, height: number, view: CoinView, params: ChainParams, ctx: ApplyBlockContext): AppliedBlock {
  const txids = ctx.txids ?? block.txs.map(computeTxid)
  const { prevMedianTimePast } = ctx
  // A coin created in this block has height `height`; BIP68 then asks for mtpAt(height - 1).
  const mtpAt = (h: number): number => h >= height - 1 ? prevMedianTimePast : ctx.mtpAt(h)
  // Outputs created by this block and not yet spent by it, keyed by outpointKey.
  const created = new Map<string, CreatedCoin>()
  // Coins of `view` this block has spent already.
  const spentFromView = new Set<string>()
  const spent: Coin[][] = [[]]
  const sigChecks: SigCheck[] = []
  let fees = 0n

  const addOutputs = (tx: Transaction, index: number, coinbase: boolean): void => {
    const hash = txids[index] as Uint8Array
    const hex = hexOf(hash)
    tx.outputs.forEach((output, i) => {
      if (isUnspendable(output.script)) return
      created.set(`${hex}:${i}`, { prevout: { txid: hash, index: i }, coin: { amount: output.amount, script: output.script, height, coinbase } })
    })
  }

  const coinbase = block.txs[0] as Transaction
  if (height > 0) addOutputs(coinbase, 0, true)

  for (let t = 1; t < block.txs.length; t++) {
    const tx = block.txs[t] as Transaction
    const coins: Coin[] = []
    for (const input of tx.inputs) {
      const key = outpointKey(input.prevout)
      let coin: Coin | undefined
      const own = created.get(key)
      if (own !== undefined) {
        created.delete(key)
        coin = own.coin
      } else if (!spentFromView.has(key)) {
        coin = view.getCoin(input.prevout)
        if (coin !== undefined) spentFromView.add(key)
      }
      if (coin === undefined) throw new VerifyError('block', 'bad-txns-inputs-missingorspent', 100, `tx ${t} spends ${key}`)
      coins.push(coin)
    }
    const fee = checkCoinValues(tx, coins, height, params, 'block')
    fees += fee
    if (fees > params.maxMoney) throw new VerifyError('block', 'bad-txns-fee-outofrange', 100, 'accumulated fees out of range')
    checkSequenceLocks(tx, coins.map((c) => c.height), height, prevMedianTimePast, mtpAt, 'block')
    for (const check of sigChecksOf(tx, coins, 'block')) sigChecks.push(check)
    spent.push(coins)
    addOutputs(tx, t, false)
  }

  let coinbaseOut = 0n
  for (const output of coinbase.outputs) coinbaseOut += output.amount
  const allowed = blockSubsidy(height, params) + fees
  if (coinbaseOut > allowed) throw new VerifyError('block', 'bad-cb-amount', 100, `coinbase pays ${coinbaseOut}, limit ${allowed}`)

  return { fees, spent, created: [...created.values()], sigChecks }
}

/**
 * Core's Consensus::CheckTxInputs for a transaction outside a block (the mempool): every input
 * must be in `view` (`bad-txns-inputs-missingorspent`, score 0), then maturity, value ranges
 * and fee as in {@link applyBlock}. Does not check BIP68 or signatures.
 *
 * @param spendHeight - height of the block that would include the transaction (tip + 1)
 * @returns the fee
 * @throws VerifyError of kind 'tx'
 */
export function checkTxInputs (tx: Transaction, view: CoinView, spendHeight: number, params: ChainParams): bigint {
  const coins = tx.inputs.map((input, i) => {
    const coin = view.getCoin(input.prevout)
    if (coin === undefined) throw new VerifyError('tx', 'bad-txns-inputs-missingorspent', 0, `input ${i}`)
    return coin
  })
  return checkCoinValues(tx, coins, spendHeight, params, 'tx')
}

/** Maturity, input value ranges (CVE-2010-5139), inputs ≥ outputs; returns the fee. */
function checkCoinValues (tx: Transaction, coins: readonly Coin[], spendHeight: number, params: ChainParams, kind: VerifyKind): bigint {
  let valueIn = 0n
  coins.forEach((coin, i) => {
    if (coin.coinbase && spendHeight - coin.height < params.coinbaseMaturity) {
      throw new VerifyError(kind, 'bad-txns-premature-spend-of-coinbase', 100, `input ${i}: coinbase of height ${coin.height} spent at ${spendHeight}`)
    }
    valueIn += coin.amount
    if (coin.amount < 0n || coin.amount > params.maxMoney || valueIn > params.maxMoney) {
      throw new VerifyError(kind, 'bad-txns-inputvalues-outofrange', 100, `input ${i}`)
    }
  })
  let valueOut = 0n
  for (const output of tx.outputs) valueOut += output.amount
  if (valueIn < valueOut) throw new VerifyError(kind, 'bad-txns-in-belowout', 100, `in ${valueIn} < out ${valueOut}`)
  const fee = valueIn - valueOut
  if (fee > params.maxMoney) throw new VerifyError(kind, 'bad-txns-fee-outofrange', 100)
  return fee
}

/**
 * The signature checks of a transaction's key-path inputs (for the mempool; `applyBlock`
 * collects them itself): per input, the 64-byte signature, the BIP341 sighash over all
 * `spentCoins` (computed with one {@link precomputeSighash}) and the spent coin's output key.
 *
 * @param spentCoins - the coins the inputs spend, in input order
 * @throws VerifyError of kind 'tx': `bad-witness-shape` (not a key-path witness, or a spent
 *   coin that is not P2TR), `bad-txns-signature` (SIGHASH_SINGLE without a matching output)
 */
export function txSigChecks (tx: Transaction, spentCoins: readonly Coin[]): SigCheck[] {
  return sigChecksOf(tx, spentCoins, 'tx')
}

function sigChecksOf (tx: Transaction, coins: readonly Coin[], kind: VerifyKind): SigCheck[] {
  if (coins.length !== tx.inputs.length) throw new RangeError(`${tx.inputs.length} inputs but ${coins.length} spent coins`)
  const sighashTx: SighashTx = {
    version: tx.version,
    lockTime: tx.lockTime,
    inputs: tx.inputs.map((input) => ({ txid: input.prevout.txid, index: input.prevout.index, sequence: input.sequence })),
    outputs: tx.outputs
  }
  const pre = precomputeSighash(sighashTx, coins)
  return tx.inputs.map((input, i) => {
    const hashType = keyPathHashType(input)
    const script = (coins[i] as Coin).script
    if (hashType === undefined || script.length !== 34 || script[0] !== 0x51 || script[1] !== 0x20) {
      throw new VerifyError(kind, 'bad-witness-shape', 100, `input ${i} is not a P2TR key-path spend`)
    }
    let msg: Uint8Array
    try {
      msg = taprootSighash(sighashTx, i, coins, hashType, pre)
    } catch (err) {
      if (err instanceof SighashError) throw new VerifyError(kind, 'bad-txns-signature', 100, `input ${i}: ${err.message}`, { cause: err })
      throw err
    }
    return { sig: (input.witness[0] as Uint8Array).subarray(0, 64), msg, pubkey: script.subarray(2) }
  })
}
