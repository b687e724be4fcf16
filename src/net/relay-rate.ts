/**
 * A rate cap on what this node relays for others through circuit relay v2. peerd's relays set no
 * per-connection data or time limit (libp2p's 128 KiB / 2 minutes would cut every transfer
 * between nodes behind NATs), so the relay is bounded by rate instead: every relayed byte, both
 * ways, is charged to one token bucket. A message the bucket cannot pay for is held back from
 * the relay's pipe and its stream paused (it stops reading, so yamux stops granting its sender
 * window) until tokens come; held messages are then delivered in order. A message is charged
 * whole, so the bucket can run up to one message (a 1 MiB block at most) into debt. Relayed
 * bytes are bulk traffic for the node's upload cap (`--max-upload`) too: they also wait while
 * that bucket is in debt.
 *
 * libp2p's relay server pipes each circuit between the inbound HOP stream from the client and an
 * outbound STOP stream to the destination, and offers no hook on them. This service (started
 * after the relay server) puts its own HOP handler in front of the server's, and wraps
 * `newStream` on each connection so the STOP streams the server opens are metered from their
 * first byte.
 * @module
 */
import type { Connection, Startable, Stream, StreamHandler, StreamHandlerOptions } from '@libp2p/interface'
import type { Uint8ArrayList } from 'uint8arraylist'
import { RateBucket } from './bandwidth-limit.ts'

/** The relay's protocol ids (circuit relay v2). */
export const RELAY_HOP = '/libp2p/circuit/relay/0.2.0/hop'
export const RELAY_STOP = '/libp2p/circuit/relay/0.2.0/stop'

interface Components {
  registrar: {
    getHandler: (protocol: string) => { handler: StreamHandler, options: StreamHandlerOptions }
    handle: (protocol: string, handler: StreamHandler, options?: StreamHandlerOptions) => Promise<void>
  }
  connectionManager: { getConnections: () => Connection[] }
  events: EventTarget
}

/** Counts for status displays. */
export interface RelayRateStats {
  /** Bytes relayed for others since start (both ways). */
  bytes: number
  /** Circuits seen (one HOP and one STOP stream each). */
  streams: number
  /** Times a stream was paused for the cap. */
  pauses: number
}

/** Caps the bytes this node relays a second; see the module comment. */
export class RelayRateLimiter implements Startable {
  private readonly c: Components
  private readonly bucket: RateBucket
  private readonly held = new Set<Held>()
  private wake: ReturnType<typeof setTimeout> | undefined
  private readonly counts: RelayRateStats = { bytes: 0, streams: 0, pauses: 0 }
  private readonly patched = new WeakSet<Connection>()
  private readonly onOpen = (evt: Event): void => { this.patch((evt as CustomEvent<Connection>).detail) }

  private readonly upload: { waitMs: () => number } | undefined

  constructor (components: Components, bytesPerSecond: number, upload?: { waitMs: () => number }) {
    this.c = components
    this.upload = upload
    this.bucket = new RateBucket(bytesPerSecond)
  }

  readonly [Symbol.toStringTag] = 'peerd/relay-rate'

  start (): void {}

  /** After every service started: the relay server's HOP handler exists to be wrapped. */
  async afterStart (): Promise<void> {
    let server: { handler: StreamHandler, options: StreamHandlerOptions }
    try { server = this.c.registrar.getHandler(RELAY_HOP) } catch { return } // not a relay
    await this.c.registrar.handle(RELAY_HOP, (stream, connection) => {
      this.meter(stream)
      return server.handler(stream, connection)
    }, { ...server.options, force: true })
    this.c.events.addEventListener('connection:open', this.onOpen)
    for (const conn of this.c.connectionManager.getConnections()) this.patch(conn)
  }

  stop (): void {
    clearTimeout(this.wake)
    this.c.events.removeEventListener('connection:open', this.onOpen)
    for (const held of this.held) { try { held.stream.resume() } catch { /* closed */ } }
    this.held.clear()
  }

