/**
 * One onion stream (tor-spec "Opening streams and transferring data") as a node:stream `Duplex`,
 * so it pipes to and from sockets. The same class serves both ends of a circuit; the
 * {@link StreamSink} it writes through is the circuit's edge (`edge.ts`), which splits writes into
 * DATA cells of at most `RELAY_DATA_MAX` (498) bytes and holds a write's callback while the
 * stream's or the circuit's window is closed: that is the backpressure a `pipe` sees.
 *
 * Reading: DATA cells wait in a small inbox and go to the reader as it asks (`_read`); each cell
 * handed over counts as consumed for the stream window, so a slow reader stops the far end after
 * one window (500 cells) instead of growing queues on the relays.
 *
 * Closing: as in tor there is no half-close. `end()` sends END (DONE) once the writes before it are
 * sent, and an END from the far end ends both directions here (this stream is built with
 * `allowHalfOpen: false`; data written after it is dropped). So a client that half-closes its side
 * to say "request complete" loses the reply: the same limit as tor's. An END with any reason but
 * DONE, or the circuit closing, destroys the stream with {@link StreamClosedError}; `destroy()`
 * sends END (MISC on an error, else DONE).
 *
 * ```ts
 * const stream = await circuit.openStream({ host: 'example.org', port: 80 })
 * stream.write('GET / HTTP/1.0\r\n\r\n'); stream.pipe(process.stdout)
 * ```
 * @module
 */
import { Duplex } from 'node:stream'
import { StreamWindows } from './flow.ts'
import { EndReason, StreamClosedError } from './stream-errors.ts'

/** Where a stream's writes go: its circuit's edge. */
export interface StreamSink {
  /** Sends `chunk` as DATA cells; `done` once all of it is sent. */
  write: (stream: OnionStream, chunk: Uint8Array, done: () => void) => void
  /** The writable side ended: END (DONE). */
  finish: (stream: OnionStream) => void
  /** The reader took one DATA cell (maybe a stream SENDME is due). */
  consumed: (stream: OnionStream) => void
  /** The stream is gone: END with `reason` unless an END was sent or received; forget it. */
  abort: (stream: OnionStream, reason: number) => void
}

/** What a stream was opened to (as its BEGIN named it). */
export type StreamTarget = { host: string, port: number } | { peer: string, protocol: string }

/** Most DATA bytes a stream's reader side buffers before it stops taking cells from the inbox. */
const READ_HIGH_WATER = 32 * 1024
/** Bytes a writer may queue before `write()` returns false. */
const WRITE_HIGH_WATER = 64 * 1024

/** A stream over an onion circuit; see the module header. */
export class OnionStream extends Duplex {
  /** The stream id on its circuit (1 to 65535). */
  readonly id: number
  readonly target: StreamTarget
  /** @internal This stream's flow-control windows. */
  readonly windows = new StreamWindows()
  /** DATA bytes sent and received on this stream. */
  bytesSent = 0
  bytesReceived = 0
  private readonly sink: StreamSink
  private readonly inbox: Uint8Array[] = []
  private reading = false
  private remoteEnded = false
  /** @internal An END went out or came in: no other is sent. */
  endDone = false

  constructor (sink: StreamSink, id: number, target: StreamTarget) {
    super({ allowHalfOpen: false, readableHighWaterMark: READ_HIGH_WATER, writableHighWaterMark: WRITE_HIGH_WATER })
    this.sink = sink
    this.id = id
    this.target = target
  }

  /** DATA cells received and not yet read. */
  get queuedCells (): number {
    return this.inbox.length
  }

  override _write (chunk: Buffer | Uint8Array, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    if (this.remoteEnded) {
      callback()
      return
    }
    this.sink.write(this, chunk, () => { callback() })
  }

  override _final (callback: (error?: Error | null) => void): void {
    if (!this.remoteEnded) this.sink.finish(this)
    callback()
  }

  override _read (): void {
    this.reading = true
    this.flush()
  }

  override _destroy (err: Error | null, callback: (error?: Error | null) => void): void {
    // a reader that stops early (`break` out of `for await`) is a normal close, not a failure
    const normal = err == null || (err as { code?: string }).code === 'ERR_STREAM_PREMATURE_CLOSE' || err.name === 'AbortError'
    this.sink.abort(this, normal ? EndReason.DONE : EndReason.MISC)
    callback(err)
  }

  /** @internal A DATA cell's payload arrived (the edge checked the window). */
  deliver (data: Uint8Array): void {
    this.bytesReceived += data.length
    this.inbox.push(data)
    if (this.reading) this.flush()
  }

  /** @internal The far end sent END with `reason`. */
  remoteEnd (reason: number): void {
    this.remoteEnded = true
    this.endDone = true
    if (reason !== EndReason.DONE) {
      this.destroy(new StreamClosedError(reason))
      return
    }
    this.flush()
  }

  private flush (): void {
    while (this.reading && this.inbox.length > 0) {
      const data = this.inbox.shift() as Uint8Array
      this.sink.consumed(this)
      if (!this.push(data)) this.reading = false
    }
    if (this.remoteEnded && this.inbox.length === 0 && !this.readableEnded) this.push(null)
  }
}
