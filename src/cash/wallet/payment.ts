/**
 * Payments: coin selection, the exact fee, and building and signing with @scure/btc-signer.
 *
 * Sizes of what the wallet builds (BIP141 weight; vsize = ⌈weight / 4⌉):
 * - fixed: version (4) + input count + output count + lock time (4), ×4, plus the segwit marker
 *   and flag (2): 42 WU with fewer than 253 inputs and outputs;
 * - a P2TR key-path input: outpoint (36) + empty scriptSig (1) + sequence (4) = 41 bytes ×4, plus
 *   its witness (item count 1, length 1, 64-byte signature): 230 WU = 57.5 vB;
 * - a P2TR output: amount (8) + script length (1) + script (34) = 43 bytes ×4 = 172 WU = 43 vB.
 * Signatures use SIGHASH_DEFAULT (64 bytes, no hash-type byte), so the size is known before
 * signing; it is checked against the signed transaction.
 */
import type { HDKey } from '@scure/bip32'
import { p2tr, Transaction as BtcTransaction } from '@scure/btc-signer'
import { bytesEqual } from '../primitives/hash.ts'
import { compactSizeLength, decodeTx, txVsize } from '../primitives/tx.ts'
import type { Transaction, TxOutput } from '../primitives/tx.ts'
import { DEFAULT_MAX_TX_WEIGHT } from '../mempool/policy.ts'
import { InsufficientFundsError, PaymentTooLargeError, WalletDbError } from './errors.ts'
import { btcNetwork } from './keys.ts'
import type { WalletCoin } from './layout.ts'

/** Smallest change output kept (Bitcoin Core's dust threshold for P2TR); less goes to the fee. */
export const DUST_LIMIT = 330n
/** Weight of a P2TR key-path input with a 64-byte signature (57.5 vB). */
export const P2TR_INPUT_WEIGHT = 230
/** Weight of a P2TR output (43 vB). */
export const P2TR_OUTPUT_WEIGHT = 172
/** The final sequence: no relative lock time, no replace-by-fee signal. */
export const FINAL_SEQUENCE = 0xffffffff

/** Weight of a transaction with `inputs` P2TR key-path inputs and `outputs` P2TR outputs. */
export function paymentWeight (inputs: number, outputs: number): number {
  return (4 + compactSizeLength(inputs) + compactSizeLength(outputs) + 4) * 4 + 2 +
    inputs * P2TR_INPUT_WEIGHT + outputs * P2TR_OUTPUT_WEIGHT
}

/** Virtual size of such a transaction: ⌈weight / 4⌉. */
export function paymentVsize (inputs: number, outputs: number): number {
  return Math.ceil(paymentWeight(inputs, outputs) / 4)
}

/**
 * `feeRate × vsize` in base units, rounded up; the rate counts to 0.001 base units per vbyte
 * (so 1.1 × 111 is 123, not 122.1000…01 rounded to 123 by luck).
 */
export function feeFor (feeRate: number, vsize: number): bigint {
  const milli = BigInt(Math.round(feeRate * 1000)) * BigInt(vsize)
  return (milli + 999n) / 1000n
}

/** Coins chosen for a payment, with its fee and change. */
export interface Selection {
  coins: WalletCoin[]
  fee: bigint
  /** 0 when no change output is made. */
  change: bigint
}

/**
 * Largest-first coin selection. Coins are added biggest first until they pay `amount` plus the
 * fee of a transaction with a change output, leaving change of at least {@link DUST_LIMIT}; or
 * `amount` plus the fee without a change output, the rest (less than the cost of a change output
 * plus dust) going to the fee. Ties are broken by age (older first), then by outpoint order.
 *
 * @param maxWeight - heaviest transaction to build: what peers relay
 * @throws InsufficientFundsError with the total of `coins` and what spending all of them would need
 * @throws PaymentTooLargeError when the coins would pay, but more of them than fit in `maxWeight`
 */
