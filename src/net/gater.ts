/**
 * Connection gating: a cap on inbound connections per remote IP address (per /64 for IPv6), a ban list for peers
 * that misbehaved or belong to another network, and the addresses and networks discouraged
 * because peers there misbehaved (see {@link PeerdGater.discourage}).
 */
import type { Connection, ConnectionGater, MultiaddrConnection, PeerId } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import { canonicalIp, connectionGroupOf, isLoopback, prefixOf } from './addresses.ts'
import { LruMap } from './lru.ts'

/** Banned peer ids kept; past it the oldest ban is forgotten (the address stays discouraged). */
export const MAX_BANS = 50_000
/** Discouraged addresses and networks kept, as many as Bitcoin Core's discouragement filter holds. */
export const MAX_DISCOURAGED = 50_000
/** Peers whose last address is remembered, to score an address after its peer has gone. */
export const MAX_REMEMBERED_ADDRESSES = 8192

/** The IP address of a multiaddr, or undefined for non-IP addresses (relay, memory). */
export function ipOf (ma: Multiaddr): string | undefined {
  const c = ma.getComponents().find(c => c.name === 'ip4' || c.name === 'ip6')
  return c?.value
}

/**
 * The IP address of the peer itself: undefined for a relayed connection (`/p2p-circuit`),
 * whose IP address is the relay's and must not answer for the peer's misbehaviour.
 */
export function peerIpOf (ma: Multiaddr): string | undefined {
  if (ma.getComponents().some(c => c.name === 'p2p-circuit')) return undefined
  return ipOf(ma)
}

/** What the gater needs to see of the node. */
export interface GaterInit {
  maxConnectionsPerIp: number
  /** The node's connection limit: a discouraged loopback address connects only while below it. */
  maxConnections?: number
  /** Open connections; bound late because the gater is built before libp2p. */
  connections: () => Connection[]
  onDeny?: (reason: string, detail: Record<string, unknown>) => void
  /**
   * Whether `peer` may reserve a slot on this node's relay. peerd's relays carry peerd traffic
   * without libp2p's per-connection data and time limits, so they serve peerd nodes only.
   */
  relayClient?: (peer: PeerId) => boolean | Promise<boolean>
}

/** A connection gater with a per-IP inbound cap, a timed ban list and discouraged addresses. */
export class PeerdGater implements ConnectionGater {
  private readonly init: GaterInit
  private readonly bans = new LruMap<string, number>(MAX_BANS)
  // keys are canonical addresses and `prefixOf` networks; values are expiry times
  private readonly discouraged = new LruMap<string, number>(MAX_DISCOURAGED)
  private readonly lastAddress = new LruMap<string, string>(MAX_REMEMBERED_ADDRESSES)

  constructor (init: GaterInit) {
    this.init = init
  }

  /** Refuses connections to and from `peerId` for `ms` milliseconds. */
  ban (peerId: PeerId, ms: number): void {
    this.bans.set(peerId.toString(), Date.now() + ms)
  }

  /** Lifts a ban on `peerId` (a peer id string) and the discouragement of its last address. */
  unban (peerId: string): void {
    this.bans.delete(peerId)
    const ip = this.lastAddress.peek(peerId)
    if (ip != null) this.discouraged.delete(ip)
  }

  /** Whether `peerId` is banned now. */
  isBanned (peerId: PeerId | string): boolean {
    return this.live(this.bans, peerId.toString())
  }

  /**
   * Discourages the address `ip` (or with `network`, its /24 or /48) for `ms` milliseconds.
   * Inbound connections from a discouraged address are refused, except on loopback: every
   * local node (devnets, tests) shares 127.0.0.1, so there a discouraged address is Bitcoin
   * Core's milder rule instead, accepted only while the node has a connection slot to spare.
   * Loopback networks are never discouraged, only the address.
   */
  discourage (ip: string, ms: number, options: { network?: boolean } = {}): void {
    const key = options.network === true ? (isLoopback(ip) ? undefined : prefixOf(ip)) : canonicalIp(ip)
    if (key != null) this.discouraged.set(key, Date.now() + ms)
  }

  /** Why `ip` is discouraged now ('address' or 'network'), or undefined if it is not. */
  discouragement (ip: string): 'address' | 'network' | undefined {
    const address = canonicalIp(ip)
    if (address == null) return undefined
    if (this.live(this.discouraged, address)) return 'address'
    const network = prefixOf(address)
    if (!isLoopback(address) && network != null && this.live(this.discouraged, network)) return 'network'
    return undefined
  }

  /** The IP address `peerId` last connected from or was dialled at, if remembered. */
  addressOf (peerId: PeerId | string): string | undefined {
    return this.lastAddress.peek(peerId.toString())
  }

  private live (map: LruMap<string, number>, key: string): boolean {
    const until = map.peek(key)
    if (until == null) return false
    if (until <= Date.now()) {
      map.delete(key)
      return false
    }
    return true
  }

  private remember (peerId: PeerId, maConn: MultiaddrConnection): void {
    const ip = peerIpOf(maConn.remoteAddr)
    if (ip != null) this.lastAddress.set(peerId.toString(), canonicalIp(ip) ?? ip)
  }

  denyDialPeer (peerId: PeerId): boolean {
    return this.isBanned(peerId)
  }

  /** Refuses to dial a discouraged address (not loopback, where the milder rule is for inbound only), as Core dials none. */
  denyDialMultiaddr (ma: Multiaddr): boolean {
    const ip = peerIpOf(ma)
    return ip != null && !isLoopback(ip) && this.discouragement(ip) != null
  }

  async denyInboundRelayReservation (source: PeerId): Promise<boolean> {
    if (this.isBanned(source)) return true
    return this.init.relayClient != null && !(await this.init.relayClient(source))
  }

  denyInboundConnection (maConn: MultiaddrConnection): boolean {
    // a relayed connection's IP is its relay's, shared by every peer behind it: the relay bounds those
    const ip = peerIpOf(maConn.remoteAddr)
    if (ip == null) return false
    const connections = this.init.connections()
    const why = this.discouragement(ip)
    if (why != null) {
      if (!isLoopback(ip)) {
        this.init.onDeny?.('discouraged address', { ip, by: why })
        return true
      }
      const limit = this.init.maxConnections ?? Infinity
      if (connections.length + 1 >= limit) {
        this.init.onDeny?.('discouraged loopback address and no connection slot to spare', { ip, open: connections.length, limit })
        return true
      }
    }
    // an IPv6 peer counts by its /64, which one host holds whole
    const group = connectionGroupOf(ip) ?? ip
    let count = 0
    for (const conn of connections) {
      // a relayed connection's IP is its relay's, not the peer's: not counted
      if (conn.direction !== 'inbound') continue
      const other = peerIpOf(conn.remoteAddr)
      if (other != null && (connectionGroupOf(other) ?? other) === group) count++
    }
    if (count >= this.init.maxConnectionsPerIp) {
      this.init.onDeny?.('too many connections from one IP address', { ip, group, count, limit: this.init.maxConnectionsPerIp })
      return true
    }
    return false
  }

  denyInboundEncryptedConnection (peerId: PeerId, maConn: MultiaddrConnection): boolean {
    this.remember(peerId, maConn)
    return this.isBanned(peerId)
  }

  denyOutboundEncryptedConnection (peerId: PeerId, maConn: MultiaddrConnection): boolean {
    this.remember(peerId, maConn)
    return this.isBanned(peerId)
  }
}
