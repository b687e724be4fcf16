/**
 * The Bitswap service: the protocol handlers, per-peer send queues, and the glue between the
 * asking side ({@link WantManager}), the serving side ({@link Ledgers}) and the blockstore.
 */
import { setMaxListeners } from 'node:events'
import type { Connection, PeerId, Startable, Stream } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'
import { NotStartedError } from '../../errors.ts'
import { ByteBudget } from '../../net/byte-budget.ts'
import type { RateBucket } from '../../net/bandwidth-limit.ts'
import type { PeerdHost } from '../../net/host.ts'
import type { Logger } from '../../utils/logger.ts'
import { blockKey, checkCid, identityBlock } from '../block.ts'
import { BlockNotFoundError, InvalidBlockError } from '../blockstore.ts'
import type { FsBlockstore } from '../blockstore.ts'
import {
  DEFAULT_MAX_WANTS_PER_PEER, DEFAULT_SEND_BUDGET, INBOUND_PROTOCOLS, MAX_INBOUND_STREAMS, MAX_OUTBOUND_STREAMS, OUTBOUND_PROTOCOLS
} from './constants.ts'
import { WantAbortedError } from './errors.ts'
import { Ledgers } from './ledger.ts'
import { MAX_MESSAGE_BYTES, checkBlockMatches, decodeMessage } from './message.ts'
import type { DecodedMessage, MessageBlock } from './message.ts'
import { Outbox } from './outbox.ts'
import { readFrames } from './stream-io.ts'
import { WantManager } from './wants.ts'

/** What {@link Bitswap} needs. */
export interface BitswapInit {
  host: PeerdHost
  blockstore: FsBlockstore
  log: Logger
  /** Told when a peer sends a malformed message or a block that does not match; its stream is reset. */
  onMisbehaviour?: (peerId: PeerId, reason: string) => void
  /** Wants a peer may leave with us for blocks we lack (default 1024); more are answered but not remembered. */
  maxWantsPerPeer?: number
  /** Bytes of block data held on their way out, per peer and in total (share it with other senders). Default {@link DEFAULT_SEND_BUDGET}. */
  budget?: ByteBudget
  /** Blocks never given to peers (those of privately shared roots): answered as if not held. */
  withhold?: (cid: CID) => boolean
  /** The node's upload cap (net/bandwidth-limit.ts): messages with blocks wait for it. Default none. */
  uploadCap?: RateBucket
  /** The node's download cap: a stream's next message is read once it is out of debt. Default none. */
  downloadCap?: RateBucket
}

/** Options of {@link Bitswap.want}. */
export interface WantOptions {
  signal?: AbortSignal
  /** Ask only these peers (dialled if need be) instead of every connected Bitswap peer. */
  peers?: PeerId[]
}

/** Counters since start, and the current sizes of the want lists. */
export interface BitswapStats {
  blocksSent: number
  bytesSent: number
  blocksReceived: number
  bytesReceived: number
  /** Blocks received that nobody wanted (late duplicates, races with cancels). */
  unwantedBlocks: number
  messagesSent: number
  messagesReceived: number
  /** Blocks we are waiting for. */
  wants: number
  /** Wants peers left with us for blocks we lack. */
  peerWants: number
  /** Connected peers known to speak Bitswap. */
  peers: number
}

// errors that mean the peer sent something wrong, as opposed to the stream failing (a frame cut
// short is not here: a peer shutting down mid-message looks the same)
const MISBEHAVIOUR = new Set([
  'InvalidBitswapMessageError', 'BlockMismatchError', 'InvalidBlockError',
  'InvalidDataLengthError', 'InvalidDataLengthLengthError', 'InvalidMessageLengthError'
])

/** Bitswap 1.2.0 (answering 1.1.0 and 1.0.0 too) over a peerd host and its blockstore. */
export class Bitswap implements Startable {
  private readonly host: PeerdHost
  private readonly blockstore: FsBlockstore
  private readonly log: Logger
  private readonly onMisbehaviour: ((peerId: PeerId, reason: string) => void) | undefined
  private readonly outboxes = new Map<string, Outbox>()
  private readonly bitswapPeers = new Map<string, PeerId>()
  private readonly streams = new Set<Stream>()
  private readonly wants: WantManager
  private readonly ledgers: Ledgers
  private readonly budget: ByteBudget
  private readonly counters = { blocksSent: 0, bytesSent: 0, blocksReceived: 0, bytesReceived: 0, unwantedBlocks: 0, messagesSent: 0, messagesReceived: 0 }
  private topologyIds: string[] = []
  private unsubscribePut: (() => void) | undefined
  private running = false
  private readonly withhold: (cid: CID) => boolean
  private readonly caps: Pick<BitswapInit, 'uploadCap' | 'downloadCap'>

