/**
 * Bandwidth accounting: bytes in and out over every transport connection of the libp2p host.
 *
 * js-libp2p 3 has no byte counters of its own; it offers a `metrics` hook instead, which the
 * upgrader calls with every raw transport connection (`trackMultiaddrConnection`) before
 * encryption and multiplexing. {@link BandwidthMeter} is a minimal implementation of that hook:
 * it counts the bytes each TCP or WebSocket connection reads (`onData`) and writes
 * (`sendData`), so the totals are wire bytes (Noise and Yamux overhead included). Every other
 * metric libp2p registers is accepted and dropped. Relayed connections (`/p2p-circuit`) are not
 * counted again: their bytes already cross the connection to the relay. Given a
 * {@link BandwidthLimiter}, it charges every byte to the cap of its direction
 * (net/bandwidth-limit.ts), whatever protocol it carries, with an estimate of the TCP/IP and
 * Ethernet headers the kernel adds ({@link linkBytes}), so a cap is what the link carries.
 *
 * @example
 * ```ts
 * const meter = new BandwidthMeter()
 * const host = await createLibp2p({ ..., metrics: () => meter })
 * meter.totals() // { bytesIn, bytesOut }
 * ```
 * @module
 */
import type {
  Counter, CounterGroup, Histogram, HistogramGroup, Metric, MetricGroup, Metrics, MultiaddrConnection,
  Summary, SummaryGroup
} from '@libp2p/interface'
import type { BandwidthLimiter } from './bandwidth-limit.ts'

/** Byte totals since the meter was made. */
export interface BandwidthTotals {
  bytesIn: number
  bytesOut: number
}

/** What the transports' connection classes (AbstractMultiaddrConnection) expose to subclasses. */
interface CountableConnection {
  onData?: (data: { byteLength: number }) => void
  sendData?: (data: unknown) => { sentBytes: number }
}

/** Payload bytes of a full TCP segment on a 1500-byte MTU (IPv4, TCP timestamps on). */
const SEGMENT_PAYLOAD = 1448
/** Bytes the kernel adds to each segment: Ethernet 14, IPv4 20, TCP with timestamps 32. */
const SEGMENT_HEADERS = 66

/** Bytes on the link for `bytes` of transport data: a segment's headers per 1448 bytes or part of them. */
export function linkBytes (bytes: number): number {
  return bytes + Math.ceil(bytes / SEGMENT_PAYLOAD) * SEGMENT_HEADERS
}

const noop = (): void => {}
const stopTimer = (): (() => void) => noop
const metric: Metric & MetricGroup & Counter & CounterGroup & Histogram & HistogramGroup & Summary & SummaryGroup = {
  update: noop, increment: noop, decrement: noop, reset: noop, observe: noop, timer: stopTimer
}

/** A libp2p `Metrics` implementation that only counts transport bytes. */
export class BandwidthMeter implements Metrics {
  private bytesIn = 0
  private bytesOut = 0
  /** The caps every byte counted is charged to, if any. */
  readonly limiter: BandwidthLimiter | undefined

  /** `limiter`: the caps every byte counted is charged to. */
  constructor (limiter?: BandwidthLimiter) {
    this.limiter = limiter
  }

  /** Bytes read and written so far. */
  totals (): BandwidthTotals {
    return { bytesIn: this.bytesIn, bytesOut: this.bytesOut }
  }

  trackMultiaddrConnection (maConn: MultiaddrConnection): void {
    if (maConn.remoteAddr.toString().includes('/p2p-circuit')) return
    const conn = maConn as unknown as CountableConnection
    const onData = conn.onData
    const sendData = conn.sendData
    if (typeof onData !== 'function' || typeof sendData !== 'function') return
    conn.onData = (data) => {
      this.bytesIn += data.byteLength
      this.limiter?.download.charge(linkBytes(data.byteLength))
      onData.call(conn, data)
    }
    conn.sendData = (data) => {
      const result = sendData.call(conn, data)
      this.bytesOut += result.sentBytes
      this.limiter?.upload.charge(linkBytes(result.sentBytes))
      return result
    }
  }

  trackProtocolStream (): void {}

  // every registration is accepted; a calculated metric (options.calculate) is never called
  registerMetric = ((): Metric => metric) as Metrics['registerMetric']
  registerMetricGroup = ((): MetricGroup => metric) as Metrics['registerMetricGroup']
  registerCounter = ((): Counter => metric) as Metrics['registerCounter']
  registerCounterGroup = ((): CounterGroup => metric) as Metrics['registerCounterGroup']
  registerHistogram = ((): Histogram => metric) as Metrics['registerHistogram']
  registerHistogramGroup = ((): HistogramGroup => metric) as Metrics['registerHistogramGroup']
  registerSummary = ((): Summary => metric) as Metrics['registerSummary']
  registerSummaryGroup = ((): SummaryGroup => metric) as Metrics['registerSummaryGroup']

  traceFunction<F> (_name: string, fn: F): F {
    return fn
  }

  createTrace (): undefined {
    return undefined
  }
}
