/**
 * A private Tor network of Debian's `tor` on the hosts of a bench:net {@link Network}: three
 * directory authorities, relays, a client with a SOCKS port and, when asked, an onion service
 * (v3, `HiddenServiceDir`) on its own host, all with `TestingTorNetwork 1` and no Internet (see
 * /work/shared/notes/private-tor-network.md and chutney's torrc templates, which `torrc.ts`
 * follows). Each tor runs directly (never the package's service) with its own torrc and
 * DataDirectory under the run's temporary directory, inside its host's namespace, registered with
 * the harness janitor like every other process.
 *
 * With `pin`, the client pins every measured circuit to three relays through its control socket
 * (`EXTENDCIRCUIT`, `__LeaveStreamsUnattached 1`, `ATTACHSTREAM`): pinning with
 * `EntryNodes`/`ExitNodes` can still give 4 hops, and Tor often extends a pre-built internal
 * circuit to an exit. Without it (onion services: tor builds introduction and rendezvous
 * circuits itself) the client attaches its streams itself and the bench only watches.
 */
import { execFile } from 'node:child_process'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import type { NetHost, NsProcess } from '../net/harness/index.ts'
import type { CircuitReport, OnionSystem } from './measure.ts'
import { TorControl, eventField } from './tor-control.ts'
import type { ControlEvent } from './tor-control.ts'
import { authorityKeys, authorityTorrc, clientTorrc, commonTorrc, relayPolicy } from './torrc.ts'
import type { TorPlace } from './torrc.ts'

export type { TorPlace } from './torrc.ts'

const exec = promisify(execFile)

/** One relay of the network. */
export interface TorRelaySpec {
  /** Its nickname (`guard`, `relay1`…). */
  name: string
  place: TorPlace
  /** Makes it an exit that accepts this TCP port only (`ExitPolicy accept *:PORT`, then `reject *:*`). */
  exitPort?: number
}

/** The network to build. */
export interface TorNetworkSpec {
  /** A directory of the run (removed by the janitor); each tor gets `dir/<name>`. */
  dir: string
  /** Three places for the directory authorities (they may share one host: ports differ). */
  authorities: TorPlace[]
  relays: TorRelaySpec[]
  /** The client's host; its SOCKS port is 127.0.0.1:{@link SOCKS_PORT} there. */
  client: NetHost
  /** Three relay names: every measured circuit is built on them, in order (see the module comment). */
  pin?: [string, string, string]
  /** An onion service: a tor on `host` that publishes `target` as the service's port 80. */
  service?: { host: NetHost, target: { ip: string, port: number } }
  /** Address patterns (a routerset: the authorities' host) that the client and the service keep out of their circuits. */
  avoid?: string[]
  /** Called with progress lines. */
  progress?: (line: string) => void
}

/** The virtual port of the bench's onion services (`HiddenServicePort 80 …`; peerd maps every port to its target). */
export const ONION_PORT = 80

/** The client's SOCKS port (on 127.0.0.1 in its namespace), the same as peerd's in this bench. */
export const SOCKS_PORT = 9050

/** A circuit built on the pinned path. */
export interface TorCircuit {
  id: string
  /** Milliseconds from sending EXTENDCIRCUIT to the BUILT event (the controller's clock). */
  buildMs: number
  /** The relays of the BUILT event, first hop first (`$FP~nickname`). */
  path: string[]
}

/** The tor version line (`Tor version 0.4.9.11.`), or undefined when tor is missing. */
export async function torVersion (): Promise<string | undefined> {
  try { return (await exec('tor', ['--version'])).stdout.split('\n')[0]?.trim() } catch { return undefined }
}

/**
 * Why tor cannot be used (after `apt-get install tor` when it is missing), or undefined. Installs
 * the package only; its own service is neither started nor stopped here.
 */
