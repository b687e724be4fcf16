/**
 * The gossip verdict both relays (blocks and transactions) give a rule violation: a scoring
 * one rejects the message and penalises its sender; a score of 0 (may be valid later, not the
 * sender's fault) only ignores it.
 * @module
 */
import type { PeerId } from '@libp2p/interface'
import { TopicValidatorResult } from '@libp2p/gossipsub'
import type { VerifyError } from '../consensus/verify-error.ts'

/** Reject and penalise, or ignore, per `err.score`; counts the outcome in `stats`. */
export function verifyErrorVerdict (
  err: VerifyError,
  peer: PeerId,
  what: string,
  penalize: (peer: PeerId, points: number, reason: string) => void,
  stats: { rejected: number, ignored: number }
): TopicValidatorResult {
  if (err.score > 0) {
    penalize(peer, err.score, `invalid ${what}: ${err.reason}`)
    stats.rejected++
    return TopicValidatorResult.Reject
  }
  stats.ignored++
  return TopicValidatorResult.Ignore
}
