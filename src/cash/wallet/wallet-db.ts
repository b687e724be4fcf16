/**
 * Reads and writes of the wallet's LevelDB, in the format of `layout.ts`. No policy here: the
 * wallet decides what to write, this module turns it into keys, values and one batch.
 */
import { mkdir } from 'node:fs/promises'
import { ClassicLevel } from 'classic-level'
import { bytesEqual, hashToHex } from '../primitives/hash.ts'
import { WalletDbError, WalletWriteError } from './errors.ts'
import {
  GENESIS_KEY, INDEXES_KEY, PREFIX, SECRET_KEY, TIP_KEY, VERSION_KEY, WALLET_DB_VERSION, XPUB_KEY, blockKey, decodeBlockUndo,
  decodeCoin, decodeHistory, decodeIndexes, decodePath, decodeTip, decodeU32, encodeU32, outpointFromCoinKey, prefixRange
} from './layout.ts'
import type { AddressIndexes, BlockUndo, HistoryRecord, WalletCoin, WalletTip } from './layout.ts'
import type { AddressPath, WalletOp } from './state.ts'

/** The LevelDB the wallet uses: byte keys and byte values. */
export type WalletLevel = ClassicLevel<Uint8Array, Uint8Array>

/** Everything a stored wallet holds, as loaded at open. */
export interface StoredWallet {
  /** The encrypted secret (never decrypted at load). */
  secret: Uint8Array
  xpub: string
  indexes: AddressIndexes
  tip: WalletTip
  addresses: Array<[Uint8Array, AddressPath]>
  coins: WalletCoin[]
  history: HistoryRecord[]
}

/** Options of {@link WalletDb.write}. */
export interface WalletWriteOptions {
  /**
   * Flush to disk before resolving (LevelDB's `sync`): for what a power cut must not take back
   * once the user has seen it — the seed, a handed-out address (else it is handed out again),
   * a payment's change address. Block updates need not: they are redone from the chain.
   */
  sync?: boolean
}

/** Storage half of the wallet. */
export class WalletDb {
  readonly db: WalletLevel
  private readonly location: string

  constructor (location: string) {
    this.location = location
    this.db = new ClassicLevel<Uint8Array, Uint8Array>(location, { keyEncoding: 'view', valueEncoding: 'view' })
  }

  /**
   * Opens the DB, writes version and network into a new one, checks them in an old one.
   *
   * @returns the stored wallet, or undefined when none was created yet
   * @throws WalletDbError for another format version, another network, or a partial wallet
   */
  async open (genesis: Uint8Array): Promise<StoredWallet | undefined> {
    if (this.db.status !== 'open') {
      // private even when the data dir exists and the umask is 022 (LevelDB would make it 0755)
      await mkdir(this.location, { recursive: true, mode: 0o700 })
      await this.db.open()
    }
    const [version, net] = await this.db.getMany([VERSION_KEY, GENESIS_KEY])
    if (version === undefined) {
      await this.db.batch([{ type: 'put', key: VERSION_KEY, value: encodeU32(WALLET_DB_VERSION) }, { type: 'put', key: GENESIS_KEY, value: genesis }], { sync: true })
      return undefined
    }
    if (decodeU32(version) !== WALLET_DB_VERSION) {
      throw new WalletDbError(`wallet database format ${decodeU32(version)} is not supported by this peerd (expects ${WALLET_DB_VERSION})`)
    }
    if (net === undefined || !bytesEqual(net, genesis)) {
      throw new WalletDbError(`this wallet belongs to another network (genesis ${net === undefined ? 'missing' : hashToHex(net)})`)
    }
    const [secret, xpub, indexes, tip] = await this.db.getMany([SECRET_KEY, XPUB_KEY, INDEXES_KEY, TIP_KEY])
    if (secret === undefined) {
      if (xpub !== undefined || indexes !== undefined || tip !== undefined) throw new WalletDbError('wallet database has public records but no encrypted seed')
      return undefined
    }
    if (xpub === undefined || indexes === undefined || tip === undefined) throw new WalletDbError('wallet database has an encrypted seed but is missing its public records')
    try {
      const stored: StoredWallet = {
        secret: Uint8Array.from(secret),
        xpub: new TextDecoder().decode(xpub),
        indexes: decodeIndexes(indexes),
        tip: decodeTip(tip),
        addresses: [],
        coins: [],
        history: []
      }
      for await (const [key, value] of this.db.iterator(prefixRange(PREFIX.address))) stored.addresses.push([Uint8Array.from(key.subarray(1)), decodePath(value)])
      for await (const [key, value] of this.db.iterator(prefixRange(PREFIX.coin))) stored.coins.push(decodeCoin(outpointFromCoinKey(key), value))
      for await (const [key, value] of this.db.iterator(prefixRange(PREFIX.history))) stored.history.push(decodeHistory(Uint8Array.from(key.subarray(1)), value))
      return stored
    } catch (err) {
      if (err instanceof RangeError) throw new WalletDbError(`wallet database record is corrupt: ${err.message}`, { cause: err })
      throw err
    }
  }

  /** Writes `ops` as one atomic batch. */
  async write (ops: WalletOp[], options: WalletWriteOptions = {}): Promise<void> {
    if (ops.length === 0) return
    try {
      await this.db.batch(ops, { sync: options.sync === true })
    } catch (err) {
      throw new WalletWriteError(this.location, err)
    }
  }

  /** Payments sent and not yet confirmed: txid and raw transaction. */
  async sentTxs (): Promise<Array<{ txid: Uint8Array, bytes: Uint8Array }>> {
    const out: Array<{ txid: Uint8Array, bytes: Uint8Array }> = []
    for await (const [key, value] of this.db.iterator(prefixRange(PREFIX.sent))) out.push({ txid: Uint8Array.from(key.subarray(1)), bytes: Uint8Array.from(value) })
    return out
  }

  /** The undo record of the block processed at `height`. */
  async blockUndo (height: number): Promise<BlockUndo | undefined> {
    const value = await this.db.get(blockKey(height))
    return value === undefined ? undefined : decodeBlockUndo(value)
  }

  /** Deletes for every coin, history record and undo record (a rescan from genesis starts clean). */
  async resetOps (): Promise<WalletOp[]> {
    const ops: WalletOp[] = []
    for (const prefix of [PREFIX.coin, PREFIX.history, PREFIX.block]) {
      for await (const key of this.db.keys(prefixRange(prefix))) ops.push({ type: 'del', key })
    }
    return ops
  }

  /** Closes the DB. */
  async close (): Promise<void> {
    if (this.db.status === 'open') await this.db.close()
  }
}
