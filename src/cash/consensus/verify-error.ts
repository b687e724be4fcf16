/**
 * The one error consensus and policy code throws for well-formed data that breaks a rule.
 * `reason` is a stable Bitcoin Core-style string (`bad-txns-inputs-missingorspent`) that
 * callers and tests match on; `score` is the misbehaviour a peer that sent the data earns
 * (100 = ban at once, 0 = nothing: the data may become valid later or was not the peer's fault).
 *
 * @example
 * ```ts
 * try { checkBlock(block, params) } catch (err) {
 *   if (err instanceof VerifyError) scores.penalize(peer, err.score, err.reason)
 * }
 * ```
 * @module
 */

/** What was rejected: a header, a block (body) or a transaction. */
export type VerifyKind = 'header' | 'block' | 'tx'

/** A rejection of a header, block or transaction by a consensus or policy rule. */
export class VerifyError extends Error {
  /** Stable, machine-readable rule name (Bitcoin Core's reject reasons where one exists). */
  readonly reason: string
  /** Misbehaviour score for the peer that sent the object (0–100). */
  readonly score: number
  /** What kind of object broke the rule. */
  readonly kind: VerifyKind
  /**
   * True when the rejection depends on how the object was transmitted rather than on what it
   * commits to (a block whose witnesses do not match its commitment, a mutated merkle tree):
   * the same header hash may still name a valid block, so it must not be marked invalid.
   */
  readonly malleated: boolean

  constructor (kind: VerifyKind, reason: string, score: number, message?: string, options?: { malleated?: boolean, cause?: unknown }) {
    super(message === undefined ? reason : `${reason}: ${message}`, options?.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'VerifyError'
    this.kind = kind
    this.reason = reason
    this.score = score
    this.malleated = options?.malleated ?? false
  }
}
