/**
 * applyBlock, checkTxInputs and txSigChecks: every spending rejection with its exact reason
 * and score (Core's CheckTxInputs and ConnectBlock: missing or spent inputs, coinbase
 * maturity, CVE-2010-5139 input ranges, fees, coinbase value, BIP68), and what a valid block
 * spends, creates and leaves to signature verification.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { checkBlock } from '../../../../src/cash/consensus/check-block.ts'
import { MapCoinView } from '../../../../src/cash/consensus/coins.ts'
import type { Coin } from '../../../../src/cash/consensus/coins.ts'
import { SEQUENCE_LOCKTIME_TYPE_FLAG } from '../../../../src/cash/consensus/context.ts'
import { applyBlock, checkTxInputs, txSigChecks } from '../../../../src/cash/consensus/inputs.ts'
import type { AppliedBlock } from '../../../../src/cash/consensus/inputs.ts'
import { chainParams } from '../../../../src/cash/consensus/params.ts'
import { blockSubsidy } from '../../../../src/cash/consensus/subsidy.ts'
import { verifySigChecks } from '../../../../src/cash/consensus/verify.ts'
import { assembleBlock } from '../../../../src/cash/miner/template.ts'
import type { Block } from '../../../../src/cash/primitives/block.ts'
import { bytesEqual } from '../../../../src/cash/primitives/hash.ts'
import { SIGHASH_SINGLE, taprootSighash } from '../../../../src/cash/primitives/sighash.ts'
import type { Transaction, TxOutput } from '../../../../src/cash/primitives/tx.ts'
import { assertVerifyError, outputOf, sighashView, spendTx, testKey } from '../../../utils/cash.ts'
import type { Spendable } from '../../../utils/cash.ts'

const params = chainParams('regtest')
const HEIGHT = 200
const MTP = 1_800_000_000
const ctx = { prevMedianTimePast: MTP, mtpAt: (h: number): number => MTP - (HEIGHT - 1 - h) * 60 }
const alice = testKey(1)
const bob = testKey(2)
const pay = (amount: bigint, key = bob): TxOutput => ({ amount, script: key.script })

let counter = 0
/** A fresh coin in `view`: by default 10,000 units, not a coinbase, created at height 100. */
function coin (view: MapCoinView, options: Partial<Coin> = {}, key = alice): Spendable {
  const prevout = { txid: new Uint8Array(32).fill(0).map((_, i) => i === 0 ? ++counter & 0xff : i === 1 ? counter >> 8 : 3), index: 0 }
  const c: Coin = { amount: 10_000n, script: key.script, height: 100, coinbase: false, ...options }
  view.add(prevout, c)
  return { prevout, coin: c, key }
}

function block (txs: Transaction[], fees: bigint): Block {
  return assembleBlock({ prevHash: new Uint8Array(32), height: HEIGHT, time: MTP + 1, bits: params.powLimitBits, payoutScript: alice.script, txs, fees, params })
}

const apply = (b: Block, view: MapCoinView): AppliedBlock => applyBlock(b, HEIGHT, view, params, ctx)
const reject = (b: Block, view: MapCoinView, reason: string, score = 100): void => {
  assertVerifyError(() => apply(b, view), reason, score, { kind: 'block' })
}

