/**
 * The wallet's LevelDB (`DATA/wallet`): key prefixes and value codecs, all bytes (`keyEncoding`
 * and `valueEncoding` 'view'). Integers in keys are big-endian (LevelDB's byte order is then
 * their numeric order); integers in values are little-endian.
 *
 * Keys:
 * - `V` → format version (u32)
 * - `G` → genesis hash of the network the wallet belongs to (32 bytes)
 * - `K` → the encrypted secret (`secret-box.ts`): the only record that is not public
 * - `X` → the BIP86 account's extended public key (UTF-8)
 * - `I` → {@link AddressIndexes}: per branch (receive, change) next, used, derived (u32 each)
 * - `a` script → branch (u8) | index (u32): every derived address (the lookahead included)
 * - `c` txid index(u32) → {@link WalletCoin}: amount (u64) | height (u32) | flags (u8, 1 = coinbase) | branch (u8) | index (u32) | script
 * - `t` txid → {@link HistoryRecord}: height (u32) | position (u32) | time (u32) | amount (i64) | flags (u8: 1 = fee known, 2 = coinbase) | fee (u64)
 * - `R` → the last block processed: hash (32) | height (u32)
 * - `b` height (u32) → {@link BlockUndo} of the processed block at that height: hash (32) | parent hash (32) |
 *   created outpoints (u32 count, then txid (32) | index (u32) each) | spent coins (u32 count, then outpoint,
 *   coin fields, u32 script length, script) | history txids (u32 count, 32 bytes each). Kept for the last
 *   `maxReorgDepth + 1` heights; a fork below them makes the wallet rescan from genesis.
 * - `s` txid → a payment this wallet sent (the raw transaction, witnesses included) until a
 *   block confirms it or another spends its coins: broadcast again when the wallet opens, so a
 *   crash does not lose a payment the user was told about. Older peerd ignores these records.
 *
 * Only confirmed state and sent payments are stored; other unconfirmed (mempool) transactions
 * live in memory. Each block's changes (coins, history, undo, tip, new lookahead addresses) are
 * one batch.
 */
import type { OutPoint } from '../primitives/tx.ts'
import { keyWith } from '../../utils/db-key.ts'
import type { Branch } from './keys.ts'

/** On-disk format version of the wallet DB. */
export const WALLET_DB_VERSION = 1

/** One-byte key prefixes. */
export const PREFIX = {
  version: 0x56, // 'V'
  genesis: 0x47, // 'G'
  secret: 0x4b, // 'K'
  xpub: 0x58, // 'X'
  indexes: 0x49, // 'I'
  tip: 0x52, // 'R'
  address: 0x61, // 'a'
  coin: 0x63, // 'c'
  history: 0x74, // 't'
  block: 0x62, // 'b'
  sent: 0x73 // 's'
} as const

/** Key of the format version. */
export const VERSION_KEY = Uint8Array.of(PREFIX.version)
/** Key of the network's genesis hash. */
export const GENESIS_KEY = Uint8Array.of(PREFIX.genesis)
/** Key of the encrypted secret. */
export const SECRET_KEY = Uint8Array.of(PREFIX.secret)
/** Key of the account xpub. */
export const XPUB_KEY = Uint8Array.of(PREFIX.xpub)
/** Key of the address indexes. */
export const INDEXES_KEY = Uint8Array.of(PREFIX.indexes)
/** Key of the last processed block. */
export const TIP_KEY = Uint8Array.of(PREFIX.tip)

/** A coin the wallet owns, with the address (branch, index) that receives it. */
export interface WalletCoin {
  prevout: OutPoint
  amount: bigint
  script: Uint8Array
  /** Height of the block that created it. */
  height: number
  coinbase: boolean
  branch: Branch
  index: number
}

/** A confirmed transaction that touched the wallet. */
export interface HistoryRecord {
  txid: Uint8Array
  height: number
  /** Position in its block (0 = coinbase). */
  position: number
  /** Block time. */
  time: number
  /** Received by our addresses minus our coins it spent (so a payment counts its fee). */
  amount: bigint
  /** Fee, when every input was ours (so we paid it). */
  fee?: bigint
  coinbase: boolean
}

/** Per branch: addresses handed out, one past the highest used, and derived (watched). */
export interface BranchIndexes {
  /** Index of the next address to hand out. */
  next: number
  /** One past the highest index seen paid on chain or in the mempool. */
  used: number
  /** Addresses derived and watched: indexes 0 … derived − 1. */
  derived: number
}

/** The two branches' indexes: receive (0) and change (1). */
export type AddressIndexes = [BranchIndexes, BranchIndexes]

/** What processing one block changed, to undo it on a disconnect. */
export interface BlockUndo {
  hash: Uint8Array
  /** Its parent: the wallet's tip once the block is undone. */
  prevHash: Uint8Array
  /** Coins the block created that it did not also spend. */
  created: OutPoint[]
  /** Coins the wallet had before the block that the block spent. */
  spent: WalletCoin[]
  /** Transactions added to the history. */
  txids: Uint8Array[]
}

