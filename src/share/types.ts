/**
 * The JSON shapes of what the node holds and downloads, as the API shows them. Types only and
 * no imports: the dashboard's build reads them through `src/api/types.ts`.
 * @module
 */

/** What this node holds of one root. */
export interface RootRecord {
  cid: string
  /** File or folder name it was shared under ('' when fetched by CID alone). */
  name: string
  /** Bytes of file data (sum of the files for a directory; estimate until complete). */
  size: number
  type: 'file' | 'directory' | 'raw' | 'unknown'
  /** Every block is local. */
  complete: boolean
  /** How it got here. */
  source: 'share' | 'get'
  /** Whether this node announces it and serves it (`unshare` clears it; `gc` then frees it). */
  pinned: boolean
  /**
   * Fetched with `get --private`: never announced, and peers asking about it are told this node
   * does not have it (until it is shared or fetched in the open). Absent: false.
   */
  private?: boolean
  /**
   * Shared with `share --private`: the onion address (`<56 chars>.peerd`) that serves it, once
   * the node's onion service runs. Filled in when listed, never stored. Absent otherwise.
   */
  onion?: string
  /**
   * Fetched in part (`get CID/PATH`, `get --only`): the selections fetched so far (`PATH`,
   * `only GLOB, …` or `PATH only GLOB, …`), with `complete` false. Absent once the whole root is held.
   */
  selection?: string[]
  addedAt: string
}

/** Progress of a session. */
export interface SessionProgress {
  /** Bytes of blocks held (fetched now or found in the store). */
  bytes: number
  /** Estimated bytes of the whole DAG (grows as it is discovered; 0 before the root arrives). */
  total: number
  blocks: number
  /** Peers serving right now. */
  peers: number
  /** Bytes fetched from the network in this session. */
  fetched: number
  /** Recent download rate, bytes per second. */
  rate: number
}

/** A download in progress. */
export interface Transfer {
  cid: string
  startedAt: string
  /** A private get: through onion circuits, not announced. */
  private: boolean
  progress: SessionProgress
}

/** One entry of a directory's listing (`GET /api/v1/tree`, share/tree.ts). */
export interface TreeEntry {
  /** Path from the root, `/`-joined. */
  path: string
  type: 'file' | 'directory' | 'symlink' | 'unknown'
  /** Bytes of file data (files); for an entry not fetched, the size its link declares. */
  size: number
}

/** A directory's listing (`GET /api/v1/tree`). */
export interface Tree {
  cid: string
  entries: TreeEntry[]
  /** Entries or levels were left out (over the limits). */
  truncated: boolean
}
