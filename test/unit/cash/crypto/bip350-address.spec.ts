/**
 * Cash addresses against BIP350's test vectors (test/vectors/bip350-bech32m.json, see
 * test/vectors/README.md), then the address rules of Cash itself.
 *
 * The checksum layer (decodeBech32) must accept every valid Bech32m string and refuse every
 * invalid one for the BIP's reason; @scure/base's bech32m must agree. The address decoder accepts,
 * by design, only witness version 1 with a 32-byte program: of BIP350's valid segwit addresses
 * it takes the two v1/32-byte ones and refuses the others with a reason naming why, and it
 * refuses every invalid one for the BIP's reason, or, where Cash is stricter, for Cash's.
 * The vectors use Bitcoin's prefixes ("bc", "tb"), which are not Cash's; each is decoded with its
 * own prefix as the expected one, except where the BIP's point is the wrong prefix.
 */
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { describe, it } from 'node:test'
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js'
import { bech32, bech32m } from '@scure/base'
import {
  AddressError, decodeAddress, decodeBech32, encodeAddress, p2trScript, programFromScript
} from '../../../../src/cash/primitives/address.ts'
import type { AddressErrorReason } from '../../../../src/cash/primitives/address.ts'

interface Vectors {
  validBech32m: string[]
  invalidBech32m: Array<{ string: string, reason: string }>
  validSegwit: Array<{ address: string, scriptPubKey: string }>
  invalidSegwit: Array<{ address: string, reason: string }>
}

const vectors = JSON.parse(await readFile(new URL('../../../vectors/bip350-bech32m.json', import.meta.url), 'utf8')) as Vectors

const isReason = (reason: AddressErrorReason) => (err: unknown): boolean => {
  assert.ok(err instanceof AddressError, `not an AddressError: ${String(err)}`)
  assert.equal(err.name, 'AddressError')
  assert.equal(err.reason, reason, `reason of "${err.message}"`)
  assert.ok(err.message.length > 10)
  return true
}

/** Our reason for each of the BIP's reasons for an invalid Bech32m string. */
const BECH32M_REASONS: Record<string, AddressErrorReason> = {
  'HRP character out of range': 'bad-hrp',
  'overall max length exceeded': 'bad-length',
  'No separator character': 'bad-separator',
  'Empty HRP': 'bad-separator',
  'empty HRP': 'bad-separator',
  'Invalid data character': 'bad-char',
  'Too short checksum': 'bad-checksum',
  'Invalid character in checksum': 'bad-char',
  'checksum calculated with uppercase form of HRP': 'bad-checksum'
}

describe('BIP350 Bech32m strings (checksum layer)', () => {
  for (const str of vectors.validBech32m) {
    it(`valid: ${str}`, () => {
      const decoded = decodeBech32(str)
      assert.equal(decoded.variant, 'bech32m')
      assert.equal(decoded.hrp, str.slice(0, str.lastIndexOf('1')).toLowerCase())
      // No string is both (BIP350), so these are invalid Bech32.
      assert.equal(bech32.decodeUnsafe(str.toLowerCase()), undefined)
      // @scure/base agrees, and re-encoding gives the lowercase string back.
      const theirs = bech32m.decode(str.toLowerCase() as `${string}1${string}`)
      assert.deepEqual(theirs.words, decoded.words)
      assert.equal(bech32m.encode(decoded.hrp, decoded.words), str.toLowerCase())
    })
  }
  for (const { string: str, reason } of vectors.invalidBech32m) {
    const printable = JSON.stringify(str)
    it(`invalid (${reason}): ${printable}`, () => {
      const ours = BECH32M_REASONS[reason]
      assert.ok(ours !== undefined, `no mapping for the BIP's reason "${reason}"`)
      assert.throws(() => decodeBech32(str), isReason(ours))
      assert.equal(bech32m.decodeUnsafe(str), undefined, '@scure/base agrees it is invalid')
    })
  }
})

/** What Cash's decoder says of each of BIP350's valid segwit addresses that is not v1/32 bytes. */
const VALID_BUT_NOT_P2TR: Record<string, AddressErrorReason> = {
  BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4: 'wrong-witness-version', // v0, 20 bytes
  tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3q0sl5k7: 'wrong-witness-version', // v0, 32 bytes
  bc1pw508d6qejxtdg4y5r3zarvary0c5xw7kw508d6qejxtdg4y5r3zarvary0c5xw7kt5nd6y: 'bad-program-length', // v1, 40 bytes
  BC1SW50QGDZ25J: 'wrong-witness-version', // v16
  bc1zw508d6qejxtdg4y5r3zarvaryvaxxpcs: 'wrong-witness-version', // v2
  tb1qqqqqp399et2xygdj5xreqhjjvcmzhxw4aywxecjdzew6hylgvsesrxh6hy: 'wrong-witness-version' // v0, 32 bytes
}

