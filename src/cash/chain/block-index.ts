/**
 * The block index in memory: every stored block's entry, the best chain as an array by height,
 * and the walks over them (fork point, median time past, locators). Loaded from LevelDB at
 * open; the chain changes it only after the matching batch is written.
 */
import { bytesEqual, hashToHex } from '../primitives/hash.ts'
import type { BlockHeader } from '../primitives/header.ts'
import { medianTimePast } from '../consensus/context.ts'
import { hex } from './connect.ts'
import { ChainDbError } from './errors.ts'
import type { EntryRecord, EntryStatus } from './layout.ts'

/** A block in the index. `status` may change later (a stored block gets connected, or found invalid). */
export interface ChainEntry {
  readonly hash: Uint8Array
  readonly prevHash: Uint8Array
  readonly height: number
  readonly header: BlockHeader
  /** Sum of the proof of work of this block and all its ancestors. */
  readonly chainwork: bigint
  /** Median time of the 11 blocks ending at this one (the next block's time must exceed it). */
  readonly medianTimePast: number
  readonly status: EntryStatus
}

/** The index's own, mutable, view of an entry. */
export type IndexEntry = { -readonly [K in keyof ChainEntry]: ChainEntry[K] }

/** The `e` record of an entry. */
export function entryRecord (e: ChainEntry): EntryRecord {
  return { header: e.header, height: e.height, chainwork: e.chainwork, status: e.status }
}

/** Entries by hash, and the best chain by height. */
export class BlockIndex {
  private readonly entries = new Map<string, IndexEntry>()
  private main: IndexEntry[] = []
  /** Entries off the best chain, so pruning looks at them only. */
  private readonly side = new Set<IndexEntry>()
  private readonly medianTimeSpan: number

  constructor (medianTimeSpan: number) {
    this.medianTimeSpan = medianTimeSpan
  }

  /** Stored blocks, any branch and status. */
  get size (): number { return this.entries.size }

  /** The best block, if loaded. */
  get tip (): IndexEntry | undefined { return this.main[this.main.length - 1] }

  get (hash: Uint8Array): IndexEntry | undefined { return this.entries.get(hex(hash)) }

  /** The best-chain entry at `height`. */
  at (height: number): IndexEntry | undefined { return this.main[height] }

  /** Whether `e` is on the best chain. */
  isMain (e: ChainEntry): boolean {
    const m = this.main[e.height]
    return m !== undefined && bytesEqual(m.hash, e.hash)
  }

  /** Adds an entry off the best chain. */
  add (e: IndexEntry): void {
    this.entries.set(hex(e.hash), e)
    this.side.add(e)
  }

  /** Forgets a side entry (its records were deleted). */
  remove (e: IndexEntry): void {
    if (this.main[e.height] === e) throw new ChainDbError(`block ${hashToHex(e.hash)} is on the best chain`)
    this.entries.delete(hex(e.hash))
    this.side.delete(e)
  }

  /** Appends `e`, a child of the tip, to the best chain. */
  pushTip (e: IndexEntry): void {
    if (e.height !== this.main.length) throw new ChainDbError(`block at height ${e.height} is not a child of the tip`)
    this.main.push(e)
    this.side.delete(e)
  }

  /** Drops the tip from the best chain. */
  popTip (): void {
    const e = this.main.pop()
    if (e !== undefined) this.side.add(e)
  }

  /** Entries off the best chain. */
  get sideCount (): number { return this.side.size }

  /**
   * Side entries whose branch leaves the best chain more than `depth` blocks below the tip
   * (a reorganisation to them would be deeper than that), parents before children.
   */
  staleSide (depth: number): IndexEntry[] {
    const forkLimit = this.main.length - 1 - depth
    // A stale branch's first block sits at most one above the limit: skip the sort when none does.
    let lowest = Infinity
    for (const e of this.side) lowest = Math.min(lowest, e.height)
    if (lowest > forkLimit) return []
    const stale = new Set<IndexEntry>()
    for (const e of [...this.side].sort((a, b) => a.height - b.height)) {
      const parent = this.entries.get(hex(e.prevHash))
      if (parent === undefined) continue
      if (stale.has(parent) || (this.main[parent.height] === parent && parent.height < forkLimit)) stale.add(e)
    }
    return [...stale]
  }

  parentOf (e: ChainEntry): IndexEntry {
    const p = this.entries.get(hex(e.prevHash))
    if (p === undefined) throw new ChainDbError(`block ${hashToHex(e.hash)} has no parent entry`)
    return p
  }

