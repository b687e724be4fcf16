/**
 * Blocks whose parent is not known yet (an announcement that overtook the blocks before it),
 * kept within a count and byte limit until their parent connects. The oldest go first.
 * @module
 */
import type { PeerId } from '@libp2p/interface'
import type { Block } from '../primitives/block.ts'
import { bytesToHex } from '@noble/hashes/utils.js'

/** An orphan block and who sent it. */
export interface Orphan {
  hash: Uint8Array
  block: Block
  bytes: Uint8Array
  peer?: PeerId
}

/** A bounded pool of orphan blocks, indexed by hash and by parent hash. */
export class OrphanPool {
  private readonly maxCount: number
  private readonly maxBytes: number
  private readonly byHash = new Map<string, Orphan>()
  private bytes = 0

  constructor (init: { maxCount?: number, maxBytes?: number } = {}) {
    this.maxCount = init.maxCount ?? 100
    this.maxBytes = init.maxBytes ?? 64 * 1024 * 1024
  }

  /** Number of orphans held. */
  get size (): number { return this.byHash.size }

  /** Whether the block with this hash is held. */
  has (hash: Uint8Array): boolean { return this.byHash.has(bytesToHex(hash)) }

  /** Adds an orphan, evicting the oldest ones past the limits. Returns false for one already held or too big. */
  add (orphan: Orphan): boolean {
    const key = bytesToHex(orphan.hash)
    if (this.byHash.has(key) || orphan.bytes.length > this.maxBytes) return false
    this.byHash.set(key, orphan)
    this.bytes += orphan.bytes.length
    for (const [k, o] of this.byHash) {
      if (this.byHash.size <= this.maxCount && this.bytes <= this.maxBytes) break
      this.byHash.delete(k)
      this.bytes -= o.bytes.length
    }
    return true
  }

  /** Removes and returns the orphans whose parent is `parentHash`. */
  takeChildren (parentHash: Uint8Array): Orphan[] {
    const parent = bytesToHex(parentHash)
    const out: Orphan[] = []
    for (const [k, o] of this.byHash) {
      if (bytesToHex(o.block.header.prevHash) === parent) {
        out.push(o)
        this.byHash.delete(k)
        this.bytes -= o.bytes.length
      }
    }
    return out
  }

  /** Drops every orphan. */
  clear (): void {
    this.byHash.clear()
    this.bytes = 0
  }
}