describe('applyBlock accepts', () => {
  it('a chain of spends inside one block: fees, undo data, created coins and signature checks', () => {
    const view = new MapCoinView()
    const a = coin(view)
    const tx1 = spendTx([a], [pay(6_000n), pay(3_000n, alice)]) // fee 1000
    const tx2 = spendTx([outputOf(tx1, 0, HEIGHT, bob)], [pay(5_500n, alice), { amount: 0n, script: Uint8Array.of(0x6a, 1, 2) }]) // fee 500
    const tx3 = spendTx([outputOf(tx2, 0, HEIGHT, alice)], [pay(5_000n)]) // fee 500
    const b = block([tx1, tx2, tx3], 2_000n)
    const txids = checkBlock(b, params)
    const applied = applyBlock(b, HEIGHT, view, params, { ...ctx, txids })
    assert.equal(applied.fees, 2_000n)
    assert.deepEqual(applied.spent.map((s) => s.length), [0, 1, 1, 1])
    assert.deepEqual(applied.spent[1]![0], a.coin)
    assert.equal(applied.spent[2]![0]!.height, HEIGHT)
    // left unspent: coinbase output 0, tx1 output 1, tx3 output 0 (no OP_RETURN, no commitment)
    assert.equal(applied.created.length, 3)
    assert.deepEqual(applied.created.map((c) => c.prevout.index), [0, 1, 0])
    assert.ok(bytesEqual(applied.created[0]!.prevout.txid, txids[0]!))
    assert.equal(applied.created[0]!.coin.coinbase, true)
    assert.equal(applied.created[0]!.coin.amount, blockSubsidy(HEIGHT, params) + 2_000n)
    assert.ok(bytesEqual(applied.created[1]!.prevout.txid, txids[1]!))
    assert.ok(bytesEqual(applied.created[2]!.prevout.txid, txids[3]!))
    assert.ok(applied.created.every((c) => c.coin.height === HEIGHT))
    assert.equal(applied.sigChecks.length, 3)
    assert.equal(verifySigChecks(applied.sigChecks), -1)
    assert.ok(view.getCoin(a.prevout), 'the view is only read')
  })

  it('a coinbase claiming less than subsidy + fees, and exactly that', () => {
    const view = new MapCoinView()
    const tx = spendTx([coin(view)], [pay(9_000n)])
    apply(block([tx], 0n), view)
    apply(block([tx], 1_000n), view)
  })

  it('a coinbase output spent exactly coinbaseMaturity blocks later', () => {
    const view = new MapCoinView()
    apply(block([spendTx([coin(view, { coinbase: true, height: HEIGHT - params.coinbaseMaturity })], [pay(10_000n)])], 0n), view)
  })
})

describe('applyBlock rejects', () => {
  it('bad-txns-inputs-missingorspent (score 100): unknown coin', () => {
    const view = new MapCoinView()
    const s = coin(new MapCoinView())
    reject(block([spendTx([s], [pay(1n)])], 0n), view, 'bad-txns-inputs-missingorspent', 100)
  })

  it('bad-txns-inputs-missingorspent (score 100): one coin spent by two transactions of the block', () => {
    const view = new MapCoinView()
    const s = coin(view)
    reject(block([spendTx([s], [pay(1n)]), spendTx([s], [pay(2n)])], 0n), view, 'bad-txns-inputs-missingorspent', 100)
  })

  it('bad-txns-inputs-missingorspent (score 100): an output of a later transaction, an OP_RETURN output, a spent intra-block output', () => {
    const view = new MapCoinView()
    const tx1 = spendTx([coin(view)], [pay(1_000n), { amount: 0n, script: Uint8Array.of(0x6a) }])
    const child = spendTx([outputOf(tx1, 0, HEIGHT, bob)], [pay(900n)])
    reject(block([child, tx1], 0n), view, 'bad-txns-inputs-missingorspent', 100)
    const burn = spendTx([outputOf(tx1, 1, HEIGHT, bob)], [pay(0n)])
    reject(block([tx1, burn], 0n), view, 'bad-txns-inputs-missingorspent', 100)
    const again = spendTx([outputOf(tx1, 0, HEIGHT, bob)], [pay(800n)])
    reject(block([tx1, child, again], 0n), view, 'bad-txns-inputs-missingorspent', 100)
  })

  it('bad-txns-premature-spend-of-coinbase: one block short of maturity', () => {
    const view = new MapCoinView()
    const young = coin(view, { coinbase: true, height: HEIGHT - params.coinbaseMaturity + 1 })
    reject(block([spendTx([young], [pay(1n)])], 0n), view, 'bad-txns-premature-spend-of-coinbase')
  })

  it('bad-txns-inputvalues-outofrange (CVE-2010-5139): a coin above maxMoney, and two whose sum is', () => {
    const view = new MapCoinView()
    reject(block([spendTx([coin(view, { amount: params.maxMoney + 1n })], [pay(1n)])], 0n), view, 'bad-txns-inputvalues-outofrange')
    const two = [coin(view, { amount: params.maxMoney }), coin(view, { amount: 1n })]
    reject(block([spendTx(two, [pay(1n)])], 0n), view, 'bad-txns-inputvalues-outofrange')
  })

  it('bad-txns-in-belowout', () => {
    const view = new MapCoinView()
    reject(block([spendTx([coin(view)], [pay(10_001n)])], 0n), view, 'bad-txns-in-belowout')
  })

  it('bad-txns-fee-outofrange: fees of the block summing past maxMoney', () => {
    const view = new MapCoinView()
    const burn = (s: Spendable): Transaction => spendTx([s], [{ amount: 0n, script: Uint8Array.of(0x6a) }])
    reject(block([burn(coin(view, { amount: params.maxMoney })), burn(coin(view, { amount: params.maxMoney }))], 0n), view, 'bad-txns-fee-outofrange')
  })

  it('bad-cb-amount: one unit more than subsidy + fees', () => {
    const view = new MapCoinView()
    reject(block([spendTx([coin(view)], [pay(9_000n)])], 1_001n), view, 'bad-cb-amount')
    reject(block([], 1n), view, 'bad-cb-amount')
  })

  it('non-BIP68-final: height and time locks one short', () => {
    const view = new MapCoinView()
    const byHeight = spendTx([coin(view, { height: HEIGHT - 4 })], [pay(1n)], { sequences: [5] })
    reject(block([byHeight], 0n), view, 'non-BIP68-final')
    apply(block([spendTx([coin(view, { height: HEIGHT - 5 })], [pay(1n)], { sequences: [5] })], 0n), view)
    // time: coin at height h needs MTP(parent) ≥ mtpAt(h - 1) + value·512
    const h = HEIGHT - 10 // mtpAt(h - 1) = MTP - 600: 2 units (1024 s) is too many, 1 unit (512 s) fine
    reject(block([spendTx([coin(view, { height: h })], [pay(1n)], { sequences: [SEQUENCE_LOCKTIME_TYPE_FLAG | 2] })], 0n), view, 'non-BIP68-final')
    apply(block([spendTx([coin(view, { height: h })], [pay(1n)], { sequences: [SEQUENCE_LOCKTIME_TYPE_FLAG | 1] })], 0n), view)
  })

  it('non-BIP68-final: a relative lock on a coin created in the same block', () => {
    const view = new MapCoinView()
    const parent = spendTx([coin(view)], [pay(5_000n)])
    const child = spendTx([outputOf(parent, 0, HEIGHT, bob)], [pay(4_000n)], { sequences: [1] })
    reject(block([parent, child], 0n), view, 'non-BIP68-final')
  })

  it('bad-witness-shape: spending a coin whose script is not P2TR', () => {
    const view = new MapCoinView()
    const s = coin(view, { script: Uint8Array.of(0x00, 0x14, ...new Uint8Array(20)) })
    reject(block([spendTx([s], [pay(1n)])], 0n), view, 'bad-witness-shape')
  })

  it('bad-txns-signature: SIGHASH_SINGLE on an input without a matching output', () => {
    const view = new MapCoinView()
    const tx = spendTx([coin(view), coin(view)], [pay(1n)])
    tx.inputs[1]!.witness = [Uint8Array.of(...new Uint8Array(64), SIGHASH_SINGLE)]
    reject(block([tx], 0n), view, 'bad-txns-signature')
  })
})

