/**
 * An Internet with home routers, on one machine: public hosts and routers on one bridge (the
 * "Internet", addresses 11.0.0.0/24, which libp2p treats as public: every reserved range,
 * 10/8 and 198.18/15 included, counts as private and would make AutoNAT and DCUtR skip the
 * addresses), and behind each router a home network 192.168.<k>.0/24 with one host.
 *
 * Each router masquerades with nftables and, as home routers do, drops unsolicited packets from
 * the Internet (no reset either, so a hole-punching SYN that arrives early is lost and resent
 * rather than refused). Two kinds of mapping:
 *
 * - `eim`: endpoint-independent mapping (most home routers): Linux keeps the source port of a
 *   connection whenever the tuple is free, so a host's port maps to the same public port for
 *   every destination;
 * - `symmetric`: endpoint-dependent mapping: every connection gets a random public port
 *   (`masquerade fully-random`), so no port can be predicted from another connection.
 *
 * A router can also run Debian's `miniupnpd` (UPnP IGD) for its home network (`upnp: true`).
 * Needs root, iproute2 and nftables (installed with apt-get when missing). Everything is removed
 * by `destroy()` or the harness's janitor.
 */
import { execFile, execFileSync } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { promisify } from 'node:util'
import { deleteNamespaceSync, janitor, PREFIX } from './janitor.ts'
import { netHost, shape } from './network.ts'
import type { HostSpec, NetHost } from './network.ts'
import { runIn, spawnIn } from './proc.ts'

const exec = promisify(execFile)

/** The Internet's subnet (first three octets). */
export const INTERNET = '11.0.0'

/** How a router maps ports. */
export type NatKind = 'eim' | 'symmetric'

/** A home network behind a router. */
export interface HomeSpec extends HostSpec {
  nat: NatKind
  /** The router offers UPnP IGD (Debian's miniupnpd on its home side). */
  upnp?: boolean
}

/** A router of a {@link NatNetwork}: its namespace and public address. */
export interface Router {
  name: string
  ns: string
  kind: NatKind
  /** Its address on the Internet. */
  publicIp: string
  /** Its address on the home network (the home host's gateway). */
  lanIp: string
  /** Whether it runs miniupnpd. */
  upnp: boolean
  /** Runs `cmd args` inside the router and returns stdout. */
  run: (cmd: string, args: string[], timeoutMs?: number) => Promise<string>
}

/** A home host and the router in front of it. */
export interface Home { host: NetHost, router: Router }

let counter = 0

async function ip (...args: string[]): Promise<void> {
  await exec('ip', args)
}

/** Installs nftables with apt-get when `nft` is missing; throws saying how to install it otherwise. */
export async function requireNft (): Promise<void> {
  try { execFileSync('nft', ['--version'], { stdio: 'ignore' }); return } catch { /* install below */ }
  try {
    await exec('apt-get', ['install', '-y', '-q', 'nftables'], { timeout: 300_000 }).catch(async () => {
      await exec('apt-get', ['update', '-q'], { timeout: 300_000 })
      await exec('apt-get', ['install', '-y', '-q', 'nftables'], { timeout: 300_000 })
    })
    execFileSync('nft', ['--version'], { stdio: 'ignore' })
  } catch (err) {
    throw new Error(`nftables is needed for the NAT routers and could not be installed (apt-get install nftables): ${(err as Error).message.split('\n')[0] ?? ''}`, { cause: err })
  }
}

/**
 * The router's ruleset: masquerade out of `wan`, forward only what the home network started (or
 * what miniupnpd opened: its chains are jumped to and stay empty without it), drop anything
 * unsolicited addressed to the router itself. One `inet` table, as miniupnpd's nftables backend
 * expects its chains there.
 */
function ruleset (kind: NatKind): string {
  const masq = kind === 'symmetric' ? 'masquerade fully-random' : 'masquerade'
  return `
table inet filter {
  chain forward {
    type filter hook forward priority filter; policy drop;
    ct state established,related accept
    iifname "lan" oifname "wan" accept
    jump miniupnpd
  }
  chain miniupnpd {
  }
  chain prerouting {
    type nat hook prerouting priority dstnat; policy accept;
    jump prerouting_miniupnpd
  }
  chain prerouting_miniupnpd {
  }
  chain postrouting {
    type nat hook postrouting priority srcnat; policy accept;
    jump postrouting_miniupnpd
    oifname "wan" ${masq}
  }
  chain postrouting_miniupnpd {
  }
  chain input {
    type filter hook input priority filter; policy accept;
    iifname "wan" ct state established,related accept
    iifname "wan" icmp type echo-request accept
    iifname "wan" drop
  }
}
`
}

