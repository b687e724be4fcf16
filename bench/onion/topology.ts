/**
 * The onion bench's settings, each built for one system at a time and torn down after it (the
 * third, onion services (f, g), is `hs.ts`'s):
 *
 * - **Shaped LAN** (measurements a–d): hosts `client`, `guard`, `middle`, `exit`, `server` and,
 *   for Tor, `dirauth` (its three directory authorities) on a bench:net {@link Network}, every
 *   link shaped by tbf (default 20 Mbit/s up, 100 down). The web server runs on `server`.
 * - **Loopback** (measurement e): one namespace with no shaping, every process on its own
 *   127.0.0.x address (client .1, guard .2, middle .3, exit .4, web server .5, authorities .6),
 *   so only CPU limits the transfer.
 */
import { fileURLToPath } from 'node:url'
import { janitor, Network, tempDir } from '../net/harness/index.ts'
import type { NetHost, NsProcess } from '../net/harness/index.ts'
import { cpuMeter as machineMeter } from '../net/scenarios/common.ts'
import type { CpuUse } from '../net/scenarios/common.ts'
import { runHs } from './hs.ts'
import type { HsResult } from './hs.ts'
import { onionPerf, PerfClient, relayCpu } from './measure.ts'
import type { CpuResult, OnionSystem, PerfResult } from './measure.ts'
import { PeerdOnionNetwork, peerdSystem } from './peerd-network.ts'
import { SOCKS_PORT, TorNetwork, torSystem } from './tor-network.ts'
import type { TorPlace } from './tor-network.ts'

const HTTP_SERVER = fileURLToPath(new URL('./http-server.ts', import.meta.url))
/** The web server's port. */
export const HTTP_PORT = 8080

/** Hosts of one setting, by role, and where the web server listens. */
interface Setting {
  net: Network
  client: NetHost
  guard: NetHost
  middle: NetHost
  exit: NetHost
  /** Where Tor's authorities run. */
  authorities: TorPlace[]
  server: { ip: string, port: number }
  serverProc: NsProcess
}

/** What to build and measure. */
export interface PhaseOptions {
  upMbit: number
  downMbit: number
  runs: number
  /** Bytes for (e). */
  cpuBytes: number
  progress: (line: string) => void
}

async function startServer (host: NetHost, ip: string): Promise<NsProcess> {
  const proc = host.spawn(process.execPath, [HTTP_SERVER, ip, String(HTTP_PORT)])
  await proc.waitForJson(v => v.event === 'listening', 30_000)
  return proc
}

/** The shaped LAN of the module comment. */
async function shapedLan (o: PhaseOptions): Promise<Setting> {
  const link = { upMbit: o.upMbit, downMbit: o.downMbit }
  const net = await Network.create(['client', 'guard', 'middle', 'exit', 'server', 'dirauth'].map(name => ({ name, ...link })))
  const h = (name: string): NetHost => net.host(name)
  const server = h('server')
  const dirauth = h('dirauth')
  return {
    net,
    client: h('client'),
    guard: h('guard'),
    middle: h('middle'),
    exit: h('exit'),
    authorities: [1, 2, 3].map(() => ({ host: dirauth, ip: dirauth.ip })),
    server: { ip: server.ip, port: HTTP_PORT },
    serverProc: await startServer(server, server.ip)
  }
}

/** The loopback setting of the module comment. */
async function loopback (): Promise<Setting> {
  const net = await Network.create([{ name: 'loopback' }])
  const host = net.host('loopback')
  const at = (n: number, name: string): NetHost => ({ ...host, ip: `127.0.0.${n}`, name })
  return {
    net,
    client: at(1, 'client'),
    guard: at(2, 'guard'),
    middle: at(3, 'middle'),
    exit: at(4, 'exit'),
    authorities: [1, 2, 3].map(() => ({ host, ip: '127.0.0.6' })),
    server: { ip: '127.0.0.5', port: HTTP_PORT },
    serverProc: await startServer(host, '127.0.0.5')
  }
}

/** A running system in a setting: its {@link OnionSystem} and how to stop it. */
interface Started { system: OnionSystem, stop: () => Promise<void> }

