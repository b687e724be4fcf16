/** Coins as people type them ↔ base units. */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { formatCoins, parseCoins } from '../../../src/cash/amount.ts'

describe('amounts', () => {
  it('parses decimals of coins exactly', () => {
    assert.equal(parseCoins('1.25'), 125_000_000n)
    assert.equal(parseCoins('0.00000001'), 1n)
    assert.equal(parseCoins('21000000'), 2_100_000_000_000_000n)
    assert.equal(parseCoins(' 3 '), 300_000_000n)
    assert.equal(parseCoins('0.10000000'), 10_000_000n)
  })

  it('refuses what is not a positive amount with 8 decimals at most', () => {
    for (const [text, why] of [['0', /more than zero/], ['0.00000000', /more than zero/], ['-1', /positive/], ['1.000000001', /9 decimals/],
      ['1e3', /such as 1.25/], ['', /such as 1.25/], ['1,5', /such as 1.25/], ['.5', /such as 1.25/], ['21000000.00000001', /all the coins/], ['abc', /such as/]] as const) {
      assert.throws(() => parseCoins(text), (err: Error) => err.name === 'InvalidArgumentError' && why.test(err.message), text)
    }
  })

  it('formats base units as coins', () => {
    assert.equal(formatCoins(125_000_000n), '1.25')
    assert.equal(formatCoins(1n), '0.00000001')
    assert.equal(formatCoins(500_000_000), '5')
    assert.equal(formatCoins(-2_500n), '-0.000025')
  })
})
