/**
 * The onion bench's measurements, the same for Tor and peerd: OnionPerf's model (a) circuit
 * build time, (b) time to first byte of a 50 KiB GET, (c) 5 MiB download time, (d) 50 KiB
 * download time, over N runs with a fresh circuit each; and (e) the CPU-seconds one relay spends
 * per relayed GiB as the middle hop of a circuit. A system is driven through {@link OnionSystem};
 * every fetch goes through {@link PerfClient} (onionperf.ts in the client's namespace).
 */
import { fileURLToPath } from 'node:url'
import type { NetHost, NsProcess } from '../net/harness/index.ts'
import { cpuMeter } from './cpu.ts'
import type { FetchTiming } from './onionperf.ts'

const ONIONPERF = fileURLToPath(new URL('./onionperf.ts', import.meta.url))

/** The two bodies OnionPerf's model fetches. */
export const SMALL = 50 * 1024
export const LARGE = 5 * 2 ** 20

/** A circuit as a system reports it. */
export interface CircuitReport {
  /** Milliseconds the circuit took to build (how each system gets it: see its adapter). */
  buildMs: number
  /** Its hops, first first (fingerprints or peer ids). */
  hops: string[]
  /** The system's id of the circuit. */
  id: string
}

/** What the measurements need of Tor or peerd. */
export interface OnionSystem {
  name: 'tor' | 'peerd'
  /** Makes the next SOCKS streams use a new circuit (Tor: builds the pinned path; peerd: new-circuits). */
  freshCircuit: () => Promise<void>
  /** The circuit the last SOCKS stream used; called after the warm-up stream of a run. */
  lastCircuit: () => Promise<CircuitReport>
  /** The pid of the relay process at a hop of the last circuit (0: the guard, 1: the middle, 2: the exit). */
  relayPid: (hop: number) => Promise<number>
  /** The pid of the client's process (tor client or peerd daemon). */
  clientPid: () => number
  /** What the system can tell about a failed run (recent events, log tails). */
  diagnostics?: () => Promise<string>
}

/** The measuring client, running in the client's namespace. */
export class PerfClient {
  private readonly proc: NsProcess
  private next = 1
  readonly socksPort: number
  readonly server: { ip: string, port: number }

  constructor (host: NetHost, socksPort: number, server: { ip: string, port: number }) {
    this.proc = host.spawn(process.execPath, [ONIONPERF], { stdin: true })
    this.socksPort = socksPort
    this.server = server
  }

  /** GETs `/bytes/SIZE` from the server through the SOCKS port. */
  async get (size: number, timeoutMs = 120_000): Promise<FetchTiming> {
    return await this.getFrom({ host: this.server.ip, port: this.server.port }, size, { timeoutMs })
  }

  /**
   * GETs `/bytes/SIZE` from `target` (an address the exit reaches, or an onion service's name)
   * through the SOCKS port, with `auth` as SOCKS credentials when given (a stream-isolation key).
   */
  async getFrom (target: { host: string, port: number }, size: number, options: { auth?: { username: string, password: string }, timeoutMs?: number } = {}): Promise<FetchTiming> {
    const id = this.next++
    const timeoutMs = options.timeoutMs ?? 120_000
    this.proc.send(JSON.stringify({ id, socksPort: this.socksPort, host: target.host, port: target.port, path: `/bytes/${size}`, timeoutMs, auth: options.auth }))
    const r = await this.proc.waitForJson(v => v.id === id, timeoutMs + 10_000)
    if (r.ok !== true) throw new Error(String(r.error))
    if (r.bytes !== size) throw new Error(`got ${String(r.bytes)} of ${size} bytes`)
    return r as unknown as FetchTiming
  }

  /** Ends the client process. */
  async stop (): Promise<void> {
    await this.proc.stop(2_000)
  }
}

