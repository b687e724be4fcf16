import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { chainParams } from '../../../../src/cash/consensus/params.ts'
import {
  blockSubsidy, COIN, MAX_MONEY, moneyRange, sumMoney, totalSupply
} from '../../../../src/cash/consensus/subsidy.ts'

/** Bitcoin's schedule: 50 BTC halving every 210,000 blocks. */
const BITCOIN = { initialSubsidy: 50n * COIN, halvingInterval: 210_000 }

describe('blockSubsidy (Bitcoin Core GetBlockSubsidy)', () => {
  it('has 8 decimals', () => {
    assert.equal(COIN, 10n ** 8n)
  })

  for (const network of ['main', 'regtest'] as const) {
    const params = chainParams(network)
    const n = params.halvingInterval

    it(`${network}: pays the initial subsidy from height 0 to interval - 1, then halves`, () => {
      assert.equal(blockSubsidy(0, params), params.initialSubsidy)
      assert.equal(blockSubsidy(n - 1, params), params.initialSubsidy)
      assert.equal(blockSubsidy(n, params), params.initialSubsidy / 2n)
      assert.equal(blockSubsidy(2 * n - 1, params), params.initialSubsidy / 2n)
      assert.equal(blockSubsidy(2 * n, params), params.initialSubsidy / 4n)
    })

    it(`${network}: shifts right once per halving, truncating, down to 0`, () => {
      for (let era = 0; era < 64; era++) {
        assert.equal(blockSubsidy(era * n, params), params.initialSubsidy >> BigInt(era), `era ${era}`)
      }
      // 5 coins = 500,000,000 base units < 2^29: the subsidy reaches 0 at the 29th halving.
      assert.equal(blockSubsidy(28 * n, params), 1n)
      assert.equal(blockSubsidy(29 * n, params), 0n)
    })

    it(`${network}: is 0 after 64 halvings however large the height`, () => {
      assert.equal(blockSubsidy(64 * n, params), 0n)
      assert.equal(blockSubsidy(64 * n - 1, params), params.initialSubsidy >> 63n)
      assert.equal(blockSubsidy(Number.MAX_SAFE_INTEGER, params), 0n)
    })
  }

  it('matches Bitcoin where 64 halvings matter: a subsidy that would survive 63 shifts is still cut to 0', () => {
    const huge = { initialSubsidy: 1n << 63n, halvingInterval: 1 }
    assert.equal(blockSubsidy(63, huge), 1n)
    assert.equal(blockSubsidy(64, huge), 0n)
  })

  it('matches Bitcoin\'s known values', () => {
    assert.equal(blockSubsidy(0, BITCOIN), 5_000_000_000n)
    assert.equal(blockSubsidy(210_000, BITCOIN), 2_500_000_000n)
    assert.equal(blockSubsidy(840_000, BITCOIN), 312_500_000n) // the April 2024 halving
    assert.equal(blockSubsidy(6_930_000, BITCOIN), 0n) // 33rd halving
  })

  it('rejects heights and schedules outside the domain', () => {
    const main = chainParams('main')
    assert.throws(() => blockSubsidy(-1, main), RangeError)
    assert.throws(() => blockSubsidy(1.5, main), RangeError)
    assert.throws(() => blockSubsidy(0, { ...main, halvingInterval: 0 }), RangeError)
    assert.throws(() => blockSubsidy(0, { ...main, initialSubsidy: -1n }), RangeError)
  })
})

describe('totalSupply', () => {
  it('is Bitcoin\'s 20,999,999.9769 BTC for Bitcoin\'s schedule', () => {
    assert.equal(totalSupply(BITCOIN), 2_099_999_997_690_000n)
  })

  it('equals the sum of every block\'s subsidy', () => {
    const small = { initialSubsidy: 12_345n, halvingInterval: 3 }
    let sum = 0n
    for (let h = 0; h < 64 * 3; h++) sum += blockSubsidy(h, small)
    assert.equal(totalSupply(small), sum)
  })

  it('main: 5 coins halving every 2,100,000 blocks cap at 20,999,999.727 coins, within MAX_MONEY', () => {
    const main = chainParams('main')
    // sum of floor(5e8 / 2^k) = 2 * 5e8 - popcount(5e8) = 1e9 - 13
    assert.equal(totalSupply(main), 2_100_000n * 999_999_987n)
    assert.equal(totalSupply(main), 2_099_999_972_700_000n)
    assert.ok(totalSupply(main) <= main.maxMoney)
  })

  it('regtest: within MAX_MONEY', () => {
    const regtest = chainParams('regtest')
    assert.equal(totalSupply(regtest), 150n * 999_999_987n)
    assert.ok(totalSupply(regtest) <= regtest.maxMoney)
  })
})

describe('moneyRange and sumMoney (CVE-2010-5139)', () => {
  it('accepts 0..MAX_MONEY inclusive and nothing else', () => {
    assert.equal(MAX_MONEY, 2_100_000_000_000_000n)
    assert.ok(MAX_MONEY <= BigInt(Number.MAX_SAFE_INTEGER), 'every amount is exact as a JSON number')
    assert.equal(moneyRange(0n), true)
    assert.equal(moneyRange(MAX_MONEY), true)
    assert.equal(moneyRange(MAX_MONEY + 1n), false)
    assert.equal(moneyRange(-1n), false)
    assert.equal(moneyRange(10n, 9n), false, 'against a given bound')
  })

  it('sums in range', () => {
    assert.equal(sumMoney([]), 0n)
    assert.equal(sumMoney([1n, 2n, 3n]), 6n)
    assert.equal(sumMoney([MAX_MONEY - 1n, 1n]), MAX_MONEY)
  })

  it('rejects a negative value even when the total would be in range', () => {
    assert.equal(sumMoney([5n, -1n]), undefined)
  })

  it('rejects a value above MAX_MONEY even when a later negative would bring the total back', () => {
    assert.equal(sumMoney([MAX_MONEY + 1n, -2n]), undefined)
  })

  it('rejects the 2010 overflow pattern: two in-range outputs whose sum is not', () => {
    // Block 74638 had two outputs of 92233720368.54277039 BTC; each passed a per-output check
    // in 64-bit arithmetic, the sum wrapped negative. Here each is out of range by itself,
    // and two values just inside MAX_MONEY still fail on the running sum.
    assert.equal(sumMoney([9_223_372_036_854_277_039n, 9_223_372_036_854_277_039n]), undefined)
    assert.equal(sumMoney([MAX_MONEY, 1n]), undefined)
    assert.equal(sumMoney([MAX_MONEY / 2n + 1n, MAX_MONEY / 2n + 1n]), undefined)
  })

  it('stops at the first failure without consuming the rest', () => {
    let pulled = 0
    function * amounts (): Generator<bigint> { pulled++; yield MAX_MONEY; pulled++; yield 1n; pulled++; yield 1n }
    assert.equal(sumMoney(amounts()), undefined)
    assert.equal(pulled, 2)
  })
})
