/**
 * Hashing and hash display. Hashes are kept in *internal* byte order (the bytes sha256d
 * produced, as they appear on the wire); people and block explorers show them reversed, as a
 * little-endian 256-bit number (`000000000019d668…` for the genesis block).
 */
import { sha256 } from '@noble/hashes/sha2.js'
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js'
import { DecodeError } from './errors.ts'

/** Length of every hash: txid, wtxid, block hash, merkle node. */
export const HASH_SIZE = 32

/** Bitcoin's double SHA-256: `sha256(sha256(bytes))`. */
export function sha256d (bytes: Uint8Array): Uint8Array {
  return sha256(sha256(bytes))
}

/** Displays a 32-byte hash in internal order as the usual reversed hex. */
export function hashToHex (hash: Uint8Array): string {
  if (hash.length !== HASH_SIZE) throw new RangeError(`hash must be ${HASH_SIZE} bytes, got ${hash.length}`)
  // Uint8Array.from copies even for a Buffer, whose slice() is a view reverse() would mutate.
  return bytesToHex(Uint8Array.from(hash).reverse())
}

/** Parses the usual reversed hex of a hash (64 hex digits) into internal byte order. */
export function hexToHash (hex: string): Uint8Array {
  if (hex.length !== HASH_SIZE * 2) throw new DecodeError('hash-size', `hash hex must be ${HASH_SIZE * 2} digits, got ${hex.length}`)
  let bytes: Uint8Array
  try {
    bytes = hexToBytes(hex)
  } catch (err) {
    throw new DecodeError('hex-invalid', `not hex: ${JSON.stringify(hex)}`, { cause: err })
  }
  return bytes.reverse()
}

/** True when two byte arrays hold the same bytes. */
export function bytesEqual (a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}
