/**
 * BIP340 Schnorr signing over secp256k1 for the tests (64-byte signatures, 32-byte x-only public
 * keys): nothing in src/ signs with it. The wallet signs with @scure/btc-signer
 * (src/cash/wallet/payment.ts), and consensus verifies with the one verifier,
 * `verifySigCheck` in src/cash/consensus/verify.ts (libsecp256k1 via tiny-secp256k1), which
 * BIP340's vectors test (test/unit/cash/crypto/bip340-schnorr.spec.ts). Cash signs only 32-byte
 * messages (the BIP341 signature hash), so these take exactly 32 bytes, although BIP340 itself
 * allows messages of any length.
 *
 * ```ts
 * const sig = signSchnorr(sighash, secretKey)
 * verifySigCheck({ sig, msg: sighash, pubkey: xOnlyPublicKey(secretKey) }) // true
 * ```
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
