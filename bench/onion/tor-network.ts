/**
 * A private Tor network of Debian's `tor` on the hosts of a bench:net {@link Network}: three
 * directory authorities, a guard, a middle and an exit relay, and a client with a SOCKS port, all
 * with `TestingTorNetwork 1` and no Internet (see /work/shared/notes/private-tor-network.md and
 * chutney's torrc templates, which the options follow). Each tor runs directly (never the
 * package's service) with its own torrc and DataDirectory under the run's temporary directory,
 * inside its host's namespace, registered with the harness janitor like every other process.
 *
 * The client pins every measured circuit to guard → middle → exit through its control socket
 * (`EXTENDCIRCUIT`, `__LeaveStreamsUnattached 1`, `ATTACHSTREAM`): pinning with
 * `EntryNodes`/`ExitNodes` can still give 4 hops, and Tor often extends a pre-built internal
 * circuit to an exit.
 */
import { execFile } from 'node:child_process'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import type { NetHost, NsProcess } from '../net/harness/index.ts'
import type { CircuitReport, OnionSystem } from './measure.ts'
import { TorControl, eventField } from './tor-control.ts'
import type { ControlEvent } from './tor-control.ts'

const exec = promisify(execFile)

/** Where one tor runs: a host (its namespace) and the address it binds (the host's, or a loopback one). */
export interface TorPlace {
  host: NetHost
  ip: string
}

/** The network to build. */
export interface TorNetworkSpec {
  /** A directory of the run (removed by the janitor); each tor gets `dir/<name>`. */
  dir: string
  /** Three places for the directory authorities (they may share one host: ports differ). */
  authorities: TorPlace[]
  guard: TorPlace
  middle: TorPlace
  exit: TorPlace
  /** The client's host; its SOCKS port is 127.0.0.1:{@link SOCKS_PORT} there. */
  client: NetHost
  /** The TCP port the exit accepts (`ExitPolicy accept *:PORT`, then `reject *:*`). */
  exitPort: number
  /** Called with progress lines. */
  progress?: (line: string) => void
}

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

