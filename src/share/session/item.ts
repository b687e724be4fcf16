/**
 * One block of the DAG a session downloads, and the counters the session's parts share.
 */
import type { CID } from 'multiformats/cid'
import type { Placement } from '../output.ts'
import type { ProviderPeer } from './provider-peer.ts'

/** Multicodec code of raw blocks (file data: UnixFS leaves). */
export { code as RAW_CODE } from 'multiformats/codecs/raw'

/** A block of the DAG, from when it is discovered until it is in the store. */
export interface Item {
  cid: CID
  key: string
  /** Depth-first position: sorts in DAG order. */
  pos: string
  /** `storing`: verified, being written; `done`: in the store. */
  state: 'pending' | 'assigned' | 'storing' | 'done'
  /** Where it goes in the output, when writing one. */
  place?: Placement
  /** Where it sits in a selective download's directory tree; absent: its whole subtree is wanted. */
  sel?: Sel
  /**
   * More places for the same block (a chunk repeated in the file, a directory met twice), with
   * what each wants of its children, written and expanded when it arrives.
   */
  extra?: Array<{ place?: Placement, sel?: Sel }>
  /** Peers it is wanted from. */
  holders: Set<ProviderPeer>
}

/** A node of a selective download's directory tree: its entry path and its depth in a HAMT directory. */
export interface Sel {
  /** The entry's path from the root (`/`-joined, '' for the root). */
  path: string
  /** 0 for a directory (or file) node, n for a shard node n levels below its directory's first. */
  depth: number
}

/** Children a node may have (three base-36 digits per level of {@link childPos}). */
export const MAX_LINKS = 46_655

/** The depth-first position of a node's `index`-th child. */
export function childPos (parent: string, index: number): string {
  return parent + index.toString(36).padStart(3, '0')
}

/** What a session has done so far, counted by the part that did it. */
export class Tally {
  /** Bytes of blocks held (fetched now or found in the store). */
  bytes = 0
  blocks = 0
  /** Estimated bytes of the whole DAG, from the root's link sizes. */
  total = 0
  /** Bytes fetched from the network. */
  fetched = 0
  /** When the last block was stored (the stall timeout counts from it). */
  lastProgress = Date.now()
  private recent: Array<{ t: number, n: number }> = []

  /** `n` bytes arrived from the network. */
  add (n: number): void {
    this.fetched += n
    this.recent.push({ t: Date.now(), n })
  }

  /** Bytes per second over the last three seconds. */
  rate (now: number): number {
    this.recent = this.recent.filter(r => now - r.t < 3_000)
    const span = Math.max(0.25, Math.min(3, (now - (this.recent[0]?.t ?? now)) / 1000))
    return this.recent.reduce((n, r) => n + r.n, 0) / span
  }
}
