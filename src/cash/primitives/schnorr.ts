/**
 * BIP340 Schnorr signatures over secp256k1: 64-byte signatures, 32-byte x-only public keys.
 * Cash signs only 32-byte messages (the BIP341 signature hash), so both functions take exactly
 * 32 bytes, although BIP340 itself allows messages of any length.
 *
 * ```ts
 * const sig = signSchnorr(sighash, secretKey)
 * verifySchnorr(sig, sighash, xOnlyPublicKey(secretKey)) // true
 * ```
 *
 * The arithmetic is @noble/curves' (audited, pure JavaScript). Verification is the hot path of
 * block validation (one call per input), and here it does about a thousand a second on one
 * core. A faster verifier can slot in behind `verifySchnorr` without touching its callers:
 * libsecp256k1 built for WASM (tiny-secp256k1) or as a native addon is expected to be an order
 * of magnitude faster (to be measured with bench/ before switching). Whatever replaces it must
 * pass the same BIP340 vectors (test/unit/cash/crypto/bip340-schnorr.spec.ts) and keep the
 * never-throw contract.
 */
import { schnorr } from '@noble/curves/secp256k1.js'

/** Length of a BIP340 signature. */
export const SCHNORR_SIGNATURE_LENGTH = 64
/** Length of a BIP340 x-only public key. */
export const XONLY_PUBKEY_LENGTH = 32
/** Length of the messages Cash signs (a BIP341 signature hash). */
export const SCHNORR_MESSAGE_LENGTH = 32

function isBytes (value: unknown, length: number): value is Uint8Array {
  return value instanceof Uint8Array && value.length === length
}

/**
 * BIP340 `Verify(pk, m, sig)`.
 *
 * Never throws: anything that is not a valid signature (wrong lengths, a key that is not an
 * x coordinate on the curve, r ≥ p, s ≥ n, a non-Uint8Array argument) returns `false`, so
 * consensus code can call it on untrusted witness data without a try/catch.
 *
 * @param sig64 - signature `r || s`, 64 bytes
 * @param msg32 - the signed message, 32 bytes (a BIP341 sighash)
 * @param xonlyPubkey32 - x-only public key, 32 bytes
 * @returns whether the signature is valid
 */
export function verifySchnorr (sig64: Uint8Array, msg32: Uint8Array, xonlyPubkey32: Uint8Array): boolean {
  if (!isBytes(sig64, SCHNORR_SIGNATURE_LENGTH) ||
      !isBytes(msg32, SCHNORR_MESSAGE_LENGTH) ||
      !isBytes(xonlyPubkey32, XONLY_PUBKEY_LENGTH)) return false
  try {
    return schnorr.verify(sig64, msg32, xonlyPubkey32)
  } catch {
    // noble returns false for invalid points and scalars and only throws on argument types,
    // which the checks above rule out; this is a belt for the consensus contract.
    return false
  }
}

/**
 * BIP340 `Sign(sk, m)` with the auxiliary randomness of BIP340's default signing algorithm.
 * The result is verified before it is returned (noble does so).
 *
 * @param msg32 - message to sign, 32 bytes
 * @param secretKey32 - secret key, 32 bytes, 0 < d < n
 * @param auxRand32 - 32 bytes of fresh randomness (BIP340 recommends it against side channels);
 *   fresh random bytes when omitted. Pass fixed bytes only for test vectors.
 * @returns the 64-byte signature
 * @throws RangeError if a length is wrong; Error if the secret key is out of range
 */
export function signSchnorr (msg32: Uint8Array, secretKey32: Uint8Array, auxRand32?: Uint8Array): Uint8Array {
  if (!isBytes(msg32, SCHNORR_MESSAGE_LENGTH)) throw new RangeError('schnorr: message must be 32 bytes')
  if (!isBytes(secretKey32, 32)) throw new RangeError('schnorr: secret key must be 32 bytes')
  if (auxRand32 !== undefined && !isBytes(auxRand32, 32)) throw new RangeError('schnorr: aux rand must be 32 bytes')
  return auxRand32 === undefined ? schnorr.sign(msg32, secretKey32) : schnorr.sign(msg32, secretKey32, auxRand32)
}

/**
 * The BIP340 x-only public key of a secret key (`bytes(d⋅G)`).
 *
 * @param secretKey32 - secret key, 32 bytes, 0 < d < n
 * @returns the 32-byte x-only public key
 * @throws RangeError if the key is not 32 bytes; Error if it is out of range
 */
export function xOnlyPublicKey (secretKey32: Uint8Array): Uint8Array {
  if (!isBytes(secretKey32, 32)) throw new RangeError('schnorr: secret key must be 32 bytes')
  return schnorr.getPublicKey(secretKey32)
}