/** miniupnpd's configuration for home network `k` (secure mode: a host maps ports to itself only). */
function miniupnpdConfig (k: number): string {
  return [
    'ext_ifname=wan', 'listening_ip=lan', 'port=0', 'enable_upnp=yes', 'enable_natpmp=no', 'secure_mode=yes',
    'system_uptime=yes', 'notify_interval=30', 'clean_ruleset_interval=0', `uuid=${randomUUID()}`,
    `allow 1024-65535 192.168.${k}.0/24 1024-65535`, 'deny 0-65535 0.0.0.0/0 0-65535', ''
  ].join('\n')
}

/** Installs miniupnpd with apt-get when it is missing; throws saying how otherwise. */
export async function requireMiniupnpd (): Promise<void> {
  try { execFileSync('sh', ['-c', 'command -v miniupnpd'], { stdio: 'ignore' }); return } catch { /* install below */ }
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
  try {
    await exec('apt-get', ['install', '-y', '-q', 'miniupnpd'], { env, timeout: 300_000 }).catch(async () => {
      await exec('apt-get', ['update', '-q'], { env, timeout: 300_000 })
      await exec('apt-get', ['install', '-y', '-q', 'miniupnpd'], { env, timeout: 300_000 })
    })
  } catch (err) {
    throw new Error(`miniupnpd is needed for UPnP routers and could not be installed (apt-get install miniupnpd): ${(err as Error).message.split('\n')[0] ?? ''}`, { cause: err })
  }
}

/** Public hosts and home networks behind NATs; see the module comment. */
export class NatNetwork {
  /** Hosts with public addresses (the relay, servers…). */
  readonly publicHosts: NetHost[]
  /** Home hosts, each behind its own router. */
  readonly homes: Home[]
  readonly tag: string
  private destroyed = false
  private readonly removeSync: () => void
  private readonly forget: () => void

  private constructor (tag: string, publicHosts: NetHost[], homes: Home[], removeSync: () => void, forget: () => void) {
    this.tag = tag
    this.publicHosts = publicHosts
    this.homes = homes
    this.removeSync = removeSync
    this.forget = forget
  }

