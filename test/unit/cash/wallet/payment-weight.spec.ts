/**
 * The wallet never builds a payment heavier than peers relay (the mempool's standard weight):
 * when only more coins than fit would pay, it says so instead of building a transaction its
 * own mempool refuses.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { DEFAULT_MAX_TX_WEIGHT } from '../../../../src/cash/mempool/policy.ts'
import { InsufficientFundsError, PaymentTooLargeError } from '../../../../src/cash/wallet/errors.ts'
import type { WalletCoin } from '../../../../src/cash/wallet/layout.ts'
import { paymentWeight, selectCoins } from '../../../../src/cash/wallet/payment.ts'
import { testKey } from '../../../utils/cash.ts'

const script = testKey(1).script
const coins = (n: number, amount: bigint): WalletCoin[] => Array.from({ length: n }, (_v, i) =>
  ({ prevout: { txid: new Uint8Array(32).fill(i % 256), index: i }, amount, script, height: 1, coinbase: false, branch: 0, index: i }))

describe('payments within the relay weight', () => {
  it('selects up to 433 inputs and refuses a payment that needs more with PaymentTooLargeError', () => {
    assert.ok(paymentWeight(433, 2) <= DEFAULT_MAX_TX_WEIGHT && paymentWeight(434, 2) > DEFAULT_MAX_TX_WEIGHT)
    const small = coins(600, 10_000n)
    const fits = selectCoins(small, 4_300_000n, 1) // 432 coins pay 4,295,104 at most after their fee
    assert.equal(fits.coins.length, 433)
    assert.ok(paymentWeight(fits.coins.length, fits.change > 0n ? 2 : 1) <= DEFAULT_MAX_TX_WEIGHT)
    assert.throws(() => selectCoins(small, 500n * 10_000n, 1), (err) => err instanceof PaymentTooLargeError && err.maxInputs === 433 && /merge coins/.test(err.message))
    // not enough in all: still insufficient funds, counting every coin
    assert.throws(() => selectCoins(small, 700n * 10_000n, 1), (err) => err instanceof InsufficientFundsError && err.available === 600n * 10_000n)
  })
})
