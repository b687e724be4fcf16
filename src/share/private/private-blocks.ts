/**
 * The blocks of privately shared roots (`peerd share --private`): served only through the onion
 * service and withheld from libp2p peers (the block protocol and Bitswap answer DONT_HAVE), so a
 * peer that learnt a block's CID from the private content cannot find this node by asking for it.
 *
 * Bounded by what is stored: one key per block reachable from a private root in the store.
 * A block that is also in a public root is withheld too (privacy first: serving it would confirm
 * the private content's blocks are here).
 * @module
 */
import type { CID } from 'multiformats/cid'
import { blockKey, childLinks } from '../block.ts'
import type { FsBlockstore } from '../blockstore.ts'
import { RAW_CODE } from '../session/item.ts'

/** See the module header. */
export class PrivateBlocks {
  private readonly blockstore: FsBlockstore
  private keys = new Set<string>()
  private roots = new Set<string>()
  /** Blocks marked by imports under way (kept through a rebuild; a failed import's stay withheld). */
  private readonly pending = new Set<string>()

  constructor (blockstore: FsBlockstore) {
    this.blockstore = blockstore
  }

  /** Blocks withheld. */
  get size (): number { return this.keys.size }

  /** Whether `cid` is a block of a privately shared root. */
  has (cid: CID): boolean {
    return this.keys.has(blockKey(cid))
  }

  /** Whether `cid` is a privately shared root. */
  isRoot (cid: CID): boolean {
    return this.roots.has(blockKey(cid))
  }

  /** Recomputes the set from the private roots (at start, after `gc`, and when a private root is shared in the open). */
  async rebuild (roots: CID[]): Promise<void> {
    const keys = new Set<string>()
    for (const root of roots) await this.walk(root, keys)
    for (const k of this.pending) keys.add(k)
    this.keys = keys
    this.roots = new Set(roots.map(r => blockKey(r)))
  }

  /** `root` is no longer shared (unshared): its blocks stay withheld until `gc` deletes them and a rebuild follows. */
  dropRoot (root: CID): void {
    this.roots.delete(blockKey(root))
  }

  /** Withholds one block now (each block of a private import, before it is stored). */
  mark (cid: CID): void {
    const key = blockKey(cid)
    this.keys.add(key)
    this.pending.add(key)
  }

  /** Adds `root` and every block under it (a new private share). */
  async add (root: CID): Promise<void> {
    this.roots.add(blockKey(root))
    const under = new Set<string>()
    await this.walk(root, under)
    for (const k of under) {
      this.keys.add(k)
      this.pending.delete(k)
    }
  }

  private async walk (root: CID, into: Set<string>): Promise<void> {
    const stack = [root]
    while (stack.length > 0) {
      const cid = stack.pop() as CID
      const key = blockKey(cid)
      if (into.has(key)) continue
      into.add(key)
      if (cid.code === RAW_CODE) continue
      const bytes = await this.blockstore.getBytes(cid).catch(() => undefined)
      if (bytes != null) stack.push(...childLinks(cid, bytes))
    }
  }
}
