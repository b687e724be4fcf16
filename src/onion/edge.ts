/**
 * The stream end of a circuit, the same class at the client and at the exit (tor-spec "Opening
 * streams and transferring data", "Closing streams", "Flow control"). It multiplexes
 * {@link OnionStream}s by stream id (1 to 65535), turns their writes into DATA cells under the
 * stream windows and the circuit's Vegas congestion window, answers with stream and authenticated
 * circuit SENDMEs (`flow.ts`), and raises a protocol violation (a forged SENDME, a DATA cell past
 * a window, a BEGIN on a stream id in use) by throwing: its caller tears the circuit down.
 *
 * The edge talks to its circuit through an {@link EdgeTransport}: the client's `Circuit` to its
 * last hop, or a relay's circuit handle back to the client. Both seal synchronously, so the
 * running digest read right after a cell went out (or came in) is that cell's SENDME tag.
 *
 * BEGIN (relay data): `ADDRPORT NUL FLAGS(4)` as tor-spec, where ADDRPORT is `host:port`
 * (`[v6]:port` for IPv6; a name is resolved at the exit). peerd's second form reaches a peerd
 * protocol on another node through the last hop: ADDRPORT is `<peerId>.peer:0`, and after FLAGS
 * (zero) comes `PROTOLEN (1) | PROTOCOL (UTF-8)`; the exit opens that libp2p protocol on that peer
 * and pipes the stream to it. `.peer` is not a DNS top-level domain, so the forms never collide.
 * CONNECTED carries tor's address and TTL (IPv4: 4 bytes and TTL; IPv6: four zero bytes, 6, 16
 * bytes, TTL), empty for the peer form; END carries one reason byte.
 *
 * ```ts
 * const edge = new StreamEdge({ transport })
 * const stream = await edge.open({ host: '127.0.0.1', port: 8080 })
 * circuit.onMessage = (hop, msg) => { edge.receive(msg) }    // throws: tear the circuit down
 * ```
 * @module
 */
import { isIP } from 'node:net'
import { RELAY_DATA_MAX, RelayCommand } from './cell.ts'
import type { RelayMessage } from './cell.ts'
import { VegasController } from './congestion.ts'
import type { VegasParams } from './congestion.ts'
import { CircuitDeliverCounter, CircuitSendmeTags, decodeSendme, encodeSendme } from './flow.ts'
import { EndReason, FlowControlError, InvalidBeginError, StreamClosedError, StreamRefusedError } from './stream-errors.ts'
import { OnionStream } from './stream.ts'
import type { StreamSink, StreamTarget } from './stream.ts'

/** Most open streams on one circuit at the exit (more: END RESOURCELIMIT). */
export const MAX_STREAMS_PER_CIRCUIT = 256
/**
 * Cells of this circuit this end lets wait in its own link queue: past it, sending pauses until a
 * SENDME (those queued cells are in flight, so one comes) and Vegas counts the circuit blocked.
 * Well under the link's per-circuit cap of 1000, past which the link kills the circuit.
 */
export const LOCAL_QUEUE_MAX = 500
/** How long a client waits for CONNECTED unless its signal says otherwise. */
export const BEGIN_TIMEOUT_MS = 30_000
/** The top-level name of the peer form of BEGIN. */
export const PEER_SUFFIX = '.peer'
/** The relay commands an edge handles. */
export const STREAM_COMMANDS: ReadonlySet<number> = new Set([RelayCommand.BEGIN, RelayCommand.DATA, RelayCommand.END, RelayCommand.CONNECTED, RelayCommand.SENDME])

/** How an edge sends on its circuit and reads the running digests. */
export interface EdgeTransport {
  /** Seals and sends one relay message (synchronously: the digest after it is this cell's). */
  send: (command: RelayCommand, streamId: number, data: Uint8Array) => void
  /** Full running digest after the last cell this end sent. */
  lastSentDigest: () => Uint8Array
  /** Full running digest after the last cell this end received. */
  lastReceivedDigest: () => Uint8Array
  /** Cells of this circuit waiting in this node's link queue (tor's blocked-channel signal). */
  queued?: () => number
}

