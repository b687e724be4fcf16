/**
 * The onion bench's onion-service measurements (issue 17), the same for Tor and peerd, on a
 * setting of their own: hosts `client`, `relay1`…`relay5`, `server` and (Tor) `dirauth`, every
 * link shaped as in a–d. The web server runs on `server`, and so does the onion service that
 * publishes it (a tor with `HiddenServiceDir`; a peerd daemon with `peerd onion serve`). The
 * client reaches it by its address through its own SOCKS port; the paths are each system's own
 * choice among the five relays (Tor's are kept off its authorities with `ExcludeNodes`). The last
 * relay is an exit (accepting the web server's port only) in both systems: a tor client does not
 * finish bootstrapping in a network with no exit, and peerd's is set up the same for symmetry.
 *
 * Per run, with a SOCKS username/password never used before (both systems isolate streams by
 * it, so the run needs a new introduction and a new rendezvous, checked by the service's count
 * of rendezvous; the descriptor stays cached, in both systems, as for a client that visited
 * before): **(f) reachability**, a 50 KiB GET's time from the connect to the SOCKS port to the
 * first byte of the response; then on the same (joined) circuit **(g)** a 5 MiB GET's download
 * time. The client's side of the run's rendezvous circuit is closed after it (not timed), so
 * circuits do not pile up. One untimed run goes first: it fetches the descriptor, and its time
 * to first byte is reported as the first contact.
 */
import { randomBytes } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { janitor, Network, tempDir } from '../net/harness/index.ts'
import type { NetHost, NsProcess } from '../net/harness/index.ts'
import { cpuMeter as machineMeter } from '../net/scenarios/common.ts'
import type { CpuUse } from '../net/scenarios/common.ts'
import { PeerdHsNetwork } from './hs-peerd.ts'
import { LARGE, PerfClient, SMALL, stat } from './measure.ts'
import type { Stat } from './measure.ts'
import { ONION_PORT, SOCKS_PORT, TorNetwork } from './tor-network.ts'

const HTTP_SERVER = fileURLToPath(new URL('./http-server.ts', import.meta.url))
/** The web server's port on `server`. */
const HTTP_PORT = 8080
/** Relays of the setting: a 4-hop circuit (to a rendezvous or introduction point) needs four distinct ones. */
export const HS_RELAYS = 5

/** What the measurements need of Tor or peerd. */
export interface HsSystem {
  name: 'tor' | 'peerd'
  /** The service's address as a client types it (`….onion`, `….peerd`). */
  address: string
  /** Rendezvous the service has completed so far: one per client it met. */
  rendezvous: () => Promise<number>
  /** The client's side of the run's rendezvous circuit: its hops (names), or undefined when the system cannot tell. */
  lastPath: () => Promise<string[] | undefined>
  /** Closes the client's side of the run's rendezvous circuit (between runs, not timed). */
  endRun: () => Promise<void>
  diagnostics: () => Promise<string>
}

/** One run. */
export interface HsSample {
  /** (f) ms from the connect to the SOCKS port to the first response byte, on a new rendezvous. */
  reachMs: number
  /** ms to the SOCKS CONNECT's success (the stream open at the service). */
  socksMs: number
  /** (g) ms to the last byte of the 5 MiB GET on the joined circuit. */
  downloadMs: number
  /** Rendezvous the service completed during the run (1 unless an attempt failed and was retried). */
  rendezvous: number
  path?: string[]
}

/** The figures of N runs. */
export interface HsResult {
  system: 'tor' | 'peerd'
  address: string
  samples: HsSample[]
  failures: string[]
  /** The untimed first run's time to first byte (descriptor fetch included). */
  firstContactMs: number
  reach: Stat
  download: Stat
  /** Seconds from the start of the daemons to a published descriptor. */
  publishSeconds: number
}

const round = (v: number): number => Math.round(v * 10) / 10

/** A credential pair no earlier stream used: a new isolation, so a new rendezvous. */
function freshAuth (run: number): { username: string, password: string } {
  return { username: `bench-${run}-${randomBytes(6).toString('hex')}`, password: 'x' }
}