/** One run of OnionPerf's model. */
export interface RunSample {
  buildMs: number
  hops: string[]
  /** (b) ms to the first response byte of the 50 KiB GET. */
  ttfbMs: number
  /** (d) ms to the last byte of the 50 KiB GET. */
  smallMs: number
  /** (c) ms to the last byte of the 5 MiB GET. */
  largeMs: number
}

/** Median and 90th percentile (nearest rank). */
export interface Stat { median: number, p90: number }

/** The figures of N runs. */
export interface PerfResult {
  system: 'tor' | 'peerd'
  samples: RunSample[]
  /** Runs that failed (and were replaced), with why. */
  failures: string[]
  build: Stat
  ttfb: Stat
  large: Stat
  small: Stat
}

/** Median and nearest-rank 90th percentile of a non-empty list. */
export function stat (values: number[]): Stat {
  const s = [...values].sort((x, y) => x - y)
  const m = Math.floor(s.length / 2)
  const median = s.length % 2 === 1 ? s[m] as number : ((s[m - 1] as number) + (s[m] as number)) / 2
  return { median: round(median), p90: round(s[Math.max(0, Math.ceil(0.9 * s.length) - 1)] as number) }
}

function round (v: number): number {
  return Math.round(v * 10) / 10
}

/** The system's diagnostics as a suffix of an error message. */
async function diagnose (system: OnionSystem): Promise<string> {
  try {
    const d = await system.diagnostics?.()
    return d == null || d === '' ? '' : ` (${d})`
  } catch {
    return ''
  }
}

/** A new circuit, one untimed stream through it (which is what makes peerd build it), and its report. */
async function prepareCircuit (system: OnionSystem, client: PerfClient): Promise<CircuitReport> {
  await system.freshCircuit()
  await client.get(0)
  return await system.lastCircuit()
}

/**
 * Runs OnionPerf's model `runs` times: each run on a new circuit (timed: (a)), after one untimed
 * stream through it, then a 50 KiB GET ((b), (d)) and a 5 MiB GET ((c)). One untimed run goes
 * first (links and first connections). A failed run is recorded and replaced, up to `runs` times.
 */
export async function onionPerf (system: OnionSystem, client: PerfClient, runs: number, progress: (line: string) => void): Promise<PerfResult> {
  const samples: RunSample[] = []
  const failures: string[] = []
  let warm = false
  while (samples.length < runs) {
    try {
      const circuit = await prepareCircuit(system, client)
      const small = await client.get(SMALL)
      const large = await client.get(LARGE)
      if (!warm) { warm = true; continue }
      samples.push({ buildMs: round(circuit.buildMs), hops: circuit.hops, ttfbMs: round(small.ttfbMs), smallMs: round(small.totalMs), largeMs: round(large.totalMs) })
      progress(`${system.name} run ${samples.length}/${runs}: build ${round(circuit.buildMs)} ms, ttfb ${round(small.ttfbMs)} ms, 50 KiB ${round(small.totalMs)} ms, 5 MiB ${round(large.totalMs)} ms (${circuit.hops.length} hops)`)
    } catch (err) {
      const why = `${(err as Error).message.split('\n')[0] ?? 'failed'}${await diagnose(system)}`
      failures.push(why)
      progress(`${system.name}: a run failed: ${why}`)
      if (failures.length > runs) throw new Error(`${system.name}: ${failures.length} runs failed, the last: ${why}`, { cause: err })
    }
  }
  return {
    system: system.name,
    samples,
    failures,
    build: stat(samples.map(s => s.buildMs)),
    ttfb: stat(samples.map(s => s.ttfbMs)),
    large: stat(samples.map(s => s.largeMs)),
    small: stat(samples.map(s => s.smallMs))
  }
}

/** (e): one relay's CPU per relayed GiB. */
export interface CpuResult {
  system: 'tor' | 'peerd'
  /** Body bytes pulled through the circuit. */
  bytes: number
  seconds: number
  /** The middle relay's CPU-seconds during the transfer, before subtracting idle. */
  cpuSeconds: number
  /** Its CPU-seconds per second while idle, measured just before. */
  idlePerSecond: number
  /** (cpuSeconds − idlePerSecond × seconds) / GiB. */
  cpuPerGiB: number
  /** Bytes per second through the circuit (MB/s). */
  mbPerSecond: number
  hops: string[]
  /** CPU-seconds each process of the circuit used during the transfer (client, hops), for where the time went. */
  perProcess: Record<string, number>
}

