/**
 * One provider's block stream in a download session: the wants in flight on it, the window of
 * wants it is given (sized to its measured rate), the blocks it said it lacks or, for a peer
 * that announces its blocks, those it has. It reads the provider's messages, checks them
 * against the protocol and verifies each block against its CID before passing it on.
 */
import type { PeerId } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'
import type { Uint8ArrayList } from 'uint8arraylist'
import type { Logger } from '../../utils/logger.ts'
import { blockKey, verifyBlock } from '../block.ts'
import { decodeFrame, encode, MAX_WANTS, ProtocolError, readFrameLists, ROOT_STATUS } from '../protocol.ts'
import type { Item } from './item.ts'

// On a slow uplink every queued 1 MiB want is seconds of data that an endgame may duplicate:
// keep at least two (one on the wire, one queued), and grow from four.
const MIN_WINDOW = 2
const START_WINDOW = 4
const MAX_WINDOW = 16
const DONT_HAVE_RETRY_MS = 2_000
/** Deliveries over this span make a peer's rate. */
const RATE_SPAN_MS = 3_000
/**
 * Bytes a rate must be measured on before it times a 1 MiB block: a root of a few hundred bytes
 * times the round trip, not the bandwidth (a root of 1,024 links is 40 KiB).
 */
const MIN_RATE_SAMPLE = 64 * 1024
/** HAVEs a peer may send beyond the blocks of the DAG known so far (those not discovered yet). */
const MAX_UNKNOWN_HAVES = 65_536
/**
 * How long a FETCHING hint holds: about the time a 1 MiB block takes on a share of a home uplink;
 * a hint whose HAVE has not come by then is ignored (the peer may have given up on the block).
 */
export const FETCHING_HINT_MS = 8_000

/**
 * The part of a stream a {@link ProviderPeer} uses: a libp2p `Stream` has it, and so does an onion
 * circuit's stream once adapted (`share/private/block-stream.ts`), for private downloads.
 */
export interface BlockStream extends AsyncIterable<Uint8Array | Uint8ArrayList> {
  /** Queues bytes to send; false when the caller should slow down. */
  send: (data: Uint8Array | Uint8ArrayList) => boolean
  /** Closes both directions at once. */
  abort: (err: Error) => void
}

/** What a {@link ProviderPeer} reports to the session it serves. */
export interface ProviderPeerOwner {
  readonly root: CID
  readonly log: Logger
  /** The DAG's blocks discovered so far, by key. */
  readonly items: ReadonlyMap<string, Item>
  /** The blocks held so far (told to a super-seeding peer). */
  held: () => CID[]
  /** The peer answered the STATUS question (called once). */
  answered: (peer: ProviderPeer) => void
  /** The peer serves the root. */
  joined: (peer: ProviderPeer) => void
  /** The peer's wants or HAVEs changed: hand out more. */
  changed: () => void
  /**
   * A verified block arrived; returns a promise when the stream must wait before reading the
   * next (too many blocks being stored).
   */
  delivered: (peer: ProviderPeer, item: Item, data: Uint8Array | Uint8ArrayList) => Promise<void> | undefined
  /** `item` was wanted from the peer and no longer is, from anyone. */
  orphaned: (item: Item) => void
  closed: (peer: ProviderPeer) => void
  misbehaved: (peer: ProviderPeer, reason: string) => void
  /** Whether any serving peer announces its blocks (downloaders trading). */
  swarm: () => boolean
}

/** A provider's block stream. */
export class ProviderPeer {
  readonly id: string
  readonly peerId: PeerId
  private readonly stream: BlockStream
  private readonly owner: ProviderPeerOwner
  /** Wants sent and not answered, oldest first. */
  readonly inflight = new Map<string, { item: Item, sentAt: number }>()
  private readonly dontHave = new Map<string, number>()
  /** Wants it may have outstanding. */
  window = START_WINDOW
  /** Bytes per second it delivers. */
  rate = 0
  /** Bytes `rate` was measured on. */
  private sampled = 0
  lastDelivery = Date.now()
  /** Recent deliveries (time, bytes, when their want was sent), for the rate over the last seconds. */
  private readonly deliveries: Array<{ t: number, n: number, sentAt: number }> = []
  delivered = 0
  /** It has part of the content (it is downloading it too). */
  partial = false
  /** Of a peer that announces its blocks (ANNOUNCING, SEEDING): the keys of those it has (or offers). */
  has?: Set<string>
  /** Of a peer that announces its blocks: those it said it is fetching, and when. */
  readonly fetching = new Map<string, number>()
  /** A super-seeding peer (SEEDING): it is told every block this node holds. */
  seeding = false
  /** It said CHOKE: nothing is asked of it until UNCHOKE. */
  choked = false
  closed = false
  /** Answered our STATUS question. */
  answered = false

  constructor (peerId: PeerId, stream: BlockStream, owner: ProviderPeerOwner) {
    this.id = peerId.toString()
    this.peerId = peerId
    this.stream = stream
    this.owner = owner
  }

