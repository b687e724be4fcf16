import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { backoffDelay } from '../../../src/net/peer-keeper.ts'

describe('bootstrap backoff', () => {
  it('doubles from 1 s and stops at 60 s', () => {
    const mid = (): number => 0.5 // no jitter
    assert.deepEqual([1, 2, 3, 4, 5, 6, 7, 8, 20].map(n => backoffDelay(n, mid)), [1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000, 60000])
  })

  it('jitters by at most 20%', () => {
    assert.equal(backoffDelay(1, () => 0), 800)
    assert.equal(backoffDelay(1, () => 1), 1200)
  })
})