/** Options of {@link StreamEdge}. */
export interface StreamEdgeInit {
  transport: EdgeTransport
  /** Open streams allowed (default {@link MAX_STREAMS_PER_CIRCUIT}). */
  maxStreams?: number
  /** The clock for RTT samples (ms). */
  now?: () => number
  vegas?: Partial<VegasParams>
  /** At the exit: a BEGIN opened `stream`; answer with {@link StreamEdge.connected} or {@link StreamEdge.refuse}. */
  onBegin?: (stream: OnionStream) => void
  /** The number of open streams changed. */
  onStreamCount?: (open: number) => void
}

/** Encodes a BEGIN's data for `target`. */
export function encodeBegin (target: StreamTarget): Uint8Array {
  const enc = new TextEncoder()
  if ('peer' in target) {
    const protocol = enc.encode(target.protocol)
    if (protocol.length === 0 || protocol.length > 255) throw new InvalidBeginError(`a protocol of ${protocol.length} bytes`)
    const addr = enc.encode(`${target.peer}${PEER_SUFFIX}:0`)
    return checkFits(Uint8Array.from([...addr, 0, 0, 0, 0, 0, protocol.length, ...protocol]))
  }
  if (!Number.isInteger(target.port) || target.port < 1 || target.port > 0xffff) throw new InvalidBeginError(`port ${target.port}`)
  if (target.host.length === 0 || target.host.length > 255 || target.host.toLowerCase().endsWith(PEER_SUFFIX) || /[\0\s]/.test(target.host)) throw new InvalidBeginError(`host ${JSON.stringify(target.host)}`)
  const host = isIP(target.host) === 6 ? `[${target.host}]` : target.host
  return checkFits(Uint8Array.from([...enc.encode(`${host}:${target.port}`), 0, 0, 0, 0, 0]))
}

function checkFits (data: Uint8Array): Uint8Array {
  if (data.length > RELAY_DATA_MAX) throw new InvalidBeginError(`a BEGIN of ${data.length} bytes`)
  return data
}

/** Decodes a BEGIN's data; {@link InvalidBeginError} if malformed. */
export function decodeBegin (data: Uint8Array): StreamTarget {
  const nul = data.indexOf(0)
  if (nul <= 0 || nul > 300) throw new InvalidBeginError('BEGIN without a NUL-terminated ADDRPORT')
  const addrport = new TextDecoder('utf-8', { fatal: true }).decode(data.subarray(0, nul))
  const colon = addrport.lastIndexOf(':')
  const portText = addrport.slice(colon + 1)
  let host = addrport.slice(0, colon)
  if (colon <= 0 || !/^\d{1,5}$/.test(portText)) throw new InvalidBeginError(`ADDRPORT ${JSON.stringify(addrport)}`)
  const port = Number(portText)
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1)
  if (host.toLowerCase().endsWith(PEER_SUFFIX) && port === 0) {
    const at = nul + 1 + 4
    const len = data[at]
    if (len == null || len === 0 || at + 1 + len > data.length) throw new InvalidBeginError('peer BEGIN without a protocol')
    const protocol = new TextDecoder('utf-8', { fatal: true }).decode(data.subarray(at + 1, at + 1 + len))
    return { peer: host.slice(0, -PEER_SUFFIX.length), protocol }
  }
  if (port < 1 || port > 0xffff || host.length === 0 || /[\0\s]/.test(host)) throw new InvalidBeginError(`ADDRPORT ${JSON.stringify(addrport)}`)
  return { host, port }
}

