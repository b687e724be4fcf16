/**
 * Transactions in Bitcoin's serialization, with BIP144's segwit marker, flag and witnesses.
 * The bytes go through `@scure/btc-signer`'s `RawTx` coder; around it, a bounded scan checks
 * the size before anything is decoded, every count against the bytes left (so a forged count
 * never allocates), the exact end (no trailing bytes), and rejects what Bitcoin Core rejects
 * while deserializing: non-canonical CompactSize, unknown flags and a segwit flag whose
 * witnesses are all empty ("Superfluous witness record").
 *
 * Hashes (txids, prevouts) are kept in internal byte order; `hashToHex` shows them reversed.
 */
import { RawTx } from '@scure/btc-signer/script.js'
import { DecodeError } from './errors.ts'
import type { DecodeReason } from './errors.ts'
import { HASH_SIZE, sha256d } from './hash.ts'

/** Default largest transaction `decodeTx` accepts (bytes, witness included). */
export const DEFAULT_MAX_TX_SIZE = 1_000_000
/** Smallest serialized input: prevout (36) + empty scriptSig length (1) + sequence (4). */
export const MIN_INPUT_SIZE = 41
/** Smallest serialized output: amount (8) + empty script length (1). */
export const MIN_OUTPUT_SIZE = 9
/** BIP141 witness scale factor: a non-witness byte weighs 4, a witness byte 1. */
export const WITNESS_SCALE_FACTOR = 4
/** Prevout index of a coinbase input (its txid is all zeros). */
export const COINBASE_INDEX = 0xffffffff

/** The output an input spends: txid in internal byte order and output index. */
export interface OutPoint {
  txid: Uint8Array
  index: number
}

/** A transaction input. `witness` is the BIP141 stack (empty when the input has none). */
export interface TxInput {
  prevout: OutPoint
  scriptSig: Uint8Array
  sequence: number
  witness: Uint8Array[]
}

/** A transaction output: `amount` in base units, `script` the scriptPubKey. */
export interface TxOutput {
  amount: bigint
  script: Uint8Array
}

/** A transaction. `version` is a signed 32-bit integer, `lockTime` an unsigned one. */
export interface Transaction {
  version: number
  inputs: TxInput[]
  outputs: TxOutput[]
  lockTime: number
}

/** Limits for `decodeTx`, all checked before the structure is decoded. */
export interface DecodeTxOptions {
  /** Largest accepted serialization in bytes (default {@link DEFAULT_MAX_TX_SIZE}). */
  maxSize?: number
  /** Most inputs accepted (default: as many as `maxSize` could hold). */
  maxInputs?: number
  /** Most outputs accepted (default: as many as `maxSize` could hold). */
  maxOutputs?: number
}

/** Whether `encodeTx` writes witnesses. */
export interface EncodeTxOptions {
  /** Write the BIP144 extended format when any input has a witness; otherwise the legacy one. */
  witness: boolean
}

/** True when any input carries a witness (so the extended serialization applies). */
export function hasWitness (tx: Transaction): boolean {
  return tx.inputs.some((input) => input.witness.length > 0)
}

/**
 * Serializes a transaction. With `{ witness: true }` and at least one witness, the BIP144
 * format (marker 0x00, flag 0x01, witnesses after the outputs); otherwise the legacy format,
 * the one txids hash. Throws (not `DecodeError`) on out-of-range fields.
 */
export function encodeTx (tx: Transaction, options: EncodeTxOptions): Uint8Array {
  const segwit = options.witness && hasWitness(tx)
  for (const input of tx.inputs) {
    if (input.prevout.txid.length !== HASH_SIZE) throw new RangeError(`prevout txid must be ${HASH_SIZE} bytes, got ${input.prevout.txid.length}`)
  }
  return RawTx.encode({
    version: tx.version,
    segwitFlag: segwit,
    inputs: tx.inputs.map((input) => ({
      // RawTx's txid field is display order (it reverses on the wire); ours is internal order.
      txid: Uint8Array.from(input.prevout.txid).reverse(),
      index: input.prevout.index,
      finalScriptSig: input.scriptSig,
      sequence: input.sequence
    })),
    outputs: tx.outputs.map((output) => ({ amount: output.amount, script: output.script })),
    witnesses: segwit ? tx.inputs.map((input) => input.witness) : undefined,
    lockTime: tx.lockTime
  })
}

/**
 * Parses one serialized transaction that must fill `bytes` exactly. Throws `DecodeError` with
 * reason `tx-oversize` (checked first), `tx-truncated`, `tx-trailing-bytes`,
 * `tx-noncanonical-compactsize`, `tx-too-many-inputs`, `tx-too-many-outputs`,
 * `tx-unknown-flag` or `tx-superfluous-witness`.
 */