export async function ensureTor (): Promise<string | undefined> {
  if (await torVersion() != null) return undefined
  process.stderr.write('bench:onion: tor is missing; installing Debian\'s tor package (apt-get install tor)…\n')
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
  try {
    await exec('apt-get', ['install', '-y', '-q', 'tor'], { env }).catch(async () => {
      await exec('apt-get', ['update', '-q'], { env })
      await exec('apt-get', ['install', '-y', '-q', 'tor'], { env })
    })
  } catch (err) {
    return `tor is not installed and \`apt-get install tor\` failed: ${(err as Error).message.split('\n')[0] ?? ''}`
  }
  return await torVersion() != null ? undefined : 'tor is not installed'
}

interface TorNode {
  name: string
  place: TorPlace
  dataDir: string
  orPort: number
  dirPort: number
  torrc: string[]
  proc?: NsProcess
}

/** Whole seconds since `t0` (performance.now()), for progress lines. */
const since = (t0: number): number => Math.round((performance.now() - t0) / 1000)

/** A running private Tor network; see the module comment. Build it with {@link TorNetwork.start}. */
export class TorNetwork {
  /** The client's control connection. */
  readonly control: TorControl
  /** RSA fingerprints of the relays, by name. */
  readonly fingerprints: Record<string, string>
  /** The pinned relays' names, when circuits are pinned. */
  readonly pinned: [string, string, string] | undefined
  /** The onion service's address (`<56 base32>.onion`), when the network has one. */
  serviceAddress: string | undefined
  private serviceControl: TorControl | undefined
  private serviceRends = 0
  /** The service's descriptor uploads: HSDirs asked and not answered yet, uploads done, when the last ended. */
  private readonly upload = { pending: new Set<string>(), done: 0, last: 0 }
  private readonly nodes: Map<string, TorNode>
  private attachTo: string | undefined
  private readonly attached = new Map<string, string>()
  private readonly userStreams = new Set<string>()
  private readonly succeeded = new Map<string, string>()
  /** Each client circuit's relays (nicknames) as its last CIRC EXTENDED or BUILT event gave them. */
  private readonly paths = new Map<string, string[]>()
  private readonly recent: string[] = []

  private constructor (nodes: Map<string, TorNode>, control: TorControl, fingerprints: Record<string, string>, pinned: [string, string, string] | undefined) {
    this.nodes = nodes
    this.control = control
    this.fingerprints = fingerprints
    this.pinned = pinned
    control.onEvent(e => { this.onStream(e) })
  }