/** Encodes CONNECTED's data for the address the exit connected to (empty for none). */
export function encodeConnected (address?: string, ttl = 300): Uint8Array {
  const family = address == null ? 0 : isIP(address)
  const ttlBytes = [ttl >>> 24, (ttl >>> 16) & 0xff, (ttl >>> 8) & 0xff, ttl & 0xff]
  if (family === 4) return Uint8Array.from([...(address as string).split('.').map(Number), ...ttlBytes])
  if (family === 6) {
    const groups = expandV6(address as string)
    return Uint8Array.from([0, 0, 0, 0, 6, ...groups.flatMap(g => [g >> 8, g & 0xff]), ...ttlBytes])
  }
  return new Uint8Array(0)
}

function expandV6 (address: string): number[] {
  const [head = '', tail] = address.split('::')
  const parse = (s: string): number[] => s === '' ? [] : s.split(':').map(g => parseInt(g, 16))
  const a = parse(head)
  const b = tail == null ? [] : parse(tail)
  return [...a, ...new Array<number>(8 - a.length - b.length).fill(0), ...b]
}

interface Outgoing {
  chunk: Uint8Array
  at: number
  done: () => void
}

/** The stream end of one circuit; see the module header. */
export class StreamEdge implements StreamSink {
  readonly cc: VegasController
  /** DATA bytes and cells sent and received on this circuit. */
  bytesSent = 0
  bytesReceived = 0
  cellsSent = 0
  cellsReceived = 0
  /** Streams opened over the circuit's life. */
  streamsOpened = 0
  private readonly init: StreamEdgeInit
  private readonly maxStreams: number
  private readonly now: () => number
  private readonly streams = new Map<number, OnionStream>()
  private readonly opening = new Map<number, { resolve: () => void, reject: (err: Error) => void }>()
  private readonly outgoing = new Map<OnionStream, Outgoing>()
  private ready: OnionStream[] = []
  private readonly blocked = new Set<OnionStream>()
  private readonly tags = new CircuitSendmeTags()
  private readonly deliverCounter = new CircuitDeliverCounter()
  private nextId = 1
  private pumping = false
  private closedWith?: Error

  constructor (init: StreamEdgeInit) {
    this.init = init
    this.maxStreams = init.maxStreams ?? MAX_STREAMS_PER_CIRCUIT
    this.now = init.now ?? (() => performance.now())
    this.cc = new VegasController(init.vegas)
  }

  /** Open streams. */
  get size (): number {
    return this.streams.size
  }

  /** DATA cells received and not yet read, over all streams (each stream holds at most its window, 500). */
  get bufferedCells (): number {
    let n = 0
    for (const s of this.streams.values()) n += s.queuedCells
    return n
  }

  /** Opens a stream to `target`: BEGIN, then resolves on CONNECTED ({@link StreamRefusedError} on END). */
  async open (target: StreamTarget, options: { signal?: AbortSignal } = {}): Promise<OnionStream> {
    if (this.closedWith != null) throw this.closedWith
    if (this.streams.size >= this.maxStreams) throw new StreamRefusedError(EndReason.RESOURCELIMIT, `${this.streams.size} streams open on this circuit, the most allowed`)
    const begin = encodeBegin(target)
    const id = this.allocateId()
    const stream = new OnionStream(this, id, target)
    this.add(stream)
    const signal = AbortSignal.any([options.signal ?? new AbortController().signal, AbortSignal.timeout(BEGIN_TIMEOUT_MS)])
    const connected = new Promise<void>((resolve, reject) => { this.opening.set(id, { resolve, reject }) })
    const onAbort = (): void => {
      this.opening.get(id)?.reject(signal.reason as Error)
      this.opening.delete(id)
      stream.destroy()
    }
    signal.addEventListener('abort', onAbort, { once: true })
    try {
      this.init.transport.send(RelayCommand.BEGIN, id, begin)
      await connected
      return stream
    } finally {
      signal.removeEventListener('abort', onAbort)
    }
  }

