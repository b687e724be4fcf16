/**
 * Super-seeding (BitTorrent's "initial seeding") in peerd's terms: a node that has a whole root
 * and is serving it to a crowd of downloaders hands each data block out once, to one downloader,
 * and waits to see it traded (another downloader says it has it, and did not get it from the
 * seeder) before handing that downloader anything new. The crowd's uplinks then carry the copies and the seeder's uplink
 * carries each block about once: in a flash crowd the seeder's uplink is the bound, and every
 * duplicate it sends is time lost for everyone (`npm run bench:net`, flash crowd, shows the
 * copies sent).
 *
 * When every block has been handed out, the seeder helps the tail: each downloader is offered,
 * among the blocks it lacks, one that only one other downloader holds.
 *
 * This module only decides; the block server (server.ts) tells each downloader what it may ask
 * for (HAVE) and reports what it sent and what downloaders announce.
 */
import type { CID } from 'multiformats/cid'
import { blockKey, childLinks } from './block.ts'
import { RAW_CODE } from './session/item.ts'

/** Most data blocks of a root handed out this way; larger roots are served as usual. */
export const MAX_HANDOUT_BLOCKS = 65_536
/** Offers a downloader holds at once (asked for or about to be): enough to keep its share of the seeder's uplink busy. */
export const OFFERS_AHEAD = 2
/** Blocks a downloader may hold from the seeder that no other downloader has before it is given more. */
export const UNTRADED_MAX = 2
/**
 * In the tail the seeder offers only blocks that fewer downloaders than this hold or are being
 * sent: a second source for a block one downloader alone holds, not a copy the crowd would
 * trade anyway.
 */
export const TAIL_COPIES = 2

/** One downloader of the root, as the seeder sees it. */
export interface HandoutPeer {
  readonly id: string
  /** Which blocks (by index) it holds. */
  readonly has: Uint8Array
  /** Blocks offered and not yet held. */
  readonly offered: Set<number>
  /** Blocks sent to it that no other downloader holds yet (from someone but the seeder). */
  readonly untraded: Set<number>
  /** Which blocks (by index) the seeder sent it: its holding them says nothing of anyone's trading. */
  readonly given: Uint8Array
}

/** The hand-out state of one root on a seeder. */
export class Handout {
  /** The root's data blocks (raw leaves), in DAG order. */
  readonly leaves: CID[]
  /** Its other blocks (the root and inner nodes): every downloader may ask for them. */
  readonly inner: CID[]
  private readonly index = new Map<string, number>()
  /** Downloaders known to hold each block. */
  private readonly holders: Uint16Array
  /** Downloaders each block is offered to and not yet held by. */
  private readonly offers: Uint16Array
  /** Blocks before this index have all been offered or held at least once. */
  private cursor = 0
  /** Blocks that lost their only copy in the crowd (a downloader left): handed out again first. */
  private readonly returned: number[] = []
  readonly peers = new Map<string, HandoutPeer>()

  constructor (leaves: CID[], inner: CID[]) {
    this.leaves = leaves
    this.inner = inner
    leaves.forEach((cid, i) => this.index.set(blockKey(cid), i))
    this.holders = new Uint16Array(leaves.length)
    this.offers = new Uint16Array(leaves.length)
  }

  /** Whether `key` is one of the data blocks handed out. */
  isLeaf (key: string): boolean {
    return this.index.has(key)
  }

  /** Whether `peer` may ask for `key`: an inner block, or one offered to it. */
  mayAsk (peer: string, key: string): boolean {
    const i = this.index.get(key)
    if (i == null) return true
    const p = this.peers.get(peer)
    return p != null && (p.offered.has(i) || p.has[i] === 1)
  }

  join (id: string): HandoutPeer {
    let p = this.peers.get(id)
    if (p == null) {
      p = { id, has: new Uint8Array(this.leaves.length), offered: new Set(), untraded: new Set(), given: new Uint8Array(this.leaves.length) }
      this.peers.set(id, p)
    }
    return p
  }

  leave (id: string): void {
    const p = this.peers.get(id)
    if (p == null) return
    this.peers.delete(id)
    for (const i of p.offered) this.offers[i] = (this.offers[i] as number) - 1
    for (let i = 0; i < p.has.length; i++) {
      if (p.has[i] === 0) continue
      const left = (this.holders[i] as number) - 1
      this.holders[i] = left
      if (left === 0 && this.offers[i] === 0) this.returned.push(i)
    }
  }

