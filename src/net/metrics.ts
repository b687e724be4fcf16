/**
 * js-libp2p's metrics in a prom-client {@link Registry} of the node's own, plus the byte
 * counters peerd needs (transport bytes for the dashboard's chart, payload bytes by protocol).
 *
 * libp2p takes one `metrics` implementation; {@link PeerdMetrics} is it. It does what
 * `@libp2p/prometheus-metrics` does (the same metric names: `libp2p_*`, the DHT's, and
 * `libp2p_data_transfer_bytes_total{protocol="<id> sent|received"}`), but keeps every metric in
 * the registry it is given: that package holds its metrics in a module-wide map and clears
 * prom-client's global registry whenever a node is made, or, told not to
 * (`preserveExistingMetrics`), hands a second node in the process the first node's metrics and
 * leaves its own registry without any (5.0.24; checked with two nodes). Transport bytes are
 * counted by the {@link BandwidthMeter} it forwards each connection to. A calculated metric
 * (`options.calculate`) is computed on scrape, never on a hot path.
 *
 * @example
 * ```ts
 * const metrics = new PeerdMetrics({ registry: new Registry(), bandwidth: new BandwidthMeter() })
 * const host = await createLibp2p({ ..., metrics: () => metrics })
 * await metrics.registry.metrics() // Prometheus text format
 * ```
 * @module
 */
import type {
  Counter, CounterGroup, Histogram, HistogramGroup, HistogramOptions, Metric, MetricGroup,
  MetricOptions, Metrics, MultiaddrConnection, Stream, StopTimer, Summary, SummaryGroup, SummaryOptions
} from '@libp2p/interface'
import { Counter as PromCounter, Gauge, Histogram as PromHistogram, Summary as PromSummary } from 'prom-client'
import type { Registry } from 'prom-client'
import { BandwidthMeter } from './bandwidth.ts'

/** Payload bytes of one protocol's streams (after the multiplexer, before framing of the protocol's own). */
export interface ProtocolBytes {
  sent: number
  received: number
}

/** Protocols counted apart; more (which only a peer that negotiates odd ids would cause) share {@link OTHER_PROTOCOLS}. */
export const MAX_TRACKED_PROTOCOLS = 256

/** The key that protocols past {@link MAX_TRACKED_PROTOCOLS} are counted under. */
export const OTHER_PROTOCOLS = 'other'

const DEFAULT_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

type Calculate<T> = () => T | Promise<T>
type Values = Partial<Record<string, number | true>>

/** A metric name as Prometheus allows it (what `@libp2p/prometheus-metrics` does too). */
export function metricName (s: string): string {
  return s.replace(/[^a-zA-Z0-9_]/g, '_').replace(/_+/g, '_')
}

/** Runs a calculation for a scrape; a failing one (a service stopping meanwhile) reports nothing rather than failing the scrape. */
async function calculated<T> (calculate: Calculate<T>): Promise<T | undefined> {
  try {
    return await calculate()
  } catch {
    return undefined
  }
}

function amount (v: number | true | undefined): number {
  return typeof v === 'number' ? v : 1
}

/** A libp2p `Metrics` implementation over a prom-client registry (module header). */
export class PeerdMetrics implements Metrics {
  /** Where every metric goes; `await registry.metrics()` is the Prometheus text. */
  readonly registry: Registry
  /** Transport bytes of every connection. */
  readonly bandwidth: BandwidthMeter
  private readonly registered = new Map<string, unknown>()
  private readonly protocols = new Map<string, ProtocolBytes>()

  constructor (init: { registry: Registry, bandwidth?: BandwidthMeter }) {
    this.registry = init.registry
    this.bandwidth = init.bandwidth ?? new BandwidthMeter()
    this.registerCounterGroup('libp2p_data_transfer_bytes_total', {
      label: 'protocol',
      help: 'Bytes sent and received: "global" on the wire (every transport connection), otherwise the payload of each protocol\'s streams',
      calculate: () => {
        const { bytesIn, bytesOut } = this.bandwidth.totals()
        const out: Record<string, number> = { 'global sent': bytesOut, 'global received': bytesIn }
        for (const [protocol, b] of this.protocols) {
          out[`${protocol} sent`] = b.sent
          out[`${protocol} received`] = b.received
        }
        return out
      }
    })
  }

  /** Payload bytes by protocol id since the node was made. */
  protocolBytes (): ReadonlyMap<string, Readonly<ProtocolBytes>> {
    return this.protocols
  }

  trackMultiaddrConnection (maConn: MultiaddrConnection): void {
    this.bandwidth.trackMultiaddrConnection(maConn)
  }

