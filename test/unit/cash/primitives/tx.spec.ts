/**
 * Transaction codec: published transactions (legacy and BIP144 segwit) round-trip with their
 * known txid, wtxid, weight and vsize (test/vectors/bitcoin-blocks.json names the sources),
 * and every malformed input is refused with its stable reason before anything big is built.
 */
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { describe, it } from 'node:test'
import { DecodeError } from '../../../../src/cash/primitives/errors.ts'
import { hashToHex, sha256d } from '../../../../src/cash/primitives/hash.ts'
import {
  DEFAULT_MAX_TX_SIZE, decodeTx, decodeTxAt, encodeTx, hasWitness, isCoinbase, txBaseSize, txTotalSize, txVsize, txWeight, txid, wtxid
} from '../../../../src/cash/primitives/tx.ts'
import type { Transaction } from '../../../../src/cash/primitives/tx.ts'

interface TxVector {
  name: string
  hex: string
  txid: string
  wtxid?: string
  weight: number
  vsize?: number
  prevouts?: string[]
  coinbase: boolean
}
interface Vectors { transactions: TxVector[], invalidTransactions: Array<{ name: string, hex: string, reason: string }> }
const vectors = JSON.parse(await readFile(new URL('../../../vectors/bitcoin-blocks.json', import.meta.url), 'utf8')) as Vectors

const fromHex = (hex: string): Uint8Array => new Uint8Array(Buffer.from(hex, 'hex'))
const toHex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex')
const concat = (...parts: Uint8Array[]): Uint8Array => new Uint8Array(Buffer.concat(parts))

function rejects (reason: string) {
  return (err: unknown) => err instanceof DecodeError && err.name === 'DecodeError' && err.reason === reason
}

function vector (name: string): TxVector {
  const v = vectors.transactions.find((t) => t.name.includes(name))
  assert.ok(v, name)
  return v
}

/** A small transaction with `inputs` inputs (witnessed or not) and `outputs` outputs. */
function makeTx (inputs: number, outputs: number, witness: boolean): Transaction {
  return {
    version: 2,
    inputs: Array.from({ length: inputs }, (_, i) => ({
      prevout: { txid: new Uint8Array(32).fill(i + 1), index: i },
      scriptSig: new Uint8Array(0),
      sequence: 0xfffffffd,
      witness: witness ? [new Uint8Array(64).fill(7)] : []
    })),
    outputs: Array.from({ length: outputs }, (_, i) => ({ amount: BigInt(1000 + i), script: Uint8Array.of(0x51, 0x20, ...new Uint8Array(32).fill(i)) })),
    lockTime: 0
  }
}

