import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { txSigChecks } from '../../../../src/cash/consensus/inputs.ts'
import { chainParams } from '../../../../src/cash/consensus/params.ts'
import { checkTransaction } from '../../../../src/cash/consensus/check-tx.ts'
import { verifySigChecks } from '../../../../src/cash/consensus/verify.ts'
import { txVsize, txWeight } from '../../../../src/cash/primitives/tx.ts'
import { AddressDeriver, accountFromEntropy, mnemonicEntropy } from '../../../../src/cash/wallet/keys.ts'
import type { Branch } from '../../../../src/cash/wallet/keys.ts'
import type { WalletCoin } from '../../../../src/cash/wallet/layout.ts'
import { DUST_LIMIT, feeFor, paymentVsize, paymentWeight, selectCoins, signPayment } from '../../../../src/cash/wallet/payment.ts'
import { testKey } from '../../../utils/cash.ts'

const params = chainParams('regtest')
const MNEMONIC = 'zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo wrong'

function coin (amount: bigint, n: number, branch: Branch = 0, index = n, deriver?: AddressDeriver): WalletCoin {
  const txid = new Uint8Array(32).fill(n)
  const script = deriver?.derive(branch, index).script ?? testKey(n).script
  return { prevout: { txid, index: n }, amount, script, height: 1 + n, coinbase: false, branch, index }
}

describe('payments: sizes, fees, selection', () => {
  it('computes P2TR key-path sizes exactly: 57.5 vB per input, 43 per output, 10.5 fixed', () => {
    assert.equal(paymentWeight(1, 1), 42 + 230 + 172)
    assert.equal(paymentVsize(1, 1), 111)
    assert.equal(paymentVsize(1, 2), 154)
    assert.equal(paymentVsize(2, 2), Math.ceil((42 + 460 + 344) / 4))
    assert.equal(paymentWeight(253, 1), (8 + 3 + 1) * 4 + 2 + 253 * 230 + 172, 'a 3-byte input count past 252')
  })

  it('rounds fees up with a 0.001 resolution', () => {
    assert.equal(feeFor(1, 111), 111n)
    assert.equal(feeFor(1.1, 111), 123n)
    assert.equal(feeFor(0.5, 111), 56n)
    assert.equal(feeFor(0, 111), 0n)
    assert.equal(feeFor(2.25, 154), 347n)
  })

  it('selects largest first and makes change above the dust limit', () => {
    const coins = [coin(1_000n, 1), coin(50_000n, 2), coin(20_000n, 3)]
    const s = selectCoins(coins, 30_000n, 2)
    assert.deepEqual(s.coins.map((c) => c.amount), [50_000n])
    assert.equal(s.fee, 2n * 154n)
    assert.equal(s.change, 50_000n - 30_000n - 308n)
    const two = selectCoins(coins, 60_000n, 1)
    assert.deepEqual(two.coins.map((c) => c.amount), [50_000n, 20_000n])
    assert.equal(two.change, 70_000n - 60_000n - BigInt(paymentVsize(2, 2)))
  })

  it('gives change below the dust limit to the fee', () => {
    const amount = 50_000n - 154n - DUST_LIMIT + 1n // change would be 329
    const s = selectCoins([coin(50_000n, 1)], amount, 1)
    assert.equal(s.change, 0n)
    assert.equal(s.fee, 50_000n - amount)
    const exact = selectCoins([coin(50_000n, 1)], amount - 1n, 1) // change exactly 330: kept
    assert.equal(exact.change, DUST_LIMIT)
    assert.equal(exact.fee, 154n)
  })

  it('reports what is available and needed when short', () => {
    assert.throws(() => selectCoins([coin(1_000n, 1), coin(2_000n, 2)], 3_000n, 1), (err: Error & { available?: bigint, needed?: bigint }) => {
      assert.equal(err.name, 'InsufficientFundsError')
      assert.equal(err.available, 3_000n)
      assert.equal(err.needed, 3_000n + BigInt(paymentVsize(2, 1)))
      return true
    })
    assert.throws(() => selectCoins([], 1n, 1), { name: 'InsufficientFundsError' })
  })
})

describe('payments: btc-signer BIP86 signatures pass our consensus', () => {
  const account = accountFromEntropy(mnemonicEntropy(MNEMONIC), 'regtest')
  const deriver = new AddressDeriver(account.publicExtendedKey, params.bech32Hrp)

  it('signs a 3-input, 2-output payment that txSigChecks + verifySigChecks accept', () => {
    const coins = [coin(40_000n, 1, 0, 0, deriver), coin(25_000n, 2, 1, 5, deriver), coin(7_000n, 3, 0, 19, deriver)]
    const outputs = [{ amount: 60_000n, script: testKey(9).script }, { amount: 11_000n, script: deriver.derive(1, 6).script }]
    const tx = signPayment(account, coins, outputs, params.bech32Hrp)
    assert.equal(tx.version, 2)
    assert.equal(tx.lockTime, 0)
    checkTransaction(tx, params)
    tx.inputs.forEach((input, i) => {
      assert.deepEqual(input.prevout, (coins[i] as WalletCoin).prevout, 'prevouts in internal byte order')
      assert.equal(input.sequence, 0xffffffff)
      assert.equal(input.scriptSig.length, 0)
      assert.equal(input.witness.length, 1)
      assert.equal(input.witness[0]?.length, 64, 'SIGHASH_DEFAULT: no hash-type byte')
    })
    assert.deepEqual(tx.outputs, outputs)
    assert.equal(txVsize(tx), paymentVsize(3, 2))
    assert.equal(txWeight(tx), paymentWeight(3, 2))
    const spent = coins.map((c) => ({ amount: c.amount, script: c.script, height: c.height, coinbase: c.coinbase }))
    assert.equal(verifySigChecks(txSigChecks(tx, spent)), -1)

    // The check has teeth: another amount for a spent coin changes the BIP341 sighash.
    const lied = spent.map((c, i) => i === 1 ? { ...c, amount: c.amount + 1n } : c)
    assert.notEqual(verifySigChecks(txSigChecks(tx, lied)), -1)
  })

  it('refuses a coin whose stored script is not what its path derives', () => {
    const wrong = { ...coin(40_000n, 1, 0, 0, deriver), index: 1 }
    assert.throws(() => signPayment(account, [wrong], [{ amount: 1_000n, script: testKey(9).script }], params.bech32Hrp), { name: 'WalletDbError' })
  })
})
