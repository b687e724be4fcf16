/**
 * The dashboard's live feed: server-sent events (`GET /api/v1/events`) with the node's state.
 *
 * While at least one client listens, the feed reads the node once a second and sends each
 * section as a named event when it changed since it was last sent: `status`, `peers`,
 * `transfers`, `held` (every other second), `chain` (chain info, mempool and a fee estimate),
 * `blocks` (recent blocks, when the tip moves), `wallet` (balances) and `walletHistory` (when the
 * balance or tip moves), `network` (the crawled network map, every five seconds). `bandwidth`
 * (one sample: byte totals and rates) comes every second; it is sampled even when nobody
 * listens, so a new client gets the last ten minutes at once (`bandwidthHistory`). A new client
 * also gets the latest value of every section right away.
 *
 * @example
 * ```ts
 * const feed = new DashboardFeed({ node, status: () => ({ ...node.status(), api, pid }), log })
 * feed.start()
 * feed.subscribe(res) // in a GET handler; the response stays open
 * ```
 * @module
 */
import type { ServerResponse } from 'node:http'
import { WalletNotFoundError } from '../cash/wallet/errors.ts'
import type { PeerdNode } from '../node/node.ts'
import type { Logger } from '../utils/logger.ts'
import { recentBlocks } from './recent-blocks.ts'
import type { BandwidthSample, BlockSummary, FeedEvents, Status } from './types.ts'

/** Options of {@link DashboardFeed}. */
export interface DashboardFeedInit {
  node: PeerdNode
  /** The status object, as `GET /api/v1/status` answers it. */
  status: () => Status
  log: Logger
  /** Tick interval. Default one second. */
  intervalMs?: number
}

/** Samples kept: ten minutes at one a second. */
const HISTORY = 600
/** A client whose unsent data grows past this is dropped (it is not reading). */
const MAX_BUFFERED = 4 * 1024 * 1024
/** How many recent blocks the `blocks` section carries. */
export const RECENT_BLOCKS = 60

/** Samples the node and fans its state out to event-stream clients. */
export class DashboardFeed {
  private readonly init: DashboardFeedInit
  private readonly clients = new Set<ServerResponse>()
  private readonly last = new Map<string, string>()
  private readonly history: BandwidthSample[] = []
  private readonly blockCache = new Map<string, BlockSummary>()
  private timer?: ReturnType<typeof setInterval>
  private ticking = false
  private ticks = 0
  private tip = ''
  private balanceKey = ''

  constructor (init: DashboardFeedInit) {
    this.init = init
  }

  /** Starts sampling. */
  start (): void {
    if (this.timer != null) return
    this.sample()
    this.timer = setInterval(() => { void this.tick() }, this.init.intervalMs ?? 1000)
    this.timer.unref?.()
  }

  /** Stops sampling and ends every client's stream. */
  stop (): void {
    clearInterval(this.timer)
    this.timer = undefined
    for (const res of this.clients) res.end()
    this.clients.clear()
  }

  /** The bandwidth samples of the last ten minutes, oldest first. */
  bandwidthHistory (): BandwidthSample[] {
    return [...this.history]
  }

  /** Makes `res` an event stream and keeps it until the client goes. */
  subscribe (res: ServerResponse): void {
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
      'x-accel-buffering': 'no'
    })
    res.write('retry: 2000\n\n')
    this.clients.add(res)
    res.on('close', () => { this.clients.delete(res) })
    this.write(res, 'bandwidthHistory', JSON.stringify(this.history))
    for (const [name, data] of this.last) this.write(res, name, data)
    // the first listener: read everything now rather than at the next tick
    if (this.clients.size === 1) void this.tick(true)
  }

  /** Number of connected clients. */
  get listeners (): number {
    return this.clients.size
  }

  private write (res: ServerResponse, event: string, data: string): void {
    if (res.writableLength > MAX_BUFFERED) {
      res.destroy()
      this.clients.delete(res)
      return
    }
    res.write(`event: ${event}\ndata: ${data}\n\n`)
  }

  private publish<E extends keyof FeedEvents> (event: E, value: FeedEvents[E], always = false): void {
    const data = JSON.stringify(value)
    if (!always && this.last.get(event) === data) return
    this.last.set(event, data)
    for (const res of this.clients) this.write(res, event, data)
  }

  private sample (): BandwidthSample {
    const { bytesIn, bytesOut } = this.init.node.bandwidth.totals()
    const t = Date.now()
    const prev = this.history.at(-1)
    const secs = prev != null ? Math.max(0.001, (t - prev.t) / 1000) : 1
    const s: BandwidthSample = {
      t,
      bytesIn,
      bytesOut,
      rateIn: prev != null ? Math.max(0, Math.round((bytesIn - prev.bytesIn) / secs)) : 0,
      rateOut: prev != null ? Math.max(0, Math.round((bytesOut - prev.bytesOut) / secs)) : 0
    }
    this.history.push(s)
    if (this.history.length > HISTORY) this.history.shift()
    return s
  }

  private async tick (extra = false): Promise<void> {
    if (!extra) {
      const s = this.sample()
      if (this.clients.size > 0) this.publish('bandwidth', s, true)
    }
    if (this.clients.size === 0 || this.ticking) return
    this.ticking = true
    const n = this.ticks++
    try {
      await this.section('status', () => this.init.status())
      await this.section('peers', () => this.init.node.peers())
      await this.section('transfers', () => this.init.node.share.transfers())
      if (extra || n % 2 === 0) await this.section('held', async () => await this.init.node.share.ls())
      await this.chainSections()
      await this.walletSections()
      if (extra || n % 5 === 0) await this.section('network', async () => await this.init.node.peerList.network())
    } finally {
      this.ticking = false
    }
  }

  private async section<E extends keyof FeedEvents> (name: E, read: () => FeedEvents[E] | Promise<FeedEvents[E]>): Promise<void> {
    try {
      this.publish(name, await read())
    } catch (err) {
      this.init.log.debug('dashboard feed: reading failed', { section: name, err })
    }
  }

  private async chainSections (): Promise<void> {
    const { cash } = this.init.node
    const info = cash.info()
    this.publish('chain', { ...info, feeEstimate: cash.mempool.estimateFeeRate() })
    if (info.tip !== this.tip) {
      this.tip = info.tip
      await this.section('blocks', async () => await recentBlocks(cash, info.tip, RECENT_BLOCKS, this.blockCache))
    }
  }

  private async walletSections (): Promise<void> {
    const { cash } = this.init.node
    let balance
    try {
      balance = await cash.walletBalance()
    } catch (err) {
      if ((err as Error).name === WalletNotFoundError.name) this.publish('wallet', { exists: false })
      else this.init.log.debug('dashboard feed: wallet balance failed', { err })
      return
    }
    this.publish('wallet', { exists: true, ...balance })
    const key = `${this.tip} ${JSON.stringify(balance)}`
    if (key !== this.balanceKey) {
      this.balanceKey = key
      await this.section('walletHistory', async () => (await cash.walletHistory()).slice(0, 100))
    }
  }
}
