/**
 * The memory cap (the lowest fee rates are evicted with their descendants; the mempool never
 * holds more than its cap) and the orphan pool (a child waits for its parent; one peer
 * cannot hold more than its share).
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { entryMemory, TxOrphanPool } from '../../../../src/cash/mempool/index.ts'
import { txid } from '../../../../src/cash/primitives/tx.ts'
import type { Transaction } from '../../../../src/cash/primitives/tx.ts'
import { outputOf } from '../../../utils/cash.ts'
import { rejectsWith } from '../chain/chain-helpers.ts'
import { alice, idOf, mine, openHarness, pay, PAYMENT_BYTES, unconfirmed } from './mempool-helpers.ts'
import { teardown } from '../../../utils/teardown.ts'

describe('mempool: size cap', () => {
  it('evicts the lowest fee rates with their descendants and keeps the highest within maxBytes', async (t) => {
    const td = teardown(t)
    const one = PAYMENT_BYTES
    const h = await openHarness({ maxBytes: 5 * one }, 30)
    td.add(h.cleanup, 'close the harness')
    // a cheap parent (2 per vbyte) with a cheap child (3 per vbyte) goes first, both together
    const parent = pay(h.tc.coinbaseCoin(1), 222n)
    const child = pay(unconfirmed(h, parent), 333n)
    assert.equal(entryMemory(parent), one)
    assert.equal(await h.mempool.add(parent), 'accepted')
    assert.equal(await h.mempool.add(child), 'accepted')
    // then payments at 10, 40, 20, 70, 30, 60, 50, 90, 80 per vbyte, in that order
    const rates = [10, 40, 20, 70, 30, 60, 50, 90, 80]
    const txs = rates.map((r, i) => pay(h.tc.coinbaseCoin(i + 2), BigInt(111 * r)))
    for (const tx of txs) {
      assert.equal(await h.mempool.add(tx), 'accepted')
      assert.ok(h.mempool.bytes <= 5 * one, `bytes ${h.mempool.bytes} over the cap`)
    }
    const kept = [...h.mempool.entries()].map((e) => e.feeRate).sort((a, b) => a - b)
    assert.deepEqual(kept, [50, 60, 70, 80, 90])
    const evicted = h.events.removed.filter(([, reason]) => reason === 'evicted').map(([id]) => id)
    assert.deepEqual(evicted.slice(0, 2).sort(), [idOf(parent), idOf(child)].sort(), 'the cheap family went first, together')
    assert.equal(evicted.length, 6)
    // a newcomer cheaper than everything held is refused; a richer one gets in
    await rejectsWith(h.mempool.add(pay(h.tc.coinbaseCoin(12), BigInt(111 * 45))), 'mempool full', 0)
    assert.equal(await h.mempool.add(pay(h.tc.coinbaseCoin(13), BigInt(111 * 55))), 'accepted')
    assert.equal(Math.min(...[...h.mempool.entries()].map((e) => e.feeRate)), 55)
    assert.equal(h.mempool.size, 5)
  })

  it('does not evict the parent of the newcomer, whose child pays for it', async (t) => {
    const td = teardown(t)
    const h = await openHarness({ maxBytes: 3 * PAYMENT_BYTES })
    td.add(h.cleanup, 'close the harness')
    const parent = pay(h.tc.coinbaseCoin(1), 111n) // 1 per vbyte
    assert.equal(await h.mempool.add(parent), 'accepted')
    assert.equal(await h.mempool.add(pay(h.tc.coinbaseCoin(2), 555n)), 'accepted')
    assert.equal(await h.mempool.add(pay(h.tc.coinbaseCoin(3), 666n)), 'accepted')
    const child = pay(unconfirmed(h, parent), 11_100n) // 100 per vbyte
    assert.equal(await h.mempool.add(child), 'accepted')
    assert.ok(h.mempool.has(txid(parent)) && h.mempool.has(txid(child)))
    assert.equal(h.mempool.size, 3)
    assert.ok(h.mempool.bytes <= 3 * PAYMENT_BYTES)
  })
})

describe('mempool: orphans', () => {
  it('keeps a child whose parent is unknown and accepts it when the parent arrives', async (t) => {
    const td = teardown(t)
    const h = await openHarness()
    td.add(h.cleanup, 'close the harness')
    const parent = pay(h.tc.coinbaseCoin(1), 1000n, 2)
    const child = pay(unconfirmed(h, parent, 0), 1000n)
    const grandchild = pay(unconfirmed(h, child), 1000n)
    const sibling = pay(unconfirmed(h, parent, 1), 1000n)
    assert.equal(await h.mempool.add(grandchild, { peer: 'p1' }), 'orphan')
    assert.equal(await h.mempool.add(child, { peer: 'p1' }), 'orphan')
    assert.equal(await h.mempool.add(sibling, { peer: 'p2' }), 'orphan')
    assert.equal(h.mempool.orphanCount, 3)
    assert.equal(h.mempool.size, 0)
    assert.equal(await h.mempool.add(parent, { peer: 'p3' }), 'accepted')
    assert.equal(h.mempool.size, 4)
    assert.equal(h.mempool.orphanCount, 0)
    assert.deepEqual(h.events.added, [[idOf(parent), 'peer'], [idOf(child), 'orphan'], [idOf(sibling), 'orphan'], [idOf(grandchild), 'orphan']])
  })

  it('accepts an orphan whose parent is confirmed in a block it never saw', async (t) => {
    const td = teardown(t)
    const h = await openHarness()
    td.add(h.cleanup, 'close the harness')
    const parent = pay(h.tc.coinbaseCoin(1), 1000n)
    const child = pay(outputOf(parent, 0, h.chain.tip.height + 1, alice), 1000n)
    assert.equal(await h.mempool.add(child, { peer: 'p1' }), 'orphan')
    await mine(h, [parent])
    await h.mempool.idle()
    assert.ok(h.mempool.has(txid(child)))
    assert.equal(h.mempool.orphanCount, 0)
    assert.deepEqual(h.events.added, [[idOf(child), 'orphan']])
  })

  it('holds at most maxPerPeer orphans of one peer, dropping its oldest', async (t) => {
    const td = teardown(t)
    const h = await openHarness({ orphans: { maxPerPeer: 2, maxCount: 3 } })
    td.add(h.cleanup, 'close the harness')
    const orphans: Transaction[] = []
    for (let i = 1; i <= 5; i++) {
      const stranger = outputOf(pay(h.tc.coinbaseCoin(i), 1000n), 0, h.chain.tip.height + 1, alice)
      orphans.push(pay(stranger, 1000n))
    }
    for (const tx of orphans.slice(0, 3)) assert.equal(await h.mempool.add(tx, { peer: 'spammer' }), 'orphan')
    assert.equal(h.mempool.orphanCount, 2, 'one peer holds two')
    assert.equal(await h.mempool.add(orphans[3] as Transaction, { peer: 'other' }), 'orphan')
    assert.equal(h.mempool.orphanCount, 3)
    assert.equal(await h.mempool.add(orphans[4] as Transaction, { peer: 'third' }), 'orphan')
    assert.equal(h.mempool.orphanCount, 3, 'the total limit holds too')
    // the spammer's first orphan was dropped at its third: adding it again is not a duplicate
    assert.equal(await h.mempool.add(orphans[0] as Transaction, { peer: 'spammer' }), 'orphan')
  })

  it('TxOrphanPool: per-peer share, total count, expiry and children by parent', () => {
    const pool = new TxOrphanPool({ maxPerPeer: 2, maxCount: 3, ttl: 10 })
    const parentId = new Uint8Array(32).fill(7)
    const tx = (n: number): Transaction => ({
      version: 2,
      inputs: [{ prevout: { txid: parentId, index: n }, scriptSig: new Uint8Array(0), sequence: 0xffffffff, witness: [new Uint8Array(64)] }],
      outputs: [{ amount: 1n, script: alice.script }],
      lockTime: 0
    })
    assert.ok(pool.add(tx(0), 'a0', 'a', 100))
    assert.ok(pool.add(tx(1), 'a1', 'a', 100))
    assert.ok(pool.add(tx(2), 'a2', 'a', 100))
    assert.equal(pool.countOf('a'), 2)
    assert.ok(!pool.has('a0'))
    assert.ok(pool.add(tx(3), 'b0', 'b', 105))
    assert.ok(pool.add(tx(4), 'c0', 'c', 105))
    assert.equal(pool.size, 3)
    assert.ok(!pool.has('a1'), 'the oldest of all went past the total')
    assert.ok(!pool.add(tx(4), 'c0', 'c', 105), 'already held')
    const parentKey = Buffer.from(parentId).toString('hex')
    assert.ok(pool.hasChildren(parentKey))
    pool.expire(110) // a2 (from 100) expires at 110; b0 and c0 at 115
    assert.equal(pool.size, 2)
    assert.deepEqual(pool.takeChildren(parentKey).map((o) => o.key).sort(), ['b0', 'c0'])
    assert.equal(pool.size, 0)
    assert.ok(!pool.hasChildren(parentKey))
  })
})
