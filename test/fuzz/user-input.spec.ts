/**
 * Fuzzing the parsers of what users type or paste (through the CLI and the API): addresses,
 * amounts of coins, block and transaction hashes, CIDs. Valid values round-trip through their
 * formatter; mutated and arbitrary strings parse or throw the parser's typed error.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { formatCoins, parseCoins } from '../../src/cash/amount.ts'
import { MAX_MONEY } from '../../src/cash/consensus/subsidy.ts'
import { decodeAddress, encodeAddress } from '../../src/cash/primitives/address.ts'
import { hashToHex, hexToHash } from '../../src/cash/primitives/hash.ts'
import { parseCid } from '../../src/share/block.ts'
import { cidArb, decodeOrTyped, fuzz } from '../utils/fuzz.ts'

/** A string with one to three characters replaced, inserted or deleted. */
function mutatedString (valid: fc.Arbitrary<string>): fc.Arbitrary<string> {
  const edit = fc.tuple(fc.nat(), fc.constantFrom('replace', 'insert', 'delete'), fc.oneof(fc.string({ minLength: 1, maxLength: 1 }), fc.constantFrom('1', 'q', 'Q', 'İ', '\u0000', ' ', '.', '-', 'e')))
  return fc.tuple(valid, fc.array(edit, { minLength: 1, maxLength: 3 })).map(([s, edits]) => edits.reduce((acc, [at, op, ch]) => {
    const i = at % (acc.length + 1)
    if (op === 'insert') return acc.slice(0, i) + ch + acc.slice(i)
    if (op === 'delete') return acc.slice(0, i) + acc.slice(i + 1)
    return acc.slice(0, i) + ch + acc.slice(i + 1)
  }, s))
}

/** Valid strings, mutated ones and arbitrary ones. */
function hostileStrings (valid: fc.Arbitrary<string>): fc.Arbitrary<string> {
  return fc.oneof({ arbitrary: mutatedString(valid), weight: 5 }, { arbitrary: valid, weight: 1 }, { arbitrary: fc.string({ maxLength: 100 }), weight: 1 }, { arbitrary: fc.string({ unit: 'binary', maxLength: 100 }), weight: 1 })
}

const program = fc.uint8Array({ minLength: 32, maxLength: 32 })
const address = program.map(p => encodeAddress('pdrt', p))

describe('fuzz: user input', () => {
  it('addresses: round-trip in either case; anything else is a program of 32 bytes or AddressError', () => {
    fuzz(program, (p) => {
      const a = encodeAddress('pdrt', p)
      assert.deepStrictEqual(decodeAddress(a, 'pdrt'), p)
      assert.deepStrictEqual(decodeAddress(a.toUpperCase(), 'pdrt'), p)
    })
    fuzz(hostileStrings(address), (s) => {
      const p = decodeOrTyped(() => decodeAddress(s, 'pdrt'), ['AddressError'])
      if (p != null) {
        assert.equal(p.length, 32)
        assert.equal(encodeAddress('pdrt', p), s.toLowerCase())
      }
    })
  })

  it('amounts: every amount formats and parses back; anything else is an amount in range or InvalidArgumentError', () => {
    const units = fc.bigInt({ min: 1n, max: MAX_MONEY })
    fuzz(units, (u) => { assert.equal(parseCoins(formatCoins(u)), u) })
    fuzz(hostileStrings(units.map(formatCoins)), (s) => {
      const u = decodeOrTyped(() => parseCoins(s), ['InvalidArgumentError'])
      if (u != null) assert.ok(u > 0n && u <= MAX_MONEY)
    })
  })

  it('hashes: hex round-trips; anything else is 32 bytes or DecodeError', () => {
    fuzz(fc.uint8Array({ minLength: 32, maxLength: 32 }), (h) => { assert.deepStrictEqual(hexToHash(hashToHex(h)), h) })
    fuzz(hostileStrings(fc.uint8Array({ minLength: 32, maxLength: 32 }).map(hashToHex)), (s) => {
      const h = decodeOrTyped(() => hexToHash(s), ['DecodeError'])
      if (h != null) assert.equal(h.length, 32)
    })
  })

  it('CIDs: every CID peerd handles parses from its text; anything else is a CID or InvalidArgumentError', () => {
    fuzz(cidArb, (cid) => { assert.equal(parseCid(cid.toString()).toString(), cid.toString()) })
    fuzz(hostileStrings(cidArb.map(c => c.toString())), (s) => {
      decodeOrTyped(() => parseCid(s), ['InvalidArgumentError'])
    })
  })
})
