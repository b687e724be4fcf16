/**
 * The one error the byte codecs throw for malformed input. Consensus rejections of well-formed
 * data are a different error (`VerifyError`, in `consensus/`); this one only says "these bytes
 * are not a header / transaction / block".
 */

/**
 * Stable reasons a decoder gives, one per way bytes can be malformed. Callers match on these
 * (a peer that sends any of them misbehaves), so they never change once published.
 */
export type DecodeReason =
  | 'hex-invalid'
  | 'hash-size'
  | 'header-size'
  | 'tx-oversize'
  | 'tx-truncated'
  | 'tx-trailing-bytes'
  | 'tx-noncanonical-compactsize'
  | 'tx-too-many-inputs'
  | 'tx-too-many-outputs'
  | 'tx-unknown-flag'
  | 'tx-superfluous-witness'
  | 'tx-malformed'
  | 'block-oversize'
  | 'block-truncated'
  | 'block-too-many-txs'
  | 'block-trailing-bytes'

/** Bytes that do not decode as the expected consensus structure; `reason` says how. */
export class DecodeError extends Error {
  /** Stable, machine-readable cause (Bitcoin Core style kebab-case). */
  readonly reason: DecodeReason

  constructor (reason: DecodeReason, message: string, options?: ErrorOptions) {
    super(`${reason}: ${message}`, options)
    this.name = 'DecodeError'
    this.reason = reason
  }
}
