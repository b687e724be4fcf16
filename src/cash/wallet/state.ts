/**
 * The wallet's state in memory: the address book with its lookahead, the confirmed coins and
 * history, and the last processed block. It mirrors the DB; the wallet changes it only after
 * the batch that records the change is written. The address book is the exception: deriving
 * addresses is deterministic and only ever grows, so new addresses join the map at once and are
 * written with the next batch ({@link AddressBook.ops}).
 */
import { outpointKey } from '../consensus/coins.ts'
import { encodeAddress } from '../primitives/address.ts'
import { hashToHex } from '../primitives/hash.ts'
import type { AddressDeriver, Branch } from './keys.ts'
import { INDEXES_KEY, addressKey, encodeIndexes, encodePath } from './layout.ts'
import type { AddressIndexes, HistoryRecord, WalletCoin, WalletTip } from './layout.ts'

/** Unused addresses watched past the last one used or handed out, per branch (BIP44's gap limit). */
export const LOOKAHEAD = 20

/** One LevelDB write. */
export type WalletOp = { type: 'put', key: Uint8Array, value: Uint8Array } | { type: 'del', key: Uint8Array }

/** Where an address sits in the account. */
export interface AddressPath {
  branch: Branch
  index: number
}

function hex (bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('hex')
}

/** Derived addresses by script and by path, with the lookahead rule. */
export class AddressBook {
  readonly indexes: AddressIndexes
  private readonly deriver: AddressDeriver
  private readonly hrp: string
  private readonly byScript = new Map<string, AddressPath>()
  private readonly byPath: [Uint8Array[], Uint8Array[]] = [[], []]
  private persisted: [number, number]

  /**
   * @param stored - the addresses already in the DB (`a` records), any order
   */
  constructor (deriver: AddressDeriver, hrp: string, indexes: AddressIndexes, stored: Iterable<[Uint8Array, AddressPath]> = []) {
    this.deriver = deriver
    this.hrp = hrp
    this.indexes = indexes
    for (const [script, path] of stored) {
      this.byScript.set(hex(script), path)
      this.byPath[path.branch][path.index] = script
    }
    for (const b of [0, 1] as const) {
      const list = this.byPath[b]
      if (list.length !== indexes[b].derived || list.some((s) => s === undefined)) {
        throw new RangeError(`branch ${b}: ${indexes[b].derived} addresses recorded as derived, ${list.filter(Boolean).length} stored`)
      }
    }
    this.persisted = [indexes[0].derived, indexes[1].derived]
  }

  /** The path of a script we watch, or undefined. */
  lookup (script: Uint8Array): AddressPath | undefined {
    return script.length === 34 ? this.byScript.get(hex(script)) : undefined
  }

  /** The script of a derived address. */
  script (branch: Branch, index: number): Uint8Array {
    const s = this.byPath[branch][index]
    if (s === undefined) throw new RangeError(`address ${branch}/${index} is not derived`)
    return s
  }

  /** The bech32m string of a derived address. */
  address (branch: Branch, index: number): string {
    return encodeAddress(this.hrp, this.script(branch, index).subarray(2))
  }

  /** Total derived addresses (both branches): grows when the lookahead moves. */
  get size (): number {
    return this.byScript.size
  }

  /** The first address of `branch` neither handed out nor seen used. */
  fresh (branch: Branch): number {
    const ix = this.indexes[branch]
    return Math.max(ix.next, ix.used)
  }

  /** Hands out the fresh address of `branch` (it will not be handed out again). */
  take (branch: Branch): number {
    const index = this.fresh(branch)
    this.indexes[branch].next = index + 1
    this.extend()
    return index
  }

  /** Records that an address received a payment; moves the lookahead past it. */
  markUsed (path: AddressPath): void {
    const ix = this.indexes[path.branch]
    if (path.index + 1 > ix.used) ix.used = path.index + 1
    this.extend()
  }

  /** Derives until each branch watches {@link LOOKAHEAD} addresses past its fresh one. */
  extend (): void {
    for (const branch of [0, 1] as const) {
      const ix = this.indexes[branch]
      const target = this.fresh(branch) + LOOKAHEAD
      while (ix.derived < target) {
        const { script } = this.deriver.derive(branch, ix.derived)
        this.byScript.set(hex(script), { branch, index: ix.derived })
        this.byPath[branch][ix.derived] = script
        ix.derived++
      }
    }
  }

  /** Writes for the addresses derived since the last {@link committed}, and the indexes. */
  ops (): WalletOp[] {
    const out: WalletOp[] = []
    for (const branch of [0, 1] as const) {
      for (let i = this.persisted[branch]; i < this.indexes[branch].derived; i++) {
        out.push({ type: 'put', key: addressKey(this.script(branch, i)), value: encodePath(branch, i) })
      }
    }
    out.push({ type: 'put', key: INDEXES_KEY, value: encodeIndexes(this.indexes) })
    return out
  }

  /** Marks everything {@link ops} returned as written. */
  committed (): void {
    this.persisted = [this.indexes[0].derived, this.indexes[1].derived]
  }
}

/** Balances in base units; see {@link WalletState.balance}. */
export interface Balance {
  confirmed: bigint
  unconfirmed: bigint
  immature: bigint
}

/** Confirmed coins and history, the tip, and the address book. */
export class WalletState {
  readonly book: AddressBook
  readonly coins = new Map<string, WalletCoin>()
  readonly history = new Map<string, HistoryRecord>()
  tip: WalletTip
  private readonly coinbaseMaturity: number

  constructor (book: AddressBook, tip: WalletTip, coinbaseMaturity: number) {
    this.book = book
    this.tip = tip
    this.coinbaseMaturity = coinbaseMaturity
  }

  /** Adds a coin. */
  addCoin (coin: WalletCoin): void { this.coins.set(outpointKey(coin.prevout), coin) }
  /** Adds (or replaces) a history record. */
  addHistory (rec: HistoryRecord): void { this.history.set(hashToHex(rec.txid), rec) }

  /**
   * Whether a coin can be spent by a transaction in the next block: always for a payment, for a
   * coinbase output once `tip + 1 ≥ coin height + coinbaseMaturity`.
   */
  isMature (coin: WalletCoin): boolean {
    return !coin.coinbase || this.tip.height + 1 >= coin.height + this.coinbaseMaturity
  }

  /** Confirmed coins that can be spent now: mature and not spent by a mempool transaction. */
  spendable (spentInMempool: (key: string) => boolean): WalletCoin[] {
    const out: WalletCoin[] = []
    for (const [key, coin] of this.coins) if (this.isMature(coin) && !spentInMempool(key)) out.push(coin)
    return out
  }

  /**
   * - `confirmed`: confirmed coins that are mature and not spent by a mempool transaction (what
   *   a payment can spend now);
   * - `immature`: confirmed coinbase outputs before maturity;
   * - `unconfirmed`: outputs of mempool transactions to our addresses that no other mempool
   *   transaction spends: incoming payments, and the change of our own unconfirmed payments
   *   (whose inputs have already left `confirmed`). So `confirmed + unconfirmed + immature` is
   *   what the wallet holds once the mempool confirms.
   *
   * @param unconfirmedCredits - that last sum, from the mempool overlay
   */
  balance (spentInMempool: (key: string) => boolean, unconfirmedCredits: bigint): Balance {
    let confirmed = 0n
    let immature = 0n
    for (const [key, coin] of this.coins) {
      if (!this.isMature(coin)) immature += coin.amount
      else if (!spentInMempool(key)) confirmed += coin.amount
    }
    return { confirmed, unconfirmed: unconfirmedCredits, immature }
  }
}
