/**
 * Every reason the mempool refuses a transaction for, with its misbehaviour score, against a
 * real chain; and the non-error answers 'duplicate' and 'orphan'.
 */
import assert from 'node:assert/strict'
import { before, describe, it } from 'node:test'
import type { Transaction } from '../../../../src/cash/primitives/tx.ts'
import { txid, txVsize, txWeight } from '../../../../src/cash/primitives/tx.ts'
import { outputOf, spendTx, testKey } from '../../../utils/cash.ts'
import { rejectsWith } from '../chain/chain-helpers.ts'
import { alice, mine, openHarness, pay, PAYMENT_BYTES, unconfirmed } from './mempool-helpers.ts'
import type { Harness } from './mempool-helpers.ts'
import { teardown } from '../../../utils/teardown.ts'

/** A copy of `tx` with one bit of its first signature flipped. */
function badSig (tx: Transaction): Transaction {
  const copy: Transaction = { ...tx, inputs: tx.inputs.map(i => ({ ...i, witness: i.witness.map(w => Uint8Array.from(w)) })) }
  const w = copy.inputs[0]?.witness[0] as Uint8Array
  w[5] = (w[5] as number) ^ 0x01
  return copy
}

describe('mempool: rejection reasons', () => {
  const td = teardown()
  let h: Harness
  // Coinbases of heights 1..11 are mature at the next height (21 + 1 ≥ h + 10).
  let next = 1
  const coin = (): ReturnType<Harness['tc']['coinbaseCoin']> => h.tc.coinbaseCoin(next++)

  before(async () => {
    h = await openHarness()
    td.add(h.cleanup, 'close the harness')
  })

  it('context-free rules (checkTransaction), score 100', async () => {
    const tx = pay(coin(), 1000n)
    await rejectsWith(h.mempool.add({ ...tx, outputs: [] }), 'bad-txns-vout-empty', 100)
    const c = coin()
    await rejectsWith(h.mempool.add(spendTx([c, c], [{ amount: 1n, script: alice.script }])), 'bad-txns-inputs-duplicate', 100)
  })

  it('coinbase, 100', async () => {
    await rejectsWith(h.mempool.add(h.tc.blocks[3]?.txs[0] as Transaction), 'coinbase', 100)
  })

  it('txn-mempool-conflict: first seen wins, 0', async () => {
    const c = coin()
    const first = pay(c, 1000n)
    const second = pay(c, 50_000n, 1, testKey(5))
    assert.equal(await h.mempool.add(first), 'accepted')
    await rejectsWith(h.mempool.add(second), 'txn-mempool-conflict', 0)
    assert.ok(h.mempool.has(txid(first)))
    assert.ok(!h.mempool.has(txid(second)))
  })

  it('bad-txns-inputs-missingorspent for an output a mempool parent does not have, 0', async () => {
    const parent = pay(coin(), 1000n)
    assert.equal(await h.mempool.add(parent), 'accepted')
    const ghost = unconfirmed(h, parent)
    const tx = spendTx([{ ...ghost, prevout: { ...ghost.prevout, index: 7 } }], [{ amount: 1n, script: alice.script }])
    await rejectsWith(h.mempool.add(tx), 'bad-txns-inputs-missingorspent', 0)
  })

  it('bad-txns-premature-spend-of-coinbase, 100', async () => {
    await rejectsWith(h.mempool.add(pay(h.tc.coinbaseCoin(h.chain.tip.height), 1000n)), 'bad-txns-premature-spend-of-coinbase', 100)
  })

  it('bad-txns-in-belowout, 100', async () => {
    const c = coin()
    await rejectsWith(h.mempool.add(spendTx([c], [{ amount: c.coin.amount + 1n, script: alice.script }])), 'bad-txns-in-belowout', 100)
  })

  it('non-final (lock time at a later height), 0', async () => {
    const tx = pay(coin(), 1000n, 1, alice, { lockTime: h.chain.tip.height + 2, sequences: [0xfffffffe] })
    await rejectsWith(h.mempool.add(tx), 'non-final', 0)
  })

  it('non-BIP68-final (relative height lock), 0', async () => {
    const c = coin()
    const tx = pay(c, 1000n, 1, alice, { sequences: [h.chain.tip.height + 1 - c.coin.height + 1] })
    await rejectsWith(h.mempool.add(tx), 'non-BIP68-final', 0)
    // one block fewer is final at the next height
    assert.equal(await h.mempool.add(pay(c, 1000n, 1, alice, { sequences: [h.chain.tip.height + 1 - c.coin.height] })), 'accepted')
  })

  it('min relay fee not met below 1 per vbyte, 0; exactly 1 per vbyte passes', async () => {
    const c = coin()
    const vsize = txVsize(pay(c, 0n))
    await rejectsWith(h.mempool.add(pay(c, 0n)), 'min relay fee not met', 0)
    await rejectsWith(h.mempool.add(pay(c, BigInt(vsize - 1))), 'min relay fee not met', 0)
    assert.equal(await h.mempool.add(pay(c, BigInt(vsize))), 'accepted')
  })

  it('bad-txns-signature, 100', async () => {
    await rejectsWith(h.mempool.add(badSig(pay(coin(), 1000n))), 'bad-txns-signature', 100)
  })

  it('answers duplicate for a known or confirmed transaction and orphan for unknown inputs', async () => {
    const tx = pay(coin(), 1000n)
    assert.equal(await h.mempool.add(tx), 'accepted')
    assert.equal(await h.mempool.add(tx), 'duplicate')
    const mined = pay(coin(), 1000n)
    await mine(h, [mined])
    assert.equal(await h.mempool.add(mined), 'duplicate')
    const stranger = outputOf(pay(coin(), 1000n), 0, h.chain.tip.height + 1, alice)
    const child = pay(stranger, 1000n)
    assert.equal(await h.mempool.add(child, { peer: 'p1' }), 'orphan')
    assert.equal(await h.mempool.add(child, { peer: 'p1' }), 'duplicate')
    assert.equal(h.mempool.orphanCount, 1)
  })
})