  private allocateId (): number {
    for (;;) {
      const id = this.nextId
      this.nextId = this.nextId >= 0xffff ? 1 : this.nextId + 1
      if (!this.streams.has(id)) return id
    }
  }

  private add (stream: OnionStream): void {
    this.streams.set(stream.id, stream)
    this.streamsOpened++
    this.init.onStreamCount?.(this.streams.size)
  }

  /** At the exit: the stream's target is connected; CONNECTED goes to the client. */
  connected (stream: OnionStream, address?: string): void {
    if (this.closedWith != null || stream.endDone) return
    this.init.transport.send(RelayCommand.CONNECTED, stream.id, encodeConnected(address))
  }

  /** At the exit: END with `reason` and drop the stream. */
  refuse (stream: OnionStream, reason: number): void {
    this.abort(stream, reason)
    stream.destroy()
  }

  /**
   * Handles one relay message from the other end ({@link STREAM_COMMANDS}); throws
   * {@link FlowControlError} or {@link InvalidBeginError} on a violation that must tear the
   * circuit down.
   */
  receive (msg: RelayMessage): void {
    if (this.closedWith != null) return
    switch (msg.command) {
      case RelayCommand.DATA: this.data(msg); break
      case RelayCommand.SENDME: this.sendme(msg); break
      case RelayCommand.END: this.end(msg); break
      case RelayCommand.CONNECTED: {
        const open = this.opening.get(msg.streamId)
        this.opening.delete(msg.streamId)
        open?.resolve()
        break
      }
      case RelayCommand.BEGIN: this.begin(msg); break
      default: throw new InvalidBeginError(`relay command ${msg.command} is not a stream command`)
    }
  }

  private data (msg: RelayMessage): void {
    if (msg.streamId === 0) throw new FlowControlError('DATA on stream 0')
    this.cellsReceived++
    this.bytesReceived += msg.data.length
    // the circuit SENDME must carry the digest of this very cell: send it before anything else arrives
    if (this.deliverCounter.received()) this.init.transport.send(RelayCommand.SENDME, 0, encodeSendme(this.init.transport.lastReceivedDigest()))
    const stream = this.streams.get(msg.streamId)
    if (stream == null) return // a stream closed here while its data was on the way, as tor drops it
    stream.windows.received()
    stream.deliver(msg.data)
  }

  private sendme (msg: RelayMessage): void {
    if (msg.streamId === 0) {
      this.tags.acknowledge(decodeSendme(msg.data))
      this.cc.acknowledged(this.now(), this.linkBlocked())
    } else {
      const stream = this.streams.get(msg.streamId)
      if (stream == null) return
      stream.windows.sendme()
      if (this.blocked.delete(stream)) this.ready.push(stream)
    }
    this.pump()
  }

  private end (msg: RelayMessage): void {
    const stream = this.streams.get(msg.streamId)
    if (stream == null) return
    const reason = msg.data[0] ?? EndReason.MISC
    stream.endDone = true
    this.forget(stream)
    const open = this.opening.get(msg.streamId)
    if (open != null) {
      this.opening.delete(msg.streamId)
      open.reject(new StreamRefusedError(reason))
      stream.destroy()
      return
    }
    stream.remoteEnd(reason)
  }

  private begin (msg: RelayMessage): void {
    if (this.init.onBegin == null) throw new InvalidBeginError('BEGIN sent to a client')
    if (msg.streamId === 0 || this.streams.has(msg.streamId)) throw new InvalidBeginError(`BEGIN on stream id ${msg.streamId}, which is in use`)
    let target: StreamTarget
    try {
      target = decodeBegin(msg.data)
    } catch {
      this.init.transport.send(RelayCommand.END, msg.streamId, Uint8Array.of(EndReason.TORPROTOCOL))
      return
    }
    if (this.streams.size >= this.maxStreams) {
      this.init.transport.send(RelayCommand.END, msg.streamId, Uint8Array.of(EndReason.RESOURCELIMIT))
      return
    }
    const stream = new OnionStream(this, msg.streamId, target)
    // the client may END it at any time, even while the exit still resolves: never an unhandled 'error' here
    stream.on('error', () => {})
    this.add(stream)
    this.init.onBegin(stream)
  }

