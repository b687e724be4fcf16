/**
 * The chain's LevelDB (`DATA/chain`): key prefixes and value codecs, all bytes
 * (`keyEncoding` and `valueEncoding` 'view'). Integers in keys are big-endian so LevelDB's
 * byte order is their numeric order; integers in values are little-endian.
 *
 * Keys:
 * - `V` → format version (u32)
 * - `R` → hash of the tip (32 bytes)
 * - `e` hash → {@link EntryRecord}: header (80) | height (u32) | chainwork (32, big-endian) | status (u8)
 * - `b` hash → the raw block (the bytes `encodeBlock` writes)
 * - `u` hash → undo data of a connected block: the coins it spent, in transaction and input order
 * - `h` height (u32) → hash of the main-chain block at that height
 * - `c` txid index (u32) → {@link Coin}: amount (u64) | height (u32) | flags (u8) | script (the rest)
 * - `t` txid → {@link TxIndexRecord}: block hash (32) | position (u32) | offset (u32) | length (u32)
 *
 * Connecting or disconnecting a block changes `c`, `u`, `t`, `h`, `R` and the entry's status in
 * one batch, so the store is consistent at every instant (kill -9 included).
 */
import type { Coin } from '../consensus/coins.ts'
import { HEADER_SIZE, decodeHeader, encodeHeader } from '../primitives/header.ts'
import type { BlockHeader } from '../primitives/header.ts'
import type { OutPoint } from '../primitives/tx.ts'
import { keyWith } from '../../utils/db-key.ts'

/** On-disk format version of the chain DB. */
export const CHAIN_DB_VERSION = 1

/** One-byte key prefixes. */
export const PREFIX = {
  version: 0x56, // 'V'
  tip: 0x52, // 'R'
  entry: 0x65, // 'e'
  block: 0x62, // 'b'
  undo: 0x75, // 'u'
  height: 0x68, // 'h'
  coin: 0x63, // 'c'
  tx: 0x74 // 't'
} as const

/**
 * Validation state of a stored block: `valid` once it was connected (it stays valid when a reorg
 * disconnects it), `stored` when its body passed the context-free checks but it was never
 * connected (a side branch with less work), `invalid` when it or an ancestor broke a rule.
 */
export type EntryStatus = 'valid' | 'stored' | 'invalid'

const STATUS_CODE: Record<EntryStatus, number> = { stored: 0, valid: 1, invalid: 2 }
const STATUS_OF: EntryStatus[] = ['stored', 'valid', 'invalid']

/** What the `e` record holds (the hash is the key). */
export interface EntryRecord {
  header: BlockHeader
  height: number
  chainwork: bigint
  status: EntryStatus
}

/** Where the tx index finds a main-chain transaction. */
export interface TxIndexRecord {
  /** Hash of the block holding it. */
  blockHash: Uint8Array
  /** Its position in the block (0 = coinbase). */
  position: number
  /** Byte offset of its serialization inside the raw block. */
  offset: number
  /** Length of its serialization (witness included). */
  length: number
}

/** Key of the format version. */
export const VERSION_KEY = Uint8Array.of(PREFIX.version)
/** Key of the tip pointer. */
export const TIP_KEY = Uint8Array.of(PREFIX.tip)

/** Key of a block's index entry. */
export function entryKey (hash: Uint8Array): Uint8Array { return keyWith(PREFIX.entry, hash) }
/** Key of a raw block. */
export function blockKey (hash: Uint8Array): Uint8Array { return keyWith(PREFIX.block, hash) }
/** Key of a connected block's undo data. */
export function undoKey (hash: Uint8Array): Uint8Array { return keyWith(PREFIX.undo, hash) }
/** Key of a transaction's index record. */
export function txKey (txid: Uint8Array): Uint8Array { return keyWith(PREFIX.tx, txid) }

/** Key of the main-chain hash at `height`. */
export function heightKey (height: number): Uint8Array {
  const key = new Uint8Array(5)
  key[0] = PREFIX.height
  new DataView(key.buffer).setUint32(1, height, false)
  return key
}

/** Key of the coin at `prevout`: txid then the index big-endian, so a txid's outputs sort together. */
export function coinKey (prevout: OutPoint): Uint8Array {
  const key = new Uint8Array(37)
  key[0] = PREFIX.coin
  key.set(prevout.txid, 1)
  new DataView(key.buffer).setUint32(33, prevout.index, false)
  return key
}

/** The outpoint a coin key names. */
export function outpointFromCoinKey (key: Uint8Array): OutPoint {
  return {
    txid: Uint8Array.from(key.subarray(1, 33)),
    index: new DataView(key.buffer, key.byteOffset, key.length).getUint32(33, false)
  }
}

/** Range options selecting every key with `prefix`. */
export function prefixRange (prefix: number): { gte: Uint8Array, lt: Uint8Array } {
  return { gte: Uint8Array.of(prefix), lt: Uint8Array.of(prefix + 1) }
}

/** A u32, little-endian (the version and tip values use it too). */
export function encodeU32 (n: number): Uint8Array {
  const out = new Uint8Array(4)
  new DataView(out.buffer).setUint32(0, n, true)
  return out
}

