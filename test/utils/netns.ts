/**
 * Separate test hosts on one machine: Linux network namespaces joined by veth links to a
 * bridge that lives in a namespace of its own, so no traffic touches the machine's real
 * interfaces. Needs root and iproute2. Everything made here is removed by `destroy()`.
 */
import { execFile, spawn } from 'node:child_process'
import type { ChildProcess, SpawnOptions } from 'node:child_process'
import { promisify } from 'node:util'

const run = promisify(execFile)

/** Why namespaces cannot be used here, or undefined when they can. */
export async function netnsUnavailable (): Promise<string | undefined> {
  if (process.platform !== 'linux') return 'network namespaces need Linux'
  if (process.getuid?.() !== 0) return 'network namespaces need root'
  try {
    await run('ip', ['-V'])
  } catch {
    return 'iproute2 (`ip`) is not installed'
  }
  // root without the right to make namespaces (a container without CAP_SYS_ADMIN): say so
  const probe = `pdprobe${process.pid}`
  try {
    await run('ip', ['netns', 'add', probe])
  } catch (err) {
    return `cannot create network namespaces here: ${(err as Error).message.split('\n')[0] ?? ''}`
  }
  await run('ip', ['netns', 'del', probe]).catch(() => {})
  return undefined
}

/** One host of a {@link Topology}. */
export interface NetnsHost {
  /** Namespace name. */
  ns: string
  /** The host's IPv4 address on the shared LAN. */
  ip: string
  /** The host's IPv6 address on the shared LAN (`fd00:250::<n>`), when the LAN was made with `ipv6`. */
  ip6?: string
  /** Spawns `cmd args` inside the host's namespace. */
  spawn (cmd: string, args: string[], options?: SpawnOptions): ChildProcess
  /** Runs `cmd args` inside the namespace and returns stdout. */
  exec (cmd: string, args: string[]): Promise<{ stdout: string, stderr: string }>
}

/** A LAN of hosts. */
export interface Topology {
  hosts: NetnsHost[]
  /** Deletes every namespace and link this topology made. */
  destroy (): Promise<void>
}

/** Options of {@link createLan}. */
export interface LanOptions {
  /** Also give each host an IPv6 address, `fd00:250::<n>/64` (a unique local address). */
  ipv6?: boolean
}

/**
 * Builds `count` hosts on one bridged LAN 10.250.0.0/24 (and fd00:250::/64 with `ipv6`), with
 * multicast routed onto it.
 */
export async function createLan (count: number, options: LanOptions = {}): Promise<Topology> {
  const tag = `pd${process.pid % 100000}${Math.floor(Math.random() * 100)}`
  const hub = `${tag}-hub`
  const made: string[] = []
  const ip = async (...args: string[]): Promise<void> => { await run('ip', args) }
  const destroy = async (): Promise<void> => {
    for (const ns of made.reverse()) await run('ip', ['netns', 'del', ns]).catch(() => {})
  }
  try {
    await ip('netns', 'add', hub)
    made.push(hub)
    await ip('-n', hub, 'link', 'add', 'br0', 'type', 'bridge')
    await ip('-n', hub, 'link', 'set', 'br0', 'up')
    const hosts: NetnsHost[] = []
    for (let i = 1; i <= count; i++) {
      const ns = `${tag}-h${i}`
      await ip('netns', 'add', ns)
      made.push(ns)
      await ip('link', 'add', `v${i}`, 'netns', hub, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns)
      await ip('-n', hub, 'link', 'set', `v${i}`, 'master', 'br0')
      await ip('-n', hub, 'link', 'set', `v${i}`, 'up')
      const addr = `10.250.0.${i}`
      await ip('-n', ns, 'addr', 'add', `${addr}/24`, 'dev', 'eth0')
      await ip('-n', ns, 'link', 'set', 'eth0', 'up')
      await ip('-n', ns, 'link', 'set', 'lo', 'up')
      await ip('-n', ns, 'route', 'add', '224.0.0.0/4', 'dev', 'eth0')
      // nodad: the address is usable at once, not after duplicate address detection's second or so
      const addr6 = options.ipv6 === true ? `fd00:250::${i}` : undefined
      if (addr6 != null) await ip('-n', ns, '-6', 'addr', 'add', `${addr6}/64`, 'dev', 'eth0', 'nodad')
      hosts.push({
        ns,
        ip: addr,
        ...(addr6 != null ? { ip6: addr6 } : {}),
        spawn: (cmd, args, options = {}) => spawn('ip', ['netns', 'exec', ns, cmd, ...args], options),
        exec: async (cmd, args) => await run('ip', ['netns', 'exec', ns, cmd, ...args], { maxBuffer: 16 * 1024 * 1024 })
      })
    }
    return { hosts, destroy }
  } catch (err) {
    await destroy()
    throw err
  }
}