  /** Asks whether the peer has the root, then reads its answers until the stream ends. */
  start (): void {
    void this.read()
    this.send(encode.status(this.owner.root))
  }

  /** Whether `item` may be wanted from this peer. */
  canAsk (item: Item, now: number): boolean {
    if (this.choked) return false
    if (this.has != null) return this.has.has(item.key)
    const t = this.dontHave.get(item.key)
    if (t == null) return true
    if (this.partial && now - t > DONT_HAVE_RETRY_MS) {
      this.dontHave.delete(item.key)
      return true
    }
    return false
  }

  /** Whether it said it is fetching `key`, lately. */
  isFetching (key: string, now: number): boolean {
    const t = this.fetching.get(key)
    return t != null && now - t < FETCHING_HINT_MS
  }

  /** Tells a super-seeding peer that this node holds `cids`. */
  announce (cids: CID[]): void {
    if (!this.seeding || this.closed) return
    for (let i = 0; i < cids.length; i += MAX_WANTS) this.send(encode.have(cids.slice(i, i + MAX_WANTS)))
  }

  /** Sends WANTs for `items`. */
  want (items: Item[], now: number): void {
    for (const item of items) {
      item.state = 'assigned'
      item.holders.add(this)
      this.inflight.set(item.key, { item, sentAt: now })
    }
    this.send(encode.want(items.map(i => i.cid)))
  }

  /** `item` arrived (from this peer or another): no longer wanted here; cancelled when `cancel`. */
  forget (item: Item, cancel: boolean): void {
    this.inflight.delete(item.key)
    if (cancel && !this.closed) this.send(encode.cancel([item.cid]))
  }

  /**
   * The time one block of 1 MiB takes it, in ms, from its rate; 1 s while that rate is unknown
   * or was measured on too few bytes to say anything of its bandwidth ({@link MIN_RATE_SAMPLE}).
   */
  blockMs (): number {
    return this.rate > 0 && this.sampled >= MIN_RATE_SAMPLE ? 1_048_576 / this.rate * 1000 : 1_000
  }

  /** Whether its oldest want is so far overdue that the peer is stalled. */
  stalled (now: number): boolean {
    let oldest = Infinity
    for (const { sentAt } of this.inflight.values()) oldest = Math.min(oldest, sentAt)
    const expected = this.rate > 0 ? (this.inflight.size * 1_048_576) / this.rate * 1000 : 5_000
    return oldest !== Infinity && now - oldest > Math.max(10_000, expected * 10)
  }

  /** Takes in what the peer says it holds of the root. */
  private setStatus (status: number): void {
    this.partial = status !== ROOT_STATUS.COMPLETE
    const seeding = status === ROOT_STATUS.SEEDING
    this.has = status === ROOT_STATUS.ANNOUNCING || seeding ? new Set() : undefined
    this.fetching.clear()
    if (seeding && !this.seeding) {
      this.seeding = true
      // it hands out blocks by what the crowd holds: tell it what this node holds already
      this.announce(this.owner.held())
    }
    this.seeding = seeding
  }

  /** Its wants were dropped (CHOKE): each goes back to the session unless another peer has it too. */
  private dropWants (): void {
    for (const { item } of this.inflight.values()) {
      item.holders.delete(this)
      if (item.state === 'assigned' && item.holders.size === 0) this.owner.orphaned(item)
    }
    this.inflight.clear()
  }

  private pruneFetching (): void {
    const now = Date.now()
    for (const [key, t] of this.fetching) if (now - t >= FETCHING_HINT_MS) this.fetching.delete(key)
  }

  /** Closes the stream; its wants go back to the session. */
  close (): void {
    if (this.closed) return
    this.closed = true
    this.owner.closed(this)
    this.dropWants()
    this.stream.abort(new Error('session closed'))
  }

  private send (frame: Uint8Array | Uint8ArrayList): void {
    try {
      this.stream.send(frame)
    } catch (err) {
      this.owner.log.debug('send to provider failed', { peerId: this.id, err })
      this.close()
    }
  }

  private markAnswered (): void {
    if (this.answered) return
    this.answered = true
    this.owner.answered(this)
  }