/** The last processed block. */
export interface WalletTip {
  hash: Uint8Array
  height: number
}

/** Key of a derived address, by its script. */
export function addressKey (script: Uint8Array): Uint8Array { return keyWith(PREFIX.address, script) }
/** Key of a history record. */
export function historyKey (txid: Uint8Array): Uint8Array { return keyWith(PREFIX.history, txid) }
/** Key of a sent payment not yet confirmed. */
export function sentKey (txid: Uint8Array): Uint8Array { return keyWith(PREFIX.sent, txid) }

/** Key of a coin: txid then the output index big-endian. */
export function coinKey (prevout: OutPoint): Uint8Array {
  const key = new Uint8Array(37)
  key[0] = PREFIX.coin
  key.set(prevout.txid, 1)
  new DataView(key.buffer).setUint32(33, prevout.index, false)
  return key
}

/** Key of the undo record of the block processed at `height`. */
export function blockKey (height: number): Uint8Array {
  const key = new Uint8Array(5)
  key[0] = PREFIX.block
  new DataView(key.buffer).setUint32(1, height, false)
  return key
}

/** The height a block key names. */
export function heightFromBlockKey (key: Uint8Array): number {
  return new DataView(key.buffer, key.byteOffset, key.length).getUint32(1, false)
}

/** The outpoint a coin key names. */
export function outpointFromCoinKey (key: Uint8Array): OutPoint {
  return { txid: Uint8Array.from(key.subarray(1, 33)), index: new DataView(key.buffer, key.byteOffset, key.length).getUint32(33, false) }
}

/** Range options selecting every key with `prefix`. */
export function prefixRange (prefix: number): { gte: Uint8Array, lt: Uint8Array } {
  return { gte: Uint8Array.of(prefix), lt: Uint8Array.of(prefix + 1) }
}

/** A growing little-endian byte writer. */
class Writer {
  private bytes = new Uint8Array(64)
  private view = new DataView(this.bytes.buffer)
  length = 0

  private room (n: number): void {
    if (this.length + n <= this.bytes.length) return
    const grown = new Uint8Array(Math.max(this.bytes.length * 2, this.length + n))
    grown.set(this.bytes)
    this.bytes = grown
    this.view = new DataView(grown.buffer)
  }

  u8 (v: number): this { this.room(1); this.view.setUint8(this.length, v); this.length += 1; return this }
  u32 (v: number): this { this.room(4); this.view.setUint32(this.length, v, true); this.length += 4; return this }
  u64 (v: bigint): this { this.room(8); this.view.setBigUint64(this.length, v, true); this.length += 8; return this }
  i64 (v: bigint): this { this.room(8); this.view.setBigInt64(this.length, v, true); this.length += 8; return this }
  raw (b: Uint8Array): this { this.room(b.length); this.bytes.set(b, this.length); this.length += b.length; return this }
  done (): Uint8Array { return this.bytes.slice(0, this.length) }
}

/** A bounds-checked little-endian reader; overruns throw RangeError. */
class Reader {
  private readonly bytes: Uint8Array
  private readonly what: string
  private readonly view: DataView
  pos = 0
  constructor (bytes: Uint8Array, what: string) {
    this.bytes = bytes
    this.what = what
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length)
  }

  private need (n: number): void {
    if (this.pos + n > this.bytes.length) throw new RangeError(`${this.what} truncated`)
  }

  u8 (): number { this.need(1); return this.view.getUint8(this.pos++) }
  u32 (): number { this.need(4); const v = this.view.getUint32(this.pos, true); this.pos += 4; return v }
  u64 (): bigint { this.need(8); const v = this.view.getBigUint64(this.pos, true); this.pos += 8; return v }
  i64 (): bigint { this.need(8); const v = this.view.getBigInt64(this.pos, true); this.pos += 8; return v }
  // A copy as a plain Uint8Array: LevelDB hands out Buffers, whose slice() is a view.
  raw (n: number): Uint8Array { this.need(n); const v = Uint8Array.from(this.bytes.subarray(this.pos, this.pos + n)); this.pos += n; return v }
  rest (): Uint8Array { return this.raw(this.bytes.length - this.pos) }
  end (): void { if (this.pos !== this.bytes.length) throw new RangeError(`${this.what} has trailing bytes`) }
}

function branchOf (v: number, what: string): Branch {
  if (v !== 0 && v !== 1) throw new RangeError(`${what}: branch ${v} is neither 0 nor 1`)
  return v
}

/** Serializes a u32 (the version). */
export function encodeU32 (v: number): Uint8Array { return new Writer().u32(v).done() }
/** Parses a u32. */
export function decodeU32 (bytes: Uint8Array): number { const r = new Reader(bytes, 'u32'); const v = r.u32(); r.end(); return v }

