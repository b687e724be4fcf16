/**
 * The BIP341 signature hash for key-path spends ("Common signature message", epoch 0, no annex,
 * no script path), over a plain transaction shape so consensus code needs no btc-signer objects.
 *
 * ```ts
 * const cache = precomputeSighash(tx, spent)            // once per transaction
 * const msg = taprootSighash(tx, 0, spent, SIGHASH_DEFAULT, cache)
 * verifySchnorr(sig, msg, outputKey)
 * ```
 *
 * Written from BIP341's algorithm with @noble/hashes rather than btc-signer's
 * `Transaction.preimageWitnessV1`, which needs a btc-signer `Transaction`; the tests check the
 * two agree, and check this one against BIP341's wallet vectors.
 *
 * No annex: `spend_type` is always 0, so a witness carrying an annex (two or more elements, the last
 * starting with 0x50) must be refused by the caller, or this function extended with `sha_annex`.
 *
 * Byte order: `txid` is in internal byte order, as serialized in a transaction (the reverse of
 * the hex a block explorer shows). Amounts are unsigned 64-bit, serialized little-endian.
 */
import { sha256 } from '@noble/hashes/sha2.js'
import { PeerdError } from '../../errors.ts'

/** Signs all inputs and outputs; a signature with it carries no hash-type byte (64 bytes). */
export const SIGHASH_DEFAULT = 0x00
/** Signs all inputs and outputs; explicit form (65-byte signature). */
export const SIGHASH_ALL = 0x01
/** Signs all inputs and no output. */
export const SIGHASH_NONE = 0x02
/** Signs all inputs and the output at the same index as the signed input. */
export const SIGHASH_SINGLE = 0x03
/** Flag: sign only the input being spent, not the others. */
export const SIGHASH_ANYONECANPAY = 0x80

/** The hash types BIP341 allows: 0x00–0x03 and 0x81–0x83. Any other makes a signature invalid. */
export const TAPROOT_HASH_TYPES: readonly number[] = [0x00, 0x01, 0x02, 0x03, 0x81, 0x82, 0x83]

/** One input: the outpoint it spends and its sequence. */
export interface SighashInput {
  /** Id of the transaction holding the spent output, 32 bytes, internal byte order. */
  txid: Uint8Array
  /** Index of the spent output in that transaction (uint32). */
  index: number
  /** nSequence (uint32). */
  sequence: number
}

/** One output (of this transaction), or one output spent by it. */
export interface SighashOutput {
  /** Value in base units (uint64). */
  amount: bigint
  /** scriptPubKey. */
  script: Uint8Array
}

/**
 * The parts of a transaction a BIP341 signature commits to. Witnesses are not among them.
 * Any richer transaction type with these fields can be passed as it is.
 */
export interface SighashTx {
  /** nVersion (int32; serialized as 4 bytes little-endian). */
  version: number
  /** nLockTime (uint32). */
  lockTime: number
  inputs: readonly SighashInput[]
  outputs: readonly SighashOutput[]
}

/**
 * The single-SHA256 hashes shared by every input's signature hash (BIP341 `sha_prevouts`,
 * `sha_amounts`, `sha_scriptpubkeys`, `sha_sequences`, `sha_outputs`). Computing them once per
 * transaction keeps signature hashing linear in the transaction size.
 */
export interface SighashPrecomputed {
  hashPrevouts: Uint8Array
  hashAmounts: Uint8Array
  hashScriptPubkeys: Uint8Array
  hashSequences: Uint8Array
  hashOutputs: Uint8Array
}

/** Why a signature hash cannot be computed. */
export type SighashErrorReason =
  /** The hash type is not one of {@link TAPROOT_HASH_TYPES}. */
  | 'bad-hashtype'
  /** SIGHASH_SINGLE for an input with no output at its index: BIP341 defines no hash, the signature fails. */
  | 'single-without-output'
  /** The input index is not an input of the transaction. */
  | 'bad-input-index'
  /** Not exactly one spent output per input. */
  | 'spent-outputs-mismatch'
  /** A field is out of range (txid length, a number outside its integer type, a negative amount). */
  | 'bad-tx'

/** A BIP341 signature hash cannot be computed for these arguments. */
export class SighashError extends PeerdError {
  static override name = 'SighashError'

  /** Stable machine-readable cause. */
  readonly reason: SighashErrorReason

  constructor (reason: SighashErrorReason, message: string) {
    super(message)
    this.reason = reason
  }
}

/** Whether BIP341 allows this hash type. */
export function isValidTaprootHashType (hashType: number): boolean {
  return TAPROOT_HASH_TYPES.includes(hashType)
}

