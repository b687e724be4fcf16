/**
 * Flow control of onion circuits and streams (tor-spec "Flow control", proposal 289
 * "authenticated SENDMEs"). Pure state, no I/O: the edge ({@link ./edge.ts}) calls it as cells go
 * out and come in, and tears the circuit down when it throws {@link FlowControlError}.
 *
 * Streams: each direction of a stream has a window of {@link STREAM_WINDOW} DATA cells; the
 * receiver sends a stream SENDME (empty, not authenticated, as in tor) each time its application
 * has consumed {@link STREAM_SENDME_INC} cells, which reopens the sender's window by as many. A
 * SENDME that would open the window past {@link STREAM_WINDOW}, or a DATA cell past a closed
 * window, is a protocol violation.
 *
 * Circuits: the receiver sends a circuit SENDME (stream id 0) every {@link CIRCUIT_SENDME_INC} DATA
 * cells (proposal 324's `sendme_inc` of 31); how many cells the sender may have unacknowledged is
 * the congestion window of {@link ./congestion.ts}. Every circuit SENDME is version 1 of proposal
 * 289: `VERSION (1) = 1 | DATA_LEN (2) | DATA`, where DATA is the running relay digest just after
 * the DATA cell that triggered it. peerd's relay digest is SHA-256 (`relay-crypto.ts`), so DATA is
 * its full 32 bytes where tor's is 20 bytes of SHA-1 (tor accepts any DATA_LEN ≥ 20 and compares
 * the first 20; peerd requires exactly 32 and compares them all). The sender remembers the digest
 * of every {@link CIRCUIT_SENDME_INC}-th DATA cell it sent, and the next SENDME must carry the
 * oldest remembered one: a wrong digest (a SENDME for data never received, the "optimistic ack"
 * attack proposal 289 closes) or a SENDME with nothing to acknowledge tears the circuit down.
 * The bodies are random-padded (`cell.ts`), so a peer cannot predict a digest it did not see.
 *
 * ```ts
 * const out = new CircuitSendmeTags()
 * if (out.sent()) out.remember(layers.lastForwardDigest(last))   // after each DATA cell sent
 * out.acknowledge(decodeSendme(msg.data))                          // FlowControlError if forged
 * ```
 * @module
 */
import { timingSafeEqual } from 'node:crypto'
import { FlowControlError } from './stream-errors.ts'

/** A stream's window in DATA cells, each direction (tor's STREAMWINDOW_START). */
export const STREAM_WINDOW = 500
/** Cells a stream SENDME acknowledges (tor's STREAMWINDOW_INCREMENT). */
export const STREAM_SENDME_INC = 50
/** DATA cells a circuit SENDME acknowledges (proposal 324's `sendme_inc`). */
export const CIRCUIT_SENDME_INC = 31
/** The SENDME version peerd sends and accepts. */
export const SENDME_VERSION = 1
/** Bytes of a SENDME v1 tag: the full SHA-256 running digest. */
export const SENDME_TAG_LEN = 32
/** Most unacknowledged tags a sender keeps: far above any congestion window peerd allows. */
export const MAX_PENDING_TAGS = 1024

/** Encodes a circuit SENDME v1 body carrying `tag`. */
export function encodeSendme (tag: Uint8Array): Uint8Array {
  if (tag.length !== SENDME_TAG_LEN) throw new FlowControlError(`a SENDME tag of ${tag.length} bytes, not ${SENDME_TAG_LEN}`)
  const out = new Uint8Array(3 + SENDME_TAG_LEN)
  out[0] = SENDME_VERSION
  out[1] = SENDME_TAG_LEN >> 8
  out[2] = SENDME_TAG_LEN & 0xff
  out.set(tag, 3)
  return out
}

/** Decodes a circuit SENDME body: its tag; {@link FlowControlError} unless it is v1 with a 32-byte tag. */
export function decodeSendme (data: Uint8Array): Uint8Array {
  if (data.length < 3) throw new FlowControlError(`a circuit SENDME of ${data.length} bytes (v0 is not accepted)`)
  if (data[0] !== SENDME_VERSION) throw new FlowControlError(`SENDME version ${data[0] as number}`)
  const len = ((data[1] as number) << 8) | (data[2] as number)
  if (len !== SENDME_TAG_LEN || data.length < 3 + len) throw new FlowControlError(`a SENDME tag of ${len} bytes in a ${data.length}-byte body`)
  return data.slice(3, 3 + len)
}

/**
 * The sending side's record of circuit SENDME tags: which DATA cells must be acknowledged, and the
 * digest each acknowledgement must carry.
 */
export class CircuitSendmeTags {
  private readonly pending: Uint8Array[] = []
  private count = 0

  /** Counts one DATA cell sent; true when its digest must be remembered (every `sendme_inc`-th). */
  sent (): boolean {
    this.count = (this.count + 1) % CIRCUIT_SENDME_INC
    return this.count === 0
  }

  /** Remembers the digest of the DATA cell {@link sent} asked for. */
  remember (digest: Uint8Array): void {
    if (this.pending.length >= MAX_PENDING_TAGS) throw new FlowControlError(`${this.pending.length} SENDMEs outstanding`)
    this.pending.push(Uint8Array.from(digest))
  }

  /** SENDMEs expected. */
  get outstanding (): number {
    return this.pending.length
  }

  /** Checks a SENDME's tag against the oldest remembered digest; {@link FlowControlError} if none is owed or it differs. */
  acknowledge (tag: Uint8Array): void {
    const want = this.pending.shift()
    if (want == null) throw new FlowControlError('a circuit SENDME with nothing to acknowledge')
    if (tag.length !== want.length || !timingSafeEqual(tag, want)) throw new FlowControlError('a circuit SENDME whose digest is not the one of the cell it acknowledges')
  }
}

/** The receiving side of a circuit: when to send a SENDME. */
export class CircuitDeliverCounter {
  private count = 0

  /** Counts one DATA cell received; true when a SENDME is due (with the digest of this cell). */
  received (): boolean {
    this.count = (this.count + 1) % CIRCUIT_SENDME_INC
    return this.count === 0
  }
}

/** One stream's windows, both directions. */
export class StreamWindows {
  /** DATA cells this side may still send. */
  package = STREAM_WINDOW
  /** DATA cells this side may still receive. */
  deliver = STREAM_WINDOW
  private consumed = 0

  /** Takes one cell of the package window; false if it is closed. */
  takePackage (): boolean {
    if (this.package <= 0) return false
    this.package--
    return true
  }

  /** A stream SENDME came: reopens the package window; {@link FlowControlError} past its maximum. */
  sendme (): void {
    if (this.package + STREAM_SENDME_INC > STREAM_WINDOW) throw new FlowControlError('a stream SENDME that would open the window past its maximum')
    this.package += STREAM_SENDME_INC
  }

  /** A DATA cell came; {@link FlowControlError} if the deliver window was closed. */
  received (): void {
    if (this.deliver <= 0) throw new FlowControlError('a DATA cell past the stream window')
    this.deliver--
  }

  /** The application consumed one cell; true when a stream SENDME is due (the deliver window reopens by {@link STREAM_SENDME_INC}). */
  consume (): boolean {
    if (++this.consumed < STREAM_SENDME_INC) return false
    this.consumed = 0
    this.deliver += STREAM_SENDME_INC
    return true
  }
}