  /** The last block of `e`'s ancestry (itself included) on the best chain. */
  findFork (e: IndexEntry): IndexEntry {
    while (this.main[e.height] !== e) e = this.parentOf(e)
    return e
  }

  /** The blocks after `fork` up to `target`, in connection order. */
  pathFrom (fork: IndexEntry, target: IndexEntry): IndexEntry[] {
    const path: IndexEntry[] = []
    for (let e = target; e !== fork; e = this.parentOf(e)) path.push(e)
    return path.reverse()
  }

  /** Median time past of a block with `time` on top of `prev` (BIP113: 11 blocks ending at it). */
  mtpAfter (prev: ChainEntry | undefined, time: number): number {
    const times = [time]
    for (let e = prev; e !== undefined && times.length < this.medianTimeSpan;
      e = e.height === 0 ? undefined : this.entries.get(hex(e.prevHash))) times.push(e.header.time)
    return medianTimePast(times)
  }

  /** `bad` and every entry descending from it. */
  descendants (bad: ChainEntry): IndexEntry[] {
    const marked = new Set<string>([hex(bad.hash)])
    const out = [this.entries.get(hex(bad.hash)) as IndexEntry]
    const later = [...this.entries.values()].filter(e => e.height > bad.height).sort((a, b) => a.height - b.height)
    for (const e of later) {
      if (!marked.has(hex(e.prevHash))) continue
      marked.add(hex(e.hash))
      out.push(e)
    }
    return out
  }

  /** The entry with the most work that is not known invalid (the tip on ties). */
  best (): IndexEntry | undefined {
    let best = this.tip
    for (const e of this.entries.values()) if (e.status !== 'invalid' && (best === undefined || e.chainwork > best.chainwork)) best = e
    return best
  }

  /**
   * Rebuilds the index from stored records and the tip hash.
   *
   * @throws ChainDbError when a record has no parent or the tip is unknown
   */
  load (records: Array<[Uint8Array, EntryRecord]>, tipHash: Uint8Array | undefined): void {
    records.sort((a, b) => a[1].height - b[1].height)
    this.entries.clear()
    this.side.clear()
    for (const [hash, rec] of records) {
      const prev = rec.height === 0 ? undefined : this.entries.get(hex(rec.header.prevHash))
      if (rec.height > 0 && (prev === undefined || prev.height !== rec.height - 1)) {
        throw new ChainDbError(`block ${hashToHex(hash)} at height ${rec.height} has no parent in the index`)
      }
      this.add({
        hash, prevHash: rec.header.prevHash, height: rec.height, header: rec.header, chainwork: rec.chainwork,
        medianTimePast: this.mtpAfter(prev, rec.header.time), status: rec.status
      })
    }
    const tip = tipHash === undefined ? undefined : this.get(tipHash)
    if (tip === undefined) throw new ChainDbError('the chain tip is not in the block index')
    const main = new Array<IndexEntry>(tip.height + 1)
    for (let e: IndexEntry | undefined = tip; e !== undefined; e = e.height === 0 ? undefined : this.parentOf(e)) {
      main[e.height] = e
      this.side.delete(e)
    }
    this.main = main
  }

  /** Block locator (Bitcoin's): the tip, the 9 blocks below it, then steps doubling, and genesis. */
  locator (): Uint8Array[] {
    const out: Uint8Array[] = []
    let step = 1
    for (let h = this.main.length - 1; h > 0; h -= step) {
      out.push((this.main[h] as IndexEntry).hash)
      if (out.length >= 10) step *= 2
    }
    if (this.main[0] !== undefined) out.push(this.main[0].hash)
    return out
  }

  /** Best-chain headers after the first locator hash on it (genesis when none is), up to `max` or through `stop`. */
  headersAfter (locator: readonly Uint8Array[], stop: Uint8Array | undefined, max: number): BlockHeader[] {
    let start = 0
    for (const hash of locator) {
      const e = this.get(hash)
      if (e !== undefined && this.main[e.height] === e) { start = e.height; break }
    }
    const out: BlockHeader[] = []
    for (let h = start + 1; h < this.main.length && out.length < max; h++) {
      const e = this.main[h] as IndexEntry
      out.push(e.header)
      if (stop !== undefined && bytesEqual(e.hash, stop)) break
    }
    return out
  }
}
