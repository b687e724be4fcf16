/**
 * IP addresses as keys for peer scoring: one canonical text per address (IPv4-mapped IPv6
 * becomes IPv4), and the network prefix one holder is likely to control, /24 for IPv4 and /48
 * for IPv6 (the usual smallest allocation of each), as Bitcoin Core groups addresses; and the
 * unit the per-IP connection cap counts, the address for IPv4 and its /64 for IPv6 (one host
 * holds a whole /64, so counting single IPv6 addresses would not cap it at all).
 */
import { isIPv4, isIPv6 } from 'node:net'

/** The eight 16-bit groups of an IPv6 address, or undefined if it is not one. */
function ipv6Groups (ip: string): number[] | undefined {
  if (!isIPv6(ip)) return undefined
  let text = ip.replace(/%.*$/, '').toLowerCase()
  // an IPv4 tail (::ffff:1.2.3.4) is two groups
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text)
  if (v4 != null) {
    const [a, b, c, d] = v4.slice(1).map(Number) as [number, number, number, number]
    text = text.slice(0, v4.index) + ((a << 8) | b).toString(16) + ':' + ((c << 8) | d).toString(16)
  }
  const [head = '', tail] = text.split('::')
  const parse = (s: string): number[] => s === '' ? [] : s.split(':').map(g => parseInt(g, 16))
  const front = parse(head)
  const back = tail == null ? [] : parse(tail)
  const zeros = 8 - front.length - back.length
  return [...front, ...new Array<number>(Math.max(0, zeros)).fill(0), ...back]
}

/** One text per IP address (IPv6 written in full, IPv4-mapped IPv6 as IPv4), or undefined if `ip` is not an IP address. */
export function canonicalIp (ip: string): string | undefined {
  if (isIPv4(ip)) return ip
  const g = ipv6Groups(ip)
  if (g == null) return undefined
  if (g.slice(0, 5).every(x => x === 0) && g[5] === 0xffff) {
    const [hi = 0, lo = 0] = g.slice(6)
    return `${hi >> 8}.${hi & 0xff}.${lo >> 8}.${lo & 0xff}`
  }
  return g.map(x => x.toString(16)).join(':')
}

/** The /24 (IPv4) or /48 (IPv6) network of `ip`, or undefined if `ip` is not an IP address. */
export function prefixOf (ip: string): string | undefined {
  const c = canonicalIp(ip)
  if (c == null) return undefined
  if (isIPv4(c)) return c.replace(/\.\d+$/, '.0/24')
  return c.split(':').slice(0, 3).join(':') + '::/48'
}

/**
 * What the per-IP connection cap counts `ip` as: the canonical address for IPv4 and loopback, the
 * /64 network for other IPv6 addresses (SLAAC and privacy extensions hand each host a whole /64).
 * Undefined if `ip` is not an IP address.
 */
export function connectionGroupOf (ip: string): string | undefined {
  const c = canonicalIp(ip)
  if (c == null) return undefined
  if (isIPv4(c) || isLoopback(c)) return c
  return c.split(':').slice(0, 4).join(':') + '::/64'
}

/** Whether `ip` is a loopback address (127.0.0.0/8, ::1), which every local node shares. */
export function isLoopback (ip: string): boolean {
  const c = canonicalIp(ip)
  if (c == null) return false
  return c.startsWith('127.') || c === '0:0:0:0:0:0:0:1'
}
