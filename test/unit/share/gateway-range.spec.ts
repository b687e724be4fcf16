import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { etagMatches, parseRange } from '../../../src/share/gateway.ts'

describe('gateway Range header parser (RFC 9110 §14)', () => {
  const size = 10_000

  it('takes first-last, open-ended and suffix ranges', () => {
    assert.deepEqual(parseRange('bytes=1000-1999', size), { start: 1000, end: 1999 })
    assert.deepEqual(parseRange('bytes=0-0', size), { start: 0, end: 0 })
    assert.deepEqual(parseRange('bytes=9000-', size), { start: 9000, end: 9999 })
    assert.deepEqual(parseRange('bytes=-500', size), { start: 9500, end: 9999 })
  })

  it('clamps a last position past the end, and a suffix longer than the content', () => {
    assert.deepEqual(parseRange('bytes=9990-20000', size), { start: 9990, end: 9999 })
    assert.deepEqual(parseRange('bytes=-20000', size), { start: 0, end: 9999 })
    assert.deepEqual(parseRange('bytes=5-99999999999999999999999', size), { start: 5, end: 9999 })
  })

  it('is unsatisfiable when the range starts at or past the end, or the suffix is empty', () => {
    assert.equal(parseRange('bytes=10000-', size), 'unsatisfiable')
    assert.equal(parseRange('bytes=99999999-', size), 'unsatisfiable')
    assert.equal(parseRange('bytes=10000-10005', size), 'unsatisfiable')
    assert.equal(parseRange('bytes=-0', size), 'unsatisfiable')
  })

  it('tolerates case and whitespace in the unit and around the numbers', () => {
    assert.deepEqual(parseRange('Bytes=1-2', size), { start: 1, end: 2 })
    assert.deepEqual(parseRange(' bytes = 1 - 2 ', size), { start: 1, end: 2 })
  })

  it('ignores (sends everything for) no header, other units, several ranges and malformed or invalid ones', () => {
    for (const header of [undefined, '', 'bytes=', 'bytes=-', 'items=0-5', 'bytes=0-1,5-6', 'bytes=0-1, 5-6',
      'bytes=a-b', 'bytes=1.5-2', 'bytes=-1-2', 'bytes 0-5', 'bytes=5-4']) {
      assert.equal(parseRange(header, size), undefined, String(header))
    }
  })

  it('ignores ranges on empty content (nothing to send a part of)', () => {
    assert.equal(parseRange('bytes=0-', 0), undefined)
    assert.equal(parseRange('bytes=-5', 0), undefined)
  })

  it('handles the last byte and one-byte content', () => {
    assert.deepEqual(parseRange('bytes=9999-9999', size), { start: 9999, end: 9999 })
    assert.deepEqual(parseRange('bytes=0-', 1), { start: 0, end: 0 })
    assert.deepEqual(parseRange('bytes=-1', 1), { start: 0, end: 0 })
    assert.equal(parseRange('bytes=1-', 1), 'unsatisfiable')
  })
})

describe('gateway If-None-Match', () => {
  it('matches the ETag in a list, weakly, or by *', () => {
    assert.equal(etagMatches('"bafyA"', '"bafyA"'), true)
    assert.equal(etagMatches('"x", W/"bafyA"', '"bafyA"'), true)
    assert.equal(etagMatches('*', '"bafyA"'), true)
    assert.equal(etagMatches('"bafyB"', '"bafyA"'), false)
    assert.equal(etagMatches(undefined, '"bafyA"'), false)
  })
})
