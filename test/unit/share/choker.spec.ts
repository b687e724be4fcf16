import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { Choker, OPTIMISTIC_MS, RECHOKE_MS, ROTATE_MS, TRIAL_QUOTA } from '../../../src/share/choker.ts'

function clock (): { now: () => number, advance: (ms: number) => void } {
  let t = 1_000_000
  return { now: () => t, advance: ms => { t += ms } }
}

describe('upload slots by reciprocity (choker)', () => {
  it('unchokes a newcomer at once while a regular slot is free, then chokes the next', () => {
    const c = new Choker({ slots: 2, now: clock().now })
    assert.equal(c.join('a'), true)
    assert.equal(c.join('b'), true)
    assert.equal(c.join('c'), false)
    assert.deepEqual([...c.unchoked()].sort(), ['a', 'b'])
  })

  it('gives the regular slots to the peers that gave the most, and the free-rider only the optimistic slot', () => {
    const t = clock()
    const c = new Choker({ slots: 2, optimisticQuota: 1000, now: t.now })
    for (const p of ['free1', 'free2', 'a', 'b', 'c']) c.join(p)
    c.received('a', 5_000_000)
    c.received('b', 4_000_000)
    c.received('c', 1_000_000)
    t.advance(RECHOKE_MS)
    const open = c.rechoke()
    assert.ok(open.has('a') && open.has('b'), 'the two that gave most hold the regular slots')
    // the optimistic slot is one of the choked peers; the free-riders never get a regular one
    for (let round = 0; round < 10; round++) {
      t.advance(RECHOKE_MS)
      c.rechoke()
      assert.ok(c.isUnchoked('a') && c.isUnchoked('b'))
      c.received('a', 1_000_000)
      c.received('b', 1_000_000)
    }
  })

  it('gives a slot no giver needs, on trial (one quota per rechoke), to a peer that serves this node before a free-rider', () => {
    const t = clock()
    // `quiet` serves this node (it had nothing this node lacked yet); `free` offers nothing
    const c = new Choker({ slots: 3, optimisticQuota: 1000, now: t.now, offers: p => p === 'quiet' })
    for (const p of ['free', 'quiet', 'a', 'b']) c.join(p)
    c.received('a', 1_000_000)
    c.received('b', 1_000_000)
    assert.equal(c.stale(), true, 'slots given before anyone gave, without a quota')
    t.advance(RECHOKE_MS)
    c.rechoke()
    assert.equal(c.stale(), false)
    assert.equal(c.sent('a', 10 * TRIAL_QUOTA), true, 'a giver has no quota')
    assert.equal(c.sent('quiet', TRIAL_QUOTA / 2), true)
    assert.equal(c.sent('quiet', TRIAL_QUOTA / 2), false, 'the trial quota is used')
    assert.equal(c.isUnchoked('quiet'), false)
    assert.equal(c.isUnchoked('free'), true, 'the optimistic turn')
    assert.equal(c.sent('free', 1000), false, 'and only for its quota')
    t.advance(RECHOKE_MS)
    const next = c.rechoke()
    assert.equal(next.has('quiet'), true, 'a new trial quota at the next rechoke')
    assert.equal(next.has('free'), false)
    // a newcomer that gives takes the trial slot within a second (stale)
    assert.equal(c.join('late'), false)
    c.received('late', 400_000)
    assert.equal(c.stale(), true)
    const open = c.rechoke()
    assert.ok(['late', 'a', 'b'].every(p => open.has(p)))
    assert.equal(open.has('quiet'), false, 'the trial slot went to the giver')
  })

  it('fills a free slot with a free-rider on trial when no one else wants it (no peer waits while a slot is free)', () => {
    const t = clock()
    const c = new Choker({ slots: 4, now: t.now })
    for (const p of ['free', 'a']) c.join(p)
    c.received('a', 1_000_000)
    t.advance(RECHOKE_MS)
    assert.equal(c.rechoke().has('free'), true)
    assert.equal(c.sent('free', TRIAL_QUOTA), false, 'on trial: one quota per rechoke')
  })

  it('ends an optimistic turn when its quota is used, and moves the turn every 30 s to the peer that waited longest', () => {
    const t = clock()
    const c = new Choker({ slots: 1, optimisticQuota: 1000, now: t.now })
    c.join('a')
    c.received('a', 1_000_000)
    c.join('x')
    t.advance(1)
    c.join('y')
    c.rechoke()
    assert.equal(c.isUnchoked('x'), true, 'the peer that waited longest has the optimistic turn')
    assert.equal(c.isUnchoked('y'), false)
    assert.equal(c.sent('x', 600), true)
    assert.equal(c.sent('x', 600), false, 'over the quota: choked until its next turn')
    assert.equal(c.isUnchoked('x'), false)
    t.advance(OPTIMISTIC_MS)
    c.received('a', 1_000_000)
    c.rechoke()
    assert.equal(c.isUnchoked('y'), true, 'the turn moved on')
    assert.equal(c.isUnchoked('x'), false)
  })

  it('rotates the slots of a node that only seeds (nobody gave it anything)', () => {
    const t = clock()
    const c = new Choker({ slots: 2, now: t.now })
    const peers = ['p1', 'p2', 'p3', 'p4', 'p5', 'p6']
    for (const p of peers) { c.join(p); t.advance(1) }
    const served = new Set<string>()
    for (let i = 0; i < 12; i++) {
      for (const p of c.unchoked()) served.add(p)
      t.advance(RECHOKE_MS)
      c.rechoke()
    }
    assert.deepEqual([...served].sort(), peers, 'every peer had a slot within 2 minutes')
    // a slot is held for ROTATE_MS before it moves
    const before = c.unchoked()
    t.advance(ROTATE_MS / 4)
    const after = c.rechoke()
    assert.ok([...before].some(p => after.has(p)))
  })

  it('frees the slot of a peer that leaves', () => {
    const c = new Choker({ slots: 1, now: clock().now })
    c.join('a')
    c.join('b')
    assert.equal(c.isUnchoked('b'), false)
    c.leave('a')
    assert.equal(c.rechoke().has('b'), true)
  })

  it('remembers a bounded number of peers\' credits', () => {
    const c = new Choker({ now: clock().now })
    for (let i = 0; i < 5000; i++) c.received(`p${i}`, i + 1)
    assert.equal(c.credit('p0'), 0, 'the smallest credits were forgotten')
    assert.ok(c.credit('p4999') > 0)
  })
})
