/**
 * The peerd side of the onion bench: `peerd daemon --network regtest` (the harness's
 * {@link PeerdDaemon}) on the guard, middle, exit and client hosts. Every relay relays by default;
 * the exit runs `--onion-exit` with a policy that accepts the web server's address and port only
 * (private ranges are refused unless a rule names them); the client runs the SOCKS5 proxy on
 * 127.0.0.1:9050 in its namespace and relays nothing, as a Tor client. Relay caps are set high
 * (`--onion-relay-rate`), since the tor relays it is compared with are uncapped.
 *
 * peerd chooses its own paths (there is no control port to pin one): the bench reads each
 * circuit's hops from `GET /api/v1/onion/circuits` and reports them.
 */
import { join } from 'node:path'
import { PeerdDaemon } from '../net/harness/index.ts'
import type { NetHost } from '../net/harness/index.ts'
import type { CircuitInfo, OnionStatus } from '../../src/onion/types.ts'
import type { CircuitReport, OnionSystem } from './measure.ts'
import { SOCKS_PORT } from './tor-network.ts'

/** The network to build. */
export interface PeerdOnionSpec {
  /** A directory of the run; each daemon's data dir is `dir/<name>`. */
  dir: string
  guard: NetHost
  middle: NetHost
  exit: NetHost
  client: NetHost
  /** The web server the exit must reach. */
  server: { ip: string, port: number }
  /** `--onion-relay-rate` of every relay (default 100MB: no cap on these links). */
  relayRate?: string
  progress?: (line: string) => void
}

const ROLES = ['guard', 'middle', 'exit', 'client'] as const
type Role = typeof ROLES[number]

/** peerd daemons in the onion bench's topology; see the module comment. */
export class PeerdOnionNetwork {
  readonly daemons: Record<Role, PeerdDaemon>

  private constructor (daemons: Record<Role, PeerdDaemon>) {
    this.daemons = daemons
  }

  /** Starts the four daemons (the guard first, the others bootstrapped to it). */
  static async start (spec: PeerdOnionSpec): Promise<PeerdOnionNetwork> {
    const rate = ['--onion-relay-rate', spec.relayRate ?? '100MB']
    const args: Record<Role, string[]> = {
      guard: rate,
      middle: rate,
      exit: [...rate, '--onion-exit', '--onion-exit-policy', `accept ${spec.server.ip}:${spec.server.port},reject *:*`],
      client: ['--no-onion-relay', '--socks', `127.0.0.1:${SOCKS_PORT}`]
    }
    const daemons = Object.fromEntries(ROLES.map(r => [r, new PeerdDaemon(spec[r], { dataDir: join(spec.dir, r), extraArgs: args[r] })])) as Record<Role, PeerdDaemon>
    await daemons.guard.start()
    for (const r of ROLES.slice(1)) daemons[r].bootstrap = [daemons.guard.address]
    await Promise.all(ROLES.slice(1).map(async r => { await daemons[r].start() }))
    spec.progress?.('peerd: guard, middle, exit and client daemons started')
    return new PeerdOnionNetwork(daemons)
  }

  /** The client's onion status. */
  async status (): Promise<OnionStatus> {
    return await this.daemons.client.api<OnionStatus>('GET', '/api/v1/onion/status')
  }

  /** The client's circuits. */
  async circuits (): Promise<CircuitInfo[]> {
    return (await this.daemons.client.api<{ circuits: CircuitInfo[] }>('GET', '/api/v1/onion/circuits')).circuits
  }

  /** Waits until the client knows at least the three relays (descriptors through the DHT and peers). */
  async waitForRelays (timeoutMs = 180_000): Promise<OnionStatus> {
    const deadline = performance.now() + timeoutMs
    let last: OnionStatus | undefined
    let error = ''
    for (;;) {
      try {
        last = await this.status()
        if (last.relaysKnown >= 3) return last
      } catch (err) {
        error = (err as Error).message
      }
      if (performance.now() > deadline) throw new Error(`the peerd client knows ${last?.relaysKnown ?? 0} relays after ${timeoutMs / 1000} s ${error}`)
      await new Promise(resolve => setTimeout(resolve, 1_000))
    }
  }

  /** The daemon whose peer id is `peerId`. */
  daemonOf (peerId: string): PeerdDaemon | undefined {
    return Object.values(this.daemons).find(d => d.peerId === peerId)
  }

  /** The role (`guard`, `middle`…) of the daemon with `peerId`, or the id itself. */
  roleOf (peerId: string): string {
    return ROLES.find(r => this.daemons[r].peerId === peerId) ?? peerId
  }

  /** Stops every daemon (the janitor would too). */
  async stop (): Promise<void> {
    await Promise.all(Object.values(this.daemons).map(async d => { await d.stop(5_000) }))
  }
}

/**
 * peerd as an {@link OnionSystem}: a fresh circuit is `POST /api/v1/onion/new-circuits` (the
 * next stream builds one); its build time is the circuit's `buildMs` from
 * `GET /api/v1/onion/circuits` (first CREATE2 sent to the last hop's handshake done, the
 * client's own clock), for the newest open SOCKS circuit that is not retired.
 */
export function peerdSystem (net: PeerdOnionNetwork): OnionSystem {
  let last: CircuitInfo | undefined
  return {
    name: 'peerd',
    freshCircuit: async () => {
      await net.daemons.client.api('POST', '/api/v1/onion/new-circuits')
    },
    lastCircuit: async (): Promise<CircuitReport> => {
      const open = (await net.circuits()).filter(c => c.state === 'open' && !c.dirty && c.purpose === 'socks')
      last = open.sort((a, b) => Date.parse(b.createdAt) - Date.parse(a.createdAt))[0]
      if (last == null || last.buildMs == null) throw new Error('peerd shows no open SOCKS circuit after a stream went through one')
      return { id: last.id, buildMs: last.buildMs, hops: last.hops.map(h => net.roleOf(h.peerId)) }
    },
    relayPid: async hop => {
      const peerId = last?.hops[hop]?.peerId
      const pid = peerId == null ? undefined : net.daemonOf(peerId)?.process?.child.pid
      if (pid == null) throw new Error(`no daemon at hop ${hop} of the last circuit`)
      return pid
    },
    diagnostics: async () => {
      const circuits = await net.circuits().catch(() => [])
      const shown = circuits.slice(-4).map(c => `${c.id} ${c.state}${c.dirty ? ' dirty' : ''} ${c.hops.map(h => net.roleOf(h.peerId)).join('>')}`)
      const log = net.daemons.client.log().trim().split('\n').slice(-3).join(' | ')
      return `peerd circuits: ${shown.join(', ') || 'none'}; client log: ${log}`
    },
    clientPid: () => {
      const pid = net.daemons.client.process?.child.pid
      if (pid == null) throw new Error('the client daemon is not running')
      return pid
    }
  }
}
