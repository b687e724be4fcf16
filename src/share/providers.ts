/**
 * Finding who has a root, and telling the network what this node has.
 *
 * Connected peers that speak the block protocol come first (no lookup needed); then provider
 * records from the network's DHT, whose addresses are added to the peer store so they can be
 * dialled. Announcing is a DHT provide of the root (not of every block, like Kubo's "roots"
 * strategy); the DHT re-announces its own records before they expire.
 *
 * When the node joins Amino (the public IPFS DHT), roots are announced there too, one at a time
 * (each is a network lookup), so IPFS nodes can find this node and fetch over Bitswap; and a
 * root that peerd's DHT has no provider of is looked up on Amino, whose providers (IPFS nodes)
 * are dialled so that the session's Bitswap fallback can fetch from them.
 */
import type { PeerId } from '@libp2p/interface'
import type { KadDHT } from '@libp2p/kad-dht'
import type { CID } from 'multiformats/cid'
import type { PeerdHost } from '../net/host.ts'
import type { Logger } from '../utils/logger.ts'

/** How long peerd's DHT is searched before Amino is asked, when the node runs Amino. */
const PEERD_DHT_FIRST_MS = 10_000
/** How long an Amino provider lookup for a `get` runs at most. */
const AMINO_LOOKUP_MS = 20_000
/** Amino providers (IPFS nodes) dialled for one root, at most. */
const MAX_AMINO_PROVIDERS = 8
/** How long one Amino announcement may take (including the wait for a first Amino peer). */
const AMINO_PROVIDE_MS = 60_000
/** Announcements of one root tried before it waits for the next announce round. */
const AMINO_ATTEMPTS = 3
/** Roots waiting for an Amino announcement, at most. */
const MAX_AMINO_QUEUE = 100_000

/** Provider discovery and announcement for the share service. */
export class Providers {
  private readonly host: PeerdHost
  private readonly protocol: string
  private readonly log: Logger
  /** Roots waiting for their Amino announcement, with the attempts made (insertion order is the queue). */
  private readonly aminoQueue = new Map<string, { cid: CID, attempts: number }>()
  private aminoRunning = false

  constructor (init: { host: PeerdHost, protocol: string, log: Logger }) {
    this.host = init.host
    this.protocol = init.protocol
    this.log = init.log
  }

  /** Connected peers that speak the block protocol, then DHT providers of `root`. */
  async * find (root: CID, signal: AbortSignal): AsyncGenerator<PeerId> {
    const seen = new Set<string>()
    for (const peerId of this.host.getPeers()) {
      const peer = await this.host.peerStore.get(peerId).catch(() => undefined)
      if (peer?.protocols.includes(this.protocol) === true) {
        seen.add(peerId.toString())
        yield peerId
      }
    }
    const amino = this.host.services.amino
    // with Amino to ask next, peerd's DHT gets a bounded share of the search's time
    const dhtSignal = amino == null ? signal : AbortSignal.any([signal, AbortSignal.timeout(PEERD_DHT_FIRST_MS)])
    const fromDht = yield * this.fromDht(this.host.services.dht, root, seen, dhtSignal, Infinity)
    // only IPFS nodes may have it: ask the public DHT, for a few providers, within a bound
    if (fromDht === 0 && amino != null && !signal.aborted) {
      yield * this.fromDht(amino, root, seen, AbortSignal.any([signal, AbortSignal.timeout(AMINO_LOOKUP_MS)]), MAX_AMINO_PROVIDERS)
    }
  }

  /** Yields up to `max` providers of `root` from `dht` not yet in `seen`; returns how many. */
  private async * fromDht (dht: KadDHT, root: CID, seen: Set<string>, signal: AbortSignal, max: number): AsyncGenerator<PeerId, number> {
    let n = 0
    try {
      for await (const event of dht.findProviders(root, { signal })) {
        if (event.name !== 'PROVIDER') continue
        for (const p of event.providers) {
          const id = p.id.toString()
          if (seen.has(id) || id === this.host.peerId.toString()) continue
          seen.add(id)
          if (p.multiaddrs.length > 0) await this.host.peerStore.merge(p.id, { multiaddrs: p.multiaddrs }).catch(() => {})
          n++
          yield p.id
          if (n >= max) return n
        }
      }
    } catch (err) {
      if (!signal.aborted) this.log.debug('DHT provider lookup failed', { cid: root.toString(), dht: dht === this.host.services.amino ? 'amino' : 'peerd', err })
    }
    return n
  }

  /**
   * Announces that this node provides `root` on peerd's DHT (and queues it for Amino). Never
   * throws: with no DHT peers it just logs.
   */
  async provide (root: CID, signal?: AbortSignal): Promise<boolean> {
    this.queueAmino(root)
    if (this.host.getPeers().length === 0) {
      this.log.debug('not announcing yet: no peers', { cid: root.toString() })
      return false
    }
    try {
      for await (const _ of this.host.services.dht.provide(root, { signal: signal ?? AbortSignal.timeout(60_000) })) { /* drain */ }
      this.log.debug('announced', { cid: root.toString() })
      return true
    } catch (err) {
      this.log.debug('announce failed', { cid: root.toString(), err })
      return false
    }
  }

  /** Stops re-announcing `root`. */
  async unprovide (root: CID): Promise<void> {
    this.aminoQueue.delete(root.toString())
    await this.host.services.dht.cancelReprovide(root).catch(() => {})
    await this.host.services.amino?.cancelReprovide(root).catch(() => {})
  }

  /** Roots waiting for their Amino announcement. */
  get aminoPending (): number {
    return this.aminoQueue.size
  }

  /** Adds `root` to the Amino announcements, which run one at a time. */
  private queueAmino (root: CID): void {
    if (this.host.services.amino == null) return
    const key = root.toString()
    if (!this.aminoQueue.has(key) && this.aminoQueue.size >= MAX_AMINO_QUEUE) {
      this.log.debug('Amino announcement queue full: root left for the next announce round', { cid: key })
      return
    }
    if (!this.aminoQueue.has(key)) this.aminoQueue.set(key, { cid: root, attempts: 0 })
    if (!this.aminoRunning) void this.runAmino()
  }

  private async runAmino (): Promise<void> {
    const amino = this.host.services.amino
    if (amino == null) return
    this.aminoRunning = true
    try {
      while (this.host.status === 'started') {
        const next = this.aminoQueue.entries().next()
        if (next.done === true) break
        const [key, item] = next.value
        this.aminoQueue.delete(key)
        item.attempts++
        try {
          // kad-dht holds a query until its routing table has a peer: the timeout bounds that wait
          for await (const _ of amino.provide(item.cid, { signal: AbortSignal.timeout(AMINO_PROVIDE_MS) })) { /* drain */ }
          this.log.debug('announced on Amino', { cid: key })
        } catch (err) {
          this.log.debug('Amino announcement failed', { cid: key, attempt: item.attempts, err })
          // to the back of the queue, a few times (the node may have had no Amino peer yet)
          if (item.attempts < AMINO_ATTEMPTS && !this.aminoQueue.has(key)) this.aminoQueue.set(key, item)
        }
      }
    } finally {
      this.aminoRunning = false
    }
  }
}
