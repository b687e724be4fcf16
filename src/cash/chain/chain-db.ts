/**
 * Reads and writes of the chain's LevelDB, in the format of `layout.ts`. No rules here: the
 * chain decides what to write, this module turns it into keys, values and one batch.
 */
import { ClassicLevel } from 'classic-level'
import { sha256 } from '@noble/hashes/sha2.js'
import type { Coin } from '../consensus/coins.ts'
import type { OutPoint } from '../primitives/tx.ts'
import { DiskWriteError } from '../../errors.ts'
import { ChainDbError } from './errors.ts'
import {
  CHAIN_DB_VERSION, PREFIX, TIP_KEY, VERSION_KEY, blockKey, coinKey, decodeCoin, decodeEntry, decodeTxIndex,
  decodeU32, decodeUndo, encodeCoin, encodeEntry, encodeTxIndex, encodeU32, encodeUndo, entryKey, heightKey,
  outpointFromCoinKey, prefixRange, txKey, undoKey
} from './layout.ts'
import type { EntryRecord, TxIndexRecord } from './layout.ts'

/** The LevelDB the chain uses: byte keys and byte values. */
export type ChainLevel = ClassicLevel<Uint8Array, Uint8Array>

/** One write of a batch. */
export type ChainOp = { type: 'put', key: Uint8Array, value: Uint8Array } | { type: 'del', key: Uint8Array }

/** Count, sum and digest of a UTXO set, to compare two sets cheaply. */
export interface UtxoStats {
  /** Unspent outputs. */
  count: number
  /** Their total amount, base units. */
  total: bigint
  /** sha256 over `key ‖ value` of every coin in key order (`layout.ts` encodings), hex. */
  digest: string
}

/**
 * A write to the chain's database failed (disk full, I/O error): the block was neither stored
 * nor connected, and the blocks stored before are intact. Free space or fix the disk, then retry
 * (peers send the block again).
 */
export class ChainWriteError extends DiskWriteError {
  static override name = 'ChainWriteError'

  constructor (location: string, cause: unknown) {
    super('cannot write the chain database', location, cause, 'the blocks stored before are kept')
  }
}

/** Opens a chain LevelDB at `location` with the encodings the chain needs. */
export function openChainLevel (location: string): ChainLevel {
  return new ClassicLevel<Uint8Array, Uint8Array>(location, { keyEncoding: 'view', valueEncoding: 'view' })
}

/** Storage half of the chain: typed reads, and op builders the chain gathers into batches. */
export class ChainDb {
  readonly db: ChainLevel

  constructor (db: ChainLevel) {
    this.db = db
  }

  /**
   * Opens the DB and checks its format version.
   *
   * @returns whether the DB is new (no tip yet): the caller writes genesis
   * @throws ChainDbError on another version, or a tip without a version
   */
  async open (): Promise<boolean> {
    if (this.db.status !== 'open') await this.db.open()
    const [version, tip] = await this.db.getMany([VERSION_KEY, TIP_KEY])
    if (version === undefined) {
      if (tip !== undefined) throw new ChainDbError('chain database has a tip but no format version')
      return true
    }
    const v = decodeU32(version)
    if (v !== CHAIN_DB_VERSION) {
      throw new ChainDbError(`chain database format ${v} is not supported by this peerd (expects ${CHAIN_DB_VERSION})`)
    }
    if (tip === undefined) throw new ChainDbError('chain database has a format version but no tip')
    return false
  }

  /**
   * Writes `ops` as one atomic batch. Not flushed (no `sync`): a power cut may take back the last
   * blocks, which peers send again (a wallet ahead of the chain rolls back with its undo records);
   * a flush per block would slow the initial sync for nothing.
   *
   * @throws ChainWriteError when the disk refuses it (nothing of the batch is applied)
   */
  async write (ops: ChainOp[]): Promise<void> {
    if (ops.length === 0) return
    try {
      await this.db.batch(ops)
    } catch (err) {
      throw new ChainWriteError(this.db.location, err)
    }
  }

  /** The stored tip hash. */
  async tipHash (): Promise<Uint8Array | undefined> {
    return await this.db.get(TIP_KEY)
  }

  /** Every index entry, keyed by hash. */
  async * entries (): AsyncGenerator<[Uint8Array, EntryRecord]> {
    for await (const [key, value] of this.db.iterator(prefixRange(PREFIX.entry))) {
      yield [key.slice(1), decodeEntry(value)]
    }
  }

  /** The main-chain hash at `height` from the height index. */
  async hashAt (height: number): Promise<Uint8Array | undefined> {
    return await this.db.get(heightKey(height))
  }

