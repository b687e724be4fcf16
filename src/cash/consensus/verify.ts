/**
 * Signature verification of collected {@link SigCheck}s with libsecp256k1 compiled to WASM
 * (tiny-secp256k1), the hot path of block validation. Pure and synchronous, so a worker
 * thread can run it on a slice of a block's checks.
 *
 * @example
 * ```ts
 * const applied = applyBlock(block, height, view, params, ctx)
 * if (verifySigChecks(applied.sigChecks) !== -1) reject()
 * checkBlockSignatures(applied) // the same, throwing VerifyError 'bad-txns-signature'
 * ```
 * @module
 */
import { verifySchnorr } from 'tiny-secp256k1'
import type { SigCheck } from './coins.ts'
import { VerifyError } from './verify-error.ts'

/** BIP340 verification that never throws: tiny-secp256k1 throws on malformed keys and lengths. */
export function verifySigCheck (check: SigCheck): boolean {
  if (check.sig.length !== 64 || check.msg.length !== 32 || check.pubkey.length !== 32) return false
  try {
    return verifySchnorr(check.msg, check.pubkey, check.sig)
  } catch {
    // A public key that is not an x coordinate on the curve (or ≥ p) makes the signature invalid.
    return false
  }
}

/**
 * Verifies BIP340 signatures in order and stops at the first failure.
 *
 * @returns the index of the first invalid signature, or -1 when all are valid
 */
export function verifySigChecks (checks: readonly SigCheck[]): number {
  for (let i = 0; i < checks.length; i++) {
    if (!verifySigCheck(checks[i] as SigCheck)) return i
  }
  return -1
}

/**
 * Verifies every signature `applyBlock` collected, on this thread.
 *
 * @throws VerifyError('block', 'bad-txns-signature', 100) at the first invalid one
 */
export function checkBlockSignatures (applied: { sigChecks: readonly SigCheck[] }): void {
  const bad = verifySigChecks(applied.sigChecks)
  if (bad !== -1) throw new VerifyError('block', 'bad-txns-signature', 100, `signature check ${bad} failed`)
}
