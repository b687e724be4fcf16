/**
 * checkTransaction: one minimal invalid transaction per rejection reason (Bitcoin Core's
 * CheckTransaction, CVE-2010-5139 value ranges, CVE-2018-17144 duplicate inputs, and Cash's
 * payments-only output and witness rules), each with its exact reason and score.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { checkTransaction, isAllowedOutput, keyPathHashType } from '../../../../src/cash/consensus/check-tx.ts'
import { chainParams } from '../../../../src/cash/consensus/params.ts'
import { coinbaseTx } from '../../../../src/cash/miner/template.ts'
import { SIGHASH_ALL, SIGHASH_ANYONECANPAY, SIGHASH_SINGLE } from '../../../../src/cash/primitives/sighash.ts'
import { COINBASE_INDEX, txWeight } from '../../../../src/cash/primitives/tx.ts'
import type { Transaction } from '../../../../src/cash/primitives/tx.ts'
import { assertVerifyError, spendTx, testKey } from '../../../utils/cash.ts'

const params = chainParams('regtest')
const key = testKey(1)
const payee = testKey(2)

/** A valid one-input, two-output payment. */
function payment (): Transaction {
  return spendTx(
    [{ prevout: { txid: new Uint8Array(32).fill(7), index: 0 }, coin: { amount: 10_000n, script: key.script, height: 1, coinbase: false }, key }],
    [{ amount: 6_000n, script: payee.script }, { amount: 3_000n, script: key.script }]
  )
}

const reject = (tx: Transaction, reason: string, p = params): void => {
  assertVerifyError(() => checkTransaction(tx, p), reason, 100, { kind: 'tx' })
}

describe('checkTransaction accepts', () => {
  it('a signed key-path payment, a coinbase, OP_RETURN data of 83 bytes, 65-byte signatures', () => {
    checkTransaction(payment(), params)
    checkTransaction(coinbaseTx(1, key.script, 5n), params)
    const tx = payment()
    tx.outputs.push({ amount: 0n, script: Uint8Array.of(0x6a, 0x4c, 80, ...new Uint8Array(80)) })
    checkTransaction(tx, params)
    for (const hashType of [SIGHASH_ALL, SIGHASH_SINGLE | SIGHASH_ANYONECANPAY]) {
      const t = payment()
      t.inputs[0]!.witness = [new Uint8Array([...new Uint8Array(64), hashType])]
      checkTransaction(t, params)
    }
  })

  it('amounts up to maxMoney exactly', () => {
    const tx = payment()
    tx.outputs = [{ amount: params.maxMoney, script: payee.script }]
    checkTransaction(tx, params)
  })
})

describe('checkTransaction rejects', () => {
  it('bad-txns-vin-empty', () => {
    const tx = payment()
    tx.inputs = []
    reject(tx, 'bad-txns-vin-empty')
  })

  it('bad-txns-vout-empty', () => {
    const tx = payment()
    tx.outputs = []
    reject(tx, 'bad-txns-vout-empty')
  })

  it('bad-txns-oversize (weight above maxBlockWeight)', () => {
    const tx = payment()
    reject(tx, 'bad-txns-oversize', { ...params, maxBlockWeight: txWeight(tx) - 1 })
  })

  it('bad-txns-vout-negative', () => {
    const tx = payment()
    tx.outputs[1]!.amount = -1n
    reject(tx, 'bad-txns-vout-negative')
  })

  it('bad-txns-vout-toolarge (CVE-2010-5139)', () => {
    const tx = payment()
    tx.outputs[0]!.amount = params.maxMoney + 1n
    reject(tx, 'bad-txns-vout-toolarge')
  })

  it('bad-txns-txouttotal-toolarge (CVE-2010-5139: each in range, the sum not)', () => {
    const tx = payment()
    tx.outputs[0]!.amount = params.maxMoney
    tx.outputs[1]!.amount = 1n
    reject(tx, 'bad-txns-txouttotal-toolarge')
  })

  it('bad-txns-inputs-duplicate (CVE-2018-17144)', () => {
    const tx = payment()
    tx.inputs.push({ ...tx.inputs[0]!, prevout: { txid: tx.inputs[0]!.prevout.txid.slice(), index: 0 } })
    reject(tx, 'bad-txns-inputs-duplicate')
  })

  it('bad-cb-length: coinbase scriptSig of 1 byte and of 101 bytes', () => {
    const short = coinbaseTx(1, key.script, 5n)
    short.inputs[0]!.scriptSig = Uint8Array.of(0x51)
    reject(short, 'bad-cb-length')
    const long = coinbaseTx(1, key.script, 5n)
    long.inputs[0]!.scriptSig = new Uint8Array(101)
    reject(long, 'bad-cb-length')
    long.inputs[0]!.scriptSig = new Uint8Array(100)
    checkTransaction(long, params)
  })

  it('bad-txns-prevout-null (a non-coinbase input spending the null outpoint)', () => {
    const tx = payment()
    tx.inputs.push({ prevout: { txid: new Uint8Array(32), index: COINBASE_INDEX }, scriptSig: new Uint8Array(0), sequence: 0, witness: [new Uint8Array(64)] })
    reject(tx, 'bad-txns-prevout-null')
  })

  it('bad-txns-output-script: not P2TR, OP_RETURN with value, OP_RETURN over 83 bytes, empty', () => {
    const scripts: Array<{ amount: bigint, script: Uint8Array }> = [
      { amount: 1n, script: Uint8Array.of(0x00, 0x14, ...new Uint8Array(20)) }, // P2WPKH
      { amount: 1n, script: Uint8Array.of(0x51, 0x20, ...new Uint8Array(31)) }, // short P2TR
      { amount: 1n, script: Uint8Array.of(0x52, 0x20, ...new Uint8Array(32)) }, // witness v2
      { amount: 1n, script: Uint8Array.of(0x6a) },
      { amount: 0n, script: Uint8Array.of(0x6a, ...new Uint8Array(83)) },
      { amount: 0n, script: new Uint8Array(0) }
    ]
    for (const output of scripts) {
      const tx = payment()
      tx.outputs.push(output)
      assert.equal(isAllowedOutput(output), false)
      reject(tx, 'bad-txns-output-script')
    }
  })

  it('bad-txns-output-script also on a coinbase output', () => {
    const cb = coinbaseTx(1, Uint8Array.of(0x51), 5n)
    reject(cb, 'bad-txns-output-script')
  })

  it('bad-witness-shape: scriptSig, no witness, two items, 63/66 bytes, hash type 0x00 or 0x04', () => {
    const cases: Array<(tx: Transaction) => void> = [
      (tx) => { tx.inputs[0]!.scriptSig = Uint8Array.of(0x51) },
      (tx) => { tx.inputs[0]!.witness = [] },
      (tx) => { tx.inputs[0]!.witness.push(Uint8Array.of(0x50)) }, // an annex
      (tx) => { tx.inputs[0]!.witness = [new Uint8Array(63)] },
      (tx) => { tx.inputs[0]!.witness = [new Uint8Array(66)] },
      (tx) => { tx.inputs[0]!.witness = [new Uint8Array(65)] }, // explicit 0x00 hash type
      (tx) => { tx.inputs[0]!.witness = [Uint8Array.of(...new Uint8Array(64), 0x04)] }
    ]
    for (const edit of cases) {
      const tx = payment()
      edit(tx)
      assert.equal(keyPathHashType(tx.inputs[0]!), undefined)
      reject(tx, 'bad-witness-shape')
    }
  })
})