/**
 * The per-transaction hashes of BIP341, for {@link taprootSigMsg} and {@link taprootSighash}.
 *
 * @param tx - the spending transaction
 * @param spent - the outputs its inputs spend, in input order
 * @throws SighashError 'spent-outputs-mismatch' or 'bad-tx'
 */
export function precomputeSighash (tx: SighashTx, spent: readonly SighashOutput[]): SighashPrecomputed {
  if (spent.length !== tx.inputs.length) {
    throw new SighashError('spent-outputs-mismatch', `${tx.inputs.length} inputs but ${spent.length} spent outputs`)
  }
  const prevouts = new Writer(tx.inputs.length * 36)
  const sequences = new Writer(tx.inputs.length * 4)
  for (const input of tx.inputs) {
    writeOutpoint(prevouts, input)
    sequences.u32(input.sequence, 'sequence')
  }
  const amounts = new Writer(spent.length * 8)
  const scripts = new Writer(spent.reduce((n, o) => n + 9 + o.script.length, 0))
  for (const output of spent) {
    amounts.u64(output.amount)
    scripts.varBytes(output.script)
  }
  const outputs = new Writer(tx.outputs.reduce((n, o) => n + 17 + o.script.length, 0))
  for (const output of tx.outputs) writeOutput(outputs, output)
  return {
    hashPrevouts: sha256(prevouts.finish()),
    hashAmounts: sha256(amounts.finish()),
    hashScriptPubkeys: sha256(scripts.finish()),
    hashSequences: sha256(sequences.finish()),
    hashOutputs: sha256(outputs.finish())
  }
}

/**
 * BIP341 `SigMsg(hash_type, ext_flag = 0)` for a key-path spend without annex, preceded by the
 * epoch byte 0x00: the exact bytes that {@link taprootSighash} hashes.
 *
 * @param tx - the spending transaction
 * @param inputIndex - the input being signed
 * @param spent - the outputs all inputs spend, in input order (amounts and scripts of every
 *   input are committed to, unless ANYONECANPAY)
 * @param hashType - one of {@link TAPROOT_HASH_TYPES}
 * @param precomputed - {@link precomputeSighash} of the same tx and spent outputs, if at hand
 * @throws SighashError
 */
export function taprootSigMsg (
  tx: SighashTx,
  inputIndex: number,
  spent: readonly SighashOutput[],
  hashType: number,
  precomputed?: SighashPrecomputed
): Uint8Array {
  if (!isValidTaprootHashType(hashType)) {
    throw new SighashError('bad-hashtype', `hash type 0x${hashType.toString(16)} is not allowed by BIP341`)
  }
  if (!Number.isSafeInteger(inputIndex) || inputIndex < 0 || inputIndex >= tx.inputs.length) {
    throw new SighashError('bad-input-index', `input ${inputIndex} does not exist (${tx.inputs.length} inputs)`)
  }
  if (spent.length !== tx.inputs.length) {
    throw new SighashError('spent-outputs-mismatch', `${tx.inputs.length} inputs but ${spent.length} spent outputs`)
  }
  const outputType = hashType === SIGHASH_DEFAULT ? SIGHASH_ALL : hashType & 0x03
  const anyoneCanPay = (hashType & SIGHASH_ANYONECANPAY) !== 0
  if (outputType === SIGHASH_SINGLE && inputIndex >= tx.outputs.length) {
    throw new SighashError('single-without-output', `SIGHASH_SINGLE on input ${inputIndex} but only ${tx.outputs.length} outputs`)
  }
  // Only the hashes this hash type uses are computed when none were given.
  const pre = precomputed ?? ((!anyoneCanPay || outputType === SIGHASH_ALL) ? precomputeSighash(tx, spent) : undefined)

  const w = new Writer(256 + (anyoneCanPay ? (spent[inputIndex] as SighashOutput).script.length : 0))
  w.u8(0x00) // epoch
  w.u8(hashType)
  w.i32(tx.version)
  w.u32(tx.lockTime, 'lockTime')
  if (!anyoneCanPay && pre !== undefined) {
    w.bytes(pre.hashPrevouts)
    w.bytes(pre.hashAmounts)
    w.bytes(pre.hashScriptPubkeys)
    w.bytes(pre.hashSequences)
  }
  if (outputType === SIGHASH_ALL && pre !== undefined) w.bytes(pre.hashOutputs)
  w.u8(0x00) // spend_type = (ext_flag 0) * 2 + (annex_present 0)
  if (anyoneCanPay) {
    const input = tx.inputs[inputIndex] as SighashInput
    const prev = spent[inputIndex] as SighashOutput
    writeOutpoint(w, input)
    w.u64(prev.amount)
    w.varBytes(prev.script)
    w.u32(input.sequence, 'sequence')
  } else {
    w.u32(inputIndex, 'input index')
  }
  if (outputType === SIGHASH_SINGLE) {
    const single = new Writer(17 + (tx.outputs[inputIndex] as SighashOutput).script.length)
    writeOutput(single, tx.outputs[inputIndex] as SighashOutput)
    w.bytes(sha256(single.finish()))
  }
  return w.finish()
}

