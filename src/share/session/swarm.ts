/**
 * The providers of one download session: finds them (connected peers and the DHT, again every
 * few seconds while the session runs), opens a block stream to each new one and keeps those
 * that serve the root.
 */
import type { PeerId } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'
import type { Logger } from '../../utils/logger.ts'
import type { Item } from './item.ts'
import type { SessionInit } from '../session.ts'
import { ProviderPeer } from './provider-peer.ts'
import type { BlockStream, ProviderPeerOwner } from './provider-peer.ts'

const PROVIDER_REFRESH_MS = 5_000

/** Options of a {@link Swarm}. */
export interface SwarmInit extends Pick<SessionInit, 'root' | 'host' | 'protocol' | 'log' | 'findProviders' | 'openStream' | 'onMisbehaviour' | 'streamSlots'> {
  /** Wants wait this long at most while providers found are being reached (`SessionInit.spread`). */
  gatherMs?: number
  /** The DAG's blocks discovered so far, by key. */
  items: ReadonlyMap<string, Item>
  /** Aborted when the session ends. */
  signal: AbortSignal
  /** Whether the session has ended (completed or failed). */
  ended: () => boolean
  /** Wants may be handed out (a peer joined, left, or has room). */
  changed: () => void
  delivered: ProviderPeerOwner['delivered']
  orphaned: ProviderPeerOwner['orphaned']
  held: ProviderPeerOwner['held']
}

/**
 * Block streams open to each provider, over all of a node's downloads: a provider refuses (and
 * past a few refusals, penalises) a peer with more than its limit open, so many downloads at once
 * from one provider wait for a slot (the Bitswap fallback serves them meanwhile).
 */
export class StreamSlots {
  /** Streams one peer may have open. */
  readonly max: number
  // only peers with a stream open
  private readonly open = new Map<string, number>()

  constructor (max: number) {
    this.max = max
  }

  /** Takes a slot of `peer`; false when all are held. */
  take (peer: string): boolean {
    const n = this.open.get(peer) ?? 0
    if (n >= this.max) return false
    this.open.set(peer, n + 1)
    return true
  }

  /** Gives back a slot of `peer`. */
  give (peer: string): void {
    const n = (this.open.get(peer) ?? 0) - 1
    if (n <= 0) this.open.delete(peer)
    else this.open.set(peer, n)
  }

  /** Slots of `peer` held now. */
  held (peer: string): number {
    return this.open.get(peer) ?? 0
  }
}

/** The provider streams of one session. */
export class Swarm implements ProviderPeerOwner {
  /** Peers serving the root, by id. */
  readonly peers = new Map<string, ProviderPeer>()
  readonly root: CID
  readonly log: Logger
  readonly items: ReadonlyMap<string, Item>
  readonly changed: () => void
  readonly delivered: ProviderPeerOwner['delivered']
  readonly orphaned: ProviderPeerOwner['orphaned']
  readonly held: ProviderPeerOwner['held']
  private readonly init: SwarmInit
  /** Blocks stored since the last turn of the event loop, for super-seeding peers. */
  private storedNow: CID[] = []
  private readonly tried = new Set<string>()
  /** Block streams being opened (their STATUS answers are awaited before falling back). */
  private opening = 0
  /** Peers asked for STATUS that have not answered yet. */
  private asking = 0
  /** One provider search has finished (the fallback waits for it). */
  private searched = false
  /** When the first provider was found (for `gatherMs`). */
  private firstFound?: number

  constructor (init: SwarmInit) {
    this.init = init
    ;({ root: this.root, log: this.log, items: this.items, changed: this.changed, delivered: this.delivered, orphaned: this.orphaned, held: this.held } = init)
  }

  /** Whether wants wait: providers found are still being reached, within `gatherMs` of the first. */
  get gathering (): boolean {
    const ms = this.init.gatherMs ?? 0
    return ms > 0 && this.firstFound != null && (this.opening > 0 || this.asking > 0) && Date.now() - this.firstFound < ms
  }

  /** Whether a search has ended, every peer found has answered, and none serves. */
  get empty (): boolean {
    return this.peers.size === 0 && this.searched && this.opening === 0 && this.asking === 0
  }

  /** Finds providers and opens a stream to each new one; repeats while the session runs. */
  async discover (): Promise<void> {
    const { init } = this
    while (!init.ended() && !init.signal.aborted) {
      try {
        const signal = AbortSignal.any([init.signal, AbortSignal.timeout(30_000)])
        const opening: Array<Promise<void>> = []
        for await (const peerId of init.findProviders(init.root, signal)) {
          if (init.ended()) break
          const id = peerId.toString()
          if (this.tried.has(id) || this.peers.has(id) || id === init.host.peerId.toString()) continue
          this.tried.add(id)
          this.firstFound ??= Date.now()
          opening.push(this.open(peerId))
        }
        await Promise.all(opening)
        this.searched = true
        this.changed()
      } catch (err) {
        init.log.debug('provider search ended', { err })
      }
      await new Promise(resolve => setTimeout(resolve, PROVIDER_REFRESH_MS).unref?.())
      // peers that left may come back: let them be tried again
      for (const id of this.tried) if (!this.peers.has(id)) this.tried.delete(id)
    }
  }

  /** A block was stored: super-seeding peers are told (gathered per turn of the event loop). */
  stored (cid: CID): void {
    let any = false
    for (const p of this.peers.values()) if (p.seeding) any = true
    if (!any) return
    this.storedNow.push(cid)
    if (this.storedNow.length > 1) return
    setImmediate(() => {
      const cids = this.storedNow
      this.storedNow = []
      for (const p of this.peers.values()) p.announce(cids)
    })
  }

  /** Closes every stream. */
  closeAll (): void {
    for (const p of this.peers.values()) p.close()
  }

  answered (): void {
    this.asking--
  }

  joined (peer: ProviderPeer): void {
    this.peers.set(peer.id, peer)
    this.log.debug('provider joined', { peerId: peer.id, partial: peer.partial, announcing: peer.has != null })
  }

  closed (peer: ProviderPeer): void {
    this.peers.delete(peer.id)
    this.init.streamSlots?.give(peer.id)
  }

  misbehaved (peer: ProviderPeer, reason: string): void {
    this.init.onMisbehaviour(peer.peerId, reason)
  }

  swarm (): boolean {
    for (const p of this.peers.values()) if (p.has != null) return true
    return false
  }

  private async open (peerId: PeerId): Promise<void> {
    const slots = this.init.streamSlots
    // every slot of this peer is held by other downloads: try it again at the next search
    if (slots != null && !slots.take(peerId.toString())) return
    let stream: BlockStream
    this.opening++
    try {
      stream = this.init.openStream != null
        ? await this.init.openStream(peerId, this.init.signal)
        : await this.init.host.dialProtocol(peerId, this.init.protocol, { signal: AbortSignal.any([this.init.signal, AbortSignal.timeout(10_000)]) })
    } catch (err) {
      slots?.give(peerId.toString())
      this.log.debug('could not open a block stream', { peerId: peerId.toString(), err })
      return
    } finally {
      this.opening--
    }
    const peer = new ProviderPeer(peerId, stream, this)
    this.asking++
    peer.start()
  }
}
