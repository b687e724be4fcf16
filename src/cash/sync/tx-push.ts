/**
 * The transaction push protocol, `/peerd/<network>/cash/tx-push/1.0.0`: one transaction handed
 * to one node, which admits it to its mempool, announces it over gossip as it would a
 * transaction of its own mempool, and answers whether it took it. Private broadcast
 * (`private-broadcast.ts`) sends a wallet's payment this way through onion circuits, so the
 * first nodes to announce it are not the sender; any node serves it.
 *
 * One stream per push. The client writes one frame and waits (an onion stream has no
 * half-close, so the request is not followed by an end); the server answers one frame and
 * closes. Frames are `net/frames.ts`'s (unsigned varint length, then the body):
 *
 * | body | fields |
 * |------|--------|
 * | `0x01` PUSH | the transaction with its witness (at most the mempool's largest weight) |
 * | `0x81` ACCEPTED, `0x82` KNOWN, `0x83` ORPHAN, `0x85` BUSY | — |
 * | `0x84` REJECTED | the reason, UTF-8, at most {@link MAX_REASON} bytes (`bad-txns-…`) |
 *
 * The stream's remote peer is usually an onion exit carrying someone else's push, so bad input
 * costs no misbehaviour points (they would fall on the exit); what one remote peer can make this
 * node do is bounded instead: a rate per peer, pushes at once per peer and in total, a read
 * timeout, and the mempool's signature-check budget, charged to that peer.
 * @module
 */
import type { Duplex } from 'node:stream'
import type { Connection, PeerId, Stream } from '@libp2p/interface'
import { encodeFrame, ProtocolError, readFrames } from '../../net/frames.ts'
import type { PeerdHost } from '../../net/host.ts'
import { PeerRateLimiter } from '../../net/rate-limit.ts'
import type { Logger } from '../../utils/logger.ts'
import { VerifyError } from '../consensus/verify-error.ts'
import type { Mempool } from '../mempool/index.ts'
import { DecodeError } from '../primitives/errors.ts'
import { decodeTx, txid as computeTxid, txWeight } from '../primitives/tx.ts'
import type { Transaction } from '../primitives/tx.ts'

/** Protocol id of the push protocol on `network`. */
export function txPushProtocol (network: string): string {
  return `/peerd/${network}/cash/tx-push/1.0.0`
}

/** Longest rejection reason carried (Bitcoin Core's reject reasons are under 64 characters). */
export const MAX_REASON = 96
/** Largest answer frame: a type byte and a reason. */
export const MAX_ANSWER_FRAME = 1 + MAX_REASON

const T = { PUSH: 0x01, ACCEPTED: 0x81, KNOWN: 0x82, ORPHAN: 0x83, REJECTED: 0x84, BUSY: 0x85 } as const

/** What a node answered to a push. */
export type PushAnswer =
  | { status: 'accepted' | 'known' | 'orphan' | 'busy' }
  | { status: 'rejected', reason: string }

/** A push frame or answer broke the protocol. */
export class TxPushError extends ProtocolError {
  static override name = 'TxPushError'
}

/** The PUSH frame of a serialized transaction. */
export function encodePush (txBytes: Uint8Array): Uint8Array {
  return encodeFrame(Uint8Array.of(T.PUSH), txBytes)
}

/** The answer frame. */
export function encodeAnswer (answer: PushAnswer): Uint8Array {
  switch (answer.status) {
    case 'accepted': return encodeFrame(Uint8Array.of(T.ACCEPTED))
    case 'known': return encodeFrame(Uint8Array.of(T.KNOWN))
    case 'orphan': return encodeFrame(Uint8Array.of(T.ORPHAN))
    case 'busy': return encodeFrame(Uint8Array.of(T.BUSY))
    case 'rejected': {
      const reason = new TextEncoder().encode(answer.reason).subarray(0, MAX_REASON)
      return encodeFrame(Uint8Array.of(T.REJECTED), reason)
    }
  }
}

/** Decodes an answer body. @throws {TxPushError} */
export function decodeAnswer (body: Uint8Array): PushAnswer {
  const type = body[0]
  if (type === T.REJECTED) {
    if (body.length - 1 > MAX_REASON) throw new TxPushError(`rejection reason of ${body.length - 1} bytes, over ${MAX_REASON}`)
    return { status: 'rejected', reason: new TextDecoder('utf-8', { fatal: false }).decode(body.subarray(1)) }
  }
  if (body.length !== 1) throw new TxPushError(`answer 0x${(type ?? 0).toString(16)} of ${body.length} bytes`)
  switch (type) {
    case T.ACCEPTED: return { status: 'accepted' }
    case T.KNOWN: return { status: 'known' }
    case T.ORPHAN: return { status: 'orphan' }
    case T.BUSY: return { status: 'busy' }
    default: throw new TxPushError(`unknown answer type 0x${(type ?? 0).toString(16)}`)
  }
}

/**
 * Pushes `txBytes` over `stream` (an onion stream from `OnionService.dial`, or any duplex to the
 * protocol) and returns the answer. The caller closes the stream.
 *
 * @throws {TxPushError} for a malformed answer or none; the stream's own errors
 */
export async function pushTx (stream: Duplex, txBytes: Uint8Array, signal?: AbortSignal): Promise<PushAnswer> {
  const onAbort = (): void => { stream.destroy(signal?.reason instanceof Error ? signal.reason : new Error('push aborted')) }
  signal?.addEventListener('abort', onAbort, { once: true })
  try {
    if (signal?.aborted === true) throw signal.reason
    stream.write(encodePush(txBytes))
    for await (const body of readFrames(stream as AsyncIterable<Uint8Array>, MAX_ANSWER_FRAME)) return decodeAnswer(body)
    throw new TxPushError('the stream closed without an answer')
  } finally {
    signal?.removeEventListener('abort', onAbort)
  }
}