export function selectCoins (coins: readonly WalletCoin[], amount: bigint, feeRate: number, maxWeight = DEFAULT_MAX_TX_WEIGHT): Selection {
  const sorted = [...coins].sort((a, b) =>
    a.amount !== b.amount ? (b.amount > a.amount ? 1 : -1) : a.height - b.height || a.prevout.index - b.prevout.index)
  const chosen: WalletCoin[] = []
  let total = 0n
  for (const coin of sorted) {
    if (paymentWeight(chosen.length + 1, 2) > maxWeight) {
      const all = sorted.reduce((sum, c) => sum + c.amount, 0n)
      const needed = amount + feeFor(feeRate, paymentVsize(sorted.length, 1))
      if (all >= needed) throw new PaymentTooLargeError(chosen.length, maxWeight)
      throw new InsufficientFundsError(all, needed)
    }
    chosen.push(coin)
    total += coin.amount
    const withChange = feeFor(feeRate, paymentVsize(chosen.length, 2))
    if (total >= amount + withChange + DUST_LIMIT) return { coins: chosen, fee: withChange, change: total - amount - withChange }
    const without = feeFor(feeRate, paymentVsize(chosen.length, 1))
    if (total >= amount + without) return { coins: chosen, fee: total - amount, change: 0n }
  }
  throw new InsufficientFundsError(total, amount + feeFor(feeRate, paymentVsize(Math.max(sorted.length, 1), 1)))
}

/**
 * Builds and signs a version-2 transaction spending `coins` (in order) to `outputs` (in order),
 * with btc-signer: each input carries its `witnessUtxo` and BIP86 `tapInternalKey`, is signed by
 * key path with the key at the coin's path under `account` (btc-signer applies the taproot
 * tweak), then finalized and extracted; the bytes are decoded with our own codec.
 *
 * @param account - the BIP86 account key with its private key (the caller wipes it)
 * @throws WalletDbError when a coin's script is not the one its path derives (corrupt DB)
 */
export function signPayment (account: HDKey, coins: readonly WalletCoin[], outputs: readonly TxOutput[], hrp: string): Transaction {
  const tx = new BtcTransaction({ version: 2, lockTime: 0 })
  const branches = [account.deriveChild(0), account.deriveChild(1)]
  const keys: HDKey[] = []
  try {
    for (const coin of coins) {
      const node = (branches[coin.branch] as HDKey).deriveChild(coin.index)
      keys.push(node)
      const internalKey = (node.publicKey as Uint8Array).slice(1)
      if (!bytesEqual(p2tr(internalKey, undefined, btcNetwork(hrp)).script, coin.script)) {
        throw new WalletDbError(`coin ${coin.branch}/${coin.index}: stored script is not the address its path derives`)
      }
      tx.addInput({
        // btc-signer takes the txid in display order; ours is internal order.
        txid: Uint8Array.from(coin.prevout.txid).reverse(),
        index: coin.prevout.index,
        sequence: FINAL_SEQUENCE,
        witnessUtxo: { script: coin.script, amount: coin.amount },
        tapInternalKey: internalKey
      })
    }
    for (const output of outputs) tx.addOutput({ script: output.script, amount: output.amount })
    keys.forEach((node, i) => { tx.signIdx(node.privateKey as Uint8Array, i) })
    tx.finalize()
    const signed = decodeTx(tx.extract())
    const expected = paymentVsize(coins.length, outputs.length)
    if (txVsize(signed) !== expected) throw new Error(`signed payment is ${txVsize(signed)} vbytes, expected ${expected}`)
    return signed
  } finally {
    for (const node of [...keys, ...branches]) node.wipePrivateData()
  }
}

/** A payment to make. */
export interface PaymentRequest {
  address: string
  /** Base units, > 0. */
  amount: bigint
  /** Base units per vbyte (resolution 0.001); default: the wallet's `feeRate()` option, else 1. */
  feeRate?: number
  passphrase: string
}

/** A signed payment, not broadcast. */
export interface Payment {
  tx: Transaction
  /** Display-order hex. */
  txid: string
  fee: bigint
  vsize: number
  /** The change output's amount (0 when none was made). */
  change: bigint
}
