/**
 * Byte budgets of what a node sends: bytes held per peer and in total wait for room, and are
 * given back as the stream passes them on; a token bucket of bytes per peer refills at its rate
 * and forgets the least recently seen peers first.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { Stream } from '@libp2p/interface'
import { ByteBudget, ByteRate, StreamLease } from '../../../src/net/byte-budget.ts'

/** Settles `p` within the current turn of the event loop, or reports that it is still pending. */
async function settled (p: Promise<unknown>): Promise<boolean> {
  let done = false
  void p.then(() => { done = true }, () => { done = true })
  await new Promise(resolve => setImmediate(resolve))
  return done
}

/** The part of a stream a lease looks at: its write buffer, status, and events. */
class FakeStream extends EventTarget {
  writeBufferLength = 0
  status = 'open'
  writeStatus = 'writable'
}

describe('ByteBudget', () => {
  it('holds a peer to its limit while other peers go on, and wakes it when bytes are given back', async () => {
    const budget = new ByteBudget({ perPeer: 8, total: 100 })
    await budget.reserve('a', 6)
    const second = budget.reserve('a', 3)
    assert.equal(await settled(second), false, 'a reservation over the peer limit did not wait')
    await budget.reserve('b', 8)
    assert.equal(budget.used(), 14)
    budget.release('a', 6)
    assert.equal(await settled(second), true)
    assert.equal(budget.used('a'), 3)
  })

  it('holds everyone to the total', async () => {
    const budget = new ByteBudget({ perPeer: 8, total: 10 })
    await budget.reserve('a', 8)
    const b = budget.reserve('b', 4)
    assert.equal(await settled(b), false)
    budget.release('a', 8)
    assert.equal(await settled(b), true)
    assert.equal(budget.used(), 4)
  })

  it('grants a reservation larger than a limit alone, so a big block still goes out', async () => {
    const budget = new ByteBudget({ perPeer: 8, total: 10 })
    await budget.reserve('a', 20)
    const more = budget.reserve('a', 1)
    assert.equal(await settled(more), false)
    budget.release('a', 20)
    assert.equal(await settled(more), true)
  })

  it('a wait given up by its signal leaves the queue with BudgetAbortedError and takes nothing', async () => {
    const budget = new ByteBudget({ perPeer: 8, total: 100 })
    await budget.reserve('a', 8)
    const ac = new AbortController()
    const waiting = budget.reserve('a', 8, ac.signal)
    ac.abort()
    await assert.rejects(waiting, { name: 'BudgetAbortedError' })
    budget.release('a', 8)
    assert.equal(budget.used(), 0)
  })
})

describe('StreamLease', () => {
  it('gives back what the stream passed on at once, and the rest when its buffer empties or it closes', async () => {
    const budget = new ByteBudget({ perPeer: 100, total: 100 })
    const stream = new FakeStream()
    const lease = new StreamLease(budget, 'a', stream as unknown as Stream)
    await lease.reserve(40)
    stream.writeBufferLength = 25 // 15 bytes went to the muxer, 25 wait
    lease.sent()
    assert.equal(budget.used('a'), 25)
    stream.writeBufferLength = 10
    stream.dispatchEvent(new Event('drain'))
    assert.equal(budget.used('a'), 10)
    stream.writeBufferLength = 0
    stream.dispatchEvent(new Event('idle'))
    assert.equal(budget.used(), 0)

    await lease.reserve(30)
    stream.writeBufferLength = 30
    lease.sent()
    stream.status = 'aborted'
    stream.dispatchEvent(new Event('close'))
    assert.equal(budget.used(), 0, 'a closed stream kept its budget')
  })
})

describe('ByteRate', () => {
  it('lets a peer spend its burst at once, then its rate', () => {
    let now = 0
    const rate = new ByteRate({ bytesPerSecond: 1000, burst: 4000 }, () => now)
    assert.equal(rate.waitMs('a', 1), 0)
    rate.spend('a', 5000) // one block past the burst: a debt of 1000
    assert.equal(rate.waitMs('a', 1), 1001)
    assert.equal(rate.waitMs('b', 1), 0, 'one peer spent another peer\'s bytes')
    now = 1002
    assert.equal(rate.waitMs('a', 1), 0)
    now = 100_000
    assert.equal(rate.waitMs('a', 10_000), 0, 'a full bucket lets one item larger than the burst go')
  })

  it('forgets the least recently seen peer past its bound', () => {
    let now = 0
    const rate = new ByteRate({ bytesPerSecond: 1, burst: 10, maxPeers: 2 }, () => now)
    rate.spend('a', 10)
    rate.spend('b', 10)
    now = 1
    rate.waitMs('a', 1) // a seen again: b is now the oldest
    rate.spend('c', 10)
    assert.equal(rate.size, 2)
    assert.ok(rate.waitMs('a', 1) > 0, 'a was forgotten, not b')
  })
})