/** Options of {@link TxPushServer}. */
export interface TxPushServerInit {
  host: PeerdHost
  protocol: string
  mempool: Pick<Mempool, 'add' | 'maxTxWeight'>
  log: Logger
  /** Announces an accepted transaction over gossip (the tx relay's publish). */
  publish: (txBytes: Uint8Array) => unknown
  /**
   * Whether `txid` is this node's own payment still being broadcast privately: then it is
   * answered as a node that did not have it would answer (so a push cannot test whether this
   * node is its sender), announced, and `onOwnSeen` is told.
   */
  holds?: (txid: Uint8Array) => boolean
  /** Someone else pushed a transaction `holds` names: the network has it. */
  onOwnSeen?: (peer: PeerId, txid: Uint8Array) => void
  /** Pushes one remote peer may make per second on average (default 5), and in a burst (default 50). */
  pushesPerSecond?: number
  pushBurst?: number
  /** Pushes being checked at once from one peer (default 8) and in total (default 64); more are answered BUSY. */
  maxPerPeer?: number
  maxTotal?: number
  /** How long a push may take to arrive (default 10 s). */
  readTimeoutMs?: number
}

/** Counters for status and tests. */
export interface TxPushStats { received: number, accepted: number, known: number, orphan: number, rejected: number, busy: number }

/** Serves the push protocol; see the module header. */
export class TxPushServer {
  readonly stats: TxPushStats = { received: 0, accepted: 0, known: 0, orphan: 0, rejected: 0, busy: 0 }
  private readonly init: TxPushServerInit
  private readonly limiter: PeerRateLimiter
  private readonly perPeer = new Map<string, number>()
  private readonly streams = new Set<Stream>()
  private total = 0

  constructor (init: TxPushServerInit) {
    this.init = init
    this.limiter = new PeerRateLimiter(init.pushesPerSecond ?? 5, init.pushBurst ?? 50)
  }

  async start (): Promise<void> {
    await this.init.host.handle(this.init.protocol, (stream, connection) => { void this.serve(stream, connection) }, {
      maxInboundStreams: 32,
      // an exit opens this protocol for its circuits' clients: its outbound streams count here
      maxOutboundStreams: 32
    })
  }

  async stop (): Promise<void> {
    await this.init.host.unhandle(this.init.protocol)
    for (const s of this.streams) s.abort(new Error('node stopping'))
    this.streams.clear()
  }

  private async serve (stream: Stream, connection: Connection): Promise<void> {
    const peer = connection.remotePeer
    const key = peer.toString()
    this.stats.received++
    const mine = this.perPeer.get(key) ?? 0
    if (!this.limiter.take(key) || mine >= (this.init.maxPerPeer ?? 8) || this.total >= (this.init.maxTotal ?? 64)) {
      this.stats.busy++
      stream.send(encodeAnswer({ status: 'busy' }))
      await stream.close().catch(() => {})
      return
    }
    this.perPeer.set(key, mine + 1)
    this.total++
    this.streams.add(stream)
    const timer = setTimeout(() => { stream.abort(new TxPushError('no push within the read timeout')) }, this.init.readTimeoutMs ?? 10_000)
    try {
      let body: Uint8Array | undefined
      for await (const frame of readFrames(stream, this.init.mempool.maxTxWeight + 1)) {
        body = frame
        break
      }
      clearTimeout(timer)
      if (body == null) {
        stream.abort(new Error('stream closed before a push'))
        return
      }
      const answer = await this.admit(peer, body)
      this.stats[answer.status]++
      stream.send(encodeAnswer(answer))
      await stream.close().catch(() => {})
    } catch (err) {
      // a broken frame is the anonymous pusher's doing, not the relaying peer's: no penalty
      this.init.log.debug('tx push stream ended', { peerId: key, err: err as Error })
      stream.abort(err as Error)
    } finally {
      clearTimeout(timer)
      this.streams.delete(stream)
      this.total--
      const left = (this.perPeer.get(key) ?? 1) - 1
      if (left <= 0) this.perPeer.delete(key)
      else this.perPeer.set(key, left)
    }
  }

  private async admit (peer: PeerId, body: Uint8Array): Promise<PushAnswer> {
    if (body[0] !== T.PUSH) throw new TxPushError(`unknown request type 0x${(body[0] ?? 0).toString(16)}`)
    const bytes = body.subarray(1)
    let tx: Transaction
    try {
      tx = decodeTx(bytes)
    } catch (err) {
      if (err instanceof DecodeError) return { status: 'rejected', reason: err.reason }
      throw err
    }
    if (txWeight(tx) > this.init.mempool.maxTxWeight) return { status: 'rejected', reason: 'tx-size' }
    const id = computeTxid(tx)
    if (this.init.holds?.(id) === true) {
      this.init.onOwnSeen?.(peer, id)
      this.init.publish(bytes)
      return { status: 'accepted' }
    }
    try {
      const result = await this.init.mempool.add(tx, { peer: peer.toString() })
      if (result === 'accepted') {
        // gossipsub forwards only what it received itself: a pushed transaction is announced here
        this.init.publish(bytes)
        return { status: 'accepted' }
      }
      return { status: result === 'orphan' ? 'orphan' : 'known' }
    } catch (err) {
      if (err instanceof VerifyError) return { status: 'rejected', reason: err.reason }
      throw err
    }
  }
}