describe('transaction codec: published vectors', () => {
  for (const v of vectors.transactions) {
    it(`${v.name}: round-trips with txid ${v.txid.slice(0, 12)}…`, () => {
      const bytes = fromHex(v.hex)
      const tx = decodeTx(bytes)
      assert.equal(toHex(encodeTx(tx, { witness: true })), v.hex)
      assert.equal(hashToHex(txid(tx)), v.txid)
      if (v.wtxid !== undefined) assert.equal(hashToHex(wtxid(tx)), v.wtxid)
      assert.equal(txWeight(tx), v.weight)
      if (v.vsize !== undefined) assert.equal(txVsize(tx), v.vsize)
      assert.equal(txTotalSize(tx), bytes.length)
      assert.equal(txBaseSize(tx), encodeTx(tx, { witness: false }).length)
      assert.equal(isCoinbase(tx), v.coinbase)
      if (v.prevouts !== undefined) assert.deepEqual(tx.inputs.map((i) => `${hashToHex(i.prevout.txid)}:${i.prevout.index}`), v.prevouts)
    })
  }

  it('segwit: txid hashes the stripped form, wtxid the full one (BIP141)', () => {
    const v = vector('P2WPKH')
    const tx = decodeTx(fromHex(v.hex))
    assert.ok(hasWitness(tx))
    const stripped = encodeTx(tx, { witness: false })
    assert.equal(hashToHex(sha256d(stripped)), v.txid)
    assert.equal(hashToHex(sha256d(fromHex(v.hex))), v.wtxid)
    // The stripped form decodes to the same transaction minus witnesses, with the same txid.
    const bare = decodeTx(stripped)
    assert.ok(!hasWitness(bare))
    assert.equal(hashToHex(txid(bare)), v.txid)
    assert.equal(hashToHex(wtxid(bare)), v.txid)
    assert.equal(txWeight(bare), stripped.length * 4)
  })

  it('decoded fields are copies, not views of the input, even from a Buffer', () => {
    // Buffer.from(hex) may sit in Node's shared pool, and Buffer#slice is a view: both traps.
    const bytes = Buffer.from(vector('P2WPKH').hex, 'hex')
    const tx = decodeTx(bytes)
    const before = JSON.stringify(tx, (_, v: unknown) => typeof v === 'bigint' ? v.toString() : v instanceof Uint8Array ? toHex(v) : v)
    assert.ok(tx.outputs.every((o) => !Buffer.isBuffer(o.script)))
    bytes.fill(0)
    const after = JSON.stringify(tx, (_, v: unknown) => typeof v === 'bigint' ? v.toString() : v instanceof Uint8Array ? toHex(v) : v)
    assert.equal(after, before)
    // Encoding and hashing leave a Buffer-held transaction untouched as well.
    const again = decodeTx(Buffer.from(vector('P2WPKH').hex, 'hex'))
    const input = again.inputs[0]
    assert.ok(input)
    input.prevout.txid = Buffer.from(input.prevout.txid)
    const prevout = toHex(input.prevout.txid)
    encodeTx(again, { witness: true })
    hashToHex(input.prevout.txid)
    assert.equal(toHex(input.prevout.txid), prevout)
  })

  it('sizes match the encodings for synthetic transactions, including 0xfd-long CompactSizes', () => {
    for (const [inputs, outputs, witness] of [[1, 1, false], [1, 2, true], [3, 253, true], [253, 1, false]] as const) {
      const tx = makeTx(inputs, outputs, witness)
      const full = encodeTx(tx, { witness: true })
      assert.equal(txTotalSize(tx), full.length)
      assert.equal(txBaseSize(tx), encodeTx(tx, { witness: false }).length)
      assert.deepEqual(decodeTx(full), tx)
    }
  })

  it('isCoinbase needs exactly one input spending the null outpoint', () => {
    const tx = makeTx(1, 1, false)
    assert.ok(!isCoinbase(tx))
    const input = tx.inputs[0]
    assert.ok(input)
    input.prevout = { txid: new Uint8Array(32), index: 0xffffffff }
    assert.ok(isCoinbase(tx))
    assert.ok(!isCoinbase({ ...tx, inputs: [input, input] }))
    assert.ok(!isCoinbase({ ...tx, inputs: [{ ...input, prevout: { txid: new Uint8Array(32), index: 0 } }] }))
  })
})