export function decodeTx (bytes: Uint8Array, options: DecodeTxOptions = {}): Transaction {
  const maxSize = options.maxSize ?? DEFAULT_MAX_TX_SIZE
  if (bytes.length > maxSize) throw new DecodeError('tx-oversize', `transaction is ${bytes.length} bytes, limit ${maxSize}`)
  const { tx, end } = decodeTxAt(bytes, 0, {
    maxInputs: options.maxInputs ?? Math.floor(maxSize / MIN_INPUT_SIZE),
    maxOutputs: options.maxOutputs ?? Math.floor(maxSize / MIN_OUTPUT_SIZE)
  })
  if (end !== bytes.length) throw new DecodeError('tx-trailing-bytes', `${bytes.length - end} bytes after the transaction`)
  return tx
}

/**
 * Parses the transaction that starts at `offset` and returns it with the offset just past it,
 * for containers that concatenate transactions (blocks). Counts are limited by the bytes
 * present and by `limits`; trailing bytes are the caller's to judge.
 */
export function decodeTxAt (
  bytes: Uint8Array,
  offset: number,
  limits: { maxInputs?: number, maxOutputs?: number } = {}
): { tx: Transaction, end: number } {
  const end = scanTx(bytes, offset, limits.maxInputs ?? Infinity, limits.maxOutputs ?? Infinity)
  let raw: ReturnType<typeof RawTx.decode>
  try {
    raw = RawTx.decode(bytes.subarray(offset, end))
  } catch (err) {
    // The scan accepted these bytes, so RawTx refusing them means the two disagree: a bug.
    throw new DecodeError('tx-malformed', (err as Error).message, { cause: err })
  }
  const witnesses = raw.witnesses ?? []
  const tx: Transaction = {
    version: raw.version,
    inputs: raw.inputs.map((input, i) => ({
      prevout: { txid: Uint8Array.from(input.txid).reverse(), index: input.index },
      scriptSig: Uint8Array.from(input.finalScriptSig),
      sequence: input.sequence,
      witness: (witnesses[i] ?? []).map((item) => Uint8Array.from(item))
    })),
    // Copies (Uint8Array.from, not slice: on a Buffer slice is a view) so the transaction
    // neither aliases nor keeps alive the caller's buffer.
    outputs: raw.outputs.map((output) => ({ amount: output.amount, script: Uint8Array.from(output.script) })),
    lockTime: raw.lockTime
  }
  return { tx, end }
}

/**
 * Walks the serialization without allocating and returns where it ends. It mirrors Bitcoin
 * Core's UnserializeTransaction: a 0x00 where the input count goes is followed by a flag byte;
 * flag 0x01 means witnesses follow the outputs (BIP144), flag 0x00 reads as zero inputs and
 * zero outputs, anything else is unknown optional data.
 */
function scanTx (bytes: Uint8Array, offset: number, maxInputs: number, maxOutputs: number): number {
  const r = new ByteScanner(bytes, offset, 'tx-truncated')
  r.skip(4) // version
  let segwit = false
  if (r.peek() === 0x00) {
    const flag = r.peekAt(1)
    if (flag === 0x01) {
      segwit = true
      r.skip(2)
    } else if (flag !== 0x00) {
      throw new DecodeError('tx-unknown-flag', `unknown transaction flag 0x${flag.toString(16).padStart(2, '0')}`)
    }
  }
  const inputs = r.count(MIN_INPUT_SIZE, maxInputs, 'tx-too-many-inputs')
  for (let i = 0; i < inputs; i++) {
    r.skip(36)
    r.skip(r.compactSize())
    r.skip(4)
  }
  const outputs = r.count(MIN_OUTPUT_SIZE, maxOutputs, 'tx-too-many-outputs')
  for (let i = 0; i < outputs; i++) {
    r.skip(8)
    r.skip(r.compactSize())
  }
  if (segwit) {
    let witnessed = false
    for (let i = 0; i < inputs; i++) {
      const items = r.count(1)
      if (items > 0) witnessed = true
      for (let j = 0; j < items; j++) r.skip(r.compactSize())
    }
    // BIP144: the extended format is only for transactions that have a witness.
    if (!witnessed) throw new DecodeError('tx-superfluous-witness', 'segwit flag set but every witness is empty')
  }
  r.skip(4) // lockTime
  return r.pos
}

/**
 * A bounds-checked read cursor over consensus bytes (shared with `block.ts`). Every overrun
 * throws `DecodeError` with the `truncated` reason it was built with.
 */
export class ByteScanner {
  readonly bytes: Uint8Array
  readonly truncated: DecodeReason
  /** Offset of the next unread byte. */
  pos: number

