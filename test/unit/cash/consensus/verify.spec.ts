/**
 * Signature verification with tiny-secp256k1 (verifySigChecks, checkBlockSignatures): valid
 * signatures pass, the first bad one is reported, malformed keys and lengths are invalid
 * rather than thrown; and the test helper's signatures also verify over btc-signer's BIP341
 * sighash.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { schnorr } from '@noble/curves/secp256k1.js'
import { RawTx, Transaction as BtcTransaction } from '@scure/btc-signer'
import type { SigCheck } from '../../../../src/cash/consensus/coins.ts'
import { txSigChecks } from '../../../../src/cash/consensus/inputs.ts'
import { checkBlockSignatures, verifySigCheck, verifySigChecks } from '../../../../src/cash/consensus/verify.ts'
import { SIGHASH_ALL, SIGHASH_ANYONECANPAY, SIGHASH_DEFAULT, SIGHASH_SINGLE } from '../../../../src/cash/primitives/sighash.ts'
import type { Transaction } from '../../../../src/cash/primitives/tx.ts'
import { assertVerifyError, spendTx, testKey } from '../../../utils/cash.ts'
import type { Spendable } from '../../../utils/cash.ts'

const coins = (n: number): Spendable[] => Array.from({ length: n }, (_, i) => {
  const key = testKey(10 + i)
  return { prevout: { txid: new Uint8Array(32).fill(i + 1), index: i }, coin: { amount: 1_000n * BigInt(i + 1), script: key.script, height: 5, coinbase: false }, key }
})

function signedChecks (hashType = SIGHASH_DEFAULT): { tx: Transaction, from: Spendable[], checks: SigCheck[] } {
  const from = coins(3)
  const tx = spendTx(from, [{ amount: 500n, script: testKey(1).script }, { amount: 700n, script: testKey(2).script }, { amount: 0n, script: Uint8Array.of(0x6a) }], { hashType })
  return { tx, from, checks: txSigChecks(tx, from.map((s) => s.coin)) }
}

describe('verifySigChecks', () => {
  it('returns -1 when every signature is valid (each hash type the helper signs with)', () => {
    for (const hashType of [SIGHASH_DEFAULT, SIGHASH_ALL, SIGHASH_SINGLE | SIGHASH_ANYONECANPAY]) {
      assert.equal(verifySigChecks(signedChecks(hashType).checks), -1, `hash type ${hashType}`)
    }
    assert.equal(verifySigChecks([]), -1)
  })

  it('returns the index of the first invalid signature', () => {
    const { checks } = signedChecks()
    const bad = checks.map((c) => ({ ...c }))
    bad[1] = { ...bad[1]!, sig: Uint8Array.from(bad[1]!.sig, (b, i) => i === 63 ? b ^ 1 : b) }
    assert.equal(verifySigChecks(bad), 1)
    bad[0] = { ...bad[0]!, msg: new Uint8Array(32) }
    assert.equal(verifySigChecks(bad), 0)
  })

  it('treats malformed keys, signatures and messages as invalid without throwing', () => {
    const good = signedChecks().checks[0]!
    const cases: SigCheck[] = [
      { ...good, pubkey: new Uint8Array(32).fill(0xff) }, // x ≥ p
      { ...good, pubkey: new Uint8Array(32) }, // x = 0 is not on the curve
      { ...good, pubkey: new Uint8Array(33) },
      { ...good, sig: new Uint8Array(65) },
      { ...good, sig: new Uint8Array(64).fill(0xff) }, // r ≥ p, s ≥ n
      { ...good, msg: new Uint8Array(31) }
    ]
    for (const c of cases) assert.equal(verifySigCheck(c), false)
    assert.equal(verifySigChecks(cases), 0)
  })

  it('checkBlockSignatures throws bad-txns-signature (block, 100) at an invalid signature', () => {
    const { checks } = signedChecks()
    checkBlockSignatures({ sigChecks: checks })
    const bad = [...checks, { ...checks[0]!, pubkey: checks[1]!.pubkey }]
    assertVerifyError(() => checkBlockSignatures({ sigChecks: bad }), 'bad-txns-signature', 100, { kind: 'block' })
  })

  it('signTx signatures verify over btc-signer\'s own BIP341 sighash (preimageWitnessV1)', () => {
    for (const hashType of [SIGHASH_DEFAULT, SIGHASH_ALL]) {
      const { tx, from } = signedChecks(hashType)
      const raw = RawTx.encode({
        version: tx.version,
        segwitFlag: false,
        inputs: tx.inputs.map((i) => ({ txid: i.prevout.txid.slice().reverse(), index: i.prevout.index, finalScriptSig: new Uint8Array(0), sequence: i.sequence })),
        outputs: tx.outputs,
        witnesses: undefined,
        lockTime: tx.lockTime
      })
      const theirs = BtcTransaction.fromRaw(raw, { allowUnknownOutputs: true, allowUnknownInputs: true })
      tx.inputs.forEach((input, i) => {
        const msg = theirs.preimageWitnessV1(i, from.map((s) => s.coin.script), hashType, from.map((s) => s.coin.amount))
        assert.ok(schnorr.verify(input.witness[0]!.subarray(0, 64), msg, from[i]!.key.outputKey), `input ${i} type ${hashType}`)
      })
    }
  })
})