/** Reads a little-endian u32 value. */
export function decodeU32 (bytes: Uint8Array): number {
  if (bytes.length !== 4) throw new RangeError(`u32 value must be 4 bytes, got ${bytes.length}`)
  return new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0, true)
}

const ENTRY_SIZE = HEADER_SIZE + 4 + 32 + 1

/** Serializes an index entry. */
export function encodeEntry (rec: EntryRecord): Uint8Array {
  const out = new Uint8Array(ENTRY_SIZE)
  const view = new DataView(out.buffer)
  out.set(encodeHeader(rec.header), 0)
  view.setUint32(HEADER_SIZE, rec.height, true)
  let work = rec.chainwork
  for (let i = HEADER_SIZE + 4 + 31; i >= HEADER_SIZE + 4; i--) {
    out[i] = Number(work & 0xffn)
    work >>= 8n
  }
  out[ENTRY_SIZE - 1] = STATUS_CODE[rec.status]
  return out
}

/** Parses an index entry. */
export function decodeEntry (bytes: Uint8Array): EntryRecord {
  if (bytes.length !== ENTRY_SIZE) throw new RangeError(`chain entry must be ${ENTRY_SIZE} bytes, got ${bytes.length}`)
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length)
  let chainwork = 0n
  for (let i = HEADER_SIZE + 4; i < HEADER_SIZE + 36; i++) chainwork = (chainwork << 8n) | BigInt(bytes[i] as number)
  const status = STATUS_OF[bytes[ENTRY_SIZE - 1] as number]
  if (status === undefined) throw new RangeError(`chain entry has unknown status ${bytes[ENTRY_SIZE - 1]}`)
  return { header: decodeHeader(bytes.subarray(0, HEADER_SIZE)), height: view.getUint32(HEADER_SIZE, true), chainwork, status }
}

const COIN_FIXED = 8 + 4 + 1

/** Serializes a coin (the value of a `c` key). */
export function encodeCoin (coin: Coin): Uint8Array {
  const out = new Uint8Array(COIN_FIXED + coin.script.length)
  writeCoinFixed(out, 0, coin)
  out.set(coin.script, COIN_FIXED)
  return out
}

/** Parses a coin value. */
export function decodeCoin (bytes: Uint8Array): Coin {
  if (bytes.length < COIN_FIXED) throw new RangeError(`coin must be at least ${COIN_FIXED} bytes, got ${bytes.length}`)
  return readCoinFixed(bytes, 0, Uint8Array.from(bytes.subarray(COIN_FIXED)))
}

function writeCoinFixed (out: Uint8Array, at: number, coin: Coin): void {
  const view = new DataView(out.buffer, out.byteOffset, out.length)
  view.setBigUint64(at, coin.amount, true)
  view.setUint32(at + 8, coin.height, true)
  out[at + 12] = coin.coinbase ? 1 : 0
}

function readCoinFixed (bytes: Uint8Array, at: number, script: Uint8Array): Coin {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length)
  return { amount: view.getBigUint64(at, true), height: view.getUint32(at + 8, true), coinbase: bytes[at + 12] === 1, script }
}

/** Serializes undo data: u32 count, then per coin the fixed part, a u32 script length and the script. */
export function encodeUndo (coins: readonly Coin[]): Uint8Array {
  let size = 4
  for (const coin of coins) size += COIN_FIXED + 4 + coin.script.length
  const out = new Uint8Array(size)
  const view = new DataView(out.buffer)
  view.setUint32(0, coins.length, true)
  let at = 4
  for (const coin of coins) {
    writeCoinFixed(out, at, coin)
    view.setUint32(at + COIN_FIXED, coin.script.length, true)
    out.set(coin.script, at + COIN_FIXED + 4)
    at += COIN_FIXED + 4 + coin.script.length
  }
  return out
}

/** Parses undo data. */
export function decodeUndo (bytes: Uint8Array): Coin[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length)
  const count = view.getUint32(0, true)
  const coins: Coin[] = []
  let at = 4
  for (let i = 0; i < count; i++) {
    const len = view.getUint32(at + COIN_FIXED, true)
    const start = at + COIN_FIXED + 4
    if (start + len > bytes.length) throw new RangeError('undo data truncated')
    coins.push(readCoinFixed(bytes, at, Uint8Array.from(bytes.subarray(start, start + len))))
    at = start + len
  }
  if (at !== bytes.length) throw new RangeError('undo data has trailing bytes')
  return coins
}

/** Serializes a tx index record. */
export function encodeTxIndex (rec: TxIndexRecord): Uint8Array {
  const out = new Uint8Array(44)
  const view = new DataView(out.buffer)
  out.set(rec.blockHash, 0)
  view.setUint32(32, rec.position, true)
  view.setUint32(36, rec.offset, true)
  view.setUint32(40, rec.length, true)
  return out
}

/** Parses a tx index record. */
export function decodeTxIndex (bytes: Uint8Array): TxIndexRecord {
  if (bytes.length !== 44) throw new RangeError(`tx index record must be 44 bytes, got ${bytes.length}`)
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length)
  return {
    blockHash: Uint8Array.from(bytes.subarray(0, 32)),
    position: view.getUint32(32, true),
    offset: view.getUint32(36, true),
    length: view.getUint32(40, true)
  }
}