/**
 * (e) pulls its bytes in GETs of this size, one after another on the same circuit, so that a
 * limit on one stream's lifetime in either system cannot end the measurement; the few cells
 * that open and close each stream weigh nothing next to a GiB.
 */
export const CPU_CHUNK = 16 * 2 ** 20

/** Seconds of idle CPU measured before the transfer. */
export const IDLE_SECONDS = 10

/**
 * Pulls `bytes` through a new circuit (in GETs of {@link CPU_CHUNK}, checked to stay on that
 * circuit) and reads the middle relay's utime + stime before and after; subtracts what it uses
 * idle (measured over {@link IDLE_SECONDS} just before, scaled to the transfer's time).
 */
export async function relayCpu (system: OnionSystem, client: PerfClient, bytes: number, progress: (line: string) => void): Promise<CpuResult> {
  let circuit: CircuitReport | undefined
  for (let attempt = 1; circuit == null; attempt++) {
    try {
      circuit = await prepareCircuit(system, client)
      await client.get(LARGE)
    } catch (err) {
      circuit = undefined
      const why = `${(err as Error).message.split('\n')[0] ?? 'failed'}${await diagnose(system)}`
      if (attempt >= 3) throw new Error(`${system.name}: no circuit carried the warm-up in 3 attempts: ${why}`, { cause: err })
      progress(`${system.name}: a circuit failed before the CPU measurement, building another: ${why}`)
    }
  }
  const pid = await system.relayPid(1)
  progress(`${system.name}: middle relay pid ${pid}, measuring its idle CPU for ${IDLE_SECONDS} s…`)
  const idle = cpuMeter(pid)
  await new Promise(resolve => setTimeout(resolve, IDLE_SECONDS * 1000))
  const idleUse = idle.stop()
  const idlePerSecond = idleUse.cpuSeconds / idleUse.seconds
  progress(`${system.name}: pulling ${Math.round(bytes / 2 ** 20)} MiB through the circuit…`)
  const pids: Record<string, number> = { client: system.clientPid() }
  for (const [i, hop] of circuit.hops.entries()) pids[`${i + 1}:${hop}`] = await system.relayPid(i)
  const meters = Object.entries(pids).map(([name, p]) => [name, cpuMeter(p)] as const)
  const meter = cpuMeter(pid)
  let transferMs = 0
  for (let left = bytes; left > 0; left -= CPU_CHUNK) {
    const t = await client.get(Math.min(left, CPU_CHUNK), 600_000)
    transferMs += t.totalMs
  }
  const use = meter.stop()
  const after = await system.lastCircuit()
  if (after.id !== circuit.id) throw new Error(`the streams left circuit ${circuit.id} for ${after.id} during the measurement`)
  const perProcess = Object.fromEntries(meters.map(([name, m]) => [name, Math.round(m.stop().cpuSeconds * 100) / 100]))
  const net = Math.max(0, use.cpuSeconds - idlePerSecond * use.seconds)
  const result: CpuResult = {
    system: system.name,
    bytes,
    seconds: Math.round(use.seconds * 100) / 100,
    cpuSeconds: Math.round(use.cpuSeconds * 100) / 100,
    idlePerSecond: Math.round(idlePerSecond * 1000) / 1000,
    cpuPerGiB: Math.round(net / (bytes / 2 ** 30) * 100) / 100,
    mbPerSecond: Math.round(bytes / (transferMs / 1000) / 1e6 * 10) / 10,
    hops: circuit.hops,
    perProcess
  }
  progress(`${system.name}: ${result.cpuPerGiB} CPU-s per GiB at the middle relay (${result.mbPerSecond} MB/s)`)
  return result
}
