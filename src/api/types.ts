/**
 * The JSON bodies of the HTTP API and the dashboard's event stream (docs/api.md), as the daemon
 * sends them: the routes and the feed are checked against these types, and the dashboard
 * imports them. Types only, here and in the modules they come from (the library's own JSON
 * types, each in a file without imports of values), so the browser build pulls in no Node.js
 * code. Amounts are base units as JSON numbers.
 * @module
 */
import type { BlockJson, TxJson } from '../cash/json-types.ts'
import type { NodeStatus, PeerSummary } from '../node/types.ts'
import type { RootRecord, SessionProgress, Transfer } from '../share/types.ts'

export type { Transfer }
/** `GET /api/v1/onion/status` and `GET /api/v1/onion/circuits` (its `circuits`). */
export type { CircuitInfo, OnionStatus } from '../onion/types.ts'
/** `GET /api/v1/onion/services` (its `services`) and `POST /api/v1/onion/services`. */
export type { HostedServiceInfo } from '../onion/hs/types.ts'
/** `GET` and `POST /api/v1/bandwidth/limits`. */
export type { BandwidthLimitsInfo, ScheduleEntry } from '../net/bandwidth-types.ts'

/** `GET /api/v1/status`: the node's status, and where its API and gateway listen. */
export interface Status extends NodeStatus {
  /** The API's URL. */
  api: string
  pid: number
  /** The gateway's URL, or null when it is off. */
  gateway: string | null
}

/** `POST /api/v1/onion/client-key`: a client-authorization key pair in the text forms users paste. */
export interface ClientKeyPair {
  /** `descriptor:x25519:<base32>`: for the service (`peerd onion serve --client`). */
  publicKey: string
  /** `descriptor:x25519-private:<base32>`: kept by the client's node. */
  secretKey: string
}

/** One connected peer (`GET /api/v1/peers`). */
export type Peer = PeerSummary

/** Progress of a download. */
export type Progress = SessionProgress

/** Content the node holds (`GET /api/v1/ls`). */
export type Root = RootRecord

/** A directory's listing (`GET /api/v1/tree`). */
export type { Tree, TreeEntry } from '../share/types.ts'

/** `GET /api/v1/chain/block`. */
export type Block = BlockJson

/** `GET /api/v1/chain/tx`. */
export type Tx = TxJson

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
  /** A payment this node broadcast privately through onion circuits (`src/cash/sync/private-broadcast.ts`). */
  privateBroadcast?: { sentVia: number, seenBackAt?: number, fellBackAt?: number }
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
