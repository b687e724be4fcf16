/**
 * Chains of unconfirmed transactions: a child spending a mempool parent is accepted, the
 * mempool's coins and spenders reflect both, block templates take packages by ancestor fee
 * rate with parents first and within the weight given, and the miner mines them into a block
 * the chain accepts.
 */
import assert from 'node:assert/strict'
import { before, describe, it } from 'node:test'
import { COINBASE_RESERVE } from '../../../../src/cash/mempool/index.ts'
import { Miner } from '../../../../src/cash/miner/miner.ts'
import { txid, txWeight } from '../../../../src/cash/primitives/tx.ts'
import type { Transaction } from '../../../../src/cash/primitives/tx.ts'
import { testKey } from '../../../utils/cash.ts'
import { idOf, log, openHarness, params, pay, unconfirmed } from './mempool-helpers.ts'
import type { Harness } from './mempool-helpers.ts'
import { teardown } from '../../../utils/teardown.ts'

describe('mempool: unconfirmed chains and block templates', () => {
  const td = teardown()
  let h: Harness
  let parent: Transaction
  let child: Transaction
  let medium: Transaction
  let high: Transaction

  before(async () => {
    h = await openHarness()
    td.add(h.cleanup, 'close the harness')
    // vsize 111 (one input, one output) or 154 (two outputs)
    parent = pay(h.tc.coinbaseCoin(1), 154n, 2) // 1 per vbyte
    child = pay(unconfirmed(h, parent, 0), 2220n) // 20 per vbyte; with its parent (2374 / 265) ≈ 9
    medium = pay(h.tc.coinbaseCoin(2), 555n) // 5 per vbyte
    high = pay(h.tc.coinbaseCoin(3), 3330n) // 30 per vbyte
  })

  it('accepts a child of a mempool transaction and serves both as coins', async () => {
    assert.equal(await h.mempool.add(parent), 'accepted')
    assert.equal(await h.mempool.add(child), 'accepted')
    assert.equal(await h.mempool.add(medium), 'accepted')
    assert.equal(await h.mempool.add(high), 'accepted')
    assert.equal(h.mempool.size, 4)
    const out0 = { txid: txid(parent), index: 0 }
    assert.deepEqual(h.mempool.getCoin(out0), { amount: parent.outputs[0]?.amount, script: parent.outputs[0]?.script, height: h.chain.tip.height + 1, coinbase: false })
    assert.deepEqual(h.mempool.spender(out0), txid(child))
    assert.equal(h.mempool.spender({ txid: txid(parent), index: 1 }), undefined)
    assert.deepEqual(h.mempool.spender(parent.inputs[0]?.prevout as Transaction['inputs'][number]['prevout']), txid(parent))
    const entry = h.mempool.get(txid(child))
    assert.equal(entry?.fee, 2220n)
    assert.equal(entry?.vsize, 111)
    assert.equal(entry?.feeRate, 20)
    assert.deepEqual(h.events.added.map(([, origin]) => origin), ['local', 'local', 'local', 'local'])
  })

  it('selects by ancestor fee rate, parents before children', () => {
    const { txs, fees } = h.mempool.selectForBlock(params.maxBlockWeight)
    assert.deepEqual(txs.map(idOf), [high, parent, child, medium].map(idOf))
    assert.equal(fees, 154n + 2220n + 555n + 3330n)
  })

  it('stays within the weight given, leaving room for the coinbase', () => {
    const room = COINBASE_RESERVE + txWeight(high) + txWeight(medium)
    const { txs, fees } = h.mempool.selectForBlock(room)
    // the parent + child package does not fit beside the high one; the medium one does
    assert.deepEqual(txs.map(idOf), [high, medium].map(idOf))
    assert.equal(fees, 3330n + 555n)
    assert.deepEqual(h.mempool.selectForBlock(COINBASE_RESERVE), { txs: [], fees: 0n })
  })

  it('reports a histogram and a fee estimate no lower than the minimum', () => {
    const info = h.mempool.info()
    assert.equal(info.size, 4)
    assert.equal(info.fees, 154n + 2220n + 555n + 3330n)
    const counts = Object.fromEntries(info.histogram.map((b) => [b.from, b.count]))
    // 1, 5, 20 and 30 per vbyte
    assert.deepEqual(counts, { 1: 1, 2: 0, 3: 0, 5: 1, 8: 0, 13: 1, 21: 1, 34: 0, 55: 0, 89: 0, 144: 0 })
    // a near-empty mempool: the next block has room for everything
    assert.equal(h.mempool.estimateFeeRate(), 1)
  })

  it('feeds the miner, whose block the chain accepts and which empties the mempool', async () => {
    const miner = new Miner({ chain: h.chain, params, log, mempool: h.mempool })
    const [hash] = await miner.mineBlocks(1, testKey(8).script)
    const block = await h.chain.getBlock(hash as Uint8Array)
    assert.deepEqual(block?.txs.slice(1).map(idOf), [high, parent, child, medium].map(idOf))
    assert.equal(h.mempool.size, 0)
    assert.deepEqual(h.events.removed.map(([, reason]) => reason), ['block', 'block', 'block', 'block'])
    assert.equal((await h.chain.getTx(txid(child)))?.height, h.chain.tip.height)
  })
})

describe('mempool: fee estimate from a full template', () => {
  it('asks for more than the cheapest package of a full next block', async (t) => {
    const td = teardown(t)
    const txs = (h: Harness): Transaction[] => [1, 2, 3, 4, 5, 6].map((i) => pay(h.tc.coinbaseCoin(i), BigInt(111 * i * 10)))
    // blocks with room for three of the six transactions (10, 20, … 60 per vbyte)
    const probe = await openHarness()
    const room = COINBASE_RESERVE + txs(probe).slice(3).reduce((s, tx) => s + txWeight(tx), 0)
    await probe.cleanup()
    const h = await openHarness({ params: { ...params, maxBlockWeight: room } })
    td.add(h.cleanup, 'close the harness')
    for (const tx of txs(h)) assert.equal(await h.mempool.add(tx), 'accepted')
    // the template takes 60, 50 and 40 per vbyte; beating 40 needs 41
    assert.equal(h.mempool.estimateFeeRate(), 41)
    assert.equal(h.mempool.selectForBlock(room).txs.length, 3)
  })
})