  stats (): RelayRateStats {
    return { ...this.counts }
  }

  /** Meters the STOP streams the relay server opens on `conn`. */
  private patch (conn: Connection): void {
    if (this.patched.has(conn)) return
    this.patched.add(conn)
    const newStream = conn.newStream.bind(conn)
    conn.newStream = async (protocols, options) => {
      const stream = await newStream(protocols, options)
      if (stream.protocol === RELAY_STOP) this.meter(stream)
      return stream
    }
  }

  /**
   * Listens first (before the relay server's pipe): a message the bucket cannot pay for now is
   * held back (its event stopped) and the stream paused, then delivered in order as tokens come.
   * The end of the remote's writing is held back behind held messages too.
   */
  private meter (s: Stream): void {
    this.counts.streams++
    const held: Held = { stream: s, queue: [], ended: false }
    s.addEventListener('message', (evt) => {
      if ((evt as unknown as Record<symbol, boolean>)[REDISPATCHED] === true) return
      const bytes = evt.data.byteLength
      this.counts.bytes += bytes
      if (held.queue.length === 0 && this.canPay()) { this.bucket.spend(bytes); return }
      evt.stopImmediatePropagation()
      held.queue.push(evt.data)
      this.hold(held)
    })
    s.addEventListener('remoteCloseWrite', (evt) => {
      if ((evt as unknown as Record<symbol, boolean>)[REDISPATCHED] === true || held.queue.length === 0) return
      evt.stopImmediatePropagation()
      held.ended = true
    })
    s.addEventListener('close', () => { this.held.delete(held) }, { once: true })
  }

  /** Milliseconds until the node's upload cap lets bulk traffic go (relayed bytes are bulk: they wait too). */
  private uploadWait (): number {
    return this.upload?.waitMs() ?? 0
  }

  /** Whether a message may go now: the relay's bucket and the upload cap's are both out of debt. */
  private canPay (): boolean {
    return this.bucket.waitMs() === 0 && this.uploadWait() === 0
  }

  private hold (held: Held): void {
    if (!this.held.has(held)) {
      this.held.add(held)
      this.counts.pauses++
      try { held.stream.pause() } catch { /* closing: what is held is delivered anyway */ }
    }
    this.schedule()
  }

  /** Delivers held messages, oldest streams first, while the bucket has tokens; then resumes. */
  private schedule (): void {
    if (this.wake != null) return
    const ms = Math.max(5, this.bucket.waitMs(), this.uploadWait())
    this.wake = setTimeout(() => {
      this.wake = undefined
      for (const held of [...this.held]) {
        while (held.queue.length > 0 && this.canPay()) {
          const data = held.queue.shift() as Uint8Array | Uint8ArrayList
          this.bucket.spend(data.byteLength)
          redispatch(held.stream, 'message', { data })
        }
        if (held.queue.length > 0) break
        this.held.delete(held)
        if (held.ended) redispatch(held.stream, 'remoteCloseWrite', {})
        try { held.stream.resume() } catch { /* closed meanwhile */ }
      }
      if (this.held.size > 0) this.schedule()
    }, ms)
    this.wake.unref?.()
  }
}

const REDISPATCHED = Symbol('peerd.relay-rate.redispatched')

interface Held { stream: Stream, queue: Array<Uint8Array | Uint8ArrayList>, ended: boolean }

/** Dispatches a held event again, marked so the limiter lets it through. */
function redispatch (s: Stream, type: string, fields: Record<string, unknown>): void {
  const evt = new Event(type)
  Object.assign(evt, fields, { [REDISPATCHED]: true })
  s.dispatchEvent(evt)
}

/** A libp2p service factory for {@link RelayRateLimiter}; list it after the relay server. */
export function relayRateService (bytesPerSecond: number, upload?: { waitMs: () => number }): (components: Components) => RelayRateLimiter {
  return (components) => new RelayRateLimiter(components, bytesPerSecond, upload)
}