/** Runs (f) and (g) `runs` times after one untimed run; a failed run is recorded and replaced, up to `runs` times. */
export async function hsPerf (system: HsSystem, client: PerfClient, runs: number, progress: (line: string) => void, publishSeconds: number): Promise<HsResult> {
  const target = { host: system.address, port: ONION_PORT }
  const samples: HsSample[] = []
  const failures: string[] = []
  let firstContactMs: number | undefined
  for (let run = 0; samples.length < runs; run++) {
    try {
      const auth = freshAuth(run)
      const before = await system.rendezvous()
      const small = await client.getFrom(target, SMALL, { auth, timeoutMs: 120_000 })
      const large = await client.getFrom(target, LARGE, { auth, timeoutMs: 120_000 })
      const rendezvous = await system.rendezvous() - before
      const path = await system.lastPath()
      await system.endRun()
      if (rendezvous < 1) throw new Error(`the service counted no new rendezvous for run ${run} (the client reused a circuit)`)
      if (firstContactMs == null) {
        firstContactMs = round(small.ttfbMs)
        progress(`${system.name} hs: first contact (descriptor fetch included) ${firstContactMs} ms to the first byte`)
        continue
      }
      samples.push({ reachMs: round(small.ttfbMs), socksMs: round(small.socksMs), downloadMs: round(large.totalMs), rendezvous, ...(path != null ? { path } : {}) })
      progress(`${system.name} hs run ${samples.length}/${runs}: first byte ${round(small.ttfbMs)} ms (stream open ${round(small.socksMs)} ms), 5 MiB ${round(large.totalMs)} ms${path != null ? ` (rendezvous circuit ${path.join(' → ')})` : ''}`)
    } catch (err) {
      let why = (err as Error).message.split('\n')[0] ?? 'failed'
      why += ` (${await system.diagnostics().catch(() => '')})`
      failures.push(why)
      progress(`${system.name} hs: a run failed: ${why}`)
      await system.endRun().catch(() => {})
      if (failures.length > runs) throw new Error(`${system.name}: ${failures.length} onion-service runs failed, the last: ${why}`, { cause: err })
    }
  }
  return {
    system: system.name,
    address: system.address,
    samples,
    failures,
    firstContactMs: firstContactMs ?? NaN,
    reach: stat(samples.map(s => s.reachMs)),
    download: stat(samples.map(s => s.downloadMs)),
    publishSeconds
  }
}

/** The hosts of the setting. */
interface HsSetting {
  net: Network
  client: NetHost
  relays: NetHost[]
  server: NetHost
  dirauth: NetHost
  serverProc: NsProcess
}

async function hsSetting (upMbit: number, downMbit: number): Promise<HsSetting> {
  const names = ['client', ...Array.from({ length: HS_RELAYS }, (_, i) => `relay${i + 1}`), 'server', 'dirauth']
  const net = await Network.create(names.map(name => ({ name, upMbit, downMbit })))
  const server = net.host('server')
  const serverProc = server.spawn(process.execPath, [HTTP_SERVER, server.ip, String(HTTP_PORT)])
  await serverProc.waitForJson(v => v.event === 'listening', 30_000)
  return { net, client: net.host('client'), relays: names.filter(n => n.startsWith('relay')).map(n => net.host(n)), server, dirauth: net.host('dirauth'), serverProc }
}

/** A started system and how to stop it. */
interface StartedHs { system: HsSystem, publishSeconds: number, stop: () => Promise<void> }

async function startTorHs (s: HsSetting, progress: (line: string) => void): Promise<StartedHs> {
  const dir = await tempDir('onion-tor-hs')
  const t0 = performance.now()
  const tor = await TorNetwork.start({
    dir: dir.path,
    authorities: [1, 2, 3].map(() => ({ host: s.dirauth, ip: s.dirauth.ip })),
    relays: s.relays.map((h, i) => ({ name: h.name, place: { host: h, ip: h.ip }, ...(i === s.relays.length - 1 ? { exitPort: HTTP_PORT } : {}) })),
    client: s.client,
    service: { host: s.server, target: { ip: s.server.ip, port: HTTP_PORT } },
    avoid: [s.dirauth.ip],
    progress
  })
  const publishSeconds = Math.round((performance.now() - t0) / 1000)
  const used = new Set<string>()
  let last: string | undefined
  const system: HsSystem = {
    name: 'tor',
    address: tor.serviceAddress as string,
    rendezvous: async () => tor.serviceRendezvous,
    lastPath: async () => {
      last = [...tor.streamsSucceeded().values()].at(-1)
      if (last == null) return undefined
      if (used.has(last)) throw new Error(`the run's streams went over circuit ${last}, which an earlier run used`)
      used.add(last)
      return tor.circuitPath(last)
    },
    endRun: async () => { if (last != null) await tor.closeCircuit(last) },
    diagnostics: async () => tor.diagnostics()
  }
  return { system, publishSeconds, stop: async () => { await tor.stop(); await dir.remove() } }
}