  /** Writes keys and torrcs, starts every tor and waits until the client can use the network (see {@link TorNetwork.ready}). */
  static async start (spec: TorNetworkSpec): Promise<TorNetwork> {
    const say = spec.progress ?? (() => {})
    if (spec.authorities.length !== 3) throw new Error('the private Tor network has three authorities')
    const resolvConf = join(spec.dir, 'resolv.conf')
    await writeFile(resolvConf, 'nameserver 127.0.0.1\n')
    const nodes = new Map<string, TorNode>()
    const add = async (name: string, place: TorPlace, i: number): Promise<TorNode> => {
      const dataDir = join(spec.dir, name)
      await mkdir(join(dataDir, 'keys'), { recursive: true, mode: 0o700 })
      const node: TorNode = { name, place, dataDir, orPort: 5000 + i, dirPort: 7000 + i, torrc: commonTorrc(dataDir, name, resolvConf) }
      nodes.set(name, node)
      return node
    }
    const authorities: TorNode[] = []
    for (const [i, place] of spec.authorities.entries()) authorities.push(await add(`auth${i + 1}`, place, i + 1))
    // 3072-bit RSA keys take a second each: make the three at once
    const dirAuthorities = await Promise.all(authorities.map(async n => await authorityKeys({ ...n, ip: n.place.ip })))
    for (const node of authorities) node.torrc.push(...authorityTorrc(node.name))
    for (const [i, relay] of spec.relays.entries()) (await add(relay.name, relay.place, 10 + i)).torrc.push(...relayPolicy(relay.exitPort))
    for (const node of nodes.values()) {
      node.torrc.push(`Address ${node.place.ip}`, `ORPort ${node.place.ip}:${node.orPort}`, `DirPort ${node.place.ip}:${node.dirPort}`, 'SocksPort 0')
    }
    const client = await add('client', { host: spec.client, ip: '127.0.0.1' }, 40)
    client.torrc.push(...clientTorrc({ socksPort: SOCKS_PORT, avoid: spec.avoid, fullDescriptors: spec.pin != null }))
    const service = spec.service != null ? await add('service', { host: spec.service.host, ip: '127.0.0.1' }, 41) : undefined
    if (service != null && spec.service != null) {
      service.torrc.push(...clientTorrc({ avoid: spec.avoid }), `HiddenServiceDir ${join(service.dataDir, 'hs')}`, `HiddenServicePort ${ONION_PORT} ${spec.service.target.ip}:${spec.service.target.port}`)
    }
    for (const node of nodes.values()) {
      node.torrc.push(...dirAuthorities)
      const torrc = join(node.dataDir, 'torrc')
      await writeFile(torrc, node.torrc.join('\n') + '\n')
      node.proc = node.place.host.spawn('tor', ['-f', torrc, '--ignore-missing-torrc'])
    }
    const started = performance.now()
    say(`tor: 3 authorities, ${spec.relays.length} relays, a client${service != null ? ' and an onion service' : ''} started; waiting for the first consensus (15–30 s)…`)
    const control = await TorControl.connect(client.dataDir)
    if (spec.pin != null) await control.command('SETCONF __LeaveStreamsUnattached=1')
    await control.command('SETEVENTS CIRC STREAM')
    const fingerprint = async (name: string): Promise<string> => {
      const node = nodes.get(name) as TorNode
      // a relay writes its fingerprint file a moment after it starts
      for (let i = 0; i < 120; i++) {
        const fp = (await readFile(join(node.dataDir, 'fingerprint'), 'utf8').catch(() => '')).trim().split(' ')[1]
        if (fp != null && /^[0-9A-F]{40}$/.test(fp)) return fp
        await new Promise(resolve => setTimeout(resolve, 250))
      }
      throw new Error(`tor ${name} wrote no fingerprint within 30 s: ${node.proc?.stdout().slice(-1000) ?? ''}`)
    }
    const fingerprints: Record<string, string> = {}
    const net = new TorNetwork(nodes, control, fingerprints, spec.pin)
    if (service != null) await net.watchService(service)
    for (const r of spec.relays) fingerprints[r.name] = await fingerprint(r.name)
    await (client.proc as NsProcess).waitForLine(/Bootstrapped 100%/, 180_000)
    // an exit that has no consensus yet answers BEGIN with END: wait until every relay has one
    for (const r of spec.relays) await (nodes.get(r.name)?.proc as NsProcess).waitForLine(/Bootstrapped 100%/, 120_000)
    say(`tor: the client has bootstrapped (${since(started)} s)`)
    if (spec.pin != null) await net.firstPinnedCircuit(started, say)
    if (service != null) await net.publishService(service, started, say)
    return net
  }

  /** Builds the pinned path once (retried: the relays' descriptors may reach the client a consensus later). */
  private async firstPinnedCircuit (started: number, say: (line: string) => void): Promise<void> {
    const path = (this.pinned ?? []).join(' → ')
    const deadline = performance.now() + 120_000
    for (;;) {
      try {
        const c = await this.buildCircuit(30_000)
        await this.closeCircuit(c.id)
        say(`tor: ${path} built (${since(started)} s after start)`)
        return
      } catch (err) {
        if (performance.now() > deadline) throw new Error(`the Tor client could not build ${path}: ${(err as Error).message}`, { cause: err })
        await new Promise(resolve => setTimeout(resolve, 2_000))
      }
    }
  }

  /**
   * Watches the onion service through its control socket from its start (it may upload its
   * descriptor before the client has bootstrapped): descriptor uploads (HS_DESC) and its
   * rendezvous circuits (CIRC … BUILT … PURPOSE=HS_SERVICE_REND).
   */
  private async watchService (service: TorNode): Promise<void> {
    const control = await TorControl.connect(service.dataDir)
    this.serviceControl = control
    const upload = this.upload
    control.onEvent(e => {
      if (e.type === 'HS_DESC') {
        // HS_DESC UPLOAD|UPLOADED|FAILED <address> <auth> <hsdir> …
        const [action, , , hsdir = ''] = e.args
        if (action === 'UPLOAD') upload.pending.add(hsdir)
        else if (action === 'UPLOADED' || action === 'FAILED') {
          upload.pending.delete(hsdir)
          if (action === 'UPLOADED') upload.done++
          upload.last = performance.now()
        }
      } else if (e.type === 'CIRC' && e.args[1] === 'BUILT' && eventField(e, 'PURPOSE') === 'HS_SERVICE_REND') {
        this.serviceRends++
      }
    })
    await control.command('SETEVENTS HS_DESC CIRC')
  }

