/**
 * Finding who has a root, and telling the network what this node has.
 *
 * Connected peers that speak the block protocol come first (no lookup needed); then provider
 * records from the network's DHT, whose addresses are added to the peer store so they can be
 * dialled. Announcing is a DHT provide of the root (not of every block, like Kubo's "roots"
 * strategy); the DHT re-announces its own records before they expire.
 */
import type { PeerId } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'
import type { PeerdHost } from '../net/host.ts'
import type { Logger } from '../utils/logger.ts'

/** Provider discovery and announcement for the share service. */
export class Providers {
  private readonly host: PeerdHost
  private readonly protocol: string
  private readonly log: Logger

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
    try {
      for await (const event of this.host.services.dht.findProviders(root, { signal })) {
        if (event.name !== 'PROVIDER') continue
        for (const p of event.providers) {
          const id = p.id.toString()
          if (seen.has(id) || id === this.host.peerId.toString()) continue
          seen.add(id)
          if (p.multiaddrs.length > 0) await this.host.peerStore.merge(p.id, { multiaddrs: p.multiaddrs }).catch(() => {})
          yield p.id
        }
      }
    } catch (err) {
      if (!signal.aborted) this.log.debug('DHT provider lookup failed', { cid: root.toString(), err })
    }
  }

  /** Announces that this node provides `root`. Never throws: with no DHT peers it just logs. */
  async provide (root: CID, signal?: AbortSignal): Promise<boolean> {
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
    await this.host.services.dht.cancelReprovide(root).catch(() => {})
  }
}