async function startPeerdHs (s: HsSetting, progress: (line: string) => void): Promise<StartedHs> {
  const dir = await tempDir('onion-peerd-hs')
  const t0 = performance.now()
  const peerd = await PeerdHsNetwork.start({ dir: dir.path, relays: s.relays, client: s.client, service: s.server, target: { ip: s.server.ip, port: HTTP_PORT }, progress })
  const info = await peerd.publish({ ip: s.server.ip, port: HTTP_PORT })
  const publishSeconds = Math.round((performance.now() - t0) / 1000)
  progress(`peerd: onion service ${info.address.slice(0, 12)}… published with ${info.introPoints} introduction points (${publishSeconds} s after start)`)
  const system: HsSystem = {
    name: 'peerd',
    address: info.address,
    rendezvous: async () => (await peerd.info()).stats.rendezvous,
    lastPath: async () => {
      // the joined circuit: the client's newest open hs-client circuit (introduction circuits close after the ACK)
      const rend = (await peerd.circuits(peerd.client)).filter(c => c.purpose === 'hs-client' && c.state === 'open')
        .sort((a, b) => Date.parse(b.createdAt) - Date.parse(a.createdAt))[0]
      return rend?.hops.map(h => peerd.nameOf(h.peerId))
    },
    endRun: async () => { await peerd.client.api('POST', '/api/v1/onion/new-circuits') },
    diagnostics: async () => {
      const circuits = await peerd.circuits(peerd.client).catch(() => [])
      const shown = circuits.slice(-4).map(c => `${c.id} ${c.purpose} ${c.state} ${c.hops.map(h => peerd.nameOf(h.peerId)).join('>')}`)
      const tail = (text: string): string => text.trim().split('\n').slice(-3).join(' | ')
      return `peerd client circuits: ${shown.join(', ') || 'none'}; client log: ${tail(peerd.client.log())}; service log: ${tail(peerd.service.log())}`
    }
  }
  return { system, publishSeconds, stop: async () => { await peerd.stop(); await dir.remove() } }
}

/** What one system measured in this setting. */
export interface HsSystemResult {
  hs?: HsResult
  error?: string
  cores?: CpuUse
}

/** Builds the setting for `name`, publishes the service, measures (f) and (g), and removes everything. */
export async function runHs (name: 'tor' | 'peerd', o: { upMbit: number, downMbit: number, runs: number, progress: (line: string) => void }): Promise<HsSystemResult> {
  o.progress(`${name}: onion service on the shaped LAN (${HS_RELAYS} relays), ${o.runs} runs`)
  const s = await hsSetting(o.upMbit, o.downMbit)
  let started: StartedHs | undefined
  let client: PerfClient | undefined
  try {
    started = name === 'tor' ? await startTorHs(s, o.progress) : await startPeerdHs(s, o.progress)
    client = new PerfClient(s.client, SOCKS_PORT, { ip: s.server.ip, port: HTTP_PORT })
    const busy = machineMeter(s.net.namespaces())
    const hs = await hsPerf(started.system, client, o.runs, o.progress, started.publishSeconds)
    return { hs, cores: busy() }
  } catch (err) {
    if (janitor.interrupted) throw err
    // one line: a tor's error carries the tail of its log
    const error = `${name} hs: ${(err as Error).message.replace(/\s*\n\s*/g, ' | ').slice(0, 800)}`
    o.progress(`FAILED: ${error}`)
    return { error }
  } finally {
    o.progress(`${name}: stopping the onion-service setting…`)
    await client?.stop()
    await started?.stop()
    await s.serverProc.stop(2_000)
    await s.net.destroy()
  }
}
