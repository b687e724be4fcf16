/**
 * Proof of work: the compact `bits` encoding of a 256-bit target, the proof-of-work check
 * and the work a block proves.
 *
 * Everything here follows Bitcoin Core bit for bit: `arith_uint256::SetCompact` /
 * `GetCompact` (src/arith_uint256.cpp), `CheckProofOfWork` (src/pow.cpp) and `GetBlockProof`
 * (src/chain.cpp). Targets are `bigint`s in [0, 2^256).
 *
 * @example
 * ```ts
 * const { target } = decodeCompact(0x1d00ffff) // 0xffff << 208
 * encodeCompact(target) // 0x1d00ffff
 * checkProofOfWork(sha256d(header), 0x1d00ffff, params.powLimit)
 * ```
 * @module
 */

/** 2^256: one more than the largest 256-bit value. */
const TWO_256 = 1n << 256n
const MASK_256 = TWO_256 - 1n

/** A decoded compact target with Bitcoin Core's two error flags. */
export interface CompactTarget {
  /**
   * The target's magnitude, as `arith_uint256` holds it after `SetCompact`: the mantissa
   * shifted into place, truncated to 256 bits (so an overflowing encoding may decode to 0).
   */
  readonly target: bigint
  /** The sign bit (0x00800000) was set on a non-zero mantissa. */
  readonly negative: boolean
  /** The value does not fit in 256 bits. */
  readonly overflow: boolean
}

function assertBits (bits: number): void {
  if (!Number.isInteger(bits) || bits < 0 || bits > 0xffffffff) {
    throw new RangeError(`compact bits must be a uint32, got ${bits}`)
  }
}

/**
 * Decodes compact `bits` (the header's nBits) into a target, exactly as Bitcoin Core's
 * `arith_uint256::SetCompact`: the top byte is a base-256 exponent (the size in bytes), the
 * low 23 bits a mantissa, and bit 0x00800000 a sign. Decoding never throws on a well-formed
 * uint32; callers decide what the flags mean (consensus rejects both).
 *
 * @param bits - a uint32
 */
export function decodeCompact (bits: number): CompactTarget {
  assertBits(bits)
  const size = bits >>> 24
  let word = bits & 0x007fffff
  let target: bigint
  if (size <= 3) {
    word >>>= 8 * (3 - size)
    target = BigInt(word)
  } else {
    target = (BigInt(word) << BigInt(8 * (size - 3))) & MASK_256
  }
  // Both flags look at the mantissa after the small-size shift, as Core does.
  const negative = word !== 0 && (bits & 0x00800000) !== 0
  const overflow = word !== 0 && (size > 34 || (word > 0xff && size > 33) || (word > 0xffff && size > 32))
  return { target, negative, overflow }
}

/** Bit length of a non-negative bigint (0 for 0), as `arith_uint256::bits()`. */
export function bitLength (n: bigint): number {
  return n === 0n ? 0 : n.toString(2).length
}

/**
 * Encodes a target as compact `bits`, exactly as Bitcoin Core's `arith_uint256::GetCompact`:
 * the mantissa keeps the top three significant bytes (the rest is truncated, not rounded),
 * and when its top bit would collide with the sign bit the mantissa moves down one byte.
 *
 * @param target - an integer in [0, 2^256)
 * @param negative - set the sign bit (only on a non-zero mantissa); consensus never does
 */
export function encodeCompact (target: bigint, negative = false): number {
  if (target < 0n || target > MASK_256) throw new RangeError('target must be in [0, 2^256)')
  let size = Math.ceil(bitLength(target) / 8)
  let compact = size <= 3
    ? Number(target) * 2 ** (8 * (3 - size))
    : Number(target >> BigInt(8 * (size - 3)))
  if ((compact & 0x00800000) !== 0) {
    compact >>>= 8
    size++
  }
  if (negative && (compact & 0x007fffff) !== 0) compact |= 0x00800000
  return size * 0x01000000 + compact
}

/**
 * Reads a 32-byte hash as the 256-bit number Bitcoin compares against the target
 * (`UintToArith256`): the bytes are little-endian, so byte 31 is the most significant —
 * the order sha256d outputs, and the reverse of the hex that explorers display.
 */
export function hashToBigInt (hash: Uint8Array): bigint {
  if (hash.length !== 32) throw new RangeError(`hash must be 32 bytes, got ${hash.length}`)
  let n = 0n
  for (let i = 31; i >= 0; i--) n = (n << 8n) | BigInt(hash[i] as number)
  return n
}

/**
 * Bitcoin Core's `CheckProofOfWork`: the header's bits must decode to a positive,
 * non-overflowing target no easier than `powLimit`, and the header hash, read as a
 * little-endian number, must not exceed that target.
 *
 * @param hash - the header's sha256d, 32 bytes in internal (little-endian) order
 * @param bits - the header's compact target
 * @param powLimit - the network's easiest allowed target
 */
export function checkProofOfWork (hash: Uint8Array, bits: number, powLimit: bigint): boolean {
  const { target, negative, overflow } = decodeCompact(bits)
  if (negative || target === 0n || overflow || target > powLimit) return false
  return hashToBigInt(hash) <= target
}

/**
 * The expected number of hashes needed to meet `bits`: floor(2^256 / (target + 1)), as
 * Bitcoin Core's `GetBlockProof` (which computes the same value as `~target / (target + 1) + 1`
 * to stay within 256 bits). Chain work is the sum of this over the chain. Returns 0 for bits
 * that are negative, overflow or decode to zero, as Core does.
 */
export function blockWork (bits: number): bigint {
  const { target, negative, overflow } = decodeCompact(bits)
  if (negative || overflow || target === 0n) return 0n
  return TWO_256 / (target + 1n)
}