  /** @internal {@link StreamSink}: queue `chunk` as DATA cells. */
  write (stream: OnionStream, chunk: Uint8Array, done: () => void): void {
    if (this.closedWith != null || stream.endDone || chunk.length === 0) {
      done()
      return
    }
    this.outgoing.set(stream, { chunk, at: 0, done })
    this.ready.push(stream)
    this.pump()
  }

  /** @internal {@link StreamSink}: END (DONE) once the writes are out; this end reads no more either. */
  finish (stream: OnionStream): void {
    this.abort(stream, EndReason.DONE)
    stream.remoteEnd(EndReason.DONE)
  }

  /** @internal {@link StreamSink}: the reader took a cell; a stream SENDME every 50. */
  consumed (stream: OnionStream): void {
    if (stream.windows.consume() && !stream.endDone && this.closedWith == null) this.init.transport.send(RelayCommand.SENDME, stream.id, new Uint8Array(0))
  }

  /** @internal {@link StreamSink}: END unless one was sent or received, and forget the stream. */
  abort (stream: OnionStream, reason: number): void {
    if (!stream.endDone && this.closedWith == null) this.init.transport.send(RelayCommand.END, stream.id, Uint8Array.of(reason))
    stream.endDone = true
    this.forget(stream)
  }

  private forget (stream: OnionStream): void {
    const out = this.outgoing.get(stream)
    this.outgoing.delete(stream)
    this.blocked.delete(stream)
    this.ready = this.ready.filter(s => s !== stream)
    if (this.streams.get(stream.id) === stream) {
      this.streams.delete(stream.id)
      this.init.onStreamCount?.(this.streams.size)
    }
    out?.done()
  }

  /** Sends queued data, one cell per ready stream in turn, while the congestion window is open. */
  private pump (): void {
    if (this.pumping) return
    this.pumping = true
    try {
      while (this.closedWith == null && this.ready.length > 0 && this.cc.canSend() && !this.linkBlocked()) {
        const stream = this.ready.shift() as OnionStream
        const out = this.outgoing.get(stream)
        if (out == null) continue
        if (!stream.windows.takePackage()) {
          this.blocked.add(stream)
          continue
        }
        const data = out.chunk.subarray(out.at, out.at + RELAY_DATA_MAX)
        out.at += data.length
        this.sendData(stream, data)
        if (out.at < out.chunk.length) {
          this.ready.push(stream)
        } else {
          this.outgoing.delete(stream)
          out.done()
        }
      }
    } finally {
      this.pumping = false
    }
  }

  private linkBlocked (): boolean {
    return (this.init.transport.queued?.() ?? 0) >= LOCAL_QUEUE_MAX
  }

  private sendData (stream: OnionStream, data: Uint8Array): void {
    const t = this.init.transport
    t.send(RelayCommand.DATA, stream.id, data)
    if (this.tags.sent()) this.tags.remember(t.lastSentDigest())
    this.cc.sent(this.now())
    this.cellsSent++
    this.bytesSent += data.length
    stream.bytesSent += data.length
  }

  /** The circuit closed: every stream is destroyed with {@link StreamClosedError}, every open rejected. */
  close (cause?: Error): void {
    if (this.closedWith != null) return
    const err = new StreamClosedError(EndReason.DESTROY, 'the circuit closed', { cause })
    this.closedWith = err
    for (const open of this.opening.values()) open.reject(err)
    for (const stream of [...this.streams.values()]) {
      stream.endDone = true
      this.forget(stream)
      // a stream still opening has no owner to hear its 'error' yet
      stream.destroy(this.opening.has(stream.id) ? undefined : err)
    }
    this.opening.clear()
  }
}
