/**
 * BIP340's test vectors (test/vectors/bip340-test-vectors.csv, see test/vectors/README.md)
 * against the verifier consensus uses (verifySigCheck, tiny-secp256k1): every row verifies to
 * its expected result; and against the tests' signer (signSchnorr): signing with the given
 * secret key and aux rand gives the given signature. Then the never-throw contract of
 * verifySigCheck on hostile signatures, messages and keys.
 */
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { describe, it } from 'node:test'
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js'
import { verifySigCheck } from '../../../../src/cash/consensus/verify.ts'
import { signSchnorr, xOnlyPublicKey } from '../../../utils/schnorr.ts'

interface Row {
  index: number
  secretKey: string
  publicKey: string
  auxRand: string
  message: string
  signature: string
  result: boolean
  comment: string
}

const csv = await readFile(new URL('../../../vectors/bip340-test-vectors.csv', import.meta.url), 'utf8')
const rows: Row[] = csv.split(/\r?\n/).slice(1).filter(line => line !== '').map(line => {
  // The comment is the last column and may itself hold no comma; the other columns never do.
  const [index, secretKey, publicKey, auxRand, message, signature, result, ...comment] = line.split(',')
  return {
    index: Number(index),
    secretKey: secretKey ?? '',
    publicKey: publicKey ?? '',
    auxRand: auxRand ?? '',
    message: message ?? '',
    signature: signature ?? '',
    result: result === 'TRUE',
    comment: comment.join(',')
  }
})

/** BIP340 `Verify(pk, m, sig)` as consensus runs it. */
function verify (sig: Uint8Array, msg: Uint8Array, pubkey: Uint8Array): boolean {
  return verifySigCheck({ sig, msg, pubkey })
}

describe('BIP340 test vectors', () => {
  it('has every row of the official file (0–14)', () => {
    assert.deepEqual(rows.map(r => r.index), Array.from({ length: 15 }, (_, i) => i))
  })

  for (const row of rows) {
    const title = `vector ${row.index}: ${row.comment === '' ? (row.result ? 'valid' : 'invalid') : row.comment}`
    it(title, () => {
      const pub = hexToBytes(row.publicKey)
      const msg = hexToBytes(row.message)
      const sig = hexToBytes(row.signature)
      if (row.secretKey !== '') {
        const sk = hexToBytes(row.secretKey)
        assert.equal(bytesToHex(xOnlyPublicKey(sk)), row.publicKey.toLowerCase(), 'public key')
        const made = signSchnorr(msg, sk, hexToBytes(row.auxRand))
        assert.equal(bytesToHex(made), row.signature.toLowerCase(), 'signature')
      }
      assert.equal(verify(sig, msg, pub), row.result)
    })
  }
})

describe('verifySigCheck never throws', () => {
  const valid = rows.find(r => r.index === 1) as Row
  const pub = hexToBytes(valid.publicKey)
  const msg = hexToBytes(valid.message)
  const sig = hexToBytes(valid.signature)

  it('accepts the reference signature (control)', () => {
    assert.equal(verify(sig, msg, pub), true)
  })

  it('returns false for wrong lengths', () => {
    assert.equal(verify(sig.subarray(0, 63), msg, pub), false)
    assert.equal(verify(new Uint8Array([...sig, 1]), msg, pub), false)
    assert.equal(verify(sig, msg.subarray(0, 31), pub), false)
    assert.equal(verify(sig, new Uint8Array(0), pub), false)
    assert.equal(verify(sig, msg, new Uint8Array([2, ...pub])), false, '33-byte compressed key')
    assert.equal(verify(new Uint8Array(0), new Uint8Array(0), new Uint8Array(0)), false)
  })

  it('returns false for a key that is no x coordinate on the curve, or not below p', () => {
    const notOnCurve = hexToBytes('EEFDEA4CDB677750A420FEE807EACF21EB9898AE79B9768766E4FAA04A2D4A34') // vector 5's
    assert.equal(verify(sig, msg, notOnCurve), false)
    assert.equal(verify(sig, msg, new Uint8Array(32).fill(0xff)), false)
  })

  it('returns false for any single flipped bit', () => {
    for (const bit of [0, 7, 255, 256, 300, 511]) {
      const bad = sig.slice()
      bad[bit >> 3] = (bad[bit >> 3] as number) ^ (1 << (bit & 7))
      assert.equal(verify(bad, msg, pub), false, `signature bit ${bit}`)
    }
    const badMsg = msg.slice()
    badMsg[31] = (badMsg[31] as number) ^ 1
    assert.equal(verify(sig, badMsg, pub), false, 'message bit')
  })

  it('returns false for all-zero and all-0xff inputs', () => {
    assert.equal(verify(new Uint8Array(64), new Uint8Array(32), new Uint8Array(32)), false)
    assert.equal(verify(new Uint8Array(64).fill(0xff), msg, new Uint8Array(32).fill(0xff)), false)
  })
})

describe('signSchnorr', () => {
  const sk = hexToBytes('B7E151628AED2A6ABF7158809CF4F3C762E7160F38B4DA56A784D9045190CFEF')
  const msg = hexToBytes('243F6A8885A308D313198A2E03707344A4093822299F31D0082EFA98EC4E6C89')

  it('signs with fresh aux randomness when none is given, and the result verifies', () => {
    const a = signSchnorr(msg, sk)
    const b = signSchnorr(msg, sk)
    assert.notEqual(bytesToHex(a), bytesToHex(b))
    assert.equal(verify(a, msg, xOnlyPublicKey(sk)), true)
    assert.equal(verify(b, msg, xOnlyPublicKey(sk)), true)
  })

  it('refuses messages, keys and aux rand of the wrong length', () => {
    assert.throws(() => signSchnorr(msg.subarray(0, 31), sk), RangeError)
    assert.throws(() => signSchnorr(new Uint8Array(33), sk), RangeError)
    assert.throws(() => signSchnorr(msg, sk.subarray(1)), RangeError)
    assert.throws(() => signSchnorr(msg, sk, new Uint8Array(31)), RangeError)
    assert.throws(() => xOnlyPublicKey(new Uint8Array(31)), RangeError)
  })

  it('refuses a secret key of zero or ≥ n', () => {
    assert.throws(() => signSchnorr(msg, new Uint8Array(32)))
    assert.throws(() => signSchnorr(msg, hexToBytes('FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141')))
  })
})