  /**
   * Waits until the onion service has uploaded its descriptor to every HSDir it chose (a client
   * that fails to fetch one does not ask the same HSDirs again for 15 minutes).
   */
  private async publishService (service: TorNode, started: number, say: (line: string) => void): Promise<void> {
    const upload = this.upload
    const hostname = join(service.dataDir, 'hs', 'hostname')
    const deadline = performance.now() + 180_000
    for (;;) {
      this.serviceAddress ??= (await readFile(hostname, 'utf8').catch(() => '')).trim() || undefined
      if (this.serviceAddress != null && upload.done > 0 && upload.pending.size === 0 && performance.now() - upload.last > 2_000) break
      if (performance.now() > deadline) {
        const said = this.log('service').trim().split('\n').filter(l => /intro|descriptor|hsdir|onion|service|consensus/i.test(l)).slice(-6).join(' | ')
        throw new Error(`the Tor onion service uploaded ${upload.done} descriptors in 180 s (${upload.pending.size} uploads pending); its log: ${said}`)
      }
      await new Promise(resolve => setTimeout(resolve, 250))
    }
    say(`tor: onion service ${this.serviceAddress.slice(0, 12)}… published to ${upload.done} HSDirs (${since(started)} s after start)`)
  }

  /** Rendezvous circuits the onion service has built (BUILT events of purpose HS_SERVICE_REND): one per client it met. */
  get serviceRendezvous (): number {
    return this.serviceRends
  }

  /** The pid of a node's tor (`guard`, `relay1`, `client`, `service`, `auth1`…). */
  pid (name: string): number {
    const pid = this.nodes.get(name)?.proc?.child.pid
    if (pid == null) throw new Error(`no tor ${name} running`)
    return pid
  }

  /** What a node's tor printed (its notice log). */
  log (name: string): string {
    return this.nodes.get(name)?.proc?.stdout() ?? ''
  }

  /** Builds the pinned path and times it; new SOCKS streams are attached to it from then on. */
  async buildCircuit (timeoutMs = 60_000): Promise<TorCircuit> {
    if (this.pinned == null) throw new Error('this Tor network pins no path')
    const path = this.pinned.map(name => this.fingerprints[name] as string).join(',')
    const t0 = performance.now()
    const events: ControlEvent[] = []
    const off = this.control.onEvent(e => { if (e.type === 'CIRC') events.push(e) })
    try {
      const reply = await this.control.command(`EXTENDCIRCUIT 0 ${path} purpose=general`)
      const id = /^EXTENDED (\d+)/.exec(reply.lines[0] ?? '')?.[1]
      if (id == null) throw new Error(`unexpected EXTENDCIRCUIT reply: ${reply.lines.join(' ')}`)
      const done = (e: ControlEvent): boolean => e.args[0] === id && (e.args[1] === 'BUILT' || e.args[1] === 'FAILED' || e.args[1] === 'CLOSED')
      const end = events.find(done) ?? await this.control.waitForEvent(e => e.type === 'CIRC' && done(e), timeoutMs, `BUILT for circuit ${id}`)
      if (end.args[1] !== 'BUILT') throw new Error(`circuit ${id} ${end.args.slice(1).join(' ')}`)
      this.attachTo = id
      return { id, buildMs: end.at - t0, path: (end.args[2] ?? '').split(',') }
    } finally {
      off()
    }
  }

  /** Closes a circuit (its streams with it). */
  async closeCircuit (id: string): Promise<void> {
    if (this.attachTo === id) this.attachTo = undefined
    await this.control.command(`CLOSECIRCUIT ${id}`).catch(() => {})
  }

