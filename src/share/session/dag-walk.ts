/**
 * The DAG side of a download session: discovers the blocks of the DAG from its root, takes
 * verified blocks in (from providers, the fallback or the store), stores them, places them in
 * the output and queues their children. Blocks already in the store are not fetched again, so
 * an interrupted download resumes.
 */
import { decode as decodeDagPb } from '@ipld/dag-pb'
import type { PBNode } from '@ipld/dag-pb'
import { UnixFS } from 'ipfs-unixfs'
import type { CID } from 'multiformats/cid'
import { Uint8ArrayList } from 'uint8arraylist'
import { blockKey, childLinks, isIdentity, MAX_IDENTITY_DIGEST } from '../block.ts'
import type { FsBlockstore } from '../blockstore.ts'
import { InvalidDagError } from '../errors.ts'
import type { OutputWriter, Placement } from '../output.ts'
import { childPos, MAX_LINKS, RAW_CODE } from './item.ts'
import type { Item, Sel, Tally } from './item.ts'
import type { ProviderPeer } from './provider-peer.ts'
import { shardBucket } from './selection.ts'
import type { EntryFilter } from './selection.ts'

/** Children of a node looked up in the store at once (see {@link DagWalk.visitAll}). */
const VISIT_CONCURRENCY = 32

/**
 * Deepest HAMT shard level a selective walk follows: a 256-way HAMT of a billion entries is 4
 * levels deep, so deeper ones are a made-up DAG whose shard nodes no entry count bounds.
 */
const MAX_SHARD_DEPTH = 16

/** What the walk needs of the session it serves. */
export interface DagWalkOwner {
  /** Queues a block to fetch. */
  enqueue: (item: Item) => void
  /** Takes a block out of the fetch queue (it arrived). */
  unqueue: (item: Item) => void
  /** New blocks are queued: hand out wants. */
  changed: () => void
  /** Whether wants are picked rarest first (then a node's children are handed out together). */
  rarestFirst: () => boolean
  /** A block is in the store. */
  stored: (cid: CID) => void
  /** The walk may have ended: see whether the session is complete. */
  check: () => void
  fail: (err: Error) => void
  /** Whether the session has ended (completed or failed). */
  ended: () => boolean
}

/** Options of a {@link DagWalk}. */
export interface DagWalkInit {
  blockstore: FsBlockstore
  writer?: OutputWriter
  tally: Tally
  owner: DagWalkOwner
  /** A selective download: which directory entries are fetched (session/selection.ts). Default: all. */
  filter?: EntryFilter
}

/** A link the walk follows: its index in the node, and what is wanted below it. */
interface Chosen { index: number, sel?: Sel }

function sameSel (a: Sel | undefined, b: Sel | undefined): boolean {
  return a?.path === b?.path && a?.depth === b?.depth
}

/** Walks one DAG into the store (and the output). */
export class DagWalk {
  /** Every block of the DAG discovered so far, by key. */
  readonly items = new Map<string, Item>()
  private readonly init: DagWalkInit
  private readonly owner: DagWalkOwner
  private walking = 0
  /** Items not yet done. */
  private remaining = 0

  constructor (init: DagWalkInit) {
    this.init = init
    this.owner = init.owner
  }

  /** Whether every block discovered is stored and none is left to discover. */
  get finished (): boolean {
    return this.walking === 0 && this.remaining === 0
  }

  /** The blocks stored so far. */
  held (): CID[] {
    return [...this.items.values()].filter(i => i.state === 'done').map(i => i.cid)
  }

  /** Registers a block of the DAG: expands it from the store if there, else queues it. */
  async visit (cid: CID, pos: string, place?: Placement, sel?: Sel): Promise<void> {
    const key = blockKey(cid)
    const existing = this.items.get(key)
    if (existing != null) {
      // the same block twice in one DAG (a repeated chunk, a directory met twice): write the copy
      // when it is here, and follow the links this place selects that the first one did not
      const placeIt = place != null && this.init.writer != null
      if (placeIt || (existing.sel != null && !sameSel(existing.sel, sel))) await this.again(existing, placeIt ? place : undefined, sel)
      return
    }
    const filter = this.init.filter
    if (sel != null && filter != null && cid.code === RAW_CODE && filter.mustBeDirectory(sel.path)) {
      this.owner.fail(filter.notADirectory(sel.path)) // a raw block is file data
      return
    }
    const item: Item = { cid, key, pos, state: 'pending', holders: new Set(), place, sel }
    this.items.set(key, item)
    this.remaining++
    this.walking++
    const { blockstore, tally } = this.init
    try {
      if (await blockstore.has(cid)) {
        // resume: a raw leaf needs no read; an inner node is read for its links
        let bytes: Uint8Array | undefined
        const writer = this.init.writer
        const ref = writer != null && place?.kind === 'file' ? await blockstore.refOf(cid) : undefined
        const inPlace = ref != null && place?.kind === 'file' && ref.path === writer?.tempPath(place.path) && ref.offset === place.offset
        // resuming into the same output: the leaf is there only if it still verifies (the partial
        // file may have been deleted or damaged since); the read drops a reference that fails
        const resumed = inPlace && await blockstore.getBytes(cid).then(() => true, () => false)
        if (cid.code === RAW_CODE && (writer == null || resumed)) {
          this.stored(item)
          tally.blocks++
          const size = await blockstore.sizeOf(cid)
          tally.bytes += size
          if (pos === '') tally.total = size
          return
        }
        try {
          bytes = await blockstore.getBytes(cid)
        } catch {
          bytes = undefined // corrupt on disk: dropped by the store, fetch it again
        }
        if (bytes != null) {
          await this.accept(item, bytes, undefined)
          return
        }
      }
      this.owner.enqueue(item)
      // with peers that hold part of the content, a node's children are handed out together,
      // after all are queued: wants picked from the first few alone would ignore which peers
      // have which (rarest first). Otherwise the order is the DAG's anyway: ask for each block
      // as soon as it is known to be missing, so the transfer starts while the rest of the
      // node's (a thousand, for a 1 GiB file) children are still being looked up in the store
      if (pos === '' || !this.owner.rarestFirst()) this.owner.changed()
    } finally {
      this.walking--
    }
  }

