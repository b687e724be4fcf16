/**
 * An onion service's defence against introduction floods (`src/onion/hs/intro-queue.ts`): the
 * queue answers the highest effort first and drops the lowest when full or too old, the effort
 * controller raises its suggestion under a flood and lets it fall back when quiet, and a flood
 * of 10,000 free introductions drained at a bounded rate does not delay one that paid.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { EffortController, IntroDrain, IntroQueue } from '../../../../src/onion/hs/intro-queue.ts'
import type { IntroDropReason, QueuedIntro } from '../../../../src/onion/hs/intro-queue.ts'

const sleep = async (ms: number): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, ms)) }

function drainAll<T> (q: IntroQueue<T>): T[] {
  const out: T[] = []
  for (let e = q.pop(); e != null; e = q.pop()) out.push(e.item)
  return out
}

describe('introduction queue', () => {
  it('hands out the highest effort first, oldest first among equals', () => {
    const q = new IntroQueue<string>()
    q.push('a0', 0)
    q.push('b5', 5)
    q.push('c1', 1)
    q.push('d5', 5)
    q.push('e0', 0)
    q.push('f9', 9)
    assert.equal(q.size, 6)
    assert.equal(q.peekEffort(), 9)
    assert.deepEqual(drainAll(q), ['f9', 'b5', 'd5', 'c1', 'a0', 'e0'])
    assert.equal(q.size, 0)
    assert.equal(q.peekEffort(), undefined)
    assert.deepEqual(q.stats, { enqueued: 6, handled: 6, dropped: 0, trimmed: 0, maxEffortSeen: 9, totalEffort: 20 })
  })

  it('when full, drops the lowest effort (the newest of them) and counts it', () => {
    const dropped: Array<[string, number, IntroDropReason]> = []
    const q = new IntroQueue<string>({ maxSize: 3, onDrop: (item, effort, reason) => { dropped.push([item, effort, reason]) } })
    assert.equal(q.push('a1', 1), true)
    assert.equal(q.push('b1', 1), true)
    assert.equal(q.push('c4', 4), true)
    assert.equal(q.push('d0', 0), false) // lower than everything waiting: refused
    assert.equal(q.push('e1', 1), false) // equal to the lowest and newer: refused
    assert.equal(q.push('f3', 3), true) // pushes out b1, the newer of the two lowest
    assert.equal(q.push('g7', 7), true) // pushes out a1
    assert.deepEqual(dropped, [['d0', 0, 'overflow'], ['e1', 1, 'overflow'], ['b1', 1, 'overflow'], ['a1', 1, 'overflow']])
    assert.equal(q.size, 3)
    assert.equal(q.stats.dropped, 4)
    assert.deepEqual(drainAll(q), ['g7', 'c4', 'f3'])
  })

  it('drops entries older than maxAgeMs instead of answering them', () => {
    let now = 0
    const reasons: IntroDropReason[] = []
    const q = new IntroQueue<string>({ maxAgeMs: 1000, now: () => now, onDrop: (_i, _e, r) => { reasons.push(r) } })
    q.push('old9', 9)
    q.push('old0', 0)
    now = 600
    q.push('new1', 1)
    now = 1200
    assert.equal(q.pop()?.item, 'new1') // old9 expired on the way
    assert.equal(q.stats.trimmed, 1)
    assert.equal(q.prune(), 1) // old0
    assert.equal(q.size, 0)
    assert.deepEqual(reasons, ['expired', 'expired'])
    // a full queue makes room by pruning before it drops anything live
    const full = new IntroQueue<string>({ maxSize: 2, maxAgeMs: 1000, now: () => now })
    full.push('x', 0)
    now = 2300
    full.push('y', 0)
    assert.equal(full.push('z', 0), true)
    assert.deepEqual(drainAll(full), ['y', 'z'])
    assert.deepEqual([full.stats.trimmed, full.stats.dropped], [1, 0])
    // prune empties several buckets at once and keeps the live entry of a shared one
    const many = new IntroQueue<string>({ maxAgeMs: 1000, now: () => now })
    for (const e of [3, 5, 7]) many.push(`old${e}`, e)
    now += 500
    many.push('live5', 5)
    now += 600
    assert.equal(many.prune(), 3)
    assert.deepEqual(drainAll(many), ['live5'])
  })

  it('matches a sorted-list model over random pushes and pops', () => {
    let seed = 12345
    const rand = (n: number): number => { seed = (seed * 1103515245 + 12345) % 2 ** 31; return seed % n }
    const q = new IntroQueue<number>({ maxSize: 20 })
    let model: Array<{ id: number, effort: number }> = [] // kept in pop order
    for (let id = 0; id < 5000; id++) {
      if (rand(3) === 0) {
        assert.equal(q.pop()?.item, model.shift()?.id)
        continue
      }
      const effort = rand(8)
      const kept = q.push(id, effort)
      // insert after every entry of higher or equal effort, then cut the tail to maxSize
      const at = model.findIndex((m) => m.effort < effort)
      model.splice(at < 0 ? model.length : at, 0, { id, effort })
      const cut = model.slice(20)
      model = model.slice(0, 20)
      assert.equal(kept, !cut.some((m) => m.id === id))
      assert.equal(q.size, model.length)
    }
    assert.deepEqual(drainAll(q), model.map((m) => m.id))
  })

  it('refuses an effort that is not a u32 and bounds that are not positive', () => {
    const q = new IntroQueue<string>()
    assert.throws(() => q.push('x', -1), RangeError)
    assert.throws(() => q.push('x', 2 ** 32), RangeError)
    assert.throws(() => new IntroQueue({ maxSize: 0 }), RangeError)
    assert.throws(() => new EffortController(q, { periodMs: 0 }), RangeError)
  })
})

describe('effort controller', () => {
  it('raises the suggestion under a flood of effort-0 introductions and lets it fall back when quiet', () => {
    const q = new IntroQueue<number>({ maxSize: 100 })
    const told: number[] = []
    const c = new EffortController(q, { step: 1000, onChange: (e) => { told.push(e) } })
    assert.equal(c.suggestedEffort, 0)
    // a quiet period: nothing changes
    assert.equal(c.update(), 0)
    // flood: far more arrive than are answered
    for (let period = 0; period < 3; period++) {
      for (let i = 0; i < 1000; i++) q.push(i, 0)
      for (let i = 0; i < 20; i++) q.pop()
      c.update()
    }
    assert.equal(c.suggestedEffort, 1000, 'one step up; free requests do not drive it further')
    assert.ok(c.stats.dropped > 2000, `dropped ${c.stats.dropped}`)
    assert.equal(c.lastPeriod?.hadQueue, true)
    // the flood stops; the backlog is answered and the queue stays empty
    q.clear()
    const seen: number[] = []
    for (let period = 0; period < 20; period++) seen.push(c.update())
    assert.deepEqual(seen.slice(0, 4), [666, 444, 296, 197])
    assert.equal(c.suggestedEffort, 0)
    // republish only on a change of more than 15 %: each step here is a third
    assert.deepEqual(told.slice(0, 3), [1000, 666, 444])
    assert.equal(told.at(-1), 0)
  })

  it('jumps to the effort received per introduction answered when paying ones back up the queue', () => {
    const q = new IntroQueue<number>()
    const c = new EffortController(q, { step: 1000 })
    // 100 arrive paying 4000 each, 10 are answered: 400,000 of effort offered per answer
    for (let i = 0; i < 100; i++) q.push(i, 4000)
    for (let i = 0; i < 10; i++) q.pop()
    assert.equal(c.update(), 40_000)
    // next period nothing arrives and the backlog's top (4000) pays less than that: no change
    for (let i = 0; i < 10; i++) q.pop()
    assert.equal(c.update(), 40_000)
  })

  it('raises when an introduction paying more than the suggestion had to be dropped', () => {
    let now = 0
    const q = new IntroQueue<number>({ maxAgeMs: 100, now: () => now })
    const c = new EffortController(q, { initialEffort: 3000, step: 1000 })
    q.push(1, 5000)
    now = 200
    q.prune()
    assert.equal(c.update(), 4000)
    assert.equal(c.lastPeriod?.maxTrimmedEffort, 5000)
  })

  it('updates on its own every periodMs once started', async () => {
    const q = new IntroQueue<number>()
    const c = new EffortController(q, { periodMs: 20 })
    c.start()
    await sleep(130)
    c.stop()
    const n = c.updates
    assert.ok(n >= 3 && n <= 7, `${n} updates in 130 ms at one per 20 ms`)
    await sleep(50)
    assert.equal(c.updates, n)
  })
})

describe('introduction drain', () => {
  it('answers at the bounded rate', async () => {
    const q = new IntroQueue<number>()
    let served = 0
    const drain = new IntroDrain({ queue: q, ratePerSec: 100, burst: 5, handle: () => { served++ } })
    for (let i = 0; i < 200; i++) q.push(i, 0)
    drain.kick()
    await sleep(300)
    drain.stop()
    // 5 at once, then 100 a second: 35 in 300 ms
    assert.ok(served >= 20 && served <= 40, `${served} answered in 300 ms at 100/s`)
  })

  it('holds cheap introductions while too many are in flight, but not paying ones', async () => {
    const q = new IntroQueue<string>()
    const started: string[] = []
    const drain = new IntroDrain<string>({
      queue: q,
      maxCheapInFlight: 2,
      suggestedEffort: () => 100,
      handle: async (e: QueuedIntro<string>) => { started.push(e.item); await new Promise(() => {}) }
    })
    for (let i = 0; i < 10; i++) q.push(`free${i}`, 0)
    drain.kick()
    await sleep(30)
    assert.deepEqual(started, ['free0', 'free1'])
    q.push('paid', 100)
    drain.kick()
    await sleep(150)
    drain.stop()
    assert.deepEqual(started, ['free0', 'free1', 'paid'])
    assert.equal(drain.inFlight, 3)
  })

  it('a flood of 10,000 free introductions does not delay one that paid', async () => {
    const q = new IntroQueue<string>({ maxSize: 1000 })
    const effort = new EffortController(q)
    const served: Array<{ item: string, at: number }> = []
    const drain = new IntroDrain<string>({
      queue: q,
      ratePerSec: 200,
      burst: 10,
      suggestedEffort: () => effort.suggestedEffort,
      handle: async (e) => { served.push({ item: e.item, at: performance.now() }); await sleep(20) }
    })
    // the flood arrives in bursts while the drain runs; the paying client comes in the middle
    let paidAt = 0
    for (let burst = 0; burst < 20; burst++) {
      for (let i = 0; i < 500; i++) q.push(`free${burst}-${i}`, 0)
      if (burst === 10) {
        paidAt = performance.now()
        q.push('paid', 5000)
      }
      drain.kick()
      await sleep(5)
    }
    const deadline = performance.now() + 2000
    while (!served.some((s) => s.item === 'paid') && performance.now() < deadline) await sleep(5)
    drain.stop()
    const i = served.findIndex((s) => s.item === 'paid')
    assert.ok(i >= 0, 'the paying introduction was answered')
    const waited = (served[i]?.at ?? 0) - paidAt
    assert.ok(waited < 100, `the paying introduction waited ${waited.toFixed(1)} ms behind a flood`)
    assert.ok(effort.stats.dropped >= 8000, `${effort.stats.dropped} of the free ones dropped at the full queue`)
    assert.ok(served.length < 200, `the service answered only ${served.length} (bounded rate)`)
    // and the controller asks for a puzzle after this period
    assert.ok(effort.update() > 0)
  })
})