  /** The circuit each of our streams succeeded on: stream id → circuit id (to check the path used). */
  streamsSucceeded (): Map<string, string> {
    return new Map(this.succeeded)
  }

  /** The relays (nicknames, first hop first) of the client's circuit `id`, if it was seen. */
  circuitPath (id: string): string[] | undefined {
    return this.paths.get(id)
  }

  /** Stops every tor of the network (the janitor would too). */
  async stop (): Promise<void> {
    this.control.close()
    this.serviceControl?.close()
    await Promise.all([...this.nodes.values()].map(async n => { await n.proc?.stop(5_000) }))
  }

  /** The last stream and circuit events and the tail of the client's (and exit's or service's) logs, for a failed run. */
  diagnostics (): string {
    const tail = (name: string): string => this.log(name).trim().split('\n').slice(-3).join(' | ')
    const other = this.nodes.has('service') ? 'service' : 'exit'
    return `tor events: ${this.recent.join(' | ')}; client log: ${tail('client')}; ${other} log: ${tail(other)}`
  }

  private onStream (e: ControlEvent): void {
    if (e.type === 'CIRC' || e.type === 'STREAM') {
      this.recent.push(`${e.type} ${e.args.slice(0, 4).join(' ')}${e.args.find(a => a.startsWith('REASON=')) != null ? ` ${eventField(e, 'REASON') ?? ''}` : ''}`)
      if (this.recent.length > 12) this.recent.shift()
    }
    if (e.type === 'CIRC' && (e.args[1] === 'BUILT' || e.args[1] === 'EXTENDED') && e.args[2] != null) {
      if (this.paths.size >= 1000) this.paths.delete(this.paths.keys().next().value as string)
      this.paths.set(e.args[0] ?? '', e.args[2].split(',').map(h => h.split('~')[1] ?? h))
    }
    if (e.type !== 'STREAM') return
    const [stream = '', status, circ] = e.args
    if (status === 'NEW' && eventField(e, 'PURPOSE') === 'USER') {
      this.userStreams.add(stream)
      const target = this.attachTo
      if (target == null || this.pinned == null) return
      this.attached.set(stream, target)
      // a failed attach leaves the stream to time out, which the client reports
      void this.control.command(`ATTACHSTREAM ${stream} ${target}`).catch(() => {})
    } else if (status === 'SUCCEEDED' && this.userStreams.has(stream) && circ != null) {
      this.succeeded.set(stream, circ)
      if (this.succeeded.size > 10_000) this.succeeded.clear()
    } else if (status === 'DETACHED' && this.attached.has(stream)) {
      // the exit or the circuit refused it: close it now (the client sees a SOCKS error) rather
      // than leave it unattached until tor's SOCKS timeout
      void this.control.command(`CLOSESTREAM ${stream} 1`).catch(() => {})
    }
    if (status === 'CLOSED' || status === 'FAILED') { this.attached.delete(stream); this.userStreams.delete(stream) }
  }
}

/**
 * Tor as an {@link OnionSystem}: a fresh circuit is the pinned path built through the control
 * port (the previous one is closed); its build time is from sending EXTENDCIRCUIT to the BUILT
 * event. The run's streams are checked to have succeeded on that circuit.
 */
export function torSystem (net: TorNetwork): OnionSystem {
  let current: TorCircuit | undefined
  const roles = net.pinned ?? []
  return {
    name: 'tor',
    freshCircuit: async () => {
      if (current != null) await net.closeCircuit(current.id)
      current = undefined
      current = await net.buildCircuit()
    },
    lastCircuit: async (): Promise<CircuitReport> => {
      if (current == null) throw new Error('no circuit built')
      const used = [...net.streamsSucceeded().values()].at(-1)
      if (used !== current.id) throw new Error(`the stream went over circuit ${String(used)}, not the pinned ${current.id}`)
      return { id: current.id, buildMs: current.buildMs, hops: current.path.map(h => h.split('~')[1] ?? h) }
    },
    relayPid: async hop => net.pid(roles[hop] ?? 'none'),
    diagnostics: async () => net.diagnostics(),
    clientPid: () => net.pid('client')
  }
}
