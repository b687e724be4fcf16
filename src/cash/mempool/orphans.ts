/**
 * Transactions whose inputs are neither in the UTXO set nor in the mempool yet (a child that
 * overtook its parent), held until a parent arrives. Bounded per peer, so one peer cannot
 * push out everyone else's, and in total by count and bytes; orphans expire after a while.
 * @module
 */
import type { Transaction } from '../primitives/tx.ts'
import { txTotalSize, txWeight } from '../primitives/tx.ts'
import { DEFAULT_MAX_TX_WEIGHT } from './policy.ts'
import { hexKey, outKey } from './pool.ts'

/** An orphan transaction and who sent it. */
export interface OrphanTx {
  tx: Transaction
  /** {@link hexKey} of the txid. */
  key: string
  /** Sender ('' for a local one). */
  peer: string
  /** Serialized size. */
  size: number
  /** Unix seconds after which it is dropped. */
  expires: number
}

/** Limits of a {@link TxOrphanPool}. */
export interface OrphanLimits {
  /** Most orphans held (default 100, Bitcoin Core's). */
  maxCount?: number
  /** Most orphans held from one peer (default 25). */
  maxPerPeer?: number
  /** Most serialized bytes held (default 5 MiB). */
  maxBytes?: number
  /** Heavier transactions are not kept (default {@link DEFAULT_MAX_TX_WEIGHT}, the relay limit). */
  maxTxWeight?: number
  /** Seconds an orphan is kept (default 1200, Core's 20 minutes). */
  ttl?: number
}

/** A bounded pool of orphan transactions, indexed by txid and by the txids they spend from. */
export class TxOrphanPool {
  private readonly maxCount: number
  private readonly maxPerPeer: number
  private readonly maxBytes: number
  private readonly maxTxWeight: number
  private readonly ttl: number
  /** Insertion order: oldest first. */
  private readonly byKey = new Map<string, OrphanTx>()
  /** Parent txid hex → keys of orphans spending one of its outputs. */
  private readonly byParent = new Map<string, Set<string>>()
  private readonly perPeer = new Map<string, number>()
  private bytes = 0

  constructor (limits: OrphanLimits = {}) {
    this.maxCount = limits.maxCount ?? 100
    this.maxPerPeer = limits.maxPerPeer ?? 25
    this.maxBytes = limits.maxBytes ?? 5 * 1024 * 1024
    this.maxTxWeight = limits.maxTxWeight ?? DEFAULT_MAX_TX_WEIGHT
    this.ttl = limits.ttl ?? 1200
  }

  /** Orphans held. */
  get size (): number { return this.byKey.size }

  /** Whether the orphan with this txid key is held. */
  has (key: string): boolean { return this.byKey.has(key) }

  /** Orphans held from `peer`. */
  countOf (peer: string): number { return this.perPeer.get(peer) ?? 0 }

  /**
   * Keeps `tx`; the peer's oldest orphan goes when it has its share, then the oldest of all
   * past the total limits. Returns false (and keeps nothing) for one already held or too heavy.
   */
  add (tx: Transaction, key: string, peer: string, now: number): boolean {
    this.expire(now)
    if (this.byKey.has(key) || txWeight(tx) > this.maxTxWeight) return false
    if (this.countOf(peer) >= this.maxPerPeer) {
      for (const o of this.byKey.values()) {
        if (o.peer === peer) {
          this.delete(o)
          break
        }
      }
    }
    const orphan: OrphanTx = { tx, key, peer, size: txTotalSize(tx), expires: now + this.ttl }
    this.byKey.set(key, orphan)
    this.bytes += orphan.size
    this.perPeer.set(peer, this.countOf(peer) + 1)
    for (const input of tx.inputs) {
      const parent = hexKey(input.prevout.txid)
      let set = this.byParent.get(parent)
      if (set === undefined) this.byParent.set(parent, set = new Set())
      set.add(key)
    }
    for (const o of this.byKey.values()) {
      if (this.byKey.size <= this.maxCount && this.bytes <= this.maxBytes) break
      this.delete(o)
    }
    return this.byKey.has(key)
  }

  /** Removes and returns the orphans spending an output of the transaction `parentKey`. */
  takeChildren (parentKey: string): OrphanTx[] {
    const keys = this.byParent.get(parentKey)
    if (keys === undefined) return []
    const out: OrphanTx[] = []
    for (const k of [...keys]) {
      const o = this.byKey.get(k)
      if (o === undefined) continue
      this.delete(o)
      out.push(o)
    }
    return out
  }

  /** Whether some orphan spends an output of `parentKey`. */
  hasChildren (parentKey: string): boolean {
    return (this.byParent.get(parentKey)?.size ?? 0) > 0
  }

  /** Drops an orphan by txid key. */
  remove (key: string): void {
    const o = this.byKey.get(key)
    if (o !== undefined) this.delete(o)
  }

  /**
   * Drops the orphans a block makes pointless: those it confirms (`txids`) and those spending
   * an outpoint it spends (`spent`, outpoint keys), which can never be valid now.
   */
  removeForBlock (txids: ReadonlySet<string>, spent: ReadonlySet<string>): void {
    for (const o of [...this.byKey.values()]) {
      if (txids.has(o.key) || o.tx.inputs.some((input) => spent.has(outKey(input.prevout)))) this.delete(o)
    }
  }

  /** Drops expired orphans. */
  expire (now: number): void {
    for (const o of [...this.byKey.values()]) if (o.expires <= now) this.delete(o)
  }

  /** Drops every orphan. */
  clear (): void {
    this.byKey.clear()
    this.byParent.clear()
    this.perPeer.clear()
    this.bytes = 0
  }

  private delete (o: OrphanTx): void {
    if (!this.byKey.delete(o.key)) return
    this.bytes -= o.size
    const n = this.countOf(o.peer) - 1
    if (n > 0) this.perPeer.set(o.peer, n)
    else this.perPeer.delete(o.peer)
    for (const input of o.tx.inputs) {
      const parent = hexKey(input.prevout.txid)
      const set = this.byParent.get(parent)
      set?.delete(o.key)
      if (set?.size === 0) this.byParent.delete(parent)
    }
  }
}
