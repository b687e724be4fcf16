/**
 * What is waiting to go to one peer: wantlist entries, blocks and block presences, each keyed
 * by multihash so a later item for the same block replaces an earlier one (a cancel replaces
 * the want it revokes). Items queued in the same tick go out together: one stream is opened,
 * messages of at most 4 MiB are written until nothing is left, and the stream is closed, as
 * go-bitswap and Helia do. Blocks are queued as CIDs and read from the store only when their
 * message is built, so a long queue holds no block bytes; a block asked for again while queued
 * is queued once. The bytes of a message count against a {@link ByteBudget} (per peer and in
 * total, shared with the block server) from before they are read until the stream has passed
 * them on, and the next message is built only once the previous one has drained.
 */
import { setImmediate } from 'node:timers'
import type { PeerId, Stream } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'
import { StreamLease } from '../../net/byte-budget.ts'
import type { ByteBudget } from '../../net/byte-budget.ts'
import type { RateBucket } from '../../net/bandwidth-limit.ts'
import { blockKey } from '../block.ts'
import { BITSWAP_120, MAX_QUEUED_PER_PEER, SEND_TIMEOUT_MS } from './constants.ts'
import { MAX_MESSAGE_BYTES, MESSAGE_LIMITS, encodeMessage } from './message.ts'
import type { BitswapMessage, BlockPresence, PresenceType, WantlistEntry } from './message.ts'
import { writeFrame } from './stream-io.ts'

/** What an {@link Outbox} needs from its owner. */
export interface OutboxInit {
  peerId: PeerId
  /** Opens a Bitswap stream to the peer. */
  open: (signal: AbortSignal) => Promise<Stream>
  /** A block's bytes from the store, or undefined when it is gone. */
  load: (cid: CID) => Promise<Uint8Array | undefined>
  /** A block's size in the store, or undefined when it is gone (to reserve its budget before reading it). */
  size?: (cid: CID) => Promise<number | undefined>
  /** Bytes of block data on their way out. */
  budget?: ByteBudget
  /** The node's upload cap: a message carrying blocks waits for it. */
  uploadCap?: RateBucket
  /** Told of every message written: its blocks and their bytes, and the message's size. */
  onSent: (sent: { blocks: number, blockBytes: number }, bytes: number) => void
  /** Told when a send fails; what was queued is dropped. */
  onError: (err: Error) => void
}

// a new stream is tried again this soon when this peer's earlier ones are still closing
const STREAM_RETRY_MS = 50
// room left in a message for framing and field tags
const SLACK = 64 * 1024

/** The send queue of one peer. */
export class Outbox {
  private readonly init: OutboxInit
  private readonly wants = new Map<string, WantlistEntry>()
  private readonly blocks = new Map<string, CID>()
  private readonly presences = new Map<string, BlockPresence>()
  private scheduled = false
  private closed = false
  private stream: Stream | undefined
  /** Budget reserved for the blocks of the message being built. */
  private reserved = 0
  /** Aborted by close(): a wait for budget ends. */
  private readonly closing = new AbortController()

  constructor (init: OutboxInit) {
    this.init = init
  }

  /** Number of queued items. */
  get size (): number { return this.wants.size + this.blocks.size + this.presences.size }

  /** Queues a wantlist entry (or a cancel) for `entry.cid`. */
  want (entry: WantlistEntry): void {
    if (this.full(this.wants)) return
    this.wants.set(blockKey(entry.cid), entry)
    this.schedule()
  }

  /** Queues the block `cid`, read from the store when sent. */
  block (cid: CID): void {
    const key = blockKey(cid)
    if (this.full(this.blocks)) return
    this.blocks.set(key, cid)
    // the block answers any presence queued for it
    this.presences.delete(key)
    this.schedule()
  }

  /** Queues a Have or DontHave for `cid`. Dropped if its block is queued already. */
  presence (cid: CID, type: PresenceType): void {
    const key = blockKey(cid)
    if (this.blocks.has(key) || this.full(this.presences)) return
    this.presences.set(key, { cid, type })
    this.schedule()
  }

  /** Forgets a queued block or presence (the peer cancelled its want). */
  drop (key: string): void {
    this.blocks.delete(key)
    this.presences.delete(key)
  }

  /** Drops everything and aborts a send in progress. */
  close (): void {
    this.closed = true
    this.clear()
    this.closing.abort()
    this.stream?.abort(new Error('bitswap outbox closed'))
  }

  private full (map: Map<string, unknown>): boolean {
    return map.size >= MAX_QUEUED_PER_PEER
  }

  private clear (): void {
    this.wants.clear()
    this.blocks.clear()
    this.presences.clear()
  }

  private schedule (): void {
    if (this.scheduled || this.closed) return
    this.scheduled = true
    // let items queued in this tick join the same message
    setImmediate(() => { void this.run() })
  }