/**
 * BIP341 signature hash of a key-path spend: `hash_TapSighash(0x00 || SigMsg(hash_type, 0))`,
 * the 32-byte message a BIP340 signature signs.
 *
 * @param tx - the spending transaction
 * @param inputIndex - the input being signed
 * @param spent - the outputs all inputs spend, in input order
 * @param hashType - one of {@link TAPROOT_HASH_TYPES}; {@link SIGHASH_DEFAULT} for a 64-byte signature
 * @param precomputed - {@link precomputeSighash} of the same tx and spent outputs, if at hand
 * @throws SighashError
 */
export function taprootSighash (
  tx: SighashTx,
  inputIndex: number,
  spent: readonly SighashOutput[],
  hashType: number,
  precomputed?: SighashPrecomputed
): Uint8Array {
  return taggedHash(TAP_SIGHASH_TAG, taprootSigMsg(tx, inputIndex, spent, hashType, precomputed))
}

const TAP_SIGHASH_TAG = sha256(new TextEncoder().encode('TapSighash'))

/** BIP340 tagged hash `SHA256(SHA256(tag) || SHA256(tag) || msg)`, tag pre-hashed. */
function taggedHash (tagHash: Uint8Array, msg: Uint8Array): Uint8Array {
  return sha256.create().update(tagHash).update(tagHash).update(msg).digest()
}

function writeOutpoint (w: Writer, input: SighashInput): void {
  if (!(input.txid instanceof Uint8Array) || input.txid.length !== 32) {
    throw new SighashError('bad-tx', 'input txid must be 32 bytes')
  }
  w.bytes(input.txid)
  w.u32(input.index, 'output index')
}

function writeOutput (w: Writer, output: SighashOutput): void {
  w.u64(output.amount)
  w.varBytes(output.script)
}

/** A growable little-endian byte writer for the few field types a sighash needs. */
class Writer {
  private buf: Uint8Array
  private view: DataView
  private pos = 0

  constructor (capacity: number) {
    this.buf = new Uint8Array(Math.max(capacity, 64))
    this.view = new DataView(this.buf.buffer)
  }

  private reserve (n: number): void {
    if (this.pos + n <= this.buf.length) return
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.pos + n))
    next.set(this.buf.subarray(0, this.pos))
    this.buf = next
    this.view = new DataView(next.buffer)
  }

  u8 (v: number): void {
    this.reserve(1)
    this.buf[this.pos++] = v
  }

  u32 (v: number, what: string): void {
    if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new SighashError('bad-tx', `${what} ${v} is not a uint32`)
    this.reserve(4)
    this.view.setUint32(this.pos, v, true)
    this.pos += 4
  }

  i32 (v: number): void {
    if (!Number.isInteger(v) || v < -0x80000000 || v > 0x7fffffff) throw new SighashError('bad-tx', `version ${v} is not an int32`)
    this.reserve(4)
    this.view.setInt32(this.pos, v, true)
    this.pos += 4
  }

  u64 (v: bigint): void {
    if (typeof v !== 'bigint' || v < 0n || v > 0xffffffffffffffffn) throw new SighashError('bad-tx', `amount ${String(v)} is not a uint64`)
    this.reserve(8)
    this.view.setBigUint64(this.pos, v, true)
    this.pos += 8
  }

  bytes (b: Uint8Array): void {
    this.reserve(b.length)
    this.buf.set(b, this.pos)
    this.pos += b.length
  }

  /** Bitcoin's CompactSize length prefix, then the bytes. */
  varBytes (b: Uint8Array): void {
    const n = b.length
    if (n < 0xfd) {
      this.u8(n)
    } else if (n <= 0xffff) {
      this.u8(0xfd)
      this.reserve(2)
      this.view.setUint16(this.pos, n, true)
      this.pos += 2
    } else {
      this.u8(0xfe)
      this.u32(n, 'length')
    }
    this.bytes(b)
  }

  finish (): Uint8Array {
    return this.buf.slice(0, this.pos)
  }
}