  constructor (bytes: Uint8Array, pos: number, truncated: DecodeReason) {
    this.bytes = bytes
    this.pos = pos
    this.truncated = truncated
  }

  /** Throws unless `n` more bytes are there. */
  need (n: number): void {
    if (n > this.bytes.length - this.pos) throw new DecodeError(this.truncated, `needs ${n} more bytes at offset ${this.pos}, ${this.bytes.length - this.pos} left`)
  }

  /** Moves past `n` bytes. */
  skip (n: number): void {
    this.need(n)
    this.pos += n
  }

  /** The next byte, not consumed. */
  peek (): number {
    return this.peekAt(0)
  }

  /** The byte `i` places ahead, not consumed. */
  peekAt (i: number): number {
    this.need(i + 1)
    return this.bytes[this.pos + i] as number
  }

  /** Reads a CompactSize, rejecting non-shortest encodings as Bitcoin Core does. */
  compactSize (): number {
    const first = this.peek()
    this.pos += 1
    if (first < 0xfd) return first
    const width = first === 0xfd ? 2 : first === 0xfe ? 4 : 8
    this.need(width)
    // Past 2^53 the value loses precision, but it then exceeds any byte count it is checked against.
    let value = 0
    for (let i = width - 1; i >= 0; i--) value = value * 256 + (this.bytes[this.pos + i] as number)
    this.pos += width
    const min = first === 0xfd ? 0xfd : first === 0xfe ? 0x10000 : 0x100000000
    if (value < min) throw new DecodeError('tx-noncanonical-compactsize', `CompactSize ${value} not in its shortest form`)
    return value
  }

  /**
   * Reads a list count, checks it against `max` (throwing `tooMany`), then checks that the
   * bytes left can hold that many items of at least `minItemSize` bytes.
   */
  count (minItemSize: number, max = Infinity, tooMany: DecodeReason = this.truncated): number {
    const at = this.pos
    const n = this.compactSize()
    if (n > max) throw new DecodeError(tooMany, `count ${n} at offset ${at}, limit ${max}`)
    if (n * minItemSize > this.bytes.length - this.pos) throw new DecodeError(this.truncated, `count ${n} at offset ${at} exceeds the bytes left`)
    return n
  }
}

/** Serialized size in bytes, with or without witnesses, computed without encoding. */
export function txSize (tx: Transaction, options: EncodeTxOptions): number {
  let size = 4 + compactSizeLength(tx.inputs.length) + compactSizeLength(tx.outputs.length) + 4
  for (const input of tx.inputs) size += 36 + compactSizeLength(input.scriptSig.length) + input.scriptSig.length + 4
  for (const output of tx.outputs) size += 8 + compactSizeLength(output.script.length) + output.script.length
  if (options.witness && hasWitness(tx)) {
    size += 2 // marker and flag
    for (const input of tx.inputs) {
      size += compactSizeLength(input.witness.length)
      for (const item of input.witness) size += compactSizeLength(item.length) + item.length
    }
  }
  return size
}

/** Size without witnesses (BIP141 "base size", Core's stripped size). */
export function txBaseSize (tx: Transaction): number {
  return txSize(tx, { witness: false })
}

/** Size with witnesses (BIP141 "total size"). */
export function txTotalSize (tx: Transaction): number {
  return txSize(tx, { witness: true })
}

/** BIP141 weight: base size × 3 + total size. */
export function txWeight (tx: Transaction): number {
  return txBaseSize(tx) * (WITNESS_SCALE_FACTOR - 1) + txTotalSize(tx)
}

/** BIP141 virtual size: weight / 4, rounded up. */
export function txVsize (tx: Transaction): number {
  return Math.ceil(txWeight(tx) / WITNESS_SCALE_FACTOR)
}

/** The txid: sha256d of the legacy (no-witness) serialization, internal byte order. */
export function txid (tx: Transaction): Uint8Array {
  return sha256d(encodeTx(tx, { witness: false }))
}

/** The wtxid (BIP141): sha256d of the witness serialization; equals the txid without witnesses. */
export function wtxid (tx: Transaction): Uint8Array {
  return sha256d(encodeTx(tx, { witness: true }))
}

/** True for a coinbase: exactly one input, spending the null outpoint (zero txid, index 0xffffffff). */
export function isCoinbase (tx: Transaction): boolean {
  if (tx.inputs.length !== 1) return false
  const prevout = (tx.inputs[0] as TxInput).prevout
  return prevout.index === COINBASE_INDEX && prevout.txid.every((b) => b === 0)
}

/** Bytes a CompactSize takes for `n`. */
export function compactSizeLength (n: number): number {
  return n < 0xfd ? 1 : n <= 0xffff ? 3 : n <= 0xffffffff ? 5 : 9
}
