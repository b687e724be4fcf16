/**
 * The blocks held of roots fetched in part (`get CID/PATH`, `--only`), so that the block server
 * can tell a downloader of the whole root which ones this node has (ANNOUNCING, then HAVE),
 * as a peer still downloading does. Without the list it could only answer PARTIAL, and the
 * downloader would ask it for blocks it lacks one DONT_HAVE at a time.
 *
 * Lists are read from the store (the part of the DAG present under the root), kept for a few
 * roots and up to a bound of blocks each; a root past the bound gets no list.
 */
import type { CID } from 'multiformats/cid'
import { blockKey, childLinks } from './block.ts'
import type { FsBlockstore } from './blockstore.ts'
import { RAW_CODE } from './session/item.ts'

/** Roots whose lists are kept (the oldest is dropped past it). */
const MAX_ROOTS = 32
/** Most blocks in one root's list (1 MiB chunks: 64 GiB held). */
const MAX_BLOCKS = 65_536

/** See the module comment. */
export class PartialHeld {
  private readonly blockstore: FsBlockstore
  /** By root: its held blocks, or null when over the bound (no list). */
  private readonly lists = new Map<string, CID[] | null>()
  private readonly loading = new Map<string, Promise<void>>()

  constructor (blockstore: FsBlockstore) {
    this.blockstore = blockstore
  }

  /** Reads the held blocks of `root` (again, after a get added to them). */
  async load (root: CID): Promise<void> {
    const key = root.toString()
    const p = (async () => {
      const list = await this.read(root).catch(() => null)
      this.lists.delete(key)
      if (this.lists.size >= MAX_ROOTS) this.lists.delete(this.lists.keys().next().value as string)
      this.lists.set(key, list)
    })()
    this.loading.set(key, p)
    try {
      await p
    } finally {
      if (this.loading.get(key) === p) this.loading.delete(key)
    }
  }

  /** Reads them unless they are known or being read. */
  async ensure (root: CID): Promise<void> {
    const key = root.toString()
    if (this.lists.has(key)) return
    await (this.loading.get(key) ?? this.load(root))
  }

  /** The held blocks of `root`, when read and within the bound. */
  held (root: CID): CID[] | undefined {
    return this.lists.get(root.toString()) ?? undefined
  }

  /** Forgets `root` (completed, or unshared). */
  forget (root: CID): void {
    this.lists.delete(root.toString())
  }

  private async read (root: CID): Promise<CID[] | null> {
    const out: CID[] = []
    const seen = new Set<string>()
    const stack: CID[] = [root]
    while (stack.length > 0) {
      const cid = stack.pop() as CID
      const key = blockKey(cid)
      if (seen.has(key)) continue
      seen.add(key)
      if (!await this.blockstore.has(cid)) continue
      out.push(cid)
      if (out.length > MAX_BLOCKS) return null
      if (cid.code === RAW_CODE) continue
      const bytes = await this.blockstore.getBytes(cid).catch(() => undefined)
      if (bytes != null) stack.push(...childLinks(cid, bytes))
    }
    return out
  }
}
