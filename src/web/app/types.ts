/**
 * The shapes the dashboard reads from the daemon's API and event stream (docs/api.md). Kept
 * apart from the daemon's own types so the browser build pulls in no Node.js code.
 */

/** `GET /api/v1/status`. */
export interface Status {
  peerId: string
  network: string
  version: string
  running: boolean
  startedAt: string | null
  uptimeSeconds: number
  addresses: string[]
  peers: number
  connections: number
  dataDir: string
  api: string
  pid: number
  gateway: string | null
}

/** One connected peer. */
export interface Peer {
  peerId: string
  addresses: string[]
  direction: 'inbound' | 'outbound'
  latencyMs: number | null
}

/** One bandwidth sample. */
export interface BandwidthSample {
  t: number
  bytesIn: number
  bytesOut: number
  rateIn: number
  rateOut: number
}

/** Progress of a download. */
export interface Progress {
  bytes: number
  total: number
  blocks: number
  peers: number
  fetched: number
  rate: number
}

/** A download in progress on the node. */
export interface Transfer {
  cid: string
  startedAt: string
  progress: Progress
}

/** Content the node holds. */
export interface Root {
  cid: string
  name: string
  size: number
  type: string
  complete: boolean
  source: string
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

/** `GET /api/v1/chain/info` plus the fee estimate. */
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
  feeEstimate: number
}

/** A recent block, in brief. */
export interface BlockSummary {
  hash: string
  prevHash: string
  height: number
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

/** The wallet's balances, or that there is none. */
export type WalletState = { exists: false } | { exists: true, confirmed: number, unconfirmed: number, immature: number }

/** One wallet transaction. */
export interface HistoryEntry {
  txid: string
  height: number | null
  time: number
  amount: number
  fee: number | null
  confirmations: number
  coinbase: boolean
}

/** The crawled network around the node. */
export interface NetworkMap {
  nodes: Array<{ peerId: string, hops: number, answered: boolean }>
  links: Array<[string, string]>
  crawledAt: string
  partial: boolean
}

/** Everything the event stream delivers, by event name. */
export interface FeedState {
  status?: Status
  peers?: Peer[]
  bandwidth: BandwidthSample[]
  transfers?: Transfer[]
  held?: Root[]
  chain?: ChainInfo
  blocks?: BlockSummary[]
  wallet?: WalletState
  walletHistory?: HistoryEntry[]
  network?: NetworkMap
}
