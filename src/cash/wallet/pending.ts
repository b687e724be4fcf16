/**
 * Unconfirmed transactions that touch the wallet, in memory only: the mempool is in memory
 * too, so after a restart it tells us again (or not). The wallet learns them from the mempool's
 * `tx` events, forgets them on `removed`, on a block that confirms them, and on a block that
 * spends one of their inputs (a conflict, with everything that spends their outputs).
 */
import { outpointKey } from '../consensus/coins.ts'
import { hashToHex } from '../primitives/hash.ts'
import type { Transaction } from '../primitives/tx.ts'
import type { WalletCoin } from './layout.ts'
import { creditOutputs } from './scan.ts'
import type { WalletState } from './state.ts'

/** The part of a mempool entry the wallet reads (the mempool's `MempoolEntry` has it). */
export interface WalletMempoolEntry {
  tx: Transaction
  /** First seen, Unix seconds. */
  time?: number
}

/**
 * What the wallet needs from a mempool: its events and a membership test. The mempool of
 * `src/cash/mempool/` satisfies it; tests use a small EventEmitter.
 */
export interface WalletMempool {
  /** Whether a transaction is in the mempool. */
  has (txid: Uint8Array): boolean
  /** `tx`: accepted (entry); `removed`: gone (entry, reason). */
  on (event: 'tx' | 'removed', listener: (entry: WalletMempoolEntry, reason?: string) => void): unknown
  off (event: 'tx' | 'removed', listener: (entry: WalletMempoolEntry, reason?: string) => void): unknown
  /** Current transactions, read once when the wallet opens (optional). */
  entries? (): Iterable<WalletMempoolEntry>
}

/** An unconfirmed transaction that pays us or spends our coins. */
export interface PendingTx {
  txid: Uint8Array
  tx: Transaction
  time: number
  /** Its outputs to our addresses. */
  credits: WalletCoin[]
  /** `outpointKey`s of our coins (confirmed or pending) it spends. */
  debits: string[]
  /** Credits minus debits. */
  amount: bigint
  /** Fee, when every input is ours. */
  fee?: bigint
}

/** The overlay of unconfirmed transactions. */
export class PendingPool {
  private readonly txs = new Map<string, PendingTx>()
  private readonly spentBy = new Map<string, string>()
  private readonly credits = new Map<string, WalletCoin>()

  /** Every pending transaction. */
  all (): IterableIterator<PendingTx> { return this.txs.values() }

  /** Whether `txid` (hex, display order) is pending. */
  has (id: string): boolean { return this.txs.has(id) }

  /** Whether a pending transaction spends the coin at `key` (`outpointKey`). */
  isSpent (key: string): boolean { return this.spentBy.has(key) }

  /** Sum of pending credits that no pending transaction spends. */
  unspentCredits (): bigint {
    let sum = 0n
    for (const [key, coin] of this.credits) if (!this.spentBy.has(key)) sum += coin.amount
    return sum
  }

  /**
   * Adds `tx` when it pays one of our addresses or spends one of our coins (confirmed or
   * pending); marks the addresses it pays used.
   *
   * @returns the new entry, or undefined when the transaction does not concern us or is known
   */
  add (state: WalletState, tx: Transaction, txid: Uint8Array, time: number): PendingTx | undefined {
    const id = hashToHex(txid)
    if (this.txs.has(id) || state.history.has(id)) return undefined
    const debits: string[] = []
    let debit = 0n
    let allOurs = true
    for (const input of tx.inputs) {
      const key = outpointKey(input.prevout)
      const coin = state.coins.get(key) ?? this.credits.get(key)
      if (coin === undefined) {
        allOurs = false
        continue
      }
      debits.push(key)
      debit += coin.amount
    }
    const credits: WalletCoin[] = []
    const credit = creditOutputs(state, tx, txid, state.tip.height + 1, false, (coin) => { credits.push(coin) })
    if (debits.length === 0 && credits.length === 0) return undefined
    const entry: PendingTx = { txid, tx, time, credits, debits, amount: credit - debit }
    if (allOurs) entry.fee = debit - tx.outputs.reduce((sum, o) => sum + o.amount, 0n)
    this.txs.set(id, entry)
    for (const key of debits) this.spentBy.set(key, id)
    for (const coin of credits) this.credits.set(outpointKey(coin.prevout), coin)
    return entry
  }

  /** Forgets `id` (hex txid) and every pending transaction that spends its outputs. */
  remove (id: string): void {
    const entry = this.txs.get(id)
    if (entry === undefined) return
    this.txs.delete(id)
    for (const key of entry.debits) if (this.spentBy.get(key) === id) this.spentBy.delete(key)
    for (const coin of entry.credits) this.credits.delete(outpointKey(coin.prevout))
    for (const [other, pending] of [...this.txs]) {
      if (pending.tx.inputs.some((input) => hashToHex(input.prevout.txid) === id)) this.remove(other)
    }
  }

  /**
   * After a block: forgets the transactions it confirmed (their outputs are confirmed coins now)
   * and those it conflicts with (a block transaction spends one of their inputs), with their
   * descendants.
   */
  afterBlock (txids: readonly Uint8Array[], spentKeys: ReadonlySet<string>): void {
    const confirmed = new Set(txids.map((t) => hashToHex(t)))
    for (const id of confirmed) {
      const entry = this.txs.get(id)
      if (entry === undefined) continue
      // Not remove(): its descendants stay valid, spending what are now confirmed coins.
      this.txs.delete(id)
      for (const key of entry.debits) if (this.spentBy.get(key) === id) this.spentBy.delete(key)
      for (const coin of entry.credits) this.credits.delete(outpointKey(coin.prevout))
    }
    for (const [id, entry] of [...this.txs]) {
      if (entry.tx.inputs.some((input) => spentKeys.has(outpointKey(input.prevout)))) this.remove(id)
    }
  }

  /**
   * Forgets pending transactions that spend a coin that no longer exists, confirmed or pending
   * (after a block that created it was disconnected and its transaction did not return).
   */
  prune (state: WalletState): void {
    for (const [id, entry] of [...this.txs]) {
      if (!this.txs.has(id)) continue
      if (entry.debits.some((key) => !state.coins.has(key) && !this.credits.has(key))) this.remove(id)
    }
  }

  /** Forgets everything (a rescan from genesis). */
  clear (): void {
    this.txs.clear()
    this.spentBy.clear()
    this.credits.clear()
  }
}
