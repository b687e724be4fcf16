import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { describe, it } from 'node:test'
import {
  bitLength, blockWork, checkProofOfWork, decodeCompact, encodeCompact, hashToBigInt
} from '../../../../src/cash/consensus/pow.ts'

interface CompactCase { bits: string, target?: string, negative: boolean, overflow: boolean, reencoded?: string }
const vectors = JSON.parse(readFileSync(new URL('../../../vectors/compact-bits.json', import.meta.url), 'utf8')) as {
  cases: CompactCase[]
  encodeOnly: Array<{ target: string, bits: string }>
}

/** Bitcoin's main powLimit, uint256S("00000000ffff…ff"), as pow_tests.cpp uses it. */
const BTC_POW_LIMIT = (1n << 224n) - 1n

/** A 32-byte hash in internal (little-endian) order whose numeric value is `n`. */
function hashOf (n: bigint): Uint8Array {
  const out = new Uint8Array(32)
  for (let i = 0; i < 32; i++) out[i] = Number((n >> BigInt(8 * i)) & 0xffn)
  return out
}

describe('compact bits (Bitcoin Core arith_uint256 SetCompact/GetCompact)', () => {
  for (const v of vectors.cases) {
    it(`decodes ${v.bits} as Bitcoin Core does`, () => {
      const d = decodeCompact(Number(v.bits))
      assert.equal(d.negative, v.negative, 'negative')
      assert.equal(d.overflow, v.overflow, 'overflow')
      if (v.target !== undefined) assert.equal(d.target, BigInt('0x' + v.target))
      if (v.reencoded !== undefined) assert.equal(encodeCompact(d.target, v.negative), Number(v.reencoded))
    })
  }

  for (const v of vectors.encodeOnly) {
    it(`never sets the sign bit: ${v.target} encodes as ${v.bits}`, () => {
      assert.equal(encodeCompact(BigInt(v.target)), Number(v.bits))
    })
  }

  it('truncates an overflowing encoding to 256 bits, as arith_uint256 does', () => {
    // 34 bytes: 0x123456 << 248 needs 269 bits; only the low mantissa byte stays.
    const d = decodeCompact(0x22123456)
    assert.equal(d.overflow, true)
    assert.equal(d.target, 0x56n << 248n)
    assert.equal(decodeCompact(0xff123456).target, 0n)
  })

  it('flags overflow only past 256 bits, at each mantissa width', () => {
    assert.equal(decodeCompact(0x220000ff).overflow, false) // 0xff << 248 fits
    assert.equal(decodeCompact(0x23000001).overflow, true)
    assert.equal(decodeCompact(0x2100ffff).overflow, false) // 0xffff << 240 fits
    assert.equal(decodeCompact(0x22000100).overflow, true)
    assert.equal(decodeCompact(0x207fffff).overflow, false)
    assert.equal(decodeCompact(0x21010000).overflow, true)
    assert.equal(decodeCompact(0xff000000).overflow, false, 'a zero mantissa never overflows')
  })

  it('round-trips every canonical encoding and truncates any target to its mantissa bytes', () => {
    for (const bits of [0x01010000, 0x01120000, 0x02008000, 0x03123456, 0x1d00ffff, 0x1e0fffff, 0x207fffff, 0x1802aee8, 0x177fd0f4, 0x21008000]) {
      assert.equal(encodeCompact(decodeCompact(bits).target), bits, bits.toString(16))
    }
    for (const t of [1n, 0x7fn, 0x80n, 0xffffn, 0x800000n, 0x123456789abcdefn, (1n << 236n) - 1n, (1n << 255n) - 1n, (1n << 256n) - 1n]) {
      const bits = encodeCompact(t)
      const size = bits >>> 24
      assert.ok(size === Math.ceil(bitLength(t) / 8) || size === Math.ceil(bitLength(t) / 8) + 1)
      const cut = BigInt(8 * Math.max(0, size - 3))
      assert.equal(decodeCompact(bits).target, (t >> cut) << cut, `decode(encode(0x${t.toString(16)}))`)
    }
  })

  it('encodes the all-ones limits as Bitcoin does', () => {
    assert.equal(encodeCompact(BTC_POW_LIMIT), 0x1d00ffff)
    assert.equal(encodeCompact((1n << 255n) - 1n), 0x207fffff)
    assert.equal(encodeCompact(0n), 0)
    assert.equal(encodeCompact(0n, true), 0, 'no sign on a zero mantissa')
  })

  it('rejects inputs outside the domain', () => {
    assert.throws(() => decodeCompact(-1), RangeError)
    assert.throws(() => decodeCompact(2 ** 32), RangeError)
    assert.throws(() => decodeCompact(1.5), RangeError)
    assert.throws(() => encodeCompact(-1n), RangeError)
    assert.throws(() => encodeCompact(1n << 256n), RangeError)
  })
})