/** Options every node of the network shares (chutney's common.i, the notes' list). */
function commonTorrc (dataDir: string, nickname: string, resolvConf: string): string[] {
  return [
    'TestingTorNetwork 1',
    'AssumeReachable 1',
    'PathsNeededToBuildCircuits 0.67',
    'TestingDirAuthVoteExit *',
    'TestingDirAuthVoteGuard *',
    'TestingDirAuthVoteHSDir *',
    'TestingMinExitFlagThreshold 0',
    'V3AuthNIntervalsValid 2',
    `DataDirectory ${dataDir}`,
    `Nickname ${nickname}`,
    'ShutdownWaitLength 0',
    `ControlPort unix:${join(dataDir, 'control')}`,
    'CookieAuthentication 1',
    `ServerDNSResolvConfFile ${resolvConf}`,
    'ServerDNSDetectHijacking 0',
    'Log notice stdout',
    'SafeLogging 0',
    'LogTimeGranularity 1'
  ]
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

/**
 * Makes an authority's keys (identity and signing key with tor-gencert, its relay key with
 * `tor --list-fingerprint`) and returns its `DirAuthority` line.
 */
async function authorityKeys (node: TorNode): Promise<string> {
  const keys = join(node.dataDir, 'keys')
  await new Promise<void>((resolve, reject) => {
    const p = execFile('tor-gencert', ['--create-identity-key', '-m', '12', '-a', `${node.place.ip}:${node.dirPort}`, '--passphrase-fd', '0'], { cwd: keys }, err => { if (err == null) resolve(); else reject(err) })
    p.stdin?.end('\n')
  })
  const cert = await readFile(join(keys, 'authority_certificate'), 'utf8')
  const v3ident = /^fingerprint ([0-9A-F]{40})$/m.exec(cert)?.[1]
  const listed = (await exec('tor', ['--list-fingerprint', '--DataDirectory', node.dataDir, '--ORPort', String(node.orPort), '--Nickname', node.name])).stdout
  const rsa = new RegExp(`^${node.name} ((?:[0-9A-F]{4} ?){10})$`, 'm').exec(listed)?.[1]?.replaceAll(' ', '')
  if (v3ident == null || rsa == null) throw new Error(`could not read the keys of ${node.name}: ${listed.slice(-500)}`)
  return `DirAuthority ${node.name} orport=${node.orPort} no-v2 v3ident=${v3ident} ${node.place.ip}:${node.dirPort} ${rsa}`
}

/** A running private Tor network; see the module comment. Build it with {@link TorNetwork.start}. */
export class TorNetwork {
  /** The client's control connection. */
  readonly control: TorControl
  /** RSA fingerprints of the pinned relays. */
  readonly fingerprints: { guard: string, middle: string, exit: string }
  private readonly nodes: Map<string, TorNode>
  private attachTo: string | undefined
  private readonly attached = new Map<string, string>()
  private readonly succeeded = new Map<string, string>()
  private readonly recent: string[] = []

  private constructor (nodes: Map<string, TorNode>, control: TorControl, fingerprints: { guard: string, middle: string, exit: string }) {
    this.nodes = nodes
    this.control = control
    this.fingerprints = fingerprints
    control.onEvent(e => { this.onStream(e) })
  }

  /** Writes keys and torrcs, starts every tor and waits until the client can build the pinned path. */
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
    const dirAuthorities = await Promise.all(authorities.map(authorityKeys))
    for (const node of authorities) {
      node.torrc.push(
        'AuthoritativeDirectory 1', 'V3AuthoritativeDirectory 1', `ContactInfo ${node.name}@test.test`,
        // a fast first vote (no consensus yet), then the notes' tested 20 s interval
        'TestingV3AuthInitialVotingInterval 5', 'TestingV3AuthInitialVoteDelay 2', 'TestingV3AuthInitialDistDelay 2',
        'V3AuthVotingInterval 20', 'V3AuthVoteDelay 4', 'V3AuthDistDelay 4',
        'ExitPolicy reject *:*'
      )
    }
    const relays = { guard: spec.guard, middle: spec.middle, exit: spec.exit }
    for (const [i, [name, place]] of Object.entries(relays).entries()) {
      const node = await add(name, place, 10 + i)
      node.torrc.push(...(name === 'exit'
        ? ['ExitRelay 1', 'ExitPolicyRejectPrivate 0', `ExitPolicy accept *:${spec.exitPort}`, 'ExitPolicy reject *:*']
        : ['ExitRelay 0', 'ExitPolicy reject *:*']))
    }
    for (const node of nodes.values()) {
      node.torrc.push(`Address ${node.place.ip}`, `ORPort ${node.place.ip}:${node.orPort}`, `DirPort ${node.place.ip}:${node.dirPort}`, 'SocksPort 0')
    }
    const client = await add('client', { host: spec.client, ip: '127.0.0.1' }, 20)
    client.torrc.push(
      `SocksPort 127.0.0.1:${SOCKS_PORT}`,
      // an exit policy naming one private address reads as `reject 1-65535` in microdescriptors
      'UseMicrodescriptors 0',
      // fixed timeouts: an adaptive one learned on shaped links would abandon slow builds
      'LearnCircuitBuildTimeout 0', 'CircuitBuildTimeout 60'
    )
    for (const node of nodes.values()) {
      node.torrc.push(...dirAuthorities)
      const torrc = join(node.dataDir, 'torrc')
      await writeFile(torrc, node.torrc.join('\n') + '\n')
      node.proc = node.place.host.spawn('tor', ['-f', torrc, '--ignore-missing-torrc'])
    }
    const started = performance.now()
    say('tor: 3 authorities, 3 relays and a client started; waiting for the first consensus (15–30 s)…')
    const control = await TorControl.connect(client.dataDir)
    await control.command('SETCONF __LeaveStreamsUnattached=1')
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
    const fingerprints = { guard: await fingerprint('guard'), middle: await fingerprint('middle'), exit: await fingerprint('exit') }
    const net = new TorNetwork(nodes, control, fingerprints)
    await (client.proc as NsProcess).waitForLine(/Bootstrapped 100%/, 180_000)
    // an exit that has no consensus yet answers BEGIN with END: wait until every relay of the path has one
    for (const name of ['guard', 'middle', 'exit']) await (nodes.get(name)?.proc as NsProcess).waitForLine(/Bootstrapped 100%/, 120_000)
    say(`tor: the client has bootstrapped (${Math.round((performance.now() - started) / 1000)} s); building the pinned path…`)
    // the relays' descriptors may reach the client a consensus later: retry the first circuit
    const deadline = performance.now() + 120_000
    for (;;) {
      try {
        const c = await net.buildCircuit(30_000)
        await net.closeCircuit(c.id)
        say(`tor: guard → middle → exit built (${Math.round((performance.now() - started) / 1000)} s after start)`)
        break
      } catch (err) {
        if (performance.now() > deadline) throw new Error(`the Tor client could not build guard → middle → exit: ${(err as Error).message}`, { cause: err })
        await new Promise(resolve => setTimeout(resolve, 2_000))
      }
    }
    return net
  }

  /** The pid of a node's tor (`guard`, `middle`, `exit`, `client`, `auth1`…). */
  pid (name: string): number {
    const pid = this.nodes.get(name)?.proc?.child.pid
    if (pid == null) throw new Error(`no tor ${name} running`)
    return pid
  }

  /** What a node's tor printed (its notice log). */
  log (name: string): string {
    return this.nodes.get(name)?.proc?.stdout() ?? ''
  }

  /** Builds guard → middle → exit and times it; new SOCKS streams are attached to it from then on. */
  async buildCircuit (timeoutMs = 60_000): Promise<TorCircuit> {
    const { guard, middle, exit } = this.fingerprints
    const t0 = performance.now()
    const events: ControlEvent[] = []
    const off = this.control.onEvent(e => { if (e.type === 'CIRC') events.push(e) })
    try {
      const reply = await this.control.command(`EXTENDCIRCUIT 0 ${guard},${middle},${exit} purpose=general`)
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

  /** Stops every tor of the network (the janitor would too). */
  async stop (): Promise<void> {
    this.control.close()
    await Promise.all([...this.nodes.values()].map(async n => { await n.proc?.stop(5_000) }))
  }

  /** The last stream and circuit events and the tail of the client's and exit's logs, for a failed run. */
  diagnostics (): string {
    const tail = (name: string): string => this.log(name).trim().split('\n').slice(-3).join(' | ')
    return `tor events: ${this.recent.join(' | ')}; client log: ${tail('client')}; exit log: ${tail('exit')}`
  }

  private onStream (e: ControlEvent): void {
    if (e.type === 'CIRC' || e.type === 'STREAM') {
      this.recent.push(`${e.type} ${e.args.slice(0, 4).join(' ')}${e.args.find(a => a.startsWith('REASON=')) != null ? ` ${eventField(e, 'REASON') ?? ''}` : ''}`)
      if (this.recent.length > 12) this.recent.shift()
    }
    if (e.type !== 'STREAM') return
    const [stream = '', status, circ] = e.args
    if (status === 'NEW' && eventField(e, 'PURPOSE') === 'USER') {
      const target = this.attachTo
      if (target == null) return
      this.attached.set(stream, target)
      // a failed attach leaves the stream to time out, which the client reports
      void this.control.command(`ATTACHSTREAM ${stream} ${target}`).catch(() => {})
    } else if (status === 'SUCCEEDED' && this.attached.has(stream) && circ != null) {
      this.succeeded.set(stream, circ)
      if (this.succeeded.size > 10_000) this.succeeded.clear()
    } else if (status === 'DETACHED' && this.attached.has(stream)) {
      // the exit or the circuit refused it: close it now (the client sees a SOCKS error) rather
      // than leave it unattached until tor's SOCKS timeout
      void this.control.command(`CLOSESTREAM ${stream} 1`).catch(() => {})
    }
    if (status === 'CLOSED' || status === 'FAILED') this.attached.delete(stream)
  }
}

/**
 * Tor as an {@link OnionSystem}: a fresh circuit is guard → middle → exit built through the
 * control port (the previous one is closed); its build time is from sending EXTENDCIRCUIT to the
 * BUILT event. The run's streams are checked to have succeeded on that circuit.
 */
export function torSystem (net: TorNetwork): OnionSystem {
  let current: TorCircuit | undefined
  const roles = ['guard', 'middle', 'exit']
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