  trackProtocolStream (stream: Stream): void {
    const protocol = stream.protocol
    if (protocol == null || protocol === '') return
    let counts = this.protocols.get(protocol)
    if (counts == null) {
      const key = this.protocols.size < MAX_TRACKED_PROTOCOLS ? protocol : OTHER_PROTOCOLS
      counts = this.protocols.get(key) ?? { sent: 0, received: 0 }
      this.protocols.set(key, counts)
    }
    const c = counts
    // observes dispatched messages without adding a `message` listener: one would start the
    // stream's flow of data before the protocol handler reads it (what prometheus-metrics does too)
    const dispatchEvent = stream.dispatchEvent.bind(stream)
    stream.dispatchEvent = (evt: Event): boolean => {
      if (evt.type === 'message') c.received += (evt as Event & { data: { byteLength: number } }).data.byteLength
      return dispatchEvent(evt)
    }
    const send = stream.send.bind(stream)
    stream.send = (data) => {
      c.sent += data.byteLength
      return send(data)
    }
  }

  /** The metric registered under `name` already, or the one `make` makes (libp2p may register a name twice). */
  private once<T>(name: string, make: (name: string) => T): T {
    const key = metricName(name)
    const existing = this.registered.get(key)
    if (existing != null) return existing as T
    const made = make(key)
    this.registered.set(key, made)
    return made
  }

  registerMetric = ((name: string, opts: MetricOptions & { calculate?: Calculate<number> } = {}): Metric => this.once(name, key => {
    const calculate = opts.calculate
    const gauge = new Gauge({
      name: key,
      help: opts.help ?? key,
      labelNames: opts.label != null ? [metricName(opts.label)] : [],
      registers: [this.registry],
      ...(calculate != null ? { async collect () { const v = await calculated(calculate); if (v != null) this.set(v) } } : {})
    })
    return {
      update: (v: number) => { gauge.set(v) },
      increment: (v = 1) => { gauge.inc(v) },
      decrement: (v = 1) => { gauge.dec(v) },
      reset: () => { gauge.reset() },
      timer: (): StopTimer => gauge.startTimer()
    }
  })) as Metrics['registerMetric']

  registerMetricGroup = ((name: string, opts: MetricOptions & { calculate?: Calculate<Record<string, number>> } = {}): MetricGroup => this.once(name, key => {
    const label = metricName(opts.label ?? key)
    const calculate = opts.calculate
    const gauge = new Gauge({
      name: key,
      help: opts.help ?? key,
      labelNames: [label],
      registers: [this.registry],
      ...(calculate != null
        ? {
            async collect () {
              const values = await calculated(calculate)
              if (values == null) return
              this.reset() // a key the calculation no longer reports is gone, not stale
              for (const [k, v] of Object.entries(values)) this.set({ [label]: k }, v)
            }
          }
        : {})
    })
    return {
      update: (values: Partial<Record<string, number>>) => { for (const [k, v] of Object.entries(values)) if (v != null) gauge.set({ [label]: k }, v) },
      increment: (values: Values) => { for (const [k, v] of Object.entries(values)) gauge.inc({ [label]: k }, amount(v)) },
      decrement: (values: Values) => { for (const [k, v] of Object.entries(values)) gauge.dec({ [label]: k }, amount(v)) },
      reset: () => { gauge.reset() },
      timer: (k: string): StopTimer => gauge.startTimer({ [label]: k })
    }
  })) as Metrics['registerMetricGroup']

  // a calculated counter's calculation is its total (not an increment)
  registerCounter = ((name: string, opts: MetricOptions & { calculate?: Calculate<number> } = {}): Counter => this.once(name, key => {
    const calculate = opts.calculate
    const counter = new PromCounter({
      name: key,
      help: opts.help ?? key,
      labelNames: opts.label != null ? [metricName(opts.label)] : [],
      registers: [this.registry],
      ...(calculate != null ? { async collect () { const v = await calculated(calculate); if (v != null && v >= 0) { this.reset(); this.inc(v) } } } : {})
    })
    return {
      increment: (v = 1) => { counter.inc(v) },
      reset: () => { counter.reset() }
    }
  })) as Metrics['registerCounter']

  registerCounterGroup = ((name: string, opts: MetricOptions & { calculate?: Calculate<Record<string, number>> } = {}): CounterGroup => this.once(name, key => {
    const label = metricName(opts.label ?? key)
    const calculate = opts.calculate
    const counter = new PromCounter({
      name: key,
      help: opts.help ?? key,
      labelNames: [label],
      registers: [this.registry],
      ...(calculate != null
        ? {
            async collect () {
              const values = await calculated(calculate)
              if (values == null) return
              this.reset()
              for (const [k, v] of Object.entries(values)) if (v >= 0) this.inc({ [label]: k }, v)
            }
          }
        : {})
    })
    return {
      increment: (values: Values) => { for (const [k, v] of Object.entries(values)) counter.inc({ [label]: k }, amount(v)) },
      reset: () => { counter.reset() }
    }
  })) as Metrics['registerCounterGroup']