/** Cash's reason for each of BIP350's invalid segwit addresses, by the BIP's reason. */
const SEGWIT_REASONS: Record<string, AddressErrorReason> = {
  'Invalid human-readable part': 'wrong-hrp',
  'Invalid checksum (Bech32 instead of Bech32m)': 'wrong-checksum-variant',
  'Invalid checksum (Bech32m instead of Bech32)': 'wrong-checksum-variant',
  'Invalid character in checksum': 'bad-char',
  'Invalid witness version': 'wrong-witness-version',
  'Invalid program length (1 byte)': 'bad-program-length',
  'Invalid program length (41 bytes)': 'bad-program-length',
  // BIP141 would refuse a 16-byte v0 program for its length; Cash refuses every v0 address first.
  'Invalid program length for witness version 0 (per BIP141)': 'wrong-witness-version',
  'Mixed case': 'mixed-case',
  'zero padding of more than 4 bits': 'bad-padding',
  'Non-zero padding in 8-to-5 conversion': 'bad-padding',
  // No witness version at all.
  'Empty data section': 'wrong-witness-version'
}

const hrpOf = (address: string): string => address.slice(0, address.lastIndexOf('1')).toLowerCase()

describe('BIP350 segwit addresses through the Cash decoder', () => {
  for (const { address, scriptPubKey } of vectors.validSegwit) {
    const refusal = VALID_BUT_NOT_P2TR[address]
    if (refusal === undefined) {
      it(`accepts v1/32 bytes: ${address}`, () => {
        const program = decodeAddress(address, hrpOf(address))
        assert.equal(bytesToHex(p2trScript(program)), scriptPubKey)
        assert.equal(bytesToHex(programFromScript(hexToBytes(scriptPubKey)) as Uint8Array), bytesToHex(program))
        assert.equal(encodeAddress(hrpOf(address), program), address.toLowerCase())
      })
    } else {
      it(`refuses valid non-P2TR (${refusal}): ${address}`, () => {
        assert.throws(() => decodeAddress(address, hrpOf(address)), isReason(refusal))
        assert.equal(programFromScript(hexToBytes(scriptPubKey)), undefined)
      })
    }
  }
  it('accepts exactly two of the valid addresses (the v1/32-byte ones)', () => {
    assert.equal(vectors.validSegwit.filter(v => VALID_BUT_NOT_P2TR[v.address] === undefined).length, 2)
  })

  for (const { address, reason } of vectors.invalidSegwit) {
    it(`refuses (${reason}): ${address}`, () => {
      const ours = SEGWIT_REASONS[reason]
      assert.ok(ours !== undefined, `no mapping for the BIP's reason "${reason}"`)
      // The wrong-prefix vector is "tc1…" where "bc" or "tb" was expected.
      const expectedHrp = ours === 'wrong-hrp' ? 'bc' : hrpOf(address)
      assert.throws(() => decodeAddress(address, expectedHrp), isReason(ours))
    })
  }
})