describe('transaction codec: rejections', () => {
  const segwit = fromHex(vector('P2WPKH').hex)
  const legacy = fromHex(vector('legacy').hex)

  for (const v of vectors.invalidTransactions) {
    it(`published invalid transaction: ${v.name} → ${v.reason}`, () => {
      assert.throws(() => decodeTx(fromHex(v.hex)), rejects(v.reason))
    })
  }

  it('every truncation of a segwit and a legacy transaction is tx-truncated', () => {
    for (const bytes of [segwit, legacy]) {
      for (let n = 0; n < bytes.length; n++) assert.throws(() => decodeTx(bytes.subarray(0, n)), rejects('tx-truncated'), `${n} bytes`)
    }
  })

  it('trailing bytes are refused', () => {
    assert.throws(() => decodeTx(concat(segwit, Uint8Array.of(0))), rejects('tx-trailing-bytes'))
    assert.throws(() => decodeTx(concat(legacy, legacy)), rejects('tx-trailing-bytes'))
  })

  it('size is checked before decoding: an oversize buffer is refused whatever it holds', () => {
    assert.throws(() => decodeTx(segwit, { maxSize: segwit.length - 1 }), rejects('tx-oversize'))
    assert.equal(hashToHex(txid(decodeTx(segwit, { maxSize: segwit.length }))), vector('P2WPKH').txid)
    // Garbage that would be tx-truncated if it were read at all.
    assert.throws(() => decodeTx(new Uint8Array(DEFAULT_MAX_TX_SIZE + 1).fill(0xff)), rejects('tx-oversize'))
  })

  it('input and output counts above the limits are refused', () => {
    const tx = makeTx(3, 4, true)
    const bytes = encodeTx(tx, { witness: true })
    assert.throws(() => decodeTx(bytes, { maxInputs: 2 }), rejects('tx-too-many-inputs'))
    assert.throws(() => decodeTx(bytes, { maxOutputs: 3 }), rejects('tx-too-many-outputs'))
    assert.deepEqual(decodeTx(bytes, { maxInputs: 3, maxOutputs: 4 }), tx)
  })

  it('a forged count larger than the bytes could hold is refused before any allocation', () => {
    // version, input count 0xfeffffffff (4,294,967,295 inputs), nothing else.
    const forged = concat(Uint8Array.of(2, 0, 0, 0), Uint8Array.of(0xfe, 0xff, 0xff, 0xff, 0xff), new Uint8Array(100))
    assert.throws(() => decodeTx(forged, { maxInputs: Infinity }), rejects('tx-truncated'))
    // With the defaults the count limit (maxSize / 41 inputs) already refuses it.
    assert.throws(() => decodeTx(forged), rejects('tx-too-many-inputs'))
  })

  it('the segwit flag with every witness empty is refused (Core: "Superfluous witness record")', () => {
    // BIP144 layout of a witness-less transaction: marker, flag, then one empty stack per input.
    const tx = makeTx(2, 1, false)
    const plain = encodeTx(tx, { witness: false })
    const withFlag = concat(plain.subarray(0, 4), Uint8Array.of(0x00, 0x01), plain.subarray(4, plain.length - 4), Uint8Array.of(0x00, 0x00), plain.subarray(plain.length - 4))
    assert.throws(() => decodeTx(withFlag), rejects('tx-superfluous-witness'))
    // With one non-empty stack it is a valid segwit transaction.
    const witnessed = concat(plain.subarray(0, 4), Uint8Array.of(0x00, 0x01), plain.subarray(4, plain.length - 4), Uint8Array.of(0x00, 0x01, 0x01, 0xaa), plain.subarray(plain.length - 4))
    assert.deepEqual(decodeTx(witnessed).inputs.map((i) => i.witness.map(toHex)), [[], ['aa']])
    // Zero inputs under the flag: no witness can exist, so it is superfluous too.
    assert.throws(() => decodeTx(fromHex('02000000' + '0001' + '00' + '00' + '00000000')), rejects('tx-superfluous-witness'))
  })

  it('a flag other than 0x01 after the marker is unknown optional data', () => {
    assert.throws(() => decodeTx(concat(segwit.subarray(0, 5), Uint8Array.of(0x02), segwit.subarray(6))), rejects('tx-unknown-flag'))
  })

  it('a CompactSize not in its shortest form is refused', () => {
    // Input count 1 written as 0xfd 0x0100.
    const bad = concat(legacy.subarray(0, 4), Uint8Array.of(0xfd, 0x01, 0x00), legacy.subarray(5))
    assert.throws(() => decodeTx(bad), rejects('tx-noncanonical-compactsize'))
  })

  it('decodeTxAt reads one transaction out of a concatenation', () => {
    const both = concat(legacy, segwit)
    const first = decodeTxAt(both, 0)
    assert.equal(first.end, legacy.length)
    const second = decodeTxAt(both, first.end)
    assert.equal(second.end, both.length)
    assert.equal(hashToHex(wtxid(second.tx)), vector('P2WPKH').wtxid)
  })
})
