/**
 * A LAN of hosts on one machine: one Linux network namespace per host, each joined by a veth
 * link to a bridge that lives in a namespace of its own (the hub), so nothing touches the
 * machine's real interfaces and no packet can leave: the hosts have no default route and the
 * hub no uplink. Addresses are 10.251.0.1… in a private /24; the hub's bridge has 10.251.0.254
 * (for helpers such as a BitTorrent tracker).
 *
 * Each host has its own uplink and downlink limit: a `tbf` qdisc on the host's end of its link
 * shapes what it sends (uplink), one on the hub's end shapes what it receives (downlink).
 *
 * A partition moves hosts' links from the main bridge onto one bridge per group, so hosts in
 * different groups cannot exchange a single packet (open TCP connections stall, as across a cut
 * cable); `heal()` moves every link back.
 */
import { execFile, execFileSync } from 'node:child_process'
import { promisify } from 'node:util'
import { deleteNamespaceSync, janitor, PREFIX } from './janitor.ts'
import { spawnIn, runIn } from './proc.ts'
import type { NsProcess } from './proc.ts'

const exec = promisify(execFile)

/** The subnet's first three octets. */
export const SUBNET = '10.251.0'
/** The hub bridge's own address (reachable from hosts on the main bridge only). */
export const HUB_IP = `${SUBNET}.254`

/** What one host should look like. */
export interface HostSpec {
  /** A short name (default `h<index>`). */
  name?: string
  /** Uplink limit in Mbit/s (what the host sends); undefined for none. */
  upMbit?: number
  /** Downlink limit in Mbit/s (what the host receives); undefined for none. */
  downMbit?: number
}

/** Bytes through a host's link since it was made (from its interface counters). */
export interface LinkCounters { txBytes: number, rxBytes: number }

/** One host of a {@link Network}. */
export interface NetHost {
  /** 1-based position in the network. */
  index: number
  name: string
  /** The namespace's name. */
  ns: string
  /** Its address on the LAN. */
  ip: string
  upMbit: number | undefined
  downMbit: number | undefined
  /** Starts `cmd args` inside the host. */
  spawn: (cmd: string, args: string[], options?: { stdin?: boolean, env?: NodeJS.ProcessEnv }) => NsProcess
  /** Runs `cmd args` inside the host to completion and returns its stdout (throws on failure). */
  run: (cmd: string, args: string[], timeoutMs?: number) => Promise<string>
  /** Its link's byte counters (eth0). */
  counters: () => Promise<LinkCounters>
}

let counter = 0

async function ip (...args: string[]): Promise<void> {
  await exec('ip', args)
}

/** tbf on `dev` in `ns` at `mbit` Mbit/s (removes the limit when undefined). */
export async function shape (ns: string, dev: string, mbit: number | undefined): Promise<void> {
  if (mbit == null) {
    await exec('tc', ['-n', ns, 'qdisc', 'del', 'dev', dev, 'root']).catch(() => {})
    return
  }
  const bytesPerSecond = mbit * 1e6 / 8
  // a burst of a few ms of traffic (≥ 64 KiB, one GSO segment), a queue of 50 ms
  const burst = Math.max(64 * 1024, Math.round(bytesPerSecond * 0.004))
  await exec('tc', ['-n', ns, 'qdisc', 'replace', 'dev', dev, 'root', 'tbf', 'rate', `${mbit}mbit`, 'burst', String(burst), 'latency', '50ms'])
}

/** A LAN of hosts; see the module comment. Build one with {@link Network.create}. */
export class Network {
  readonly hosts: NetHost[]
  /** Namespace name prefix of this network: `pdnet<pid>x<n>`. */
  readonly tag: string
  readonly hub: string
  private groups = 0
  private destroyed = false
  private readonly forget: () => void

  private constructor (tag: string, hosts: NetHost[], forget: () => void) {
    this.tag = tag
    this.hub = `${tag}-hub`
    this.hosts = hosts
    this.forget = forget
  }

