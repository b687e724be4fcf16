/**
 * The replay filter (`src/onion/replay.ts`): a repeated X under one onion key is refused, the same
 * X under another key is not; memory stays within `maxEntries` per key and `maxKeys` keys,
 * dropping the least recently seen first.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { ReplayFilter } from '../../../src/onion/replay.ts'

const bytes = (n: number): Uint8Array => {
  const b = new Uint8Array(32)
  new DataView(b.buffer).setUint32(0, n)
  return b
}

describe('replay filter', () => {
  it('refuses a repeated X under the same onion key only', () => {
    const f = new ReplayFilter()
    assert.equal(f.add(bytes(1), bytes(100)), true)
    assert.equal(f.add(bytes(1), bytes(100)), false)
    assert.equal(f.add(bytes(2), bytes(100)), true)
    // a view into a larger buffer is compared by its bytes
    const big = new Uint8Array(64)
    big.set(bytes(100), 16)
    assert.equal(f.add(bytes(1), big.subarray(16, 48)), false)
  })

  it('keeps at most maxEntries X values per key, forgetting the least recently seen', () => {
    const f = new ReplayFilter({ maxEntries: 3 })
    const key = bytes(1)
    for (const x of [10, 11, 12]) assert.equal(f.add(key, bytes(x)), true)
    assert.equal(f.add(key, bytes(10)), false) // 10 is now the most recently seen
    assert.equal(f.add(key, bytes(13)), true) // drops 11
    assert.equal(f.size(key), 3)
    assert.equal(f.add(key, bytes(10)), false)
    assert.equal(f.add(key, bytes(11)), true)
  })

  it('keeps at most maxKeys onion keys, forgetting the oldest; forget() drops a retired key', () => {
    const f = new ReplayFilter({ maxKeys: 2 })
    f.add(bytes(1), bytes(100))
    f.add(bytes(2), bytes(100))
    f.add(bytes(3), bytes(100))
    assert.equal(f.size(bytes(1)), 0)
    assert.equal(f.add(bytes(2), bytes(100)), false)
    f.forget(bytes(2))
    assert.equal(f.add(bytes(2), bytes(100)), true)
  })

  it('refuses bounds that are not positive integers', () => {
    assert.throws(() => new ReplayFilter({ maxEntries: 0 }), RangeError)
    assert.throws(() => new ReplayFilter({ maxKeys: 1.5 }), RangeError)
  })
})