describe('mempool: policy limits', () => {
  it('too-long-mempool-chain past maxChain, 0', async (t) => {
    const td = teardown(t)
    const h = await openHarness({ maxChain: 2 })
    td.add(h.cleanup, 'close the harness')
    const a = pay(h.tc.coinbaseCoin(1), 1000n)
    const b = pay(unconfirmed(h, a), 1000n)
    const c = pay(unconfirmed(h, b), 1000n)
    assert.equal(await h.mempool.add(a), 'accepted')
    assert.equal(await h.mempool.add(b), 'accepted')
    await rejectsWith(h.mempool.add(c), 'too-long-mempool-chain', 0)
  })

  it('tx-size above maxTxWeight (default 100,000, a quarter of Core\'s), 0', async (t) => {
    const td = teardown(t)
    const h = await openHarness({ maxTxWeight: 400 })
    td.add(h.cleanup, 'close the harness')
    const tx = pay(h.tc.coinbaseCoin(1), 1000n)
    assert.ok(txWeight(tx) > 400)
    await rejectsWith(h.mempool.add(tx), 'tx-size', 0)
  })

  it('mempool full when the newcomer would pay the lowest fee rate, 0', async (t) => {
    const td = teardown(t)
    const h = await openHarness({ maxBytes: 2 * PAYMENT_BYTES })
    td.add(h.cleanup, 'close the harness')
    assert.equal(await h.mempool.add(pay(h.tc.coinbaseCoin(1), 2000n)), 'accepted')
    assert.equal(await h.mempool.add(pay(h.tc.coinbaseCoin(2), 3000n)), 'accepted')
    await rejectsWith(h.mempool.add(pay(h.tc.coinbaseCoin(3), 2000n)), 'mempool full', 0)
    assert.equal(h.mempool.size, 2)
  })
})