  /** Builds the hosts of `specs` (needs root); everything is removed by {@link destroy} or the janitor. */
  static async create (specs: HostSpec[]): Promise<Network> {
    if (specs.length < 1 || specs.length > 250) throw new Error('a network has 1 to 250 hosts')
    const tag = `${PREFIX}${process.pid}x${counter++}`
    const hub = `${tag}-hub`
    const made: string[] = []
    const removeSync = (): void => { for (const ns of [...made].reverse()) deleteNamespaceSync(ns) }
    const forget = janitor.add({ what: `network ${tag}`, run: async () => { removeSync() }, runSync: removeSync })
    try {
      // the hub first, so a failure part-way leaves it last in `made` and removed after the hosts
      await ip('netns', 'add', hub)
      made.unshift(hub)
      await ip('-n', hub, 'link', 'add', 'br0', 'type', 'bridge')
      await ip('-n', hub, 'addr', 'add', `${HUB_IP}/24`, 'dev', 'br0')
      await ip('-n', hub, 'link', 'set', 'br0', 'up')
      await ip('-n', hub, 'link', 'set', 'lo', 'up')
      const hosts: NetHost[] = []
      for (const [i, spec] of specs.entries()) {
        const index = i + 1
        const ns = `${tag}-h${index}`
        await ip('netns', 'add', ns)
        made.push(ns)
        await ip('link', 'add', `v${index}`, 'netns', hub, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns)
        await ip('-n', hub, 'link', 'set', `v${index}`, 'master', 'br0')
        await ip('-n', hub, 'link', 'set', `v${index}`, 'up')
        const addr = `${SUBNET}.${index}`
        await ip('-n', ns, 'addr', 'add', `${addr}/24`, 'dev', 'eth0')
        await ip('-n', ns, 'link', 'set', 'eth0', 'up')
        await ip('-n', ns, 'link', 'set', 'lo', 'up')
        await shape(ns, 'eth0', spec.upMbit)
        await shape(hub, `v${index}`, spec.downMbit)
        hosts.push(netHost(ns, index, spec.name ?? `h${index}`, addr, spec))
      }
      return new Network(tag, hosts, forget)
    } catch (err) {
      removeSync()
      forget()
      throw err
    }
  }

  /** The host named `name` (or at 1-based `index`). */
  host (nameOrIndex: string | number): NetHost {
    const h = this.hosts.find(x => typeof nameOrIndex === 'number' ? x.index === nameOrIndex : x.name === nameOrIndex)
    if (h == null) throw new Error(`no host ${String(nameOrIndex)} in ${this.tag}`)
    return h
  }

  /** Every namespace of this network (hosts and hub). */
  namespaces (): string[] {
    return [...this.hosts.map(h => h.ns), this.hub]
  }

  /** Changes a host's limits (undefined removes one). */
  async setLimits (host: NetHost, limits: { upMbit?: number, downMbit?: number }): Promise<void> {
    await shape(host.ns, 'eth0', limits.upMbit)
    await shape(this.hub, `v${host.index}`, limits.downMbit)
    host.upMbit = limits.upMbit
    host.downMbit = limits.downMbit
  }

  /**
   * Splits the LAN: hosts in different `groups` can no longer reach each other; hosts in one
   * group still can. Hosts named in no group stay on the main bridge and form one more group
   * (which also keeps the hub's address). Replaces any earlier partition.
   */
  async partition (groups: Array<Array<NetHost | string | number>>): Promise<void> {
    await this.heal()
    const seen = new Set<number>()
    for (const [g, members] of groups.entries()) {
      const br = `brg${g + 1}`
      await ip('-n', this.hub, 'link', 'add', br, 'type', 'bridge')
      this.groups = g + 1
      await ip('-n', this.hub, 'link', 'set', br, 'up')
      for (const m of members) {
        const h = typeof m === 'object' ? m : this.host(m)
        if (seen.has(h.index)) throw new Error(`host ${h.name} is in two groups`)
        seen.add(h.index)
        await ip('-n', this.hub, 'link', 'set', `v${h.index}`, 'master', br)
      }
    }
  }

  /** Undoes {@link partition}: every host back on the main bridge. */
  async heal (): Promise<void> {
    if (this.groups === 0) return
    for (const h of this.hosts) await ip('-n', this.hub, 'link', 'set', `v${h.index}`, 'master', 'br0')
    for (let g = 1; g <= this.groups; g++) await ip('-n', this.hub, 'link', 'del', `brg${g}`).catch(() => {})
    this.groups = 0
  }