  private async read (): Promise<void> {
    const owner = this.owner
    try {
      for await (const body of readFrameLists(this.stream)) {
        const msg = decodeFrame(body)
        if (msg.type === 'root') {
          const joined = this.answered
          this.markAnswered()
          if (msg.status === ROOT_STATUS.NONE || blockKey(msg.cid) !== blockKey(owner.root)) {
            this.close()
            return
          }
          if (joined) {
            // an update: a downloader now has all of it, or a seeder starts or stops super-seeding
            if (msg.status !== ROOT_STATUS.COMPLETE && msg.status !== ROOT_STATUS.SEEDING) throw new ProtocolError('a root status can only change to complete or seeding')
            if (msg.status === ROOT_STATUS.SEEDING && this.partial && !this.seeding) throw new ProtocolError('a downloader cannot start seeding a root it lacks')
            this.setStatus(msg.status)
          } else {
            this.setStatus(msg.status)
            owner.joined(this)
          }
          owner.changed()
        } else if (msg.type === 'have' || msg.type === 'fetching') {
          const has = this.has
          if (has == null) throw new ProtocolError(`${msg.type.toUpperCase()} from a peer that did not say it announces`)
          const list = msg.type === 'have' ? has : this.fetching
          if (list.size + msg.cids.length > owner.items.size + MAX_UNKNOWN_HAVES) {
            if (msg.type === 'have') throw new ProtocolError('announced more blocks than the content has')
            this.pruneFetching()
            if (list.size + msg.cids.length > owner.items.size + MAX_UNKNOWN_HAVES) throw new ProtocolError('announced more blocks than the content has')
          }
          const now = Date.now()
          for (const cid of msg.cids) {
            const key = blockKey(cid)
            if (msg.type === 'have') {
              has.add(key)
              this.fetching.delete(key)
            } else if (!has.has(key)) {
              this.fetching.set(key, now)
            }
          }
          if (msg.type === 'have') owner.changed()
        } else if (msg.type === 'choke' || msg.type === 'unchoke') {
          const choked = msg.type === 'choke'
          if (choked === this.choked) continue
          this.choked = choked
          // choked: the peer dropped every want it held; they go to the others
          if (choked) this.dropWants()
          owner.changed()
        } else if (msg.type === 'block') {
          const key = blockKey(msg.cid)
          const sent = this.inflight.get(key)
          if (sent == null) {
            // a block we cancelled may still arrive; anything else was never asked for
            if (!owner.items.has(key)) throw new ProtocolError('sent a block that was not wanted')
            continue
          }
          if (!verifyBlock(sent.item.cid, msg.data)) {
            owner.misbehaved(this, `sent a block whose bytes do not match ${sent.item.cid.toString()}`)
            this.close()
            return
          }
          this.inflight.delete(key)
          this.measure(msg.data.byteLength, sent.sentAt)
          const wait = owner.delivered(this, sent.item, msg.data)
          if (wait != null) await wait
        } else if (msg.type === 'dont-have') {
          const key = blockKey(msg.cid)
          const sent = this.inflight.get(key)
          if (sent == null) continue
          this.inflight.delete(key)
          this.dontHave.set(key, Date.now())
          this.has?.delete(key)
          sent.item.holders.delete(this)
          if (sent.item.state === 'assigned' && sent.item.holders.size === 0) owner.orphaned(sent.item)
          owner.changed()
        } else {
          throw new ProtocolError(`unexpected ${msg.type} message from a provider`)
        }
      }
    } catch (err) {
      if (err instanceof ProtocolError) owner.misbehaved(this, `block protocol: ${err.message}`)
      else if (!this.closed) owner.log.debug('provider stream ended', { peerId: this.id, err })
    } finally {
      this.markAnswered()
      this.close()
      owner.changed()
    }
  }

  /**
   * Updates the peer's rate and sizes its window to about 300 ms of its data. The rate is the
   * bytes delivered over the last few seconds, not per-block gaps: blocks that waited in
   * buffers arrive back to back, and gaps of a millisecond would claim a slow peer is fast
   * (then its window grows and the endgame duplicates wants that are only queued).
   * Until the deliveries span 200 ms, it is their bytes over the time since the first of their
   * wants was sent: the first block alone is often the root, a few hundred bytes whose round
   * trip says nothing of the peer's bandwidth (a 20 ms round trip made it 20 KB/s, so a 1 MiB
   * want it then held was not overdue for 100 s, longer than a stalled session waits).
   */
  private measure (size: number, sentAt: number): void {
    const now = Date.now()
    const d = this.deliveries
    d.push({ t: now, n: size, sentAt })
    while (d.length > 2 && now - (d[0] as { t: number }).t > RATE_SPAN_MS) d.shift()
    const first = d[0] as { t: number, n: number }
    const span = now - first.t
    if (d.length >= 2 && span >= 200) {
      let bytes = 0
      for (let i = 1; i < d.length; i++) bytes += (d[i] as { n: number }).n
      this.rate = bytes / (span / 1000)
      this.sampled = bytes
    } else {
      let bytes = 0
      let since = now
      for (const x of d) {
        bytes += x.n
        since = Math.min(since, x.sentAt)
      }
      this.rate = bytes / (Math.max(1, now - since) / 1000)
      this.sampled = bytes
    }
    this.lastDelivery = now
    this.delivered++
    const blocks = Math.ceil((this.rate * 0.3) / Math.max(size, 1))
    // in a swarm (peers that announce their blocks), a seeder is asked for one block at a time
    // when that is all its rate warrants: the next one is picked when this one arrives, knowing
    // what the other downloaders got meanwhile, so fewer of them ask it for the same block
    const swarm = !this.partial && this.owner.swarm()
    this.window = Math.max(swarm ? 1 : MIN_WINDOW, Math.min(MAX_WINDOW, blocks))
  }
}