describe('Cash addresses', () => {
  const key = hexToBytes('79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798')

  it('round-trips on main ("pd") and regtest ("pdrt"), upper or lower case', () => {
    for (const hrp of ['pd', 'pdrt']) {
      const address = encodeAddress(hrp, key)
      assert.ok(address.startsWith(`${hrp}1p`), address)
      assert.equal(decodeBech32(address).variant, 'bech32m')
      assert.equal(bytesToHex(decodeAddress(address, hrp)), bytesToHex(key))
      assert.equal(bytesToHex(decodeAddress(address.toUpperCase(), hrp)), bytesToHex(key))
    }
  })

  it('refuses an address of the other network', () => {
    assert.throws(() => decodeAddress(encodeAddress('pdrt', key), 'pd'), isReason('wrong-hrp'))
    assert.throws(() => decodeAddress(encodeAddress('pd', key), 'pdrt'), isReason('wrong-hrp'))
    assert.throws(() => decodeAddress(encodeAddress('bc', key), 'pd'), isReason('wrong-hrp'))
  })

  it('says which network a wrong-prefix address is for', () => {
    try {
      decodeAddress(encodeAddress('pdrt', key), 'pd')
      assert.fail('no error')
    } catch (err) {
      assert.match((err as Error).message, /"pdrt".*"pd"/)
    }
  })

  it('refuses any single changed character (checksum)', () => {
    const address = encodeAddress('pd', key)
    const alphabet = 'qpzry9x8gf2tvdw0s3jn54khce6mua7l'
    for (let i = 3; i < address.length; i++) {
      const c = address[i] as string
      const other = alphabet[(alphabet.indexOf(c) + 1) % 32] as string
      const typo = address.slice(0, i) + other + address.slice(i + 1)
      assert.throws(() => decodeAddress(typo, 'pd'), isReason('bad-checksum'), `position ${i}`)
    }
  })

  it('refuses mixed case', () => {
    const address = encodeAddress('pd', key)
    assert.throws(() => decodeAddress(address.slice(0, 10) + address.slice(10).toUpperCase(), 'pd'), isReason('mixed-case'))
  })

  it('refuses a v1 program encoded with a bech32 (not bech32m) checksum', () => {
    const v1bech32 = bech32.encode('pd', [1, ...bech32.toWords(key)])
    assert.throws(() => decodeAddress(v1bech32, 'pd'), isReason('wrong-checksum-variant'))
  })

  it('refuses other witness versions and program lengths under the right prefix', () => {
    assert.throws(() => decodeAddress(bech32.encode('pd', [0, ...bech32.toWords(key)]), 'pd'), isReason('wrong-witness-version'))
    assert.throws(() => decodeAddress(bech32m.encode('pd', [2, ...bech32m.toWords(key)]), 'pd'), isReason('wrong-witness-version'))
    assert.throws(() => decodeAddress(bech32m.encode('pd', [1, ...bech32m.toWords(key.subarray(0, 20))]), 'pd'), isReason('bad-program-length'))
    assert.throws(() => decodeAddress(bech32m.encode('pd', [1, ...bech32m.toWords(new Uint8Array([...key, 0]))]), 'pd'), isReason('bad-program-length'))
  })

  it('refuses to encode a program that is not 32 bytes, or a bad prefix', () => {
    assert.throws(() => encodeAddress('pd', key.subarray(1)), isReason('bad-program-length'))
    assert.throws(() => encodeAddress('pd', new Uint8Array(33)), isReason('bad-program-length'))
    assert.throws(() => encodeAddress('PD', key), isReason('bad-hrp'))
    assert.throws(() => encodeAddress('', key), isReason('bad-hrp'))
    assert.throws(() => encodeAddress('p d', key), isReason('bad-hrp'))
    assert.throws(() => p2trScript(key.subarray(2)), isReason('bad-program-length'))
  })

  it('refuses non-string input', () => {
    assert.throws(() => decodeAddress(undefined as unknown as string, 'pd'), isReason('bad-length'))
  })
})

describe('P2TR scripts', () => {
  const key = new Uint8Array(32).fill(0xab)

  it('builds OP_1 <32 bytes>', () => {
    const script = p2trScript(key)
    assert.equal(script.length, 34)
    assert.equal(script[0], 0x51)
    assert.equal(script[1], 0x20)
    assert.equal(bytesToHex(script.subarray(2)), bytesToHex(key))
  })

  it('reads the key back only from exactly that form, as a copy', () => {
    const script = p2trScript(key)
    const program = programFromScript(script) as Uint8Array
    assert.equal(bytesToHex(program), bytesToHex(key))
    program[0] = 0
    assert.equal(script[2], 0xab, 'the script is not changed through the result')

    const variants: Array<[string, Uint8Array]> = [
      ['empty', new Uint8Array(0)],
      ['OP_0 <32> (P2WSH)', new Uint8Array([0x00, 0x20, ...key])],
      ['OP_2 <32> (v2)', new Uint8Array([0x52, 0x20, ...key])],
      ['OP_1 <31>', new Uint8Array([0x51, 0x1f, ...key.subarray(1)])],
      ['OP_1 <33>', new Uint8Array([0x51, 0x21, 0x02, ...key])],
      ['OP_1 <32> with a trailing byte', new Uint8Array([0x51, 0x20, ...key, 0x00])],
      ['OP_1 <32> one byte short', new Uint8Array([0x51, 0x20, ...key.subarray(1)])],
      ['OP_1 PUSHDATA1 32', new Uint8Array([0x51, 0x4c, 0x20, ...key])],
      ['OP_1 <20> (v1, 20 bytes)', new Uint8Array([0x51, 0x14, ...key.subarray(0, 20)])]
    ]
    for (const [name, s] of variants) assert.equal(programFromScript(s), undefined, name)
  })
})