  /** Whether `from` can reach `to` right now (a TCP connect to a closed port answers with a reset). */
  async reachable (from: NetHost, to: NetHost, timeoutMs = 1_000): Promise<boolean> {
    const script = `const s=require('node:net').connect({host:'${to.ip}',port:9});s.on('error',e=>process.exit(e.code==='ECONNREFUSED'?0:1));s.on('connect',()=>process.exit(0));setTimeout(()=>process.exit(1),${timeoutMs})`
    try {
      await from.run(process.execPath, ['-e', script], timeoutMs + 5_000)
      return true
    } catch {
      return false
    }
  }

  /** Kills whatever still runs in the hosts and deletes every namespace and link. Safe to call twice. */
  async destroy (): Promise<void> {
    if (this.destroyed) return
    this.destroyed = true
    for (const h of this.hosts) deleteNamespaceSync(h.ns)
    deleteNamespaceSync(this.hub)
    this.forget()
  }
}

/** The {@link NetHost} of namespace `ns`, whose link is `eth0` with address `addr`. */
export function netHost (ns: string, index: number, name: string, addr: string, spec: HostSpec): NetHost {
  return {
    index,
    name,
    ns,
    ip: addr,
    upMbit: spec.upMbit,
    downMbit: spec.downMbit,
    spawn: (cmd, args, options) => spawnIn(ns, cmd, args, options),
    run: async (cmd, args, timeoutMs) => await runIn(ns, cmd, args, timeoutMs),
    counters: async () => await linkCounters(ns)
  }
}

/** The byte counters of `eth0` in namespace `ns`. */
export async function linkCounters (ns: string): Promise<LinkCounters> {
  try {
    const { stdout } = await exec('ip', ['-n', ns, '-j', '-s', 'link', 'show', 'dev', 'eth0'])
    const [link] = JSON.parse(stdout) as Array<{ stats64?: { rx: { bytes: number }, tx: { bytes: number } } }>
    if (link?.stats64 != null) return { txBytes: link.stats64.tx.bytes, rxBytes: link.stats64.rx.bytes }
  } catch { /* fall through */ }
  // older iproute2 without JSON stats: read sysfs from inside the namespace
  const read = async (f: string): Promise<number> => Number((await exec('ip', ['netns', 'exec', ns, 'cat', `/sys/class/net/eth0/statistics/${f}`])).stdout.trim())
  return { txBytes: await read('tx_bytes'), rxBytes: await read('rx_bytes') }
}

/** Why the harness cannot run here (not Linux, not root, no iproute2/tc, no namespaces), or undefined. */
export async function netUnavailable (): Promise<string | undefined> {
  if (process.platform !== 'linux') return 'the net bench needs Linux (network namespaces)'
  if (process.getuid?.() !== 0) return 'the net bench needs root: it creates network namespaces, veth links and tc qdiscs (run it with sudo)'
  for (const tool of ['ip', 'tc']) {
    try { execFileSync(tool, ['-V'], { stdio: 'ignore' }) } catch { return `\`${tool}\` (iproute2) is not installed` }
  }
  const probe = `${PREFIX}${process.pid}xprobe-hub`
  try {
    await ip('netns', 'add', probe)
    await ip('-n', probe, 'link', 'add', 'pa', 'type', 'veth', 'peer', 'name', 'pb')
    await exec('tc', ['-n', probe, 'qdisc', 'add', 'dev', 'pa', 'root', 'tbf', 'rate', '10mbit', 'burst', '65536', 'latency', '50ms'])
    await ip('-n', probe, 'link', 'add', 'br0', 'type', 'bridge')
  } catch (err) {
    return `cannot build namespaces, veth links, bridges and tbf qdiscs here: ${(err as Error).message.split('\n')[0] ?? ''}`
  } finally {
    deleteNamespaceSync(probe)
  }
  return undefined
}

/** Exits with code 2 and a clear message when the harness cannot run here (e.g. not root). */
export async function requireNet (): Promise<void> {
  const why = await netUnavailable()
  if (why != null) {
    process.stderr.write(`bench:net: ${why}\n`)
    process.exit(2)
  }
}

