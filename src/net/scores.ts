/**
 * Misbehaviour scores, as Bitcoin Core and bcoin keep them: every offence adds points; at
 * {@link BAN_SCORE} the peer is disconnected and banned. Points decay by one a minute, so
 * an honest peer's rare fault is forgotten.
 *
 * A peer id costs nothing to make, so the points also count against the peer's IP address and
 * its /24 (IPv4) or /48 (IPv6) network, and past their thresholds the address or network is
 * discouraged at the gater (Bitcoin Core's `Discourage`): fresh peer ids from there are refused
 * (on loopback, only while no connection slot is spare; see {@link PeerdGater.discourage}).
 * Every table is a bounded LRU map, and entries that decayed to zero are dropped.
 */
import type { PeerId } from '@libp2p/interface'
import type { Logger } from '../utils/logger.ts'
import { canonicalIp, isLoopback, prefixOf } from './addresses.ts'
import { peerIpOf } from './gater.ts'
import type { PeerdGater } from './gater.ts'
import type { PeerdHost } from './host.ts'
import { LruMap } from './lru.ts'

/** Score at which a peer is banned (and its address discouraged). */
export const BAN_SCORE = 100
/** Score of one IP address, over all its peer ids, at which the address is discouraged. */
export const ADDRESS_DISCOURAGE_SCORE = 100
/** Score of one /24 or /48 network at which the whole network is discouraged: four bans' worth. */
export const NETWORK_DISCOURAGE_SCORE = 400
/** How long a ban or a discouragement lasts. */
export const BAN_MS = 24 * 60 * 60_000
/** Entries each score table (peers, addresses, networks) keeps; past it the least recently penalised goes. */
export const MAX_SCORED = 10_000

// scores lose one point a minute
const DECAY_MS = 60_000

/** Scores that decay by one point a minute (in whole minutes), in a bounded LRU map that drops entries decayed to zero. */
export class DecayingScores {
  private readonly map: LruMap<string, { score: number, at: number }>

  constructor (capacity = MAX_SCORED) {
    this.map = new LruMap(capacity)
  }

  /** Entries held. */
  get size (): number {
    return this.map.size
  }

  /** The current score of `key`. */
  get (key: string, now = Date.now()): number {
    const e = this.map.peek(key)
    if (e == null) return 0
    const score = decayed(e, now)
    if (score === 0) this.map.delete(key)
    return score
  }

  /** Adds `points` to `key` and returns its new score. */
  add (key: string, points: number, now = Date.now()): number {
    const e = this.map.peek(key)
    // decay in whole minutes, keeping the part of a minute already run: offences a moment
    // apart add up exactly (50 + 50 is a ban, not 99.98)
    const minutes = e == null ? 0 : Math.floor((now - e.at) / DECAY_MS)
    const left = e == null ? 0 : decayed(e, now)
    const score = left + points
    this.map.set(key, { score, at: e == null || left === 0 ? now : e.at + minutes * DECAY_MS })
    // least recently penalised first: drop those that have decayed to nothing
    for (let i = 0; i < 16; i++) {
      const oldest = this.map.oldest()
      if (oldest == null || decayed(oldest[1], now) > 0) break
      this.map.delete(oldest[0])
    }
    return score
  }
}

function decayed (e: { score: number, at: number }, now: number): number {
  return Math.max(0, e.score - Math.floor((now - e.at) / DECAY_MS))
}

/** Tracks and acts on peer misbehaviour. */
export class PeerScores {
  private readonly host: () => PeerdHost | undefined
  private readonly gater: PeerdGater
  private readonly log: Logger
  private readonly peers: DecayingScores
  private readonly addresses: DecayingScores
  private readonly networks: DecayingScores

  constructor (init: { host: () => PeerdHost | undefined, gater: PeerdGater, log: Logger, maxScored?: number }) {
    this.host = init.host
    this.gater = init.gater
    this.log = init.log
    this.peers = new DecayingScores(init.maxScored)
    this.addresses = new DecayingScores(init.maxScored)
    this.networks = new DecayingScores(init.maxScored)
  }

  /** The peer's current score. */
  score (peerId: PeerId | string): number {
    return this.peers.get(peerId.toString())
  }

  /** The current score of IP address `ip`, over every peer id that misbehaved from it. */
  addressScore (ip: string): number {
    const key = canonicalIp(ip)
    return key == null ? 0 : this.addresses.get(key)
  }

  /** The current score of the /24 or /48 network of `ip`. */
  networkScore (ip: string): number {
    const key = prefixOf(ip)
    return key == null ? 0 : this.networks.get(key)
  }

  /** Entries held by each score table. */
  sizes (): { peers: number, addresses: number, networks: number } {
    return { peers: this.peers.size, addresses: this.addresses.size, networks: this.networks.size }
  }

  /**
   * Adds `points` for `reason` to the peer, its address and its network; bans the peer at
   * {@link BAN_SCORE}, discourages the address or network past theirs, and disconnects the
   * peer when it is banned or its address is refused. Returns whether it was disconnected.
   */
  penalize (peerId: PeerId, points: number, reason: string): boolean {
    const id = peerId.toString()
    const now = Date.now()
    const score = this.peers.add(id, points, now)
    const ip = this.addressOf(peerId)
    const loopback = ip != null && isLoopback(ip)
    const network = ip == null || loopback ? undefined : prefixOf(ip)
    const addressScore = ip == null ? undefined : this.addresses.add(ip, points, now)
    const networkScore = network == null ? undefined : this.networks.add(network, points, now)
    this.log.warn('peer misbehaved', { peerId: id, reason, points, score, ip, addressScore, networkScore })

    let cut = false
    if (score >= BAN_SCORE) {
      this.gater.ban(peerId, BAN_MS)
      this.log.warn('banned peer', { peerId: id, hours: BAN_MS / 3_600_000 })
      cut = true
    }
    if (ip != null && (score >= BAN_SCORE || (addressScore ?? 0) >= ADDRESS_DISCOURAGE_SCORE)) {
      this.gater.discourage(ip, BAN_MS)
      this.log.warn('discouraged address', { ip, addressScore, loopback })
      // a loopback address is shared by every local node: only the peer's own score cuts it off
      if (!loopback) cut = true
    }
    if (ip != null && (networkScore ?? 0) >= NETWORK_DISCOURAGE_SCORE) {
      this.gater.discourage(ip, BAN_MS, { network: true })
      this.log.warn('discouraged network', { network, networkScore })
      cut = true
    }
    if (cut) void this.host()?.hangUp(peerId).catch(() => {})
    return cut
  }

  /** Whether the peer is banned now. */
  isBanned (peerId: PeerId): boolean {
    return this.gater.isBanned(peerId)
  }

  /** The peer's IP address: of an open direct connection, else the last one the gater saw. */
  private addressOf (peerId: PeerId): string | undefined {
    for (const conn of this.host()?.getConnections(peerId) ?? []) {
      const ip = peerIpOf(conn.remoteAddr)
      if (ip != null) return canonicalIp(ip) ?? ip
    }
    return this.gater.addressOf(peerId)
  }
}
