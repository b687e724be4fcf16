/**
 * Connection gating: a cap on inbound connections per remote IP address, and a ban list for
 * peers that misbehaved or belong to another network.
 */
import type { Connection, ConnectionGater, MultiaddrConnection, PeerId } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'

/** The IP address of a multiaddr, or undefined for non-IP addresses (relay, memory). */
export function ipOf (ma: Multiaddr): string | undefined {
  const c = ma.getComponents().find(c => c.name === 'ip4' || c.name === 'ip6')
  return c?.value
}

/** What the gater needs to see of the node. */
export interface GaterInit {
  maxConnectionsPerIp: number
  /** Open connections; bound late because the gater is built before libp2p. */
  connections: () => Connection[]
  onDeny?: (reason: string, detail: Record<string, unknown>) => void
}

/** A connection gater with a per-IP inbound cap and a timed ban list. */
export class PeerdGater implements ConnectionGater {
  private readonly init: GaterInit
  private readonly bans = new Map<string, number>()

  constructor (init: GaterInit) {
    this.init = init
  }

  /** Refuses connections to and from `peerId` for `ms` milliseconds. */
  ban (peerId: PeerId, ms: number): void {
    this.bans.set(peerId.toString(), Date.now() + ms)
  }

  /** Lifts a ban on `peerId` (a peer id string). */
  unban (peerId: string): void {
    this.bans.delete(peerId)
  }

  /** Whether `peerId` is banned now. */
  isBanned (peerId: PeerId | string): boolean {
    const until = this.bans.get(peerId.toString())
    if (until == null) return false
    if (until <= Date.now()) {
      this.bans.delete(peerId.toString())
      return false
    }
    return true
  }

  denyDialPeer (peerId: PeerId): boolean {
    return this.isBanned(peerId)
  }

  denyInboundConnection (maConn: MultiaddrConnection): boolean {
    const ip = ipOf(maConn.remoteAddr)
    if (ip == null) return false
    let count = 0
    for (const conn of this.init.connections()) {
      if (conn.direction === 'inbound' && ipOf(conn.remoteAddr) === ip) count++
    }
    if (count >= this.init.maxConnectionsPerIp) {
      this.init.onDeny?.('too many connections from one IP address', { ip, count, limit: this.init.maxConnectionsPerIp })
      return true
    }
    return false
  }

  denyInboundEncryptedConnection (peerId: PeerId): boolean {
    return this.isBanned(peerId)
  }

  denyOutboundEncryptedConnection (peerId: PeerId): boolean {
    return this.isBanned(peerId)
  }
}