  constructor (init: BitswapInit) {
    this.caps = { uploadCap: init.uploadCap, downloadCap: init.downloadCap }
    this.host = init.host
    this.blockstore = init.blockstore
    this.log = init.log
    this.onMisbehaviour = init.onMisbehaviour
    this.budget = init.budget ?? new ByteBudget(DEFAULT_SEND_BUDGET)
    this.withhold = init.withhold ?? (() => false)
    this.wants = new WantManager({
      outbox: (p) => this.outbox(p),
      bitswapPeers: () => [...this.bitswapPeers.values()]
    })
    this.ledgers = new Ledgers({
      has: async (cid) => !this.withhold(cid) && await this.blockstore.has(cid),
      outbox: (p) => this.outbox(p),
      maxWantsPerPeer: init.maxWantsPerPeer ?? DEFAULT_MAX_WANTS_PER_PEER
    })
    this.onStream = this.onStream.bind(this)
    this.onDisconnect = this.onDisconnect.bind(this)
    this.onStored = this.onStored.bind(this)
  }

  /** Registers the protocol handlers and starts tracking Bitswap peers. */
  async start (): Promise<void> {
    if (this.running) return
    await this.host.handle(INBOUND_PROTOCOLS, this.onStream, {
      maxInboundStreams: MAX_INBOUND_STREAMS,
      maxOutboundStreams: MAX_OUTBOUND_STREAMS,
      runOnLimitedConnection: false
    })
    this.running = true
    for (const protocol of OUTBOUND_PROTOCOLS) {
      this.topologyIds.push(await this.host.register(protocol, {
        onConnect: (peerId) => { this.peerConnected(peerId) },
        onDisconnect: (peerId) => { this.peerGone(peerId) }
      }))
    }
    this.host.addEventListener('peer:disconnect', this.onDisconnect)
    this.unsubscribePut = this.blockstore.onPut(this.onStored)
    // topologies only hear of peers identified from now on
    for (const peerId of this.host.getPeers()) {
      const peer = await this.host.peerStore.get(peerId).catch(() => undefined)
      if (peer?.protocols.some(p => OUTBOUND_PROTOCOLS.includes(p)) === true) this.peerConnected(peerId)
    }
  }

  /** Unregisters, rejects pending wants and drops every queue. */
  async stop (): Promise<void> {
    if (!this.running) return
    this.running = false
    this.host.removeEventListener('peer:disconnect', this.onDisconnect)
    for (const id of this.topologyIds) this.host.unregister(id)
    this.topologyIds = []
    this.unsubscribePut?.()
    this.wants.abortAll(new NotStartedError('bitswap stopped'))
    this.ledgers.clear()
    for (const out of this.outboxes.values()) out.close()
    this.outboxes.clear()
    for (const s of this.streams) s.abort(new Error('bitswap stopped'))
    this.streams.clear()
    this.bitswapPeers.clear()
    await this.host.unhandle(INBOUND_PROTOCOLS).catch(() => {})
  }

  /**
   * The verified bytes of `cid`: from the blockstore if there, else fetched from connected
   * Bitswap peers (or `options.peers`) and stored. Waits until found or `options.signal` aborts
   * (rejecting with `AbortError`); there is no timeout of its own.
   */
  async want (cid: CID, options: WantOptions = {}): Promise<Uint8Array> {
    if (!this.running) throw new NotStartedError('bitswap is not running')
    checkCid(cid)
    if (options.signal?.aborted === true) throw new WantAbortedError(cid, { cause: options.signal.reason })
    const inline = identityBlock(cid) // the data is in the CID: never asked of peers
    if (inline != null) return inline
    const local = await this.local(cid)
    if (local != null) return local
    // one caller may want a whole DAG's blocks under one signal
    if (options.signal != null) setMaxListeners(Infinity, options.signal)
    const wanted = this.wants.add(cid, options.peers, options.signal)
    // stored between the first look and the want being registered
    void this.local(cid).then(bytes => { if (bytes != null) this.wants.stored(cid, bytes) }, () => {})
    return await wanted
  }

  /** Counters since start and current list sizes. */
  stats (): BitswapStats {
    return { ...this.counters, wants: this.wants.size, peerWants: this.ledgers.size, peers: this.bitswapPeers.size }
  }

  private async local (cid: CID): Promise<Uint8Array | undefined> {
    try {
      return await this.blockstore.getBytes(cid)
    } catch (err) {
      if (err instanceof BlockNotFoundError) return undefined
      throw err
    }
  }

