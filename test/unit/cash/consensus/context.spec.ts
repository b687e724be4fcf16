/**
 * Contextual rules: median time past, nextBits (aserti3-2d anchored at genesis on main,
 * fixed on regtest), header time and bits (ContextualCheckBlockHeader), BIP34 coinbase
 * height, lock-time finality (BIP113) and BIP68 sequence locks.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import {
  checkBlockContext, checkHeaderContext, checkSequenceLocks, coinbaseHeightScript, isFinalTx, medianTimePast, nextBits,
  SEQUENCE_LOCKTIME_DISABLE_FLAG, SEQUENCE_LOCKTIME_TYPE_FLAG
} from '../../../../src/cash/consensus/context.ts'
import { chainParams } from '../../../../src/cash/consensus/params.ts'
import { decodeCompact, encodeCompact } from '../../../../src/cash/consensus/pow.ts'
import { assembleBlock, coinbaseTx } from '../../../../src/cash/miner/template.ts'
import type { BlockHeader } from '../../../../src/cash/primitives/header.ts'
import type { Transaction } from '../../../../src/cash/primitives/tx.ts'
import { assertVerifyError, testKey } from '../../../utils/cash.ts'

const main = chainParams('main')
const regtest = chainParams('regtest')
const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex')

describe('medianTimePast', () => {
  it('is the middle of the sorted times (upper middle for an even count, as Core)', () => {
    assert.equal(medianTimePast([5]), 5)
    assert.equal(medianTimePast([3, 1, 2]), 2)
    assert.equal(medianTimePast([1, 2, 3, 4]), 3)
    assert.equal(medianTimePast([11, 1, 10, 2, 9, 3, 8, 4, 7, 5, 6]), 6)
  })

  it('does not reorder its argument and refuses an empty list', () => {
    const times = [3, 1, 2]
    medianTimePast(times)
    assert.deepEqual(times, [3, 1, 2])
    assert.throws(() => medianTimePast([]), RangeError)
  })
})

describe('nextBits', () => {
  const g = main.genesis
  const anchor = decodeCompact(g.bits).target
  const targetOf = (height: number, time: number, p = main): bigint => decodeCompact(nextBits({ height, time }, p)).target
  const near = (actual: bigint, expected: bigint): void => {
    // Compact bits keep 16-24 significant bits: allow 2^-15 relative error.
    const diff = actual > expected ? actual - expected : expected - actual
    assert.ok(diff * (1n << 15n) <= expected, `${actual} vs ${expected}`)
  }

  it('regtest: always powLimitBits', () => {
    assert.equal(nextBits({ height: 0, time: 0 }, regtest), regtest.powLimitBits)
    assert.equal(nextBits({ height: 1000, time: regtest.genesis.time + 10 ** 7 }, regtest), regtest.powLimitBits)
  })

  it('main: a chain on schedule keeps the genesis bits (after genesis and after 1000 blocks)', () => {
    assert.equal(nextBits({ height: 0, time: g.time }, main), g.bits)
    assert.equal(nextBits({ height: 1000, time: g.time + 1000 * main.targetSpacing }, main), g.bits)
  })

  it('main: one and two half-lives ahead of schedule halve and quarter the target', () => {
    const h = 500
    const onTime = g.time + h * main.targetSpacing
    near(targetOf(h, onTime - main.asertHalfLife), anchor / 2n)
    near(targetOf(h, onTime - 2 * main.asertHalfLife), anchor / 4n)
  })

  it('main: two half-lives late doubles the target twice (anchored below powLimit), clamped at powLimit', () => {
    const harder = encodeCompact(main.powLimit >> 8n)
    const p = { ...main, genesis: { ...g, bits: harder } }
    const a = decodeCompact(harder).target
    const h = 500
    const onTime = g.time + h * main.targetSpacing
    assert.equal(nextBits({ height: h, time: onTime }, p), harder)
    near(targetOf(h, onTime + main.asertHalfLife, p), a * 2n)
    near(targetOf(h, onTime + 2 * main.asertHalfLife, p), a * 4n)
    // the real genesis sits at powLimit: a late chain cannot get easier than that
    assert.equal(nextBits({ height: h, time: onTime + 2 * main.asertHalfLife }, main), main.powLimitBits)
  })
})

describe('checkHeaderContext', () => {
  const header: BlockHeader = { version: 1, prevHash: new Uint8Array(32), merkleRoot: new Uint8Array(32), time: 1000, bits: regtest.powLimitBits, nonce: 0 }
  const ctx = { prevHeight: 5, prevMedianTimePast: 999, expectedBits: regtest.powLimitBits, now: 1000 }

  it('accepts time = MTP + 1 and time = now + maxFutureBlockTime', () => {
    checkHeaderContext(header, ctx, regtest)
    checkHeaderContext({ ...header, time: 1000 + regtest.maxFutureBlockTime }, ctx, regtest)
  })

  it('bad-diffbits (100)', () => {
    assertVerifyError(() => checkHeaderContext({ ...header, bits: 0x1e0fffff }, ctx, regtest), 'bad-diffbits', 100, { kind: 'header' })
  })

  it('time-too-old: at the median time past (100)', () => {
    assertVerifyError(() => checkHeaderContext({ ...header, time: 999 }, ctx, regtest), 'time-too-old', 100, { kind: 'header' })
  })

  it('time-too-new: one second past the allowed future (score 0)', () => {
    assertVerifyError(() => checkHeaderContext({ ...header, time: 1001 + regtest.maxFutureBlockTime }, ctx, regtest), 'time-too-new', 0, { kind: 'header' })
  })
})

describe('coinbaseHeightScript (BIP34, Core\'s CScript() << height)', () => {
  it('OP_0, OP_1..OP_16, then minimal script-number pushes', () => {
    const cases: Array<[number, string]> = [
      [0, '00'], [1, '51'], [16, '60'], [17, '0111'], [127, '017f'], [128, '028000'], [255, '02ff00'],
      [256, '020001'], [32767, '02ff7f'], [32768, '03008000'], [65536, '03000001'], [2_100_000, '03200b20']
    ]
    for (const [height, hex] of cases) assert.equal(toHex(coinbaseHeightScript(height)), hex, `height ${height}`)
    assert.throws(() => coinbaseHeightScript(-1), RangeError)
  })
})

describe('lock time (isFinalTx, BIP113) and checkBlockContext', () => {
  const key = testKey(1)
  const tx = (lockTime: number, sequence = 0xfffffffe): Transaction => ({
    version: 2,
    inputs: [{ prevout: { txid: new Uint8Array(32).fill(1), index: 0 }, scriptSig: new Uint8Array(0), sequence, witness: [new Uint8Array(64)] }],
    outputs: [{ amount: 1n, script: key.script }],
    lockTime
  })
  const block = (height: number, txs: Transaction[]) => assembleBlock({
    prevHash: new Uint8Array(32), height, time: 2_000_000_000, bits: regtest.powLimitBits, payoutScript: key.script, txs, fees: 0n, params: regtest
  })

  it('isFinalTx: height locks below the height, time locks below the MTP, or all sequences final', () => {
    assert.ok(isFinalTx(tx(0), 10, 1000))
    assert.ok(isFinalTx(tx(9), 10, 1000))
    assert.ok(!isFinalTx(tx(10), 10, 1000))
    assert.ok(isFinalTx(tx(10, 0xffffffff), 10, 1000))
    assert.ok(isFinalTx(tx(600_000_000), 10, 600_000_001))
    assert.ok(!isFinalTx(tx(600_000_000), 10, 600_000_000))
    assert.ok(!isFinalTx(tx(499_999_999), 10, 600_000_000), 'below LOCKTIME_THRESHOLD is a height')
  })

  it('checkBlockContext accepts final transactions and the right height push', () => {
    checkBlockContext(block(20, [tx(19), tx(600_000_000)]), 20, 600_000_001, regtest)
  })

  it('bad-txns-nonfinal (100)', () => {
    assertVerifyError(() => checkBlockContext(block(20, [tx(20)]), 20, 600_000_001, regtest), 'bad-txns-nonfinal', 100, { kind: 'block' })
    assertVerifyError(() => checkBlockContext(block(20, [tx(600_000_001)]), 20, 600_000_001, regtest), 'bad-txns-nonfinal', 100, { kind: 'block' })
  })

  it('bad-cb-height: another height, or a scriptSig that does not start with the push (100)', () => {
    assertVerifyError(() => checkBlockContext(block(21, []), 20, 0, regtest), 'bad-cb-height', 100, { kind: 'block' })
    const b = block(300, [])
    b.txs[0]!.inputs[0]!.scriptSig = Uint8Array.of(0x02, 0x2c)
    assertVerifyError(() => checkBlockContext(b, 300, 0, regtest), 'bad-cb-height', 100, { kind: 'block' })
    assertVerifyError(() => checkBlockContext({ header: b.header, txs: [coinbaseTx(3, key.script, 0n)] }, 300, 0, regtest), 'bad-cb-height', 100, { kind: 'block' })
  })
})

describe('checkSequenceLocks (BIP68)', () => {
  const tx = (sequence: number, version = 2): Transaction => ({
    version,
    inputs: [{ prevout: { txid: new Uint8Array(32).fill(1), index: 0 }, scriptSig: new Uint8Array(0), sequence, witness: [] }],
    outputs: [],
    lockTime: 0
  })
  const mtpAt = (h: number): number => 1_000_000 + h * 60

  it('height lock: a coin at height 100 with value 5 is spendable from height 105', () => {
    checkSequenceLocks(tx(5), [100], 105, 0, mtpAt)
    assertVerifyError(() => checkSequenceLocks(tx(5), [100], 104, 0, mtpAt), 'non-BIP68-final', 100, { kind: 'tx' })
  })

  it('time lock: value 2 needs the parent MTP ≥ mtpAt(coinHeight - 1) + 1024', () => {
    const seq = SEQUENCE_LOCKTIME_TYPE_FLAG | 2
    const unlock = mtpAt(99) + 1024
    checkSequenceLocks(tx(seq), [100], 200, unlock, mtpAt)
    assertVerifyError(() => checkSequenceLocks(tx(seq), [100], 200, unlock - 1, mtpAt, 'block'), 'non-BIP68-final', 100, { kind: 'block' })
  })

  it('does not apply with the disable flag or to version 1; applies to negative versions (unsigned in Core)', () => {
    checkSequenceLocks(tx(SEQUENCE_LOCKTIME_DISABLE_FLAG | 5), [100], 101, 0, mtpAt)
    checkSequenceLocks(tx(5, 1), [100], 101, 0, mtpAt)
    assertVerifyError(() => checkSequenceLocks(tx(5, -1), [100], 101, 0, mtpAt), 'non-BIP68-final', 100)
  })
})