  /** Builds `publicHosts` hosts on the Internet and one home (router + host) per entry of `homes`. */
  static async create (spec: { publicHosts: HostSpec[], homes: HomeSpec[] }): Promise<NatNetwork> {
    if (spec.publicHosts.length > 90 || spec.homes.length > 90) throw new Error('at most 90 public hosts and 90 homes')
    await requireNft()
    if (spec.homes.some(h => h.upnp === true)) await requireMiniupnpd()
    const tag = `${PREFIX}${process.pid}n${counter++}`
    const hub = `${tag}-hub`
    const made: string[] = []
    const files: string[] = []
    const removeSync = (): void => {
      for (const ns of [...made].reverse()) deleteNamespaceSync(ns)
      for (const f of files) rmSync(f, { force: true })
    }
    const forget = janitor.add({ what: `NAT network ${tag}`, run: async () => { removeSync() }, runSync: removeSync })
    try {
      await ip('netns', 'add', hub)
      made.unshift(hub)
      await ip('-n', hub, 'link', 'add', 'br0', 'type', 'bridge')
      await ip('-n', hub, 'link', 'set', 'br0', 'up')
      let port = 0
      // one veth from the hub's bridge into `ns` as `dev`, with `addr`
      const attach = async (ns: string, dev: string, addr: string): Promise<string> => {
        const hubEnd = `v${++port}`
        await ip('link', 'add', hubEnd, 'netns', hub, 'type', 'veth', 'peer', 'name', dev, 'netns', ns)
        await ip('-n', hub, 'link', 'set', hubEnd, 'master', 'br0')
        await ip('-n', hub, 'link', 'set', hubEnd, 'up')
        await ip('-n', ns, 'addr', 'add', `${addr}/24`, 'dev', dev)
        await ip('-n', ns, 'link', 'set', dev, 'up')
        await ip('-n', ns, 'link', 'set', 'lo', 'up')
        return hubEnd
      }
      const publicHosts: NetHost[] = []
      for (const [i, s] of spec.publicHosts.entries()) {
        const ns = `${tag}-p${i + 1}`
        await ip('netns', 'add', ns)
        made.push(ns)
        const addr = `${INTERNET}.${i + 1}`
        const hubEnd = await attach(ns, 'eth0', addr)
        await shape(ns, 'eth0', s.upMbit)
        await shape(hub, hubEnd, s.downMbit)
        publicHosts.push(netHost(ns, i + 1, s.name ?? `p${i + 1}`, addr, s))
      }
      const homes: Home[] = []
      for (const [i, s] of spec.homes.entries()) {
        const k = i + 1
        const rns = `${tag}-r${k}`
        const hns = `${tag}-r${k}h`
        await ip('netns', 'add', rns)
        made.push(rns)
        await ip('netns', 'add', hns)
        made.push(hns)
        const publicIp = `${INTERNET}.${100 + k}`
        await attach(rns, 'wan', publicIp)
        const lanIp = `192.168.${k}.1`
        const hostIp = `192.168.${k}.2`
        await ip('link', 'add', 'lan', 'netns', rns, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', hns)
        await ip('-n', rns, 'addr', 'add', `${lanIp}/24`, 'dev', 'lan')
        await ip('-n', rns, 'link', 'set', 'lan', 'up')
        await ip('-n', hns, 'addr', 'add', `${hostIp}/24`, 'dev', 'eth0')
        await ip('-n', hns, 'link', 'set', 'eth0', 'up')
        await ip('-n', hns, 'link', 'set', 'lo', 'up')
        await ip('-n', hns, 'route', 'add', 'default', 'via', lanIp)
        // SSDP (UPnP discovery) is multicast on the home network
        await ip('-n', hns, 'route', 'add', '239.0.0.0/8', 'dev', 'eth0')
        await exec('ip', ['netns', 'exec', rns, 'sysctl', '-q', '-w', 'net.ipv4.ip_forward=1'])
        execFileSync('ip', ['netns', 'exec', rns, 'nft', '-f', '-'], { input: ruleset(s.nat), stdio: ['pipe', 'ignore', 'pipe'] })
        await shape(hns, 'eth0', s.upMbit)
        await shape(rns, 'lan', s.downMbit)
        if (s.upnp === true) {
          await ip('-n', rns, 'route', 'add', '224.0.0.0/4', 'dev', 'lan')
          const conf = join(tmpdir(), `${rns}-miniupnpd.conf`)
          writeFileSync(conf, miniupnpdConfig(k))
          files.push(conf, join(tmpdir(), `${rns}-miniupnpd.pid`))
          // -d: foreground, logging on stderr; the process lives in the router's namespace and dies with it
          const daemon = spawnIn(rns, 'miniupnpd', ['-d', '-f', conf, '-P', join(tmpdir(), `${rns}-miniupnpd.pid`)])
          const deadline = Date.now() + 10_000
          while (!/HTTP listening on port/.test(daemon.stderr())) {
            if (!daemon.running() || Date.now() > deadline) throw new Error(`miniupnpd did not start on ${rns}: ${daemon.stderr().slice(-1000)}`)
            await sleep(50)
          }
        }
        const host = netHost(hns, 100 + k, s.name ?? `home${k}`, hostIp, s)
        homes.push({
          host,
          router: { name: `r${k}`, ns: rns, kind: s.nat, upnp: s.upnp === true, publicIp, lanIp, run: async (cmd, args, t) => await runIn(rns, cmd, args, t) }
        })
      }
      return new NatNetwork(tag, publicHosts, homes, removeSync, forget)
    } catch (err) {
      removeSync()
      forget()
      throw err
    }
  }

  /** The port mappings miniupnpd holds on `router`, from its redirections in the ruleset. */
  async mappings (router: Router): Promise<Array<{ externalPort: number, internal: string }>> {
    const out = await router.run('nft', ['list', 'chain', 'inet', 'filter', 'prerouting_miniupnpd'])
    return [...out.matchAll(/th dport (\d+) dnat ip to ([\d.]+:\d+)/g)].map(m => ({ externalPort: Number(m[1]), internal: m[2] as string }))
  }

  /** Kills whatever runs in the hosts and routers and deletes every namespace. Safe to call twice. */
  async destroy (): Promise<void> {
    if (this.destroyed) return
    this.destroyed = true
    this.removeSync()
    this.forget()
  }
}
