/**
 * Difficulty by ASERT, exactly the `aserti3-2d` algorithm of the Bitcoin Cash upgrade
 * specification "ASERT Difficulty Adjustment Algorithm (aserti3-2d)" (2020-11-15), section
 * REQ-ASERT-TARGET-COMPUTATION, with the chain's own target spacing and half-life in place of
 * the spec's mainnet constants (600 s and 172800 s).
 *
 * The target is set absolutely from one anchor block: for every half-life the chain runs
 * ahead of its ideal schedule the target halves (difficulty doubles), for every half-life
 * behind it doubles. Only integer arithmetic is used (the spec's notes 2 and 3), with the
 * cubic fixed-point approximation of 2^x, so every implementation computes the same bits.
 *
 * @example
 * ```ts
 * const bits = nextBitsAsert({
 *   anchorTarget: decodeCompact(anchor.bits).target,
 *   timeDiff: BigInt(prev.time - anchorParent.time),
 *   heightDiff: BigInt(prev.height - anchor.height),
 *   targetSpacing: params.targetSpacing,
 *   halfLife: params.asertHalfLife,
 *   powLimit: params.powLimit
 * })
 * ```
 * @module
 */

import { bitLength, encodeCompact } from './pow.ts'

/** The spec's `radix`: 16 fractional bits of fixed-point exponent. */
const RBITS = 16n
const RADIX = 1n << RBITS

/** Inputs to one ASERT evaluation. Times are in seconds. */
export interface AsertInput {
  /** The anchor block's target (decoded from its bits); 0 < anchorTarget ≤ powLimit. */
  readonly anchorTarget: bigint
  /**
   * Timestamp of the evaluation block (the parent of the block whose target is computed)
   * minus the timestamp of the anchor block's *parent* (spec: `time_delta`, and
   * REQ-ASERT-ANCHOR-BLOCK note 1); may be negative. An anchor without a parent (genesis) has
   * no such time: Bitcoin ABC then uses the anchor's own timestamp, which the chain code
   * must decide on explicitly.
   */
  readonly timeDiff: bigint
  /** Height of the evaluation block minus the anchor's height (spec: `height_delta`), ≥ 0. */
  readonly heightDiff: bigint
  /** Ideal seconds between blocks (spec: `ideal_block_time`), > 0. */
  readonly targetSpacing: bigint | number
  /** Seconds behind or ahead of schedule that double or halve the target (spec: `halflife`), > 0. */
  readonly halfLife: bigint | number
  /** The easiest allowed target; results are clamped to [1, powLimit]. */
  readonly powLimit: bigint
}

function positive (name: string, v: bigint | number): bigint {
  if (typeof v === 'number' && !Number.isSafeInteger(v)) throw new RangeError(`${name} must be an integer`)
  const b = BigInt(v)
  if (b <= 0n) throw new RangeError(`${name} must be positive`)
  return b
}

/**
 * The target of the next block, per REQ-ASERT-TARGET-COMPUTATION:
 *
 * `next_target = anchor_target * 2^((timeDiff - targetSpacing * (heightDiff + 1)) / halfLife)`
 *
 * computed as the spec's pseudo-code: a truncating division for the 16.16 fixed-point
 * exponent (note 3), an arithmetic shift to split off its integer part, the polynomial
 * `(195766423245049·x + 971821376·x² + 5127·x³ + 2^47) >> 48` for 2^frac, then the shifts;
 * a result of 0 becomes 1 (the hardest valid target) and anything above `powLimit` becomes
 * `powLimit`.
 *
 * Arithmetic is unbounded (`bigint`), which is what the spec's note 6 asks fixed-width
 * implementations to emulate; a left shift that would clearly exceed `powLimit` returns
 * `powLimit` at once rather than building a huge number.
 *
 * @throws RangeError when a precondition of the spec fails (anchor target outside
 * (0, powLimit], negative height difference, non-positive spacing or half-life).
 */
export function nextTargetAsert (input: AsertInput): bigint {
  const { anchorTarget, timeDiff, heightDiff, powLimit } = input
  const spacing = positive('targetSpacing', input.targetSpacing)
  const halfLife = positive('halfLife', input.halfLife)
  if (powLimit <= 0n) throw new RangeError('powLimit must be positive')
  if (anchorTarget <= 0n || anchorTarget > powLimit) throw new RangeError('anchorTarget must be in (0, powLimit]')
  if (heightDiff < 0n) throw new RangeError('heightDiff must not be negative')

  // bigint division truncates toward zero, as the spec's trunc_div requires (note 3).
  const exponent = ((timeDiff - spacing * (heightDiff + 1n)) * RADIX) / halfLife
  // bigint >> is an arithmetic shift (floor), as the spec requires for num_shifts.
  let shifts = exponent >> RBITS
  const frac = exponent - shifts * RADIX // in [0, 65536)

  // 2^frac ≈ 1 + 0.695502049·x + 0.2262698·x² + 0.0782318·x³ for 0 ≤ x < 1, scaled by 2^16;
  // exact at x = 0 and x = 1, so the 2^(n + x) = 2^n · 2^x split has no seams.
  const factor = RADIX + ((195766423245049n * frac + 971821376n * frac * frac +
    5127n * frac * frac * frac + (1n << 47n)) >> 48n)

  let next = anchorTarget * factor
  shifts -= RBITS // multiply by 2^shifts and remove the 2^16 scale in one step
  if (shifts <= 0n) {
    next = -shifts >= BigInt(bitLength(next)) ? 0n : next >> -shifts
  } else {
    // A left shift past powLimit's width is clamped anyway (note 6); skip building it.
    if (BigInt(bitLength(next)) + shifts > BigInt(bitLength(powLimit))) return powLimit
    next <<= shifts
  }

  if (next === 0n) return 1n
  return next > powLimit ? powLimit : next
}

/** {@link nextTargetAsert} encoded as the compact `bits` the next header must carry. */
export function nextBitsAsert (input: AsertInput): number {
  return encodeCompact(nextTargetAsert(input))
}