describe('checkTxInputs and txSigChecks (mempool)', () => {
  it('return the fee and the same checks applyBlock collects', () => {
    const view = new MapCoinView()
    const a = coin(view)
    const tx = spendTx([a], [pay(9_250n)])
    assert.equal(checkTxInputs(tx, view, HEIGHT, params), 750n)
    const checks = txSigChecks(tx, [a.coin])
    assert.equal(checks.length, 1)
    assert.deepEqual(checks[0]!.msg, taprootSighash(sighashView(tx), 0, [a.coin], 0))
    assert.deepEqual(checks[0]!.pubkey, alice.outputKey)
    assert.equal(verifySigChecks(checks), -1)
    assert.deepEqual(apply(block([tx], 750n), view).sigChecks, checks)
  })

  it('reject with kind tx: missing (0), premature (100), below out (100), bad shape (100)', () => {
    const view = new MapCoinView()
    assertVerifyError(() => checkTxInputs(spendTx([coin(new MapCoinView())], [pay(1n)]), view, HEIGHT, params), 'bad-txns-inputs-missingorspent', 0, { kind: 'tx' })
    const young = coin(view, { coinbase: true, height: HEIGHT - 1 })
    assertVerifyError(() => checkTxInputs(spendTx([young], [pay(1n)]), view, HEIGHT, params), 'bad-txns-premature-spend-of-coinbase', 100, { kind: 'tx' })
    assertVerifyError(() => checkTxInputs(spendTx([coin(view)], [pay(10_001n)]), view, HEIGHT, params), 'bad-txns-in-belowout', 100, { kind: 'tx' })
    const s = coin(view)
    const tx = spendTx([s], [pay(1n)])
    tx.inputs[0]!.witness = []
    assertVerifyError(() => txSigChecks(tx, [s.coin]), 'bad-witness-shape', 100, { kind: 'tx' })
  })
})