  /**
   * A verified block arrived (`from` a provider, or from the fallback or the store when
   * undefined): store it, place it in the output, expand its links.
   */
  async accept (item: Item, data: Uint8Array | Uint8ArrayList, from: ProviderPeer | undefined): Promise<void> {
    if (item.state === 'done' || item.state === 'storing') return
    this.owner.unqueue(item)
    item.state = 'storing'
    for (const holder of item.holders) holder.forget(item, holder !== from)
    item.holders.clear()
    const { blockstore, tally, writer } = this.init
    const size = data.byteLength
    tally.blocks++
    tally.bytes += size
    tally.lastProgress = Date.now()
    if (from != null) tally.add(size)
    // raw leaves stay in their chunks (written with writev); inner nodes are decoded, so joined
    const isLeaf = item.cid.code === RAW_CODE
    const bytes = data instanceof Uint8ArrayList ? (isLeaf && writer != null ? undefined : data.subarray()) : data
    // each place of the block in the DAG: where its children go, and which of them are wanted
    const places: Array<{ children?: Placement[], sel?: Sel }> = []
    if (writer != null) {
      const main = await writer.place(item.place, item.cid, bytes ?? data)
      places.push({ children: main.children, sel: item.sel })
      if (from != null) {
        // the leaf now lives in the output file: keep a reference, not a second copy
        if (main.ref != null) await blockstore.putRef(item.cid, main.ref, bytes ?? data)
        else await blockstore.putVerified(item.cid, bytes ?? (data as Uint8ArrayList).subarray())
      }
      // no await between the last check of `extra` and `done` below: none is missed
      for (let i = 0; i < (item.extra?.length ?? 0); i++) {
        const more = item.extra?.[i]
        places.push({ children: (await writer.place(more?.place, item.cid, bytes ?? data)).children, sel: more?.sel })
      }
    } else {
      if (from != null) await blockstore.putVerified(item.cid, bytes ?? (data as Uint8ArrayList).subarray())
      places.push({ sel: item.sel }, ...(item.extra ?? []).map(e => ({ sel: e.sel })))
    }
    this.stored(item)
    if (isLeaf) {
      if (item.pos === '') tally.total = size
      this.owner.check()
      return
    }
    const node = bytes ?? (data as Uint8ArrayList).subarray()
    // decoded once, for the links and their sizes (a 1 GiB file's root has 1,024 links)
    let pb: ReturnType<typeof decodeDagPb>
    try {
      pb = decodeDagPb(node)
    } catch (err) {
      this.owner.fail(new InvalidDagError(`block ${item.cid.toString()} is not a valid dag-pb node: ${(err as Error).message}`, { cause: err }))
      return
    }
    const links = pb.Links.map(l => l.Hash)
    if (links.length > MAX_LINKS) {
      this.owner.fail(new InvalidDagError(`block ${item.cid.toString()} has ${links.length} links, over the ${MAX_LINKS} peerd follows`))
      return
    }
    // an identity link's block is in the link itself (the store reads it from there); one that
    // inlines too much would never arrive from anyone
    const inlined = links.find(l => isIdentity(l) && l.multihash.size > MAX_IDENTITY_DIGEST)
    if (inlined != null) {
      this.owner.fail(new InvalidDagError(`block ${item.cid.toString()} links to an identity CID of ${inlined.multihash.size} bytes, over the ${MAX_IDENTITY_DIGEST} peerd accepts`))
      return
    }
    if (this.init.filter == null) {
      if (item.pos === '') tally.total = node.length + pb.Links.reduce((n, l) => n + (l.Tsize ?? 0), 0)
    } else if (item.sel != null) {
      tally.total += node.length // a directory node on the way: the selected entries add their sizes below
    }
    for (const [i, at] of places.entries()) {
      const chosen = this.choose(pb, at.sel)
      if (chosen == null) return
      if (i === 0 && at.sel != null) for (const c of chosen) if (c.sel == null) tally.total += pb.Links[c.index]?.Tsize ?? 0
      await this.visitAll(links, item.pos, at.children, chosen)
    }
    this.owner.changed()
    this.owner.check()
  }

