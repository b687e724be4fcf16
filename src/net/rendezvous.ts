/**
 * Finding other peerd nodes through Amino, the public IPFS DHT, with no server of ours: every
 * node announces itself as a provider of its network's well-known rendezvous CID
 * ({@link rendezvousCid}), and a node with fewer peerd peers than it wants looks up that CID's
 * providers and dials them. The peer keeper then treats them as any other peer (it drops nodes of
 * other networks). Lookups are bounded: one at a time, at most {@link MAX_DIALS_PER_LOOKUP}
 * providers dialled from each, and a fruitless lookup doubles the wait before the next.
 */
import type { PeerId, Startable } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'
import type { Logger } from '../utils/logger.ts'
import { rendezvousCid } from './amino.ts'
import type { AminoDHT } from './amino.ts'
import type { PeerdHost } from './host.ts'
import type { NetworkParams } from './networks.ts'

/** Providers dialled from one lookup, at most (the record is open to anyone: bound what it costs). */
export const MAX_DIALS_PER_LOOKUP = 20
const TICK_MS = 1_000
const LOOKUP_TIMEOUT_MS = 30_000
const ANNOUNCE_TIMEOUT_MS = 60_000
const DIAL_TIMEOUT_MS = 10_000

/** Options of a {@link Rendezvous}. */
export interface RendezvousInit {
  host: PeerdHost
  amino: AminoDHT
  network: NetworkParams
  /** peerd peers the node wants; it looks for more while it has fewer. */
  wanted: number
  log: Logger
  /** Wait after a lookup that found new peerd peers, and the first wait after a fruitless one (doubling). Default 5 s. */
  lookupIntervalMs?: number
  /** Longest wait between lookups. Default 10 min. */
  maxLookupIntervalMs?: number
  /** How often the node announces itself again. Default 30 min. */
  announceIntervalMs?: number
}

/** Counters of the rendezvous, for status and tests. */
export interface RendezvousStats {
  /** Successful announcements of this node. */
  announced: number
  /** Lookups run. */
  lookups: number
  /** Distinct providers of the rendezvous record seen (other than this node). */
  found: number
}

/** Announces this node on, and finds other peerd nodes through, the Amino rendezvous record. */
export class Rendezvous implements Startable {
  readonly stats: RendezvousStats = { announced: 0, lookups: 0, found: 0 }
  private readonly init: RendezvousInit
  private readonly seen = new Set<string>()
  private cid?: CID
  private timer?: ReturnType<typeof setInterval>
  private abort = new AbortController()
  private running = false
  private announcing = false
  private looking = false
  private nextAnnounce = 0
  private announceRetryMs = 5_000
  private nextLookup = 0
  private lookupWaitMs: number

  constructor (init: RendezvousInit) {
    this.init = init
    this.lookupWaitMs = init.lookupIntervalMs ?? 5_000
  }

  async start (): Promise<void> {
    this.cid = await rendezvousCid(this.init.network.name)
    this.abort = new AbortController()
    this.running = true
    this.timer = setInterval(() => { this.tick() }, TICK_MS)
    this.timer.unref?.()
    this.tick()
  }

  async stop (): Promise<void> {
    this.running = false
    if (this.timer != null) clearInterval(this.timer)
    this.abort.abort()
  }

  /** Connected peers that are peerd nodes of this network. */
  async peerdPeers (): Promise<number> {
    const { host, network } = this.init
    let n = 0
    for (const id of host.getPeers()) {
      const peer = await host.peerStore.get(id).catch(() => undefined)
      if (peer?.protocols.includes(network.nodeProtocol) === true) n++
    }
    return n
  }

  private tick (): void {
    if (!this.running) return
    const now = Date.now()
    if (!this.announcing && now >= this.nextAnnounce) void this.announce()
    if (!this.looking && now >= this.nextLookup) void this.lookup()
  }

  private async announce (): Promise<void> {
    const cid = this.cid
    if (cid == null) return
    this.announcing = true
    try {
      // kad-dht holds a query until its routing table has a peer: the timeout bounds that wait
      const signal = AbortSignal.any([this.abort.signal, AbortSignal.timeout(ANNOUNCE_TIMEOUT_MS)])
      for await (const _ of this.init.amino.provide(cid, { signal })) { /* drain */ }
      this.stats.announced++
      this.announceRetryMs = 5_000
      this.nextAnnounce = Date.now() + (this.init.announceIntervalMs ?? 30 * 60_000)
      this.init.log.debug('announced on the Amino rendezvous', { cid: cid.toString() })
    } catch (err) {
      this.nextAnnounce = Date.now() + this.announceRetryMs
      this.announceRetryMs = Math.min(5 * 60_000, this.announceRetryMs * 2)
      if (this.running) this.init.log.debug('Amino rendezvous announcement failed, will retry', { err, retryInMs: this.announceRetryMs })
    } finally {
      this.announcing = false
    }
  }

  private async lookup (): Promise<void> {
    const cid = this.cid
    if (cid == null) return
    this.looking = true
    const base = this.init.lookupIntervalMs ?? 5_000
    // enough peerd peers, or new ones found: the next lookup (if one is needed) comes soon
    let soon = false
    try {
      const before = await this.peerdPeers()
      if (before >= this.init.wanted) {
        soon = true
        return
      }
      this.stats.lookups++
      const { host } = this.init
      const self = host.peerId.toString()
      const found: PeerId[] = []
      const signal = AbortSignal.any([this.abort.signal, AbortSignal.timeout(LOOKUP_TIMEOUT_MS)])
      try {
        for await (const event of this.init.amino.findProviders(cid, { signal })) {
          if (event.name !== 'PROVIDER') continue
          for (const p of event.providers) {
            const id = p.id.toString()
            if (id === self || found.some(f => f.equals(p.id))) continue
            if (!this.seen.has(id) && this.seen.size < 10_000) { this.seen.add(id); this.stats.found++ }
            if (host.getConnections(p.id).some(c => c.status === 'open')) continue
            if (p.multiaddrs.length > 0) await host.peerStore.merge(p.id, { multiaddrs: p.multiaddrs }).catch(() => {})
            found.push(p.id)
          }
          if (found.length >= MAX_DIALS_PER_LOOKUP) break
        }
      } catch (err) {
        if (this.running) this.init.log.debug('Amino rendezvous lookup ended', { err })
      }
      await Promise.all(found.slice(0, MAX_DIALS_PER_LOOKUP).map(async id => {
        try {
          await host.dial(id, { signal: AbortSignal.any([this.abort.signal, AbortSignal.timeout(DIAL_TIMEOUT_MS)]) })
        } catch (err) {
          this.init.log.debug('could not dial a rendezvous provider', { peerId: id.toString(), err })
        }
      }))
      // identify runs right after a dial: give it a moment before counting peerd peers again
      if (found.length > 0) await new Promise(resolve => setTimeout(resolve, 500).unref?.())
      const after = await this.peerdPeers()
      soon = after > before
      if (soon) this.init.log.info('found peerd peers through the Amino rendezvous', { before, after })
    } finally {
      this.lookupWaitMs = soon ? base : Math.min(this.init.maxLookupIntervalMs ?? 10 * 60_000, this.lookupWaitMs * 2)
      this.nextLookup = Date.now() + (soon ? base : this.lookupWaitMs)
      this.looking = false
    }
  }
}