/** Serializes the address indexes. */
export function encodeIndexes (ix: AddressIndexes): Uint8Array {
  const w = new Writer()
  for (const b of ix) w.u32(b.next).u32(b.used).u32(b.derived)
  return w.done()
}

/** Parses the address indexes. */
export function decodeIndexes (bytes: Uint8Array): AddressIndexes {
  const r = new Reader(bytes, 'address indexes')
  const one = (): BranchIndexes => ({ next: r.u32(), used: r.u32(), derived: r.u32() })
  const ix: AddressIndexes = [one(), one()]
  r.end()
  return ix
}

/** Serializes an address's path. */
export function encodePath (branch: Branch, index: number): Uint8Array { return new Writer().u8(branch).u32(index).done() }
/** Parses an address's path. */
export function decodePath (bytes: Uint8Array): { branch: Branch, index: number } {
  const r = new Reader(bytes, 'address path')
  const path = { branch: branchOf(r.u8(), 'address path'), index: r.u32() }
  r.end()
  return path
}

function writeCoin (w: Writer, coin: WalletCoin): Writer {
  return w.u64(coin.amount).u32(coin.height).u8(coin.coinbase ? 1 : 0).u8(coin.branch).u32(coin.index)
}

/** Serializes a coin (its outpoint is the key). */
export function encodeCoin (coin: WalletCoin): Uint8Array { return writeCoin(new Writer(), coin).raw(coin.script).done() }

/** Parses a coin value. */
export function decodeCoin (prevout: OutPoint, bytes: Uint8Array): WalletCoin {
  const r = new Reader(bytes, 'wallet coin')
  const amount = r.u64()
  const height = r.u32()
  const coinbase = r.u8() === 1
  const branch = branchOf(r.u8(), 'wallet coin')
  return { prevout, amount, height, coinbase, branch, index: r.u32(), script: r.rest() }
}

/** Serializes a history record (its txid is the key). */
export function encodeHistory (rec: HistoryRecord): Uint8Array {
  return new Writer().u32(rec.height).u32(rec.position).u32(rec.time).i64(rec.amount)
    .u8((rec.fee !== undefined ? 1 : 0) | (rec.coinbase ? 2 : 0)).u64(rec.fee ?? 0n).done()
}

/** Parses a history record. */
export function decodeHistory (txid: Uint8Array, bytes: Uint8Array): HistoryRecord {
  const r = new Reader(bytes, 'history record')
  const height = r.u32()
  const position = r.u32()
  const time = r.u32()
  const amount = r.i64()
  const flags = r.u8()
  const fee = r.u64()
  r.end()
  const rec: HistoryRecord = { txid, height, position, time, amount, coinbase: (flags & 2) !== 0 }
  if ((flags & 1) !== 0) rec.fee = fee
  return rec
}

/** Serializes the last processed block. */
export function encodeTip (tip: WalletTip): Uint8Array { return new Writer().raw(tip.hash).u32(tip.height).done() }
/** Parses the last processed block. */
export function decodeTip (bytes: Uint8Array): WalletTip {
  const r = new Reader(bytes, 'wallet tip')
  const tip = { hash: r.raw(32), height: r.u32() }
  r.end()
  return tip
}

/** Serializes a block's undo record. */
export function encodeBlockUndo (undo: BlockUndo): Uint8Array {
  const w = new Writer().raw(undo.hash).raw(undo.prevHash).u32(undo.created.length)
  for (const p of undo.created) w.raw(p.txid).u32(p.index)
  w.u32(undo.spent.length)
  for (const c of undo.spent) writeCoin(w.raw(c.prevout.txid).u32(c.prevout.index), c).u32(c.script.length).raw(c.script)
  w.u32(undo.txids.length)
  for (const t of undo.txids) w.raw(t)
  return w.done()
}

/** Parses a block's undo record. */
export function decodeBlockUndo (bytes: Uint8Array): BlockUndo {
  const r = new Reader(bytes, 'block undo record')
  const hash = r.raw(32)
  const prevHash = r.raw(32)
  const created: OutPoint[] = []
  for (let n = r.u32(); n > 0; n--) created.push({ txid: r.raw(32), index: r.u32() })
  const spent: WalletCoin[] = []
  for (let n = r.u32(); n > 0; n--) {
    const prevout = { txid: r.raw(32), index: r.u32() }
    const amount = r.u64()
    const height = r.u32()
    const coinbase = r.u8() === 1
    const branch = branchOf(r.u8(), 'block undo record')
    const index = r.u32()
    spent.push({ prevout, amount, height, coinbase, branch, index, script: r.raw(r.u32()) })
  }
  const txids: Uint8Array[] = []
  for (let n = r.u32(); n > 0; n--) txids.push(r.raw(32))
  r.end()
  return { hash, prevHash, created, spent, txids }
}
