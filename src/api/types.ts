/**
 * The JSON bodies of the HTTP API and the dashboard's event stream (docs/api.md), as the daemon
 * sends them: the routes and the feed are checked against these types, and the dashboard
 * imports them. Types only and no imports, so the browser build pulls in no Node.js code.
 * Amounts are base units as JSON numbers.
 * @module
 */

/** `GET /api/v1/status`. */
export interface Status {
  peerId: string
  network: string
  version: string
  running: boolean
  /** ISO 8601, or null before the node started. */
  startedAt: string | null
  uptimeSeconds: number
  addresses: string[]
  peers: number
  connections: number
  dataDir: string
  /** What this node's block server sent to peers since it started. */
  served: { blocks: number, bytes: number }
  /** The API's URL. */
  api: string
  pid: number
  /** The gateway's URL, or null when it is off. */
  gateway: string | null
}

/** One connected peer (`GET /api/v1/peers`). */
export interface Peer {
  peerId: string
  /** Remote addresses of the open connections to this peer. */
  addresses: string[]
  direction: 'inbound' | 'outbound'
  /** Round-trip time of the connection monitor's pings, or null before the first one. */
  latencyMs: number | null
}

/** One bandwidth sample: byte totals and the rates over the last interval. */
export interface BandwidthSample {
  /** Milliseconds since the epoch. */
  t: number
  bytesIn: number
  bytesOut: number
  /** Bytes per second over the last interval. */
  rateIn: number
  rateOut: number
}

/** Progress of a download. */
export interface Progress {
  /** Bytes of blocks held (fetched now or found in the store). */
  bytes: number
  /** Estimated bytes of the whole DAG (grows as it is discovered; 0 before the root arrives). */
  total: number
  blocks: number
  /** Peers serving right now. */
  peers: number
  /** Bytes fetched from the network in this download. */
  fetched: number
  /** Recent download rate, bytes per second. */
  rate: number
}

/** A download in progress on the node (`GET /api/v1/transfers`). */
export interface Transfer {
  cid: string
  startedAt: string
  progress: Progress
}

/** Content the node holds (`GET /api/v1/ls`). */
export interface Root {
  cid: string
  /** File or folder name it was shared under ('' when fetched by CID alone). */
  name: string
  /** Bytes of file data (estimate until complete). */
  size: number
  type: 'file' | 'directory' | 'raw' | 'unknown'
  /** Every block is local. */
  complete: boolean
  source: 'share' | 'get'
  /** Announced and served (`unshare` clears it). */
  pinned: boolean
  addedAt: string
}

/** A mempool fee-rate bucket. */
export interface FeeBucket {
  from: number
  to: number | null
  count: number
  vsize: number
  fees: number
}

/** `GET /api/v1/chain/info`. */
export interface ChainInfo {
  network: string
  height: number
  tip: string
  difficulty: number
  chainwork: string
  medianTime: number
  mempool: { size: number, bytes: number, maxBytes: number, vsize: number, fees: number, minFeeRate: number, orphans: number, histogram: FeeBucket[] }
  sync: { syncing: boolean, peer: string | null, bestHeight: number, peers: number }
  miner: { mining: boolean, threads: number, hashRate: number, blocksFound: number }
  /** Blocks held whose parent is not known yet. */
  orphans: number
}

/** The feed's `chain` event: the chain info and the next-block fee rate estimate. */
export interface ChainState extends ChainInfo {
  feeEstimate: number
}

/** A recent block, in brief (`GET /api/v1/chain/blocks`). */
export interface BlockSummary {
  hash: string
  prevHash: string
  height: number
  /** Header time, seconds since the epoch. */
  time: number
  difficulty: number
  txCount: number
  size: number
  weight: number
}

/** `GET /api/v1/chain/block`. */
export interface Block extends BlockSummary {
  confirmations: number
  version: number
  merkleRoot: string
  bits: string
  nonce: number
  chainwork: string
  txs: string[]
  nextHash: string | null
}

/** `GET /api/v1/chain/tx`. */
export interface Tx {
  txid: string
  wtxid: string
  blockHash: string
  height: number
  confirmations: number
  coinbase: boolean
  version: number
  lockTime: number
  size: number
  vsize: number
  weight: number
  inputs: Array<{ txid: string, index: number, sequence: number }>
  outputs: Array<{ amount: number, address: string | null, script: string }>
}

/** `GET /api/v1/wallet/balance`. */
export interface Balance {
  confirmed: number
  unconfirmed: number
  immature: number
}

/** The feed's `wallet` event: the balances, or that there is no wallet. */
export type WalletState = { exists: false } | ({ exists: true } & Balance)

/** One wallet transaction (`GET /api/v1/wallet/history`). */
export interface HistoryEntry {
  txid: string
  height: number | null
  time: number
  amount: number
  fee: number | null
  confirmations: number
  coinbase: boolean
}

/** The crawled network around the node (`GET /api/v1/network`). */
export interface NetworkMap {
  /** `hops`: 0 this node, 1 a peer of it, 2 a peer of a peer. */
  nodes: Array<{ peerId: string, hops: number, answered: boolean }>
  /** Undirected links, each once, as pairs of peer ids. */
  links: Array<[string, string]>
  /** When the crawl finished (ISO 8601). */
  crawledAt: string
  /** Whether a cap cut the crawl short. */
  partial: boolean
}

/** Each event of `GET /api/v1/events` by name, with its data. */
export interface FeedEvents {
  status: Status
  peers: Peer[]
  bandwidth: BandwidthSample
  bandwidthHistory: BandwidthSample[]
  transfers: Transfer[]
  held: Root[]
  chain: ChainState
  blocks: BlockSummary[]
  wallet: WalletState
  walletHistory: HistoryEntry[]
  network: NetworkMap
}