  /** An item is in the store. */
  private stored (item: Item): void {
    item.state = 'done'
    this.remaining--
    this.owner.stored(item.cid)
  }

  /**
   * The links of `pb` to follow: all of them, or under a selection (`sel`) those of the
   * directory entries the filter selects or must look into, and of the HAMT shards that lead to
   * them. Undefined when the walk failed (a file where a directory must be).
   */
  private choose (pb: PBNode, sel: Sel | undefined): Chosen[] | undefined {
    const filter = this.init.filter
    if (sel == null || filter == null) return pb.Links.map((_, index) => ({ index }))
    let fs: UnixFS | undefined
    try {
      fs = UnixFS.unmarshal(pb.Data ?? new Uint8Array())
    } catch {
      fs = undefined // not UnixFS: not a directory
    }
    if (fs == null || (fs.type !== 'directory' && fs.type !== 'hamt-sharded-directory')) {
      if (!filter.mustBeDirectory(sel.path)) return [] // a file looked at to learn its type: its data is not wanted
      this.owner.fail(filter.notADirectory(sel.path))
      return undefined
    }
    const fanout = fs.type === 'hamt-sharded-directory' ? Number(fs.fanout ?? 256n) : 0
    const prefix = fanout > 0 ? (fanout - 1).toString(16).length : 0
    const names: string[] = []
    const chosen: Chosen[] = []
    let buckets: Array<number | undefined> | undefined | null = null
    for (const [index, link] of pb.Links.entries()) {
      const raw = link.Name ?? ''
      if (prefix > 0 && raw.length === prefix) {
        // a sub-shard of the same directory: only those where a wanted name can be, when all are known
        if (buckets === null) {
          const wanted = filter.wantedNames(sel.path)
          buckets = wanted != null && fanout === 256 ? wanted.map(n => shardBucket(n, sel.depth)) : undefined
          if (buckets?.includes(undefined) === true) buckets = undefined
        }
        if (buckets != null && !buckets.includes(parseInt(raw, 16))) continue
        if (sel.depth >= MAX_SHARD_DEPTH) {
          this.owner.fail(new InvalidDagError(`directory ${sel.path === '' ? '(root)' : sel.path} has HAMT shards over ${MAX_SHARD_DEPTH} levels deep`))
          return undefined
        }
        chosen.push({ index, sel: { path: sel.path, depth: sel.depth + 1 } })
        continue
      }
      const name = raw.slice(prefix)
      names.push(name)
      const path = sel.path === '' ? name : `${sel.path}/${name}`
      const decision = filter.decide(path)
      if (decision === 'all') chosen.push({ index })
      else if (decision === 'enter') {
        if (link.Hash.code !== RAW_CODE) chosen.push({ index, sel: { path, depth: 0 } })
        else if (filter.mustBeDirectory(path)) {
          // a raw block is file data: known to be a file without fetching it
          this.owner.fail(filter.notADirectory(path))
          return undefined
        }
      }
    }
    filter.entries(sel.path, names, prefix > 0)
    return chosen
  }

  /**
   * Visits the chosen children of a node, at most {@link VISIT_CONCURRENCY} at a time and in link order.
   * All at once, a thousand store lookups (a 1 GiB file's root has 1,024 children) would queue
   * in the thread pool together and the first want would wait for the last of them (~0.1 s);
   * a few at a time, the first blocks are asked for at once and the rest are looked up while
   * they arrive.
   */
  private async visitAll (links: CID[], pos: string, places: Placement[] | undefined, chosen: Chosen[]): Promise<void> {
    let next = 0
    const worker = async (): Promise<void> => {
      while (next < chosen.length && !this.owner.ended()) { // not after the session ended or failed
        const { index, sel } = chosen[next++] as Chosen
        await this.visit(links[index] as CID, childPos(pos, index), places?.[index], sel)
      }
    }
    // counted as walking throughout: children not visited yet are not in `remaining`, and the
    // session must not be found done between two visits
    this.walking++
    try {
      await Promise.all(Array.from({ length: Math.min(VISIT_CONCURRENCY, chosen.length) }, worker))
    } finally {
      this.walking--
    }
  }

  /**
   * A block met again at another place in the DAG: write it there too (`place`), and follow
   * the links that place selects (`sel`).
   */
  private async again (item: Item, place: Placement | undefined, sel: Sel | undefined): Promise<void> {
    if (item.state !== 'done') {
      (item.extra ??= []).push({ place, sel })
      return
    }
    const writer = this.init.writer
    this.walking++
    try {
      const bytes = await this.init.blockstore.getBytes(item.cid)
      const children = place != null && writer != null ? (await writer.place(place, item.cid, bytes)).children : undefined
      if (item.cid.code !== RAW_CODE) {
        const chosen = this.choose(decodeDagPb(bytes), sel)
        if (chosen != null) await this.visitAll(childLinks(item.cid, bytes), item.pos, children, chosen)
      }
    } finally {
      this.walking--
    }
    this.owner.changed()
    this.owner.check()
  }
}