async function startTor (s: Setting, o: PhaseOptions): Promise<Started> {
  const dir = await tempDir('onion-tor')
  const tor = await TorNetwork.start({
    dir: dir.path,
    authorities: s.authorities,
    relays: [
      { name: 'guard', place: { host: s.guard, ip: s.guard.ip } },
      { name: 'middle', place: { host: s.middle, ip: s.middle.ip } },
      { name: 'exit', place: { host: s.exit, ip: s.exit.ip }, exitPort: s.server.port }
    ],
    pin: ['guard', 'middle', 'exit'],
    client: s.client,
    progress: o.progress
  })
  return { system: torSystem(tor), stop: async () => { await tor.stop(); await dir.remove() } }
}

async function startPeerd (s: Setting, o: PhaseOptions): Promise<Started> {
  const dir = await tempDir('onion-peerd')
  const peerd = await PeerdOnionNetwork.start({ dir: dir.path, guard: s.guard, middle: s.middle, exit: s.exit, client: s.client, server: s.server, progress: o.progress })
  const status = await peerd.waitForRelays()
  o.progress(`peerd: the client knows ${status.relaysKnown} relays`)
  return { system: peerdSystem(peerd), stop: async () => { await peerd.stop(); await dir.remove() } }
}

/** What one system measured. */
export interface SystemResult {
  perf?: PerfResult
  cpu?: CpuResult
  /** (f) and (g): the onion service's reachability and a 5 MiB download from it. */
  hs?: HsResult
  /** Settings that failed, with why (the other settings still run). */
  errors: string[]
  /**
   * Mean busy cores during each setting's measurements: the whole machine's, and the part used
   * inside the setting's namespaces (the rest is other work, which skews the figures).
   */
  cores: { perf?: CpuUse, cpu?: CpuUse, hs?: CpuUse }
}

/**
 * Builds `system` on the shaped LAN and runs OnionPerf's model, then on loopback and measures
 * (e), then in the onion-service setting measures (f) and (g); everything of a setting is
 * removed before the next one starts.
 */
export async function runSystem (name: 'tor' | 'peerd', o: PhaseOptions, parts: { perf: boolean, cpu: boolean, hs?: boolean }): Promise<SystemResult> {
  const start = name === 'tor' ? startTor : startPeerd
  const result: SystemResult = { errors: [], cores: {} }
  const settings: Array<['perf' | 'cpu', () => Promise<Setting>]> = [['perf', async () => await shapedLan(o)], ['cpu', loopback]]
  for (const [part, make] of settings) {
    if (!parts[part]) continue
    o.progress(`${name}: ${part === 'perf' ? `shaped LAN (${o.upMbit} Mbit/s up, ${o.downMbit} down per host), ${o.runs} runs` : `loopback, one relay's CPU over ${Math.round(o.cpuBytes / 2 ** 20)} MiB`}`)
    const s = await make()
    let client: PerfClient | undefined
    let started: Started | undefined
    try {
      started = await start(s, o)
      client = new PerfClient(s.client, SOCKS_PORT, s.server)
      const busy = machineMeter(s.net.namespaces())
      if (part === 'perf') result.perf = await onionPerf(started.system, client, o.runs, o.progress)
      else result.cpu = await relayCpu(started.system, client, o.cpuBytes, o.progress)
      result.cores[part] = busy()
    } catch (err) {
      // a failed setting is reported; the other setting and the other system still run
      if (janitor.interrupted) throw err
      const why = `${name} ${part}: ${(err as Error).message}`
      result.errors.push(why)
      o.progress(`FAILED: ${why}`)
    } finally {
      o.progress(`${name}: stopping the ${part === 'perf' ? 'shaped LAN' : 'loopback'} setting…`)
      await client?.stop()
      await started?.stop()
      await s.serverProc.stop(2_000)
      await s.net.destroy()
    }
  }
  if (parts.hs === true) {
    const r = await runHs(name, o)
    if (r.hs != null) result.hs = r.hs
    if (r.cores != null) result.cores.hs = r.cores
    if (r.error != null) result.errors.push(r.error)
  }
  return result
}
