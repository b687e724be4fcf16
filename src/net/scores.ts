/**
 * Misbehaviour scores, as Bitcoin Core and bcoin keep them: every offence adds points; at
 * {@link BAN_SCORE} the peer is disconnected and banned. Points decay by one a minute, so
 * an honest peer's rare fault is forgotten.
 */
import type { PeerId } from '@libp2p/interface'
import type { Logger } from '../utils/logger.ts'
import type { PeerdGater } from './gater.ts'
import type { PeerdHost } from './host.ts'

/** Score at which a peer is banned. */
export const BAN_SCORE = 100
/** How long a ban lasts. */
export const BAN_MS = 24 * 60 * 60_000

/** Tracks and acts on peer misbehaviour. */
export class PeerScores {
  private readonly host: () => PeerdHost | undefined
  private readonly gater: PeerdGater
  private readonly log: Logger
  private readonly scores = new Map<string, { score: number, at: number }>()

  constructor (init: { host: () => PeerdHost | undefined, gater: PeerdGater, log: Logger }) {
    this.host = init.host
    this.gater = init.gater
    this.log = init.log
  }

  /** The peer's current score. */
  score (peerId: PeerId | string): number {
    const e = this.scores.get(peerId.toString())
    if (e == null) return 0
    const decayed = Math.max(0, e.score - (Date.now() - e.at) / 60_000)
    return decayed
  }

  /** Adds `points` for `reason`; bans and disconnects the peer at {@link BAN_SCORE}. Returns whether it was banned. */
  penalize (peerId: PeerId, points: number, reason: string): boolean {
    const id = peerId.toString()
    const score = this.score(id) + points
    this.scores.set(id, { score, at: Date.now() })
    this.log.warn('peer misbehaved', { peerId: id, reason, points, score })
    if (score < BAN_SCORE) return false
    this.gater.ban(peerId, BAN_MS)
    this.log.warn('banned peer', { peerId: id, hours: BAN_MS / 3_600_000 })
    void this.host()?.hangUp(peerId).catch(() => {})
    return true
  }

  /** Whether the peer is banned now. */
  isBanned (peerId: PeerId): boolean {
    return this.gater.isBanned(peerId)
  }
}
