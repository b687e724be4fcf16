import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { LruMap } from '../../../src/net/lru.ts'
import { PeerRateLimiter } from '../../../src/net/rate-limit.ts'

describe('LRU map', () => {
  it('forgets the least recently used entry when full, and a read counts as a use', () => {
    const m = new LruMap<string, number>(3)
    m.set('a', 1).set('b', 2).set('c', 3)
    assert.equal(m.get('a'), 1) // a is now the most recent: b is the oldest
    m.set('d', 4)
    assert.deepEqual([...m.entries()].map(([k]) => k), ['c', 'a', 'd'])
    assert.equal(m.has('b'), false)
    assert.equal(m.size, 3)
    assert.deepEqual(m.oldest(), ['c', 3])
    m.set('a', 10) // an update is a use too
    assert.equal(m.delete('d'), true)
    assert.equal(m.delete('d'), false)
    m.set('e', 5).set('f', 6) // evicts c
    assert.deepEqual([...m.entries()], [['a', 10], ['e', 5], ['f', 6]])
    assert.equal(m.peek('a'), 10)
    assert.deepEqual(m.oldest(), ['a', 10], 'a peek is not a use')
    m.clear()
    assert.equal(m.size, 0)
    assert.equal(m.oldest(), undefined)
  })
})

describe('peer rate limiter', () => {
  it('keeps an active peer\'s empty bucket while 5,000 other peers fill the table', () => {
    // refills one token in ~3 hours: an empty bucket stays empty for the whole test
    const limiter = new PeerRateLimiter(0.0001, 3)
    for (let i = 0; i < 3; i++) assert.equal(limiter.take('active'), true)
    assert.equal(limiter.take('active'), false)
    for (let i = 0; i < 5_000; i++) {
      assert.equal(limiter.take(`flood-${i}`), true)
      // the active peer keeps asking (and being refused) while the flood comes in
      if (i % 100 === 99) assert.equal(limiter.take('active'), false, `the active peer's bucket was reset after ${i + 1} new peers`)
    }
    // only the oldest of the flood were forgotten, not the recent ones
    assert.equal(limiter.take('flood-4999'), true)
    assert.equal(limiter.take('flood-4999'), true)
    assert.equal(limiter.take('flood-4999'), false)
    assert.ok(limiter.size <= 4096, `${limiter.size} buckets`)
  })
})