describe('checkProofOfWork (Bitcoin Core pow_tests.cpp CheckProofOfWork_test_*)', () => {
  const one = hashOf(1n)

  it('rejects a negative target (powLimit.GetCompact(true))', () => {
    assert.equal(checkProofOfWork(one, encodeCompact(BTC_POW_LIMIT, true), BTC_POW_LIMIT), false)
  })

  it('rejects an overflowing target (~0x00800000)', () => {
    assert.equal(checkProofOfWork(one, ~0x00800000 >>> 0, BTC_POW_LIMIT), false)
  })

  it('rejects a target easier than powLimit (powLimit * 2)', () => {
    assert.equal(checkProofOfWork(one, encodeCompact(BTC_POW_LIMIT * 2n), BTC_POW_LIMIT), false)
  })

  it('rejects a hash above the target (hash = target + 1)', () => {
    const target = BTC_POW_LIMIT >> 1n
    const bits = encodeCompact(target)
    const exact = decodeCompact(bits).target
    assert.equal(checkProofOfWork(hashOf(exact + 1n), bits, BTC_POW_LIMIT), false)
    assert.equal(checkProofOfWork(hashOf(exact), bits, BTC_POW_LIMIT), true, 'hash == target passes')
  })

  it('rejects a zero target', () => {
    assert.equal(checkProofOfWork(hashOf(0n), encodeCompact(0n), BTC_POW_LIMIT), false)
  })

  it('accepts exactly at powLimit and reads the hash little-endian', () => {
    const bits = 0x1d00ffff
    const target = decodeCompact(bits).target
    const hash = hashOf(target)
    assert.equal(hash[31], 0, 'most significant byte is last')
    assert.equal(hashToBigInt(hash), target)
    assert.equal(checkProofOfWork(hash, bits, BTC_POW_LIMIT), true)
    const big = hash.slice()
    big[31] = 1 // the high byte, as the last byte of the internal order
    assert.equal(checkProofOfWork(big, bits, BTC_POW_LIMIT), false)
  })

  it('throws on a hash that is not 32 bytes', () => {
    assert.throws(() => checkProofOfWork(new Uint8Array(31), 0x1d00ffff, BTC_POW_LIMIT), RangeError)
  })
})

describe('blockWork (Bitcoin Core GetBlockProof)', () => {
  it('is 0x100010001 for Bitcoin\'s genesis bits 0x1d00ffff (its reported chainwork)', () => {
    assert.equal(blockWork(0x1d00ffff), 0x100010001n)
  })

  it('is 2 for regtest\'s 0x207fffff', () => {
    assert.equal(blockWork(0x207fffff), 2n)
  })

  it('equals Core\'s ~target / (target + 1) + 1 form', () => {
    const mask = (1n << 256n) - 1n
    for (const bits of [0x01010000, 0x03123456, 0x1802aee8, 0x1d00ffff, 0x1e0fffff, 0x207fffff, 0x2100ffff]) {
      const t = decodeCompact(bits).target
      assert.equal(blockWork(bits), ((mask ^ t) / (t + 1n)) + 1n, bits.toString(16))
    }
    assert.equal(blockWork(0x01010000), 1n << 255n, 'target 1: half the hash space')
  })

  it('is 0 for negative, overflowing or zero bits', () => {
    assert.equal(blockWork(0x04923456), 0n)
    assert.equal(blockWork(0xff123456), 0n)
    assert.equal(blockWork(0x00000000), 0n)
    assert.equal(blockWork(0x01003456), 0n)
  })
})
