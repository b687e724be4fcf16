/** The V8 growing factor peerd sets: $PEERD_HEAP_GROWING, checked. */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { HEAP_GROWING_PERCENT, heapGrowingPercent } from '../../../src/net/transport.ts'

describe('heapGrowingPercent ($PEERD_HEAP_GROWING)', () => {
  it('takes a whole number from 0 to 1000', () => {
    assert.equal(heapGrowingPercent('0'), 0)
    assert.equal(heapGrowingPercent(' 150 '), 150)
    assert.equal(heapGrowingPercent('1000'), 1000)
  })

  it('defaults to 300 when unset or empty', () => {
    assert.equal(HEAP_GROWING_PERCENT, 300)
    assert.equal(heapGrowingPercent(undefined), 300)
    assert.equal(heapGrowingPercent(''), 300)
  })

  it('warns and uses the default for anything else', async () => {
    const warnings: string[] = []
    const onWarning = (w: Error): void => { warnings.push(w.message) }
    process.on('warning', onWarning)
    try {
      for (const bad of ['-1', '1.5', 'abc', '1e21', '1001', '99999999999']) assert.equal(heapGrowingPercent(bad), 300, bad)
      await new Promise(resolve => setImmediate(resolve)) // warnings are emitted on the next tick
    } finally {
      process.off('warning', onWarning)
    }
    assert.equal(warnings.length, 6)
    assert.match(warnings[0] ?? '', /PEERD_HEAP_GROWING="-1" is not a whole number from 0 to 1000/)
  })
})
