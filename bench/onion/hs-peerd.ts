/**
 * The peerd side of the onion bench's onion-service setting: `peerd daemon --network regtest` on
 * each relay host (relays, `--onion-relay-rate 100MB` so the cap never binds, as tor relays are
 * uncapped), on the client host (`--socks 127.0.0.1:9050`, relays nothing) and on the server host
 * (relays nothing), which publishes the web server next to it with
 * `POST /api/v1/onion/services` (what `peerd onion serve --target IP:8080` sends). The last relay
 * is an exit that accepts the web server's address and port only, as the tor network's (an onion
 * service needs none). peerd chooses every path itself, as the tor it is compared with does for
 * onion-service circuits.
 */
import { join } from 'node:path'
import { PeerdDaemon } from '../net/harness/index.ts'
import type { NetHost } from '../net/harness/index.ts'
import type { HostedServiceInfo } from '../../src/onion/hs/types.ts'
import type { CircuitInfo, OnionStatus } from '../../src/onion/types.ts'
import { SOCKS_PORT } from './tor-network.ts'

/** The network to build. */
export interface PeerdHsSpec {
  /** A directory of the run; each daemon's data dir is `dir/<host name>`. */
  dir: string
  relays: NetHost[]
  client: NetHost
  /** The service's host, where the web server listens on `target`. */
  service: NetHost
  target: { ip: string, port: number }
  progress?: (line: string) => void
}

/** The service's name in its daemon (`peerd onion services`). */
const NAME = 'bench'

async function until<T> (what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = performance.now() + timeoutMs
  let error = ''
  for (;;) {
    try {
      const v = await probe()
      if (v !== undefined) return v
    } catch (err) {
      error = `: ${(err as Error).message}`
    }
    if (performance.now() > deadline) throw new Error(`peerd: no ${what} within ${timeoutMs / 1000} s${error}`)
    await new Promise(resolve => setTimeout(resolve, 1_000))
  }
}

/** peerd daemons of the onion-service setting; see the module comment. */
export class PeerdHsNetwork {
  readonly relays: PeerdDaemon[]
  readonly client: PeerdDaemon
  readonly service: PeerdDaemon
  /** The service's address (`<56 base32>.peerd`), once {@link PeerdHsNetwork.publish} ran. */
  address = ''

  private constructor (relays: PeerdDaemon[], client: PeerdDaemon, service: PeerdDaemon) {
    this.relays = relays
    this.client = client
    this.service = service
  }

  /** Starts the daemons (the first relay first, the others bootstrapped to it) and waits until both ends know every relay. */
  static async start (spec: PeerdHsSpec): Promise<PeerdHsNetwork> {
    const daemon = (host: NetHost, args: string[]): PeerdDaemon => new PeerdDaemon(host, { dataDir: join(spec.dir, host.name), extraArgs: args })
    const exit = ['--onion-exit', '--onion-exit-policy', `accept ${spec.target.ip}:${spec.target.port},reject *:*`]
    const relays = spec.relays.map((h, i) => daemon(h, ['--onion-relay-rate', '100MB', ...(i === spec.relays.length - 1 ? exit : [])]))
    const client = daemon(spec.client, ['--no-onion-relay', '--socks', `127.0.0.1:${SOCKS_PORT}`])
    const service = daemon(spec.service, ['--no-onion-relay'])
    const [first, ...rest] = relays
    if (first == null) throw new Error('peerd: no relay host')
    await first.start()
    const others = [...rest, client, service]
    for (const d of others) d.bootstrap = [first.address]
    // a few at a time: each start costs about a second of CPU
    for (let i = 0; i < others.length; i += 4) await Promise.all(others.slice(i, i + 4).map(async d => { await d.start() }))
    const net = new PeerdHsNetwork(relays, client, service)
    spec.progress?.(`peerd: ${relays.length} relays, a client and a service host started`)
    for (const end of [client, service]) {
      await until(`${relays.length} relays in the ${end.host.name}'s view`, 180_000, async () => {
        const s = await end.api<OnionStatus>('GET', '/api/v1/onion/status')
        return s.relaysKnown >= relays.length ? s : undefined
      })
    }
    return net
  }

  /** Publishes `target` as an onion service and waits until its descriptor is in the DHT with every introduction point up. */
  async publish (target: { ip: string, port: number }): Promise<HostedServiceInfo> {
    const info = await this.service.api<HostedServiceInfo>('POST', '/api/v1/onion/services', { target: `${target.ip}:${target.port}`, name: NAME }, 180_000)
    this.address = info.address
    return await until('published descriptor with 3 introduction points', 180_000, async () => {
      const s = await this.info()
      return s.publishedAt != null && s.introPoints >= 3 ? s : undefined
    })
  }

  /** The service as its host shows it (`peerd onion services --json`). */
  async info (): Promise<HostedServiceInfo> {
    const { services } = await this.service.api<{ services: HostedServiceInfo[] }>('GET', '/api/v1/onion/services')
    const s = services.find(x => x.name === NAME)
    if (s == null) throw new Error('peerd: the service host lists no bench service')
    return s
  }

  /** A daemon's circuits. */
  async circuits (d: PeerdDaemon): Promise<CircuitInfo[]> {
    return (await d.api<{ circuits: CircuitInfo[] }>('GET', '/api/v1/onion/circuits')).circuits
  }

  /** The host name of the daemon with `peerId`, or the id itself. */
  nameOf (peerId: string): string {
    return [...this.relays, this.client, this.service].find(d => d.peerId === peerId)?.host.name ?? peerId
  }

  /** Stops every daemon (the janitor would too). */
  async stop (): Promise<void> {
    await Promise.all([...this.relays, this.client, this.service].map(async d => { await d.stop(5_000) }))
  }
}