  registerHistogram = ((name: string, opts: HistogramOptions & { calculate?: Calculate<number> } = {}): Histogram => this.once(name, key => {
    const calculate = opts.calculate
    const histogram = new PromHistogram({
      name: key,
      help: opts.help ?? key,
      buckets: opts.buckets ?? DEFAULT_BUCKETS,
      labelNames: opts.label != null ? [metricName(opts.label)] : [],
      registers: [this.registry],
      ...(calculate != null ? { async collect () { const v = await calculated(calculate); if (v != null) this.observe(v) } } : {})
    })
    return {
      observe: (v: number) => { histogram.observe(v) },
      reset: () => { histogram.reset() },
      timer: (): StopTimer => histogram.startTimer()
    }
  })) as Metrics['registerHistogram']

  registerHistogramGroup = ((name: string, opts: HistogramOptions & { calculate?: Calculate<Record<string, number>> } = {}): HistogramGroup => this.once(name, key => {
    const label = metricName(opts.label ?? key)
    const calculate = opts.calculate
    const histogram = new PromHistogram({
      name: key,
      help: opts.help ?? key,
      buckets: opts.buckets ?? DEFAULT_BUCKETS,
      labelNames: [label],
      registers: [this.registry],
      ...(calculate != null
        ? {
            async collect () {
              for (const [k, v] of Object.entries(await calculated(calculate) ?? {})) this.observe({ [label]: k }, v)
            }
          }
        : {})
    })
    return {
      observe: (values: Partial<Record<string, number>>) => { for (const [k, v] of Object.entries(values)) if (v != null) histogram.observe({ [label]: k }, v) },
      reset: () => { histogram.reset() },
      timer: (k: string): StopTimer => histogram.startTimer({ [label]: k })
    }
  })) as Metrics['registerHistogramGroup']

  registerSummary = ((name: string, opts: SummaryOptions & { calculate?: Calculate<number> } = {}): Summary => this.once(name, key => {
    const calculate = opts.calculate
    const summary = new PromSummary({
      name: key,
      help: opts.help ?? key,
      labelNames: opts.label != null ? [metricName(opts.label)] : [],
      registers: [this.registry],
      ...summaryOptions(opts),
      ...(calculate != null ? { async collect () { const v = await calculated(calculate); if (v != null) this.observe(v) } } : {})
    })
    return {
      observe: (v: number) => { summary.observe(v) },
      reset: () => { summary.reset() },
      timer: (): StopTimer => summary.startTimer()
    }
  })) as Metrics['registerSummary']

  registerSummaryGroup = ((name: string, opts: SummaryOptions & { calculate?: Calculate<Record<string, number>> } = {}): SummaryGroup => this.once(name, key => {
    const label = metricName(opts.label ?? key)
    const calculate = opts.calculate
    const summary = new PromSummary({
      name: key,
      help: opts.help ?? key,
      labelNames: [label],
      registers: [this.registry],
      ...summaryOptions(opts),
      ...(calculate != null
        ? {
            async collect () {
              for (const [k, v] of Object.entries(await calculated(calculate) ?? {})) this.observe({ [label]: k }, v)
            }
          }
        : {})
    })
    return {
      observe: (values: Partial<Record<string, number>>) => { for (const [k, v] of Object.entries(values)) if (v != null) summary.observe({ [label]: k }, v) },
      reset: () => { summary.reset() },
      timer: (k: string): StopTimer => summary.startTimer({ [label]: k })
    }
  })) as Metrics['registerSummaryGroup']

  traceFunction<F> (_name: string, fn: F): F {
    return fn
  }

  createTrace (): undefined {
    return undefined
  }
}

/** The options of a summary libp2p may set. */
function summaryOptions (opts: SummaryOptions): { percentiles?: number[], maxAgeSeconds?: number, ageBuckets?: number, pruneAgedBuckets?: boolean, compressCount?: number } {
  const { percentiles, maxAgeSeconds, ageBuckets, pruneAgedBuckets, compressCount } = opts
  return {
    ...(percentiles != null ? { percentiles } : {}),
    ...(maxAgeSeconds != null ? { maxAgeSeconds } : {}),
    ...(ageBuckets != null ? { ageBuckets } : {}),
    ...(pruneAgedBuckets != null ? { pruneAgedBuckets } : {}),
    ...(compressCount != null ? { compressCount } : {})
  }
}