  private async run (): Promise<void> {
    let stream: Stream | undefined
    let lease: StreamLease | undefined
    let retry = false
    try {
      while (this.size > 0 && !this.closed) {
        const signal = AbortSignal.timeout(SEND_TIMEOUT_MS)
        // the stream first: items are taken from the queue only once there is one to send them on
        if (stream == null) {
          stream = await this.init.open(signal)
          this.stream = stream
          if (this.init.budget != null) lease = new StreamLease(this.init.budget, this.init.peerId.toString(), stream)
          // this end never reads: the peer answers on a stream of its own
          await stream.closeRead()
        }
        const msg = await this.nextMessage(AbortSignal.any([signal, this.closing.signal]))
        // 1.1.0 peers know no presences
        if (stream.protocol !== BITSWAP_120) msg.blockPresences = []
        if (isEmpty(msg)) { this.giveBack(); continue }
        const bytes = encodeMessage(msg)
        const sent = { blocks: msg.blocks.length, blockBytes: msg.blocks.reduce((n, b) => n + b.data.length, 0) }
        msg.blocks = [] // the encoded copy is what waits to drain: let the block buffers go
        lease?.adopt(this.reserved)
        this.reserved = 0
        if (sent.blocks > 0) await this.init.uploadCap?.acquire(bytes.length, AbortSignal.any([signal, this.closing.signal]))
        await writeFrame(stream, bytes, { signal })
        lease?.sent()
        this.init.onSent(sent, bytes.length)
      }
      await stream?.close({ signal: AbortSignal.timeout(SEND_TIMEOUT_MS) })
    } catch (err) {
      stream?.abort(err as Error)
      if (stream == null && (err as Error).name === 'TooManyOutboundProtocolStreamsError') {
        // our earlier streams to this peer are still closing: the queue waits for one to go
        retry = true
      } else {
        // the peer is unreachable or broke the stream: what was queued for it is stale
        this.clear()
        this.init.onError(err as Error)
      }
    } finally {
      this.giveBack()
      lease?.end()
      this.stream = undefined
      this.scheduled = false
      if (retry && !this.closed) {
        this.scheduled = true
        setTimeout(() => { void this.run() }, STREAM_RETRY_MS).unref()
      } else if (this.size > 0) {
        // items queued while the stream was closing
        this.schedule()
      }
    }
  }

  /** Gives back the budget reserved for a message that was not sent. */
  private giveBack (): void {
    if (this.reserved > 0) this.init.budget?.release(this.init.peerId.toString(), this.reserved)
    this.reserved = 0
  }

  /** Takes up to one message's worth of queued items: blocks first, then presences, then wants. */
  private async nextMessage (signal: AbortSignal): Promise<BitswapMessage> {
    const msg: BitswapMessage = { blocks: [], blockPresences: [], pendingBytes: 0 }
    let budget = MAX_MESSAGE_BYTES - SLACK
    for (const [key, cid] of this.blocks) {
      if (msg.blocks.length >= MESSAGE_LIMITS.maxBlocks) break
      // the size first: a block that would not fit this message is not read, and its bytes are
      // reserved before they are read
      const known = this.init.size == null ? undefined : await this.init.size(cid)
      if (this.init.size != null && known == null) {
        this.blocks.delete(key)
        continue
      }
      if (known != null && known + cid.bytes.length + 16 > budget && msg.blocks.length > 0) break
      if (known != null && this.init.budget != null) {
        await this.init.budget.reserve(this.init.peerId.toString(), known, signal)
        this.reserved += known
      }
      const data = await this.init.load(cid)
      if (data == null) {
        this.blocks.delete(key)
        continue
      }
      const size = data.length + cid.bytes.length + 16
      if (size > budget && msg.blocks.length > 0) break
      this.blocks.delete(key)
      msg.blocks.push({ cid, data })
      budget -= size
    }
    for (const [key, p] of this.presences) {
      const size = p.cid.bytes.length + 16
      if (size > budget || msg.blockPresences.length >= MESSAGE_LIMITS.maxPresences) break
      this.presences.delete(key)
      msg.blockPresences.push(p)
      budget -= size
    }
    const entries: WantlistEntry[] = []
    for (const [key, e] of this.wants) {
      const size = e.cid.bytes.length + 24
      if (size > budget || entries.length >= MESSAGE_LIMITS.maxWantlistEntries) break
      this.wants.delete(key)
      entries.push(e)
      budget -= size
    }
    if (entries.length > 0) msg.wantlist = { entries, full: false }
    return msg
  }
}

function isEmpty (msg: BitswapMessage): boolean {
  return msg.blocks.length === 0 && msg.blockPresences.length === 0 && (msg.wantlist?.entries.length ?? 0) === 0
}
