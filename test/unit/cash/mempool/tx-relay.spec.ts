/**
 * TxRelay's topic validator against a real mempool and a stand-in gossipsub: accepted
 * transactions are forwarded, duplicates, orphans and policy refusals ignored, undecodable
 * or invalid ones rejected with their sender penalised; local transactions and orphans that
 * got in later are published.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { TopicValidatorResult } from '@libp2p/gossipsub'
import type { PeerId } from '@libp2p/interface'
import { encodeTx, txid } from '../../../../src/cash/primitives/tx.ts'
import type { Transaction } from '../../../../src/cash/primitives/tx.ts'
import { TxRelay, txsTopic } from '../../../../src/cash/sync/tx-relay.ts'
import { bytesEqual } from '../../../../src/cash/primitives/hash.ts'
import { log, openHarness, pay, unconfirmed } from './mempool-helpers.ts'
import { fakePubsub } from '../../../utils/gossip.ts'
import type { Validator } from '../../../utils/gossip.ts'
import { teardown } from '../../../utils/teardown.ts'

const peer = { toString: () => 'peer-1' } as unknown as PeerId
const bytes = (tx: Transaction): Uint8Array => encodeTx(tx, { witness: true })

describe('TxRelay', () => {
  it('validates gossiped transactions with the mempool and penalises invalid ones', async (t) => {
    const td = teardown(t)
    const h = await openHarness()
    td.add(h.cleanup, 'close the harness')
    const fake = fakePubsub()
    const penalties: Array<[number, string]> = []
    const relay = new TxRelay({ pubsub: fake.pubsub, topic: txsTopic('regtest'), mempool: h.mempool, log, penalize: (_p, points, reason) => { penalties.push([points, reason]) } })
    td.node(relay)
    assert.equal(txsTopic('regtest'), '/peerd/regtest/txs/1')
    relay.start()
    assert.ok(fake.subscribed.has('/peerd/regtest/txs/1'))
    const validate = fake.validators.get('/peerd/regtest/txs/1') as Validator
    const tx = pay(h.tc.coinbaseCoin(1), 1000n)
    assert.equal(await validate(peer, { data: bytes(tx) }), TopicValidatorResult.Accept)
    assert.equal(await validate(peer, { data: bytes(tx) }), TopicValidatorResult.Ignore, 'duplicate')
    assert.equal(await validate(peer, { data: Uint8Array.of(1, 2, 3) }), TopicValidatorResult.Reject)
    assert.equal(penalties.at(-1)?.[0], 100)
    const conflict = pay(h.tc.coinbaseCoin(1), 2000n)
    assert.equal(await validate(peer, { data: bytes(conflict) }), TopicValidatorResult.Ignore, 'score 0: conflict')
    const premature = pay(h.tc.coinbaseCoin(h.chain.tip.height), 1000n)
    assert.equal(await validate(peer, { data: bytes(premature) }), TopicValidatorResult.Reject)
    assert.deepEqual(penalties.at(-1), [100, 'invalid tx: bad-txns-premature-spend-of-coinbase'])
    assert.equal(penalties.length, 2)
    assert.equal(fake.published.length, 0, 'gossiped transactions are forwarded by gossipsub, not republished')

    // an orphan is ignored, then published when its parent (added locally) lets it in
    const parent = pay(h.tc.coinbaseCoin(2), 1000n)
    const child = pay(unconfirmed(h, parent), 1000n)
    assert.equal(await validate(peer, { data: bytes(child) }), TopicValidatorResult.Ignore)
    assert.equal(await h.mempool.add(parent), 'accepted')
    assert.deepEqual(fake.published.map((b) => b.length), [bytes(parent).length, bytes(child).length])
    assert.ok(bytesEqual(fake.published[1] as Uint8Array, bytes(child)))
    assert.ok(h.mempool.has(txid(child)))
    assert.deepEqual(relay.stats, { received: 6, accepted: 1, rejected: 2, ignored: 3, published: 2, dropped: 0, overBudget: 0 })
    relay.stop()
    assert.equal(fake.validators.size, 0)
    assert.equal(fake.subscribed.size, 0)
  })

  it('announces its own transactions again until they leave the mempool', async (t) => {
    const td = teardown(t)
    const h = await openHarness()
    td.add(h.cleanup, 'close the harness')
    const fake = fakePubsub()
    const relay = new TxRelay({ pubsub: fake.pubsub, topic: txsTopic('regtest'), mempool: h.mempool, log, penalize: () => {}, rebroadcastMs: 40 })
    td.node(relay)
    relay.start()
    const tx = pay(h.tc.coinbaseCoin(1), 1000n)
    assert.equal(await h.mempool.add(tx), 'accepted')
    await new Promise((resolve) => setTimeout(resolve, 150))
    const announced = fake.published.length
    assert.ok(announced >= 3, `announced ${announced} times`)
    assert.ok(fake.published.every((b) => bytesEqual(b, bytes(tx))))
    // once it is gone (here: expired by a reorg-free removal), announcements stop
    await h.mempool.stop()
    ;(h.mempool as unknown as { has: () => boolean }).has = () => false
    await new Promise((resolve) => setTimeout(resolve, 100))
    const after = fake.published.length
    await new Promise((resolve) => setTimeout(resolve, 100))
    assert.equal(fake.published.length, after)
  })

  it('sheds a flood past its queue bound and drops what a banned peer had queued', async (t) => {
    const td = teardown(t)
    const h = await openHarness()
    td.add(h.cleanup, 'close the harness')
    const fake = fakePubsub()
    let banned = false
    const relay = new TxRelay({
      pubsub: fake.pubsub, topic: txsTopic('regtest'), mempool: h.mempool, log, penalize: () => {},
      maxPending: 2,
      admits: () => !banned
    })
    td.node(relay)
    relay.start()
    const validate = fake.validators.get('/peerd/regtest/txs/1') as Validator
    const txs = [1, 2, 3, 4].map((n) => pay(h.tc.coinbaseCoin(n), 1000n))
    // four at once: two wait for the mempool, the other two are shed unchecked
    const results = await Promise.all(txs.map(async (tx) => await validate(peer, { data: bytes(tx) })))
    assert.deepEqual(results.filter((r) => r === TopicValidatorResult.Accept).length, 2)
    assert.equal(relay.stats.dropped, 2)
    assert.equal(h.mempool.size, 2)
    banned = true
    const late = pay(h.tc.coinbaseCoin(5), 1000n)
    assert.equal(await validate(peer, { data: bytes(late) }), TopicValidatorResult.Ignore)
    assert.equal(h.mempool.has(txid(late)), false)
    assert.equal(relay.stats.dropped, 3)
  })
})
