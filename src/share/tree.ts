/**
 * Directory listings for a file picker (`GET /api/v1/tree`): the names, types and sizes in a
 * directory DAG, fetched by a session that follows directory nodes only ({@link TreeFilter})
 * and read back from the store by {@link readTree}. Both stop at the same depth and entry
 * count, so a huge tree costs a bounded fetch and a bounded answer.
 */
import { decode as decodeDagPb } from '@ipld/dag-pb'
import { UnixFS } from 'ipfs-unixfs'
import type { CID } from 'multiformats/cid'
import type { FsBlockstore } from './blockstore.ts'
import { RAW_CODE } from './session/item.ts'
import { InvalidSelectionError } from './session/selection.ts'
import type { Decision, EntryFilter } from './session/selection.ts'
import type { Tree, TreeEntry } from './types.ts'

export type { Tree, TreeEntry }

/** Default and greatest depth of a listing (levels of entries below the root). */
export const TREE_DEPTH = { default: 8, max: 32 }
/** Default and greatest number of entries in a listing. */
export const TREE_ENTRIES = { default: 5_000, max: 50_000 }

/** Limits of a listing. */
export interface TreeLimits { depth: number, entries: number }

function depthOf (path: string): number {
  return path === '' ? 0 : path.split('/').length
}

/** The walk filter of a listing: every entry's node (to learn its type) down to the depth, never a file's data. */
export class TreeFilter implements EntryFilter {
  private readonly limits: TreeLimits
  private readonly root: string
  private count = 0

  constructor (root: string, limits: TreeLimits) {
    this.root = root
    this.limits = limits
  }

  decide (path: string): Decision {
    if (depthOf(path) > this.limits.depth || this.count >= this.limits.entries) return 'skip'
    this.count++
    return 'enter'
  }

  mustBeDirectory (path: string): boolean { return path === '' }
  wantedNames (): undefined { return undefined }
  entries (): void {}
  notADirectory (): Error { return new InvalidSelectionError(`${this.root} is a file, not a directory: there is nothing to list`) }
  problem (): undefined { return undefined }
}

/** Reads the listing of `root` from the store (after a session with a {@link TreeFilter} fetched it). */
export async function readTree (blockstore: FsBlockstore, root: CID, limits: TreeLimits): Promise<Tree> {
  const entries: TreeEntry[] = []
  let truncated = false
  const node = async (cid: CID): Promise<{ links: ReturnType<typeof decodeDagPb>['Links'], fs: UnixFS } | undefined> => {
    if (cid.code === RAW_CODE) return undefined
    try {
      const pb = decodeDagPb(await blockstore.getBytes(cid))
      return { links: pb.Links, fs: UnixFS.unmarshal(pb.Data ?? new Uint8Array()) }
    } catch {
      return undefined // not fetched (over the limits) or not UnixFS
    }
  }
  const dir = async (n: { links: ReturnType<typeof decodeDagPb>['Links'], fs: UnixFS }, path: string): Promise<void> => {
    const prefix = n.fs.type === 'hamt-sharded-directory' ? (Number(n.fs.fanout ?? 256n) - 1).toString(16).length : 0
    for (const link of n.links) {
      const raw = link.Name ?? ''
      if (prefix > 0 && raw.length === prefix) {
        const shard = await node(link.Hash)
        if (shard == null) truncated = true
        else await dir(shard, path) // a sub-shard of the same directory
        continue
      }
      if (entries.length >= limits.entries) {
        truncated = true
        return
      }
      const name = raw.slice(prefix)
      const child = path === '' ? name : `${path}/${name}`
      if (link.Hash.code === RAW_CODE) {
        entries.push({ path: child, type: 'file', size: link.Tsize ?? 0 })
        continue
      }
      const sub = await node(link.Hash)
      const type = sub?.fs.type
      if (type === 'directory' || type === 'hamt-sharded-directory') {
        entries.push({ path: child, type: 'directory', size: 0 })
        if (depthOf(child) < limits.depth && sub != null) await dir(sub, child)
        else if (sub != null && sub.links.length > 0) truncated = true
      } else if (type === 'file' || type === 'raw') {
        entries.push({ path: child, type: 'file', size: Number(sub?.fs.fileSize() ?? 0n) })
      } else {
        entries.push({ path: child, type: type === 'symlink' ? 'symlink' : 'unknown', size: link.Tsize ?? 0 })
      }
    }
  }
  const top = await node(root)
  if (top == null || (top.fs.type !== 'directory' && top.fs.type !== 'hamt-sharded-directory')) {
    throw new InvalidSelectionError(`${root.toString()} is a file, not a directory: there is nothing to list`)
  }
  await dir(top, '')
  return { cid: root.toString(), entries, truncated }
}
