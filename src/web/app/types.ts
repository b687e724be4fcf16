/**
 * The shapes the dashboard reads: the API's own types (`src/api/types.ts`, types only, erased
 * at build, so the browser build pulls in no Node.js code) and the page's state built from the
 * event stream.
 */
import type { BandwidthSample, FeedEvents } from '../../api/types.ts'

export type { BandwidthLimitsInfo, CircuitInfo, HostedServiceInfo, OnionStatus, ScheduleEntry } from '../../api/types.ts'
export type { BandwidthSample, Block, BlockSummary, ChainState, HistoryEntry, Peer, Progress, Root, Tx } from '../../api/types.ts'
export type { Tree, TreeEntry } from '../../api/types.ts'

/** Everything the event stream delivers, by event name; bandwidth samples kept as a series. */
export type FeedState = Partial<Omit<FeedEvents, 'bandwidth' | 'bandwidthHistory'>> & { bandwidth: BandwidthSample[] }
