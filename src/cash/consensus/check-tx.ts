/**
 * Context-free transaction rules: Bitcoin Core's `CheckTransaction` (src/consensus/tx_check.cpp)
 * plus Cash's payments-only rules on output scripts and input witnesses.
 *
 * @example
 * ```ts
 * checkTransaction(tx, params) // throws VerifyError (kind 'tx') with Core's reject reason
 * ```
 * @module
 */
import { isValidTaprootHashType, SIGHASH_DEFAULT } from '../primitives/sighash.ts'
import { COINBASE_INDEX, isCoinbase, txSize, txWeight } from '../primitives/tx.ts'
import type { Transaction, TxInput, TxOutput } from '../primitives/tx.ts'
import { outpointKey } from './coins.ts'
import type { ChainParams } from './params.ts'
import { VerifyError } from './verify-error.ts'
import type { VerifyKind } from './verify-error.ts'

/** The opcode that makes an output provably unspendable (null data). */
export const OP_RETURN = 0x6a
/** Longest null-data output script (Core's default `-datacarriersize` 83, here a consensus rule). */
export const MAX_NULL_DATA_SCRIPT = 83
/** Shortest coinbase scriptSig (Core's CheckTransaction). */
export const MIN_COINBASE_SCRIPT = 2
/** Longest coinbase scriptSig (Core's CheckTransaction). */
export const MAX_COINBASE_SCRIPT = 100
/**
 * The one size (without witnesses) no transaction may have (BIP54, Consensus Cleanup): 64 bytes
 * hash like an inner merkle node, which lets a block's transactions be forged under its header.
 */
export const FORBIDDEN_TX_SIZE = 64

/** True when `tx` is {@link FORBIDDEN_TX_SIZE} bytes without its witnesses. */
export function isForbiddenTxSize (tx: Transaction): boolean {
  return txSize(tx, { witness: false }) === FORBIDDEN_TX_SIZE
}

/** True for `OP_1 <32 bytes>`, the only spendable output script (BIP341 P2TR). */
export function isP2trScript (script: Uint8Array): boolean {
  return script.length === 34 && script[0] === 0x51 && script[1] === 0x20
}

/** True for a script starting with OP_RETURN: its output can never be spent and is not a coin. */
export function isUnspendable (script: Uint8Array): boolean {
  return script.length > 0 && script[0] === OP_RETURN
}

/** Payments only: a P2TR output, or null data (OP_RETURN, ≤ 83 bytes) that carries no value. */
export function isAllowedOutput (output: TxOutput): boolean {
  if (isP2trScript(output.script)) return true
  return isUnspendable(output.script) && output.script.length <= MAX_NULL_DATA_SCRIPT && output.amount === 0n
}

/**
 * The hash type of a key-path witness, or undefined when the input is not shaped as a BIP341
 * key-path spend: empty scriptSig and exactly one witness item (so no annex and no script
 * path) of 64 bytes (SIGHASH_DEFAULT) or 65 bytes ending in a valid hash type other than 0x00.
 */
export function keyPathHashType (input: TxInput): number | undefined {
  if (input.scriptSig.length !== 0 || input.witness.length !== 1) return undefined
  const item = input.witness[0] as Uint8Array
  if (item.length === 64) return SIGHASH_DEFAULT
  if (item.length !== 65) return undefined
  const hashType = item[64] as number
  // BIP341: a 65-byte signature with hash type 0x00 is invalid (0x00 is implied by 64 bytes).
  return hashType !== SIGHASH_DEFAULT && isValidTaprootHashType(hashType) ? hashType : undefined
}

/**
 * Checks a transaction on its own, in Core's order: `bad-txns-vin-empty`,
 * `bad-txns-vout-empty`, `bad-txns-oversize` (weight above `maxBlockWeight`), `bad-txns-64byte`
 * (64 bytes without witnesses, BIP54),
 * `bad-txns-vout-negative` / `bad-txns-vout-toolarge` / `bad-txns-txouttotal-toolarge`
 * (CVE-2010-5139), `bad-txns-inputs-duplicate` (CVE-2018-17144), then `bad-cb-length` for a
 * coinbase or `bad-txns-prevout-null` for any other, then Cash's `bad-txns-output-script` and
 * `bad-witness-shape`. Every reason scores 100.
 *
 * @throws VerifyError of kind 'tx'
 */
export function checkTransaction (tx: Transaction, params: ChainParams): void {
  checkTx(tx, params, 'tx')
}

/** {@link checkTransaction} with the error kind chosen by the caller (a block reports 'block'). */
export function checkTx (tx: Transaction, params: ChainParams, kind: VerifyKind): void {
  const fail = (reason: string, message?: string): never => {
    throw new VerifyError(kind, reason, 100, message)
  }
  if (tx.inputs.length === 0) fail('bad-txns-vin-empty')
  if (tx.outputs.length === 0) fail('bad-txns-vout-empty')
  const weight = txWeight(tx)
  if (weight > params.maxBlockWeight) fail('bad-txns-oversize', `weight ${weight}`)
  if (isForbiddenTxSize(tx)) fail('bad-txns-64byte', `${FORBIDDEN_TX_SIZE} bytes without witnesses (BIP54)`)

  // CVE-2010-5139: every value and every running sum in range before the sum grows further.
  let total = 0n
  for (const output of tx.outputs) {
    if (output.amount < 0n) fail('bad-txns-vout-negative')
    if (output.amount > params.maxMoney) fail('bad-txns-vout-toolarge')
    total += output.amount
    if (total > params.maxMoney) fail('bad-txns-txouttotal-toolarge')
  }

  // CVE-2018-17144: a transaction spending one outpoint twice must die here, not in the UTXO code.
  if (tx.inputs.length > 1) {
    const seen = new Set<string>()
    for (const input of tx.inputs) {
      const key = outpointKey(input.prevout)
      if (seen.has(key)) fail('bad-txns-inputs-duplicate')
      seen.add(key)
    }
  }

  const coinbase = isCoinbase(tx)
  if (coinbase) {
    const len = (tx.inputs[0] as TxInput).scriptSig.length
    if (len < MIN_COINBASE_SCRIPT || len > MAX_COINBASE_SCRIPT) fail('bad-cb-length', `scriptSig of ${len} bytes`)
  } else {
    for (const input of tx.inputs) {
      if (input.prevout.index === COINBASE_INDEX && input.prevout.txid.every((b) => b === 0)) fail('bad-txns-prevout-null')
    }
  }

  tx.outputs.forEach((output, i) => {
    if (!isAllowedOutput(output)) fail('bad-txns-output-script', `output ${i}`)
  })
  // The coinbase's witness (the BIP141 reserved value) is checked with the block's commitment.
  if (!coinbase) {
    tx.inputs.forEach((input, i) => {
      if (keyPathHashType(input) === undefined) fail('bad-witness-shape', `input ${i} is not a P2TR key-path spend`)
    })
  }
}
