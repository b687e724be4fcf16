/**
 * The mempool follows the chain: a block removes the transactions it confirms and those
 * conflicting with its spends (with their descendants); a reorganisation brings the
 * disconnected blocks' transactions back, except the ones the new branch conflicts with, and
 * drops entries that depended on those.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { Mempool } from '../../../../src/cash/mempool/index.ts'
import type { MempoolChain } from '../../../../src/cash/mempool/index.ts'
import { txid } from '../../../../src/cash/primitives/tx.ts'
import { outputOf, testKey } from '../../../utils/cash.ts'
import { forkAt } from '../chain/chain-helpers.ts'
import { alice, idOf, log, mine, openHarness, pay, unconfirmed } from './mempool-helpers.ts'
import { teardown } from '../../../utils/teardown.ts'

describe('mempool: following blocks', () => {
  it('removes confirmed transactions and conflicting ones with their descendants', async (t) => {
    const td = teardown(t)
    const h = await openHarness()
    td.add(h.cleanup, 'close the harness')
    const x = pay(h.tc.coinbaseCoin(1), 1000n)
    const x2 = pay(unconfirmed(h, x), 1000n)
    const y = pay(h.tc.coinbaseCoin(2), 1000n)
    const y2 = pay(unconfirmed(h, y), 1000n)
    const z = pay(h.tc.coinbaseCoin(3), 1000n)
    for (const tx of [x, x2, y, y2, z]) assert.equal(await h.mempool.add(tx), 'accepted')
    const yConflict = pay(h.tc.coinbaseCoin(2), 2000n, 1, testKey(5))
    await mine(h, [x, yConflict])
    assert.deepEqual(h.events.removed, [[idOf(x), 'block'], [idOf(y), 'conflict'], [idOf(y2), 'conflict']])
    assert.deepEqual([...h.mempool.entries()].map(idOf).sort(), [x2, z].map(idOf).sort())
    assert.equal(h.mempool.spender(y.inputs[0]?.prevout as { txid: Uint8Array, index: number }), undefined)
    // the child of the confirmed transaction now spends a chain coin: its template is valid
    const { txs } = h.mempool.selectForBlock(h.chain.params.maxBlockWeight)
    await mine(h, txs)
    assert.equal(h.mempool.size, 0)
  })

  it('does not let in a transaction whose coin a block spent while its add was reading coins', async (t) => {
    const td = teardown(t)
    const h = await openHarness()
    td.add(h.cleanup, 'close the harness')
    // A second mempool on the same chain whose coin reads stall after reading, as a slow disk would.
    let release!: () => void
    const gate = new Promise<void>((resolve) => { release = resolve })
    let reads = 0
    const chain = h.chain
    const slow: MempoolChain = {
      get tip () { return chain.tip },
      getCoins: async (o) => { const c = await chain.getCoins(o); reads++; await gate; return c },
      getTx: async (id) => await chain.getTx(id),
      getEntryByHeight: async (n) => await chain.getEntryByHeight(n),
      on: (e, l) => chain.on(e, l),
      off: (e, l) => chain.off(e, l)
    }
    const mempool = new Mempool({ chain: slow, params: chain.params, log })
    mempool.start()
    td.add(async () => { await mempool.stop() })
    const tx = pay(h.tc.coinbaseCoin(1), 1000n)
    const pending = mempool.add(tx)
    while (reads === 0) await new Promise((resolve) => setImmediate(resolve))
    await mine(h, [pay(h.tc.coinbaseCoin(1), 2000n, 1, testKey(5))]) // spends the same coin
    release()
    assert.equal(await pending, 'orphan', 'its input is gone now')
    assert.equal(mempool.size, 0)
  })

  it('drops entries older than the expiry at the next block', async (t) => {
    const td = teardown(t)
    let clock = 1_000_000
    const h = await openHarness({ expiry: 100, now: () => clock })
    td.add(h.cleanup, 'close the harness')
    const old = pay(h.tc.coinbaseCoin(1), 1000n)
    assert.equal(await h.mempool.add(old), 'accepted')
    clock += 60
    const young = pay(h.tc.coinbaseCoin(2), 1000n)
    assert.equal(await h.mempool.add(young), 'accepted')
    clock += 60
    await mine(h)
    assert.deepEqual(h.events.removed, [[idOf(old), 'expired']])
    assert.ok(h.mempool.has(txid(young)))
  })
})

describe('mempool: reorganisation', () => {
  it('brings back the disconnected block\'s transactions, except those the new branch conflicts with', async (t) => {
    const td = teardown(t)
    const h = await openHarness()
    td.add(h.cleanup, 'close the harness')
    const forkHeight = h.chain.tip.height
    const a = pay(h.tc.coinbaseCoin(1), 1000n)
    const b = pay(h.tc.coinbaseCoin(2), 1000n)
    await mine(h, [a, b])
    const confirmedAt = h.chain.tip.height
    // entries spending the outputs of the block about to be disconnected, and an unrelated one
    const a2 = pay(outputOf(a, 0, confirmedAt, alice), 1000n)
    const b2 = pay(outputOf(b, 0, confirmedAt, alice), 1000n)
    const m = pay(h.tc.coinbaseCoin(3), 1000n)
    for (const tx of [a2, b2, m]) assert.equal(await h.mempool.add(tx), 'accepted')
    h.events.added.length = 0
    h.events.removed.length = 0

    // a longer branch from before that block, which spends b's coin differently
    const fork = forkAt(h.tc, forkHeight)
    const bConflict = pay(h.tc.coinbaseCoin(2), 5000n, 1, testKey(6))
    const blocks = [fork.mine([bConflict]), fork.mine()]
    assert.equal(await h.chain.addBlock(blocks[0] as typeof blocks[number]), 'side')
    assert.equal(await h.chain.addBlock(blocks[1] as typeof blocks[number]), 'reorganized')
    await h.mempool.idle()

    assert.ok(h.mempool.has(txid(a)), 'a is unconfirmed again')
    assert.ok(!h.mempool.has(txid(b)), 'b conflicts with the new branch')
    assert.ok(!h.mempool.has(txid(bConflict)), 'the new branch confirmed its own spend')
    assert.ok(h.mempool.has(txid(a2)) && h.mempool.has(txid(m)))
    assert.ok(!h.mempool.has(txid(b2)), 'b2 lost its parent')
    assert.deepEqual(h.events.added, [[idOf(a), 'reorg']])
    assert.deepEqual(h.events.removed, [[idOf(b2), 'reorg']])
    assert.equal(h.mempool.get(txid(a2))?.fee, 1000n)

    // what remains forms a valid block on the new tip, parents first
    const { txs } = h.mempool.selectForBlock(h.chain.params.maxBlockWeight)
    const ids = txs.map(idOf)
    assert.deepEqual([...ids].sort(), [a, a2, m].map(idOf).sort())
    assert.ok(ids.indexOf(idOf(a)) < ids.indexOf(idOf(a2)), 'parent first')
    const block = fork.mine(txs)
    assert.equal(await h.chain.addBlock(block), 'connected')
    assert.equal(h.mempool.size, 0)
  })
})