  /** `id` holds `key` (it said so, or it was sent it); returns the peers whose gate opened. */
  have (id: string, key: string): HandoutPeer[] {
    const i = this.index.get(key)
    const p = this.peers.get(id)
    if (i == null || p == null || p.has[i] === 1) return []
    p.has[i] = 1
    this.holders[i] = (this.holders[i] as number) + 1
    if (p.offered.delete(i)) this.offers[i] = (this.offers[i] as number) - 1
    const opened: HandoutPeer[] = []
    // traded: a downloader got it from another downloader, not from the seeder
    if (p.given[i] === 1) return opened
    for (const q of this.peers.values()) {
      if (q !== p && q.untraded.delete(i)) opened.push(q)
    }
    return opened
  }

  /** The seeder sent `key` to `id`. */
  sent (id: string, key: string): void {
    const i = this.index.get(key)
    const p = this.peers.get(id)
    if (i == null || p == null) return
    const untraded = [...this.peers.values()].every(q => q === p || q.has[i] === 0 || q.given[i] === 1)
    p.given[i] = 1
    this.have(id, key)
    if (untraded) p.untraded.add(i)
  }

  /** New blocks to offer `id` (they are recorded as offered). */
  next (id: string): CID[] {
    const p = this.peers.get(id)
    if (p == null) return []
    const out: CID[] = []
    while (p.offered.size < OFFERS_AHEAD) {
      const i = this.pick(p)
      if (i == null) break
      p.offered.add(i)
      this.offers[i] = (this.offers[i] as number) + 1
      out.push(this.leaves[i] as CID)
    }
    return out
  }

  /** Whether every block has been handed out at least once (the tail has begun). */
  get handedOut (): boolean {
    return this.firstUnhanded() == null
  }

  private firstUnhanded (): number | undefined {
    while (this.returned.length > 0) {
      const i = this.returned[this.returned.length - 1] as number
      if (this.holders[i] === 0 && this.offers[i] === 0) return i
      this.returned.pop()
    }
    while (this.cursor < this.leaves.length && ((this.holders[this.cursor] as number) > 0 || (this.offers[this.cursor] as number) > 0)) this.cursor++
    return this.cursor < this.leaves.length ? this.cursor : undefined
  }

  private pick (p: HandoutPeer): number | undefined {
    // blocks go only to peers that pass on what they were given (a free-rider gets its first few)
    if (p.untraded.size >= UNTRADED_MAX) return undefined
    // blocks nobody holds yet, one copy each
    const fresh = this.firstUnhanded()
    if (fresh != null) return fresh
    // the tail: the block it lacks that the fewest others hold or are about to, if that is one
    let best: number | undefined
    let copies = TAIL_COPIES
    for (let i = 0; i < this.leaves.length; i++) {
      if (p.has[i] === 1 || p.offered.has(i)) continue
      const c = (this.holders[i] as number) + (this.offers[i] as number)
      if (c < copies) {
        copies = c
        best = i
      }
    }
    return best
  }
}

/**
 * Lists a root's blocks, data leaves apart from the nodes above them, reading them from the
 * store; undefined when it has more than {@link MAX_HANDOUT_BLOCKS} leaves or a block is missing.
 */
export async function listBlocks (root: CID, getBytes: (cid: CID) => Promise<Uint8Array>): Promise<{ leaves: CID[], inner: CID[] } | undefined> {
  const leaves: CID[] = []
  const inner: CID[] = []
  const seen = new Set<string>()
  const visit = async (cid: CID): Promise<boolean> => {
    const key = blockKey(cid)
    if (seen.has(key)) return true
    seen.add(key)
    if (cid.code === RAW_CODE) {
      leaves.push(cid)
      return leaves.length <= MAX_HANDOUT_BLOCKS
    }
    inner.push(cid)
    if (inner.length > MAX_HANDOUT_BLOCKS) return false
    const bytes = await getBytes(cid)
    for (const child of childLinks(cid, bytes)) if (!await visit(child)) return false
    return true
  }
  try {
    return await visit(root) ? { leaves, inner } : undefined
  } catch {
    return undefined
  }
}
