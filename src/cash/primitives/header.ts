/**
 * The 80-byte block header, laid out exactly as Bitcoin's: version (int32), previous block
 * hash, merkle root, time, bits (compact target), nonce; integers little-endian, hashes in
 * internal byte order. Its sha256d is the block hash and the proof of work.
 */
import { DecodeError } from './errors.ts'
import { HASH_SIZE, sha256d } from './hash.ts'

/** Serialized size of a header, always. */
export const HEADER_SIZE = 80

/** A block header. Hashes are 32 bytes in internal order; the other fields are 32-bit integers. */
export interface BlockHeader {
  /** Signed 32-bit block version (BIP9 version bits live here). */
  version: number
  /** Hash of the previous block's header (all zeros for genesis). */
  prevHash: Uint8Array
  /** Merkle root of the block's txids. */
  merkleRoot: Uint8Array
  /** Unix time in seconds, unsigned 32-bit. */
  time: number
  /** Compact encoding of the proof-of-work target. */
  bits: number
  /** Unsigned 32-bit nonce the miner varies. */
  nonce: number
}

function checkUint32 (value: number, field: string): void {
  if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) throw new RangeError(`header ${field} must be a uint32, got ${value}`)
}

/** Serializes a header to its 80 bytes. Throws `RangeError` on out-of-range fields. */
export function encodeHeader (header: BlockHeader): Uint8Array {
  const { version, prevHash, merkleRoot, time, bits, nonce } = header
  if (!Number.isInteger(version) || version < -0x80000000 || version > 0x7fffffff) throw new RangeError(`header version must be an int32, got ${version}`)
  if (prevHash.length !== HASH_SIZE) throw new RangeError(`header prevHash must be ${HASH_SIZE} bytes, got ${prevHash.length}`)
  if (merkleRoot.length !== HASH_SIZE) throw new RangeError(`header merkleRoot must be ${HASH_SIZE} bytes, got ${merkleRoot.length}`)
  checkUint32(time, 'time')
  checkUint32(bits, 'bits')
  checkUint32(nonce, 'nonce')
  const out = new Uint8Array(HEADER_SIZE)
  const view = new DataView(out.buffer)
  view.setInt32(0, version, true)
  out.set(prevHash, 4)
  out.set(merkleRoot, 36)
  view.setUint32(68, time, true)
  view.setUint32(72, bits, true)
  view.setUint32(76, nonce, true)
  return out
}

/** Parses exactly 80 bytes into a header; any other length is a `DecodeError('header-size')`. */
export function decodeHeader (bytes: Uint8Array): BlockHeader {
  if (bytes.length !== HEADER_SIZE) throw new DecodeError('header-size', `a header is ${HEADER_SIZE} bytes, got ${bytes.length}`)
  const view = new DataView(bytes.buffer, bytes.byteOffset, HEADER_SIZE)
  return {
    version: view.getInt32(0, true),
    // Copies: on a Buffer, slice() would be a view of the caller's bytes.
    prevHash: Uint8Array.from(bytes.subarray(4, 36)),
    merkleRoot: Uint8Array.from(bytes.subarray(36, 68)),
    time: view.getUint32(68, true),
    bits: view.getUint32(72, true),
    nonce: view.getUint32(76, true)
  }
}

/** The block hash: sha256d of the 80 header bytes, in internal order. */
export function headerHash (header: BlockHeader): Uint8Array {
  return sha256d(encodeHeader(header))
}