  private outbox (peerId: PeerId): Outbox {
    const k = peerId.toString()
    let out = this.outboxes.get(k)
    if (out == null) {
      out = new Outbox({
        peerId,
        open: async (signal) => await this.host.dialProtocol(peerId, OUTBOUND_PROTOCOLS, { signal, runOnLimitedConnection: false }),
        load: async (cid) => this.withhold(cid) ? undefined : await this.local(cid).catch(() => undefined),
        size: async (cid) => this.withhold(cid) ? undefined : await this.blockstore.sizeOf(cid).catch(() => undefined),
        budget: this.budget,
        uploadCap: this.caps.uploadCap,
        onSent: (msg, bytes) => { this.sent(msg, bytes) },
        onError: (err) => { this.log.debug('bitswap send failed', { peerId: k, error: err }) }
      })
      this.outboxes.set(k, out)
    }
    return out
  }

  private sent (msg: { blocks: number, blockBytes: number }, _bytes: number): void {
    this.counters.messagesSent++
    this.counters.blocksSent += msg.blocks
    this.counters.bytesSent += msg.blockBytes
  }

  private onStream (stream: Stream, connection: Connection): void {
    if (!this.running) {
      stream.abort(new NotStartedError('bitswap stopped'))
      return
    }
    void this.readStream(stream, connection.remotePeer)
  }

  /** Handles every message a peer sends on a stream it opened; never throws. */
  private async readStream (stream: Stream, peerId: PeerId): Promise<void> {
    this.streams.add(stream)
    try {
      // answers go out on a stream of our own
      await stream.close()
      for await (const frame of readFrames(stream, MAX_MESSAGE_BYTES)) {
        const msg = decodeMessage(frame)
        await this.handle(peerId, msg)
        if (!this.running) break
        // blocks are bulk traffic: reading slower is how a receiver keeps to its cap
        if (msg.blocks.length > 0) await this.caps.downloadCap?.ready()
      }
    } catch (err) {
      const e = err as Error
      if (MISBEHAVIOUR.has(e.name)) this.misbehaved(peerId, e.message)
      else this.log.debug('bitswap stream failed', { peerId: peerId.toString(), error: e })
      stream.abort(e)
    } finally {
      this.streams.delete(stream)
    }
  }

  private async handle (peerId: PeerId, msg: DecodedMessage): Promise<void> {
    this.counters.messagesReceived++
    // blocks first: they may settle wants the presences are about
    for (const block of msg.blocks) await this.receiveBlock(block)
    for (const p of msg.blockPresences) this.wants.presence(peerId, p)
    if (msg.wantlist != null) await this.ledgers.receive(peerId, msg.wantlist)
  }

  private async receiveBlock (block: MessageBlock): Promise<void> {
    const want = this.wants.get(blockKey(block.cid))
    if (want == null) {
      this.counters.unwantedBlocks++
      return
    }
    // the decoder named the block by the hash of its bytes; put() hashes again against want.cid
    checkBlockMatches(want.cid, block, true)
    this.counters.blocksReceived++
    this.counters.bytesReceived += block.data.length
    try {
      await this.blockstore.put(want.cid, block.data)
    } catch (err) {
      if (err instanceof InvalidBlockError) throw err
      // our disk, not the peer: keep the want open and the stream alive
      this.log.error('could not store a block received over bitswap', { cid: want.cid.toString(), error: err })
      return
    }
    // put() tells listeners only of new blocks; this one may have been stored meanwhile
    this.wants.stored(want.cid, block.data)
  }

  private onStored (cid: CID, bytes: () => Uint8Array): void {
    try {
      this.wants.stored(cid, bytes)
      if (!this.withhold(cid)) this.ledgers.stored(cid)
    } catch (err) {
      this.log.error('bitswap failed to handle a stored block', { cid: cid.toString(), error: err })
    }
  }

  private onDisconnect (evt: CustomEvent<PeerId>): void {
    this.peerGone(evt.detail)
  }

  private peerConnected (peerId: PeerId): void {
    // one topology per protocol: a peer speaking 1.2.0 and 1.1.0 is reported twice
    if (!this.running || this.bitswapPeers.has(peerId.toString())) return
    this.bitswapPeers.set(peerId.toString(), peerId)
    this.wants.peerConnected(peerId)
  }

  private peerGone (peerId: PeerId): void {
    const k = peerId.toString()
    // the topology and the host both report a departure: act on whichever comes first
    if (this.host.getConnections(peerId).length > 0) return
    this.bitswapPeers.delete(k)
    this.wants.peerGone(peerId)
    this.ledgers.forget(peerId)
    this.outboxes.get(k)?.close()
    this.outboxes.delete(k)
  }

  private misbehaved (peerId: PeerId, reason: string): void {
    this.log.warn('bitswap peer misbehaved', { peerId: peerId.toString(), reason })
    try {
      this.onMisbehaviour?.(peerId, reason)
    } catch (err) {
      this.log.error('onMisbehaviour threw', { error: err })
    }
  }
}
