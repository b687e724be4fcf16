/**
 * A home router that offers UPnP IGD, in network namespaces: a router namespace with a WAN link
 * (11.0.0.1/24, an address libp2p counts as public) to a WAN-side host (11.0.0.2) and a LAN link
 * (192.168.1.1/24) to a home host (192.168.1.2) whose default route is the router. The router
 * masquerades the LAN behind its WAN address with nftables and runs Debian's `miniupnpd` on the
 * LAN side (nftables backend, secure mode: a LAN host maps ports to itself only). The WAN host has
 * no route into the LAN, so it reaches the home host only through a mapping. Needs root, iproute2,
 * and the Debian packages miniupnpd and nftables ({@link upnpUnavailable} installs them).
 */
import { execFile, spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import type { NetnsHost } from './netns.ts'

const run = promisify(execFile)

/** The router's WAN address, the one mappings are made on. */
export const WAN_IP = '11.0.0.1'
/** The WAN-side host's address. */
export const WAN_HOST_IP = '11.0.0.2'
/** The home host's LAN address. */
export const HOME_IP = '192.168.1.2'

/** A router with UPnP IGD between a home host and a WAN host; see the module header. */
export interface UpnpRouter {
  /** The router's namespace (miniupnpd and the nftables ruleset live here). */
  router: NetnsHost
  /** The host behind the router, 192.168.1.2. */
  home: NetnsHost
  /** The host on the WAN side, 11.0.0.2. */
  wan: NetnsHost
  /** The port mappings miniupnpd holds now, as its redirections in the router's nftables ruleset. */
  mappings (): Promise<Array<{ protocol: string, externalPort: number, internal: string }>>
  /** Stops miniupnpd and deletes every namespace this made. */
  destroy (): Promise<void>
}

/** Why the UPnP router cannot be built here (after `apt-get install` of what is missing), or undefined. */
export async function upnpUnavailable (): Promise<string | undefined> {
  const missing = async (): Promise<boolean> => {
    try {
      await run('sh', ['-c', 'command -v miniupnpd && command -v nft'])
      return false
    } catch { return true }
  }
  if (!await missing()) return undefined
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
  const packages = ['miniupnpd', 'nftables']
  try {
    await run('apt-get', ['install', '-y', '-q', ...packages], { env }).catch(async () => {
      await run('apt-get', ['update', '-q'], { env })
      await run('apt-get', ['install', '-y', '-q', ...packages], { env })
    })
  } catch (err) {
    return `miniupnpd or nftables is missing and \`apt-get install\` failed: ${(err as Error).message.split('\n')[0] ?? ''}`
  }
  return await missing() ? 'miniupnpd or nftables is not installed' : undefined
}

function host (ns: string, ip: string): NetnsHost {
  return {
    ns,
    ip,
    spawn: (cmd, args, options = {}) => spawn('ip', ['netns', 'exec', ns, cmd, ...args], options),
    exec: async (cmd, args) => await run('ip', ['netns', 'exec', ns, cmd, ...args], { maxBuffer: 16 * 1024 * 1024 })
  }
}

// miniupnpd's nftables backend adds its rules to these chains (its defaults: table "filter",
// chains miniupnpd, prerouting_miniupnpd, postrouting_miniupnpd); the router masquerades the LAN
const RULESET = `
table inet filter {
  chain forward {
    type filter hook forward priority 0; policy drop;
    ct state established,related accept
    iifname "lan0" oifname "wan0" accept
    jump miniupnpd
  }
  chain miniupnpd {
  }
  chain prerouting {
    type nat hook prerouting priority -100; policy accept;
    jump prerouting_miniupnpd
  }
  chain prerouting_miniupnpd {
  }
  chain postrouting {
    type nat hook postrouting priority 100; policy accept;
    jump postrouting_miniupnpd
    oifname "wan0" masquerade
  }
  chain postrouting_miniupnpd {
  }
}
`

function miniupnpdConfig (uuid: string): string {
  return [
    'ext_ifname=wan0',
    'listening_ip=lan0',
    'port=0',
    'enable_upnp=yes',
    'enable_natpmp=no',
    'secure_mode=yes',
    'system_uptime=yes',
    'notify_interval=30',
    'clean_ruleset_interval=0',
    `uuid=${uuid}`,
    'allow 1024-65535 192.168.1.0/24 1024-65535',
    'deny 0-65535 0.0.0.0/0 0-65535',
    ''
  ].join('\n')
}

/** Builds the router, the home host and the WAN host, with miniupnpd running; see the module header. */
export async function createUpnpRouter (): Promise<UpnpRouter> {
  const tag = `pu${process.pid % 100000}${Math.floor(Math.random() * 100)}`
  const names = { router: `${tag}-rt`, home: `${tag}-home`, wan: `${tag}-wan` }
  const made: string[] = []
  let daemon: ChildProcess | undefined
  let dir: string | undefined
  const ip = async (...args: string[]): Promise<void> => { await run('ip', args) }
  const destroy = async (): Promise<void> => {
    if (daemon != null && daemon.exitCode == null && daemon.signalCode == null) {
      const exited = new Promise(resolve => daemon?.once('exit', resolve))
      daemon.kill('SIGTERM')
      await Promise.race([exited, new Promise(resolve => setTimeout(resolve, 2000))])
      if (daemon.exitCode == null && daemon.signalCode == null) daemon.kill('SIGKILL')
    }
    for (const ns of made.reverse()) await run('ip', ['netns', 'del', ns]).catch(() => {})
    if (dir != null) await rm(dir, { recursive: true, force: true })
  }
  try {
    for (const ns of [names.router, names.home, names.wan]) {
      await ip('netns', 'add', ns)
      made.push(ns)
      await ip('-n', ns, 'link', 'set', 'lo', 'up')
    }
    await ip('link', 'add', 'wan0', 'netns', names.router, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', names.wan)
    await ip('link', 'add', 'lan0', 'netns', names.router, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', names.home)
    await ip('-n', names.router, 'addr', 'add', `${WAN_IP}/24`, 'dev', 'wan0')
    await ip('-n', names.router, 'addr', 'add', '192.168.1.1/24', 'dev', 'lan0')
    await ip('-n', names.wan, 'addr', 'add', `${WAN_HOST_IP}/24`, 'dev', 'eth0')
    await ip('-n', names.home, 'addr', 'add', `${HOME_IP}/24`, 'dev', 'eth0')
    for (const [ns, dev] of [[names.router, 'wan0'], [names.router, 'lan0'], [names.wan, 'eth0'], [names.home, 'eth0']] as const) {
      await ip('-n', ns, 'link', 'set', dev, 'up')
    }
    await ip('-n', names.home, 'route', 'add', 'default', 'via', '192.168.1.1')
    // SSDP (239.255.255.250) goes out on the LAN on both sides
    await ip('-n', names.home, 'route', 'add', '224.0.0.0/4', 'dev', 'eth0')
    await ip('-n', names.router, 'route', 'add', '224.0.0.0/4', 'dev', 'lan0')
    const router = host(names.router, WAN_IP)
    await router.exec('sysctl', ['-qw', 'net.ipv4.ip_forward=1'])
    dir = await mkdtemp(join(tmpdir(), 'peerd-upnp-'))
    await writeFile(join(dir, 'ruleset.nft'), RULESET)
    await router.exec('nft', ['-f', join(dir, 'ruleset.nft')])
    const conf = join(dir, 'miniupnpd.conf')
    await writeFile(conf, miniupnpdConfig(randomUUID()))
    // -d: foreground, logs on stderr; -P: a pid file of this router's own
    daemon = router.spawn('miniupnpd', ['-d', '-f', conf, '-P', join(dir, 'miniupnpd.pid')], { stdio: ['ignore', 'ignore', 'pipe'] })
    let log = ''
    daemon.stderr?.on('data', (d: Buffer) => { log += d.toString() })
    const home = host(names.home, HOME_IP)
    // ready once it serves its device description (SSDP is set up before that)
    const deadline = Date.now() + 10_000
    while (!/HTTP listening on port/.test(log)) {
      if (daemon.exitCode != null || Date.now() > deadline) throw new Error(`miniupnpd did not start: ${log.slice(-2000)}`)
      await new Promise(resolve => setTimeout(resolve, 50))
    }
    const mappings = async (): Promise<Array<{ protocol: string, externalPort: number, internal: string }>> => {
      // the redirections miniupnpd added, e.g. `iif "wan0" @nh,72,8 0x6 th dport 4001 dnat ip to 192.168.1.2:4001`
      const { stdout } = await router.exec('nft', ['list', 'chain', 'inet', 'filter', 'prerouting_miniupnpd'])
      const out: Array<{ protocol: string, externalPort: number, internal: string }> = []
      for (const m of stdout.matchAll(/@nh,72,8 0x(6|11) th dport (\d+) dnat ip to ([\d.]+:\d+)/g)) {
        out.push({ protocol: m[1] === '6' ? 'TCP' : 'UDP', externalPort: Number(m[2]), internal: m[3] as string })
      }
      return out
    }
    return { router, home, wan: host(names.wan, WAN_HOST_IP), mappings, destroy }
  } catch (err) {
    await destroy()
    throw err
  }
}