  async blockBytes (hash: Uint8Array): Promise<Uint8Array | undefined> {
    return await this.db.get(blockKey(hash))
  }

  async undo (hash: Uint8Array): Promise<Coin[] | undefined> {
    const bytes = await this.db.get(undoKey(hash))
    return bytes === undefined ? undefined : decodeUndo(bytes)
  }

  async txIndex (txid: Uint8Array): Promise<TxIndexRecord | undefined> {
    const bytes = await this.db.get(txKey(txid))
    return bytes === undefined ? undefined : decodeTxIndex(bytes)
  }

  async coin (prevout: OutPoint): Promise<Coin | undefined> {
    const bytes = await this.db.get(coinKey(prevout))
    return bytes === undefined ? undefined : decodeCoin(bytes)
  }

  /** The coins at `prevouts`, in order, `undefined` where there is none (one multi-get). */
  async coins (prevouts: readonly OutPoint[]): Promise<Array<Coin | undefined>> {
    if (prevouts.length === 0) return []
    const values = await this.db.getMany(prevouts.map(coinKey))
    return values.map(v => v === undefined ? undefined : decodeCoin(v))
  }

  /** Every unspent output, in key order. */
  async * allCoins (): AsyncGenerator<[OutPoint, Coin]> {
    for await (const [key, value] of this.db.iterator(prefixRange(PREFIX.coin))) {
      yield [outpointFromCoinKey(key), decodeCoin(value)]
    }
  }

  /** {@link UtxoStats} of the stored UTXO set, streamed. */
  async utxoStats (): Promise<UtxoStats> {
    const h = sha256.create()
    let count = 0
    let total = 0n
    for await (const [key, value] of this.db.iterator(prefixRange(PREFIX.coin))) {
      h.update(key)
      h.update(value)
      count++
      total += decodeCoin(value).amount
    }
    return { count, total, digest: toHex(h.digest()) }
  }
}

/** {@link UtxoStats} of coins held in memory (sorted here as LevelDB would order their keys). */
export function utxoStatsOf (coins: Iterable<[OutPoint, Coin]>): UtxoStats {
  const rows = [...coins].map(([prevout, coin]) => ({ key: coinKey(prevout), value: encodeCoin(coin), amount: coin.amount }))
  rows.sort((a, b) => compareBytes(a.key, b.key))
  const h = sha256.create()
  let total = 0n
  for (const r of rows) {
    h.update(r.key)
    h.update(r.value)
    total += r.amount
  }
  return { count: rows.length, total, digest: toHex(h.digest()) }
}

function compareBytes (a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) {
    const d = (a[i] as number) - (b[i] as number)
    if (d !== 0) return d
  }
  return a.length - b.length
}

function toHex (bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('hex')
}

/** Op builders, one per record kind. */
export const ops = {
  version: (): ChainOp => ({ type: 'put', key: VERSION_KEY, value: encodeU32(CHAIN_DB_VERSION) }),
  tip: (hash: Uint8Array): ChainOp => ({ type: 'put', key: TIP_KEY, value: hash }),
  entry: (hash: Uint8Array, rec: EntryRecord): ChainOp => ({ type: 'put', key: entryKey(hash), value: encodeEntry(rec) }),
  delEntry: (hash: Uint8Array): ChainOp => ({ type: 'del', key: entryKey(hash) }),
  block: (hash: Uint8Array, bytes: Uint8Array): ChainOp => ({ type: 'put', key: blockKey(hash), value: bytes }),
  delBlock: (hash: Uint8Array): ChainOp => ({ type: 'del', key: blockKey(hash) }),
  undo: (hash: Uint8Array, coins: readonly Coin[]): ChainOp => ({ type: 'put', key: undoKey(hash), value: encodeUndo(coins) }),
  delUndo: (hash: Uint8Array): ChainOp => ({ type: 'del', key: undoKey(hash) }),
  height: (height: number, hash: Uint8Array): ChainOp => ({ type: 'put', key: heightKey(height), value: hash }),
  delHeight: (height: number): ChainOp => ({ type: 'del', key: heightKey(height) }),
  coin: (prevout: OutPoint, coin: Coin): ChainOp => ({ type: 'put', key: coinKey(prevout), value: encodeCoin(coin) }),
  delCoin: (prevout: OutPoint): ChainOp => ({ type: 'del', key: coinKey(prevout) }),
  tx: (txid: Uint8Array, rec: TxIndexRecord): ChainOp => ({ type: 'put', key: txKey(txid), value: encodeTxIndex(rec) }),
  delTx: (txid: Uint8Array): ChainOp => ({ type: 'del', key: txKey(txid) })
}
