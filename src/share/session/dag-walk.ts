/**
 * The DAG side of a download session: discovers the blocks of the DAG from its root, takes
 * verified blocks in (from providers, the fallback or the store), stores them, places them in
 * the output and queues their children. Blocks already in the store are not fetched again, so
 * an interrupted download resumes.
 */
import { decode as decodeDagPb } from '@ipld/dag-pb'
import type { CID } from 'multiformats/cid'
import { Uint8ArrayList } from 'uint8arraylist'
import { blockKey, childLinks, isIdentity, MAX_IDENTITY_DIGEST } from '../block.ts'
import type { FsBlockstore } from '../blockstore.ts'
import { InvalidDagError } from '../errors.ts'
import type { OutputWriter, Placement } from '../output.ts'
import { childPos, MAX_LINKS, RAW_CODE } from './item.ts'
import type { Item, Tally } from './item.ts'
import type { ProviderPeer } from './provider-peer.ts'

/** Children of a node looked up in the store at once (see {@link DagWalk.visitAll}). */
const VISIT_CONCURRENCY = 32

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
  async visit (cid: CID, pos: string, place?: Placement): Promise<void> {
    const key = blockKey(cid)
    const existing = this.items.get(key)
    if (existing != null) {
      // the same block twice in one DAG (a repeated chunk): write the copy when it is here
      if (place != null && this.init.writer != null) await this.placeAgain(existing, place)
      return
    }
    const item: Item = { cid, key, pos, state: 'pending', holders: new Set(), place }
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
    let places: Placement[][] = []
    if (writer != null) {
      const main = await writer.place(item.place, item.cid, bytes ?? data)
      places = [main.children]
      if (from != null) {
        // the leaf now lives in the output file: keep a reference, not a second copy
        if (main.ref != null) await blockstore.putRef(item.cid, main.ref, bytes ?? data)
        else await blockstore.putVerified(item.cid, bytes ?? (data as Uint8ArrayList).subarray())
      }
      // no await between the last check of `extra` and `done` below: none is missed
      for (let i = 0; i < (item.extra?.length ?? 0); i++) {
        places.push((await writer.place(item.extra?.[i], item.cid, bytes ?? data)).children)
      }
    } else if (from != null) {
      await blockstore.putVerified(item.cid, bytes ?? (data as Uint8ArrayList).subarray())
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
    if (item.pos === '') tally.total = node.length + pb.Links.reduce((n, l) => n + (l.Tsize ?? 0), 0)
    await this.visitAll(links, item.pos, places[0])
    for (const more of places.slice(1)) {
      await this.visitAll(links, item.pos, more)
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
   * Visits a node's children, at most {@link VISIT_CONCURRENCY} at a time and in link order.
   * All at once, a thousand store lookups (a 1 GiB file's root has 1,024 children) would queue
   * in the thread pool together and the first want would wait for the last of them (~0.1 s);
   * a few at a time, the first blocks are asked for at once and the rest are looked up while
   * they arrive.
   */
  private async visitAll (links: CID[], pos: string, places: Placement[] | undefined): Promise<void> {
    let next = 0
    const worker = async (): Promise<void> => {
      while (next < links.length && !this.owner.ended()) { // not after the session ended or failed
        const i = next++
        await this.visit(links[i] as CID, childPos(pos, i), places?.[i])
      }
    }
    // counted as walking throughout: children not visited yet are not in `remaining`, and the
    // session must not be found done between two visits
    this.walking++
    try {
      await Promise.all(Array.from({ length: Math.min(VISIT_CONCURRENCY, links.length) }, worker))
    } finally {
      this.walking--
    }
  }

  /** A block met again at another place in the output: write it there too. */
  private async placeAgain (item: Item, place: Placement): Promise<void> {
    const writer = this.init.writer
    if (writer == null) return
    if (item.state !== 'done') {
      (item.extra ??= []).push(place)
      return
    }
    this.walking++
    try {
      const bytes = await this.init.blockstore.getBytes(item.cid)
      const { children } = await writer.place(place, item.cid, bytes)
      const links = childLinks(item.cid, bytes)
      await this.visitAll(links, item.pos, children)
    } finally {
      this.walking--
    }
    this.owner.changed()
    this.owner.check()
  }
}
