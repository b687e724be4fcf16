/**
 * Budgets of signature checks for relayed transactions: per peer and in total (token buckets,
 * a bounded map of peers), charged by the mempool only for what it verifies, and a cap on the
 * checks queued for the mempool. A transaction over budget is ignored unverified.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { TopicValidatorResult } from '@libp2p/gossipsub'
import type { PeerId } from '@libp2p/interface'
import { sha256 } from '@noble/hashes/sha2.js'
import { SigCheckBudget } from '../../../../src/cash/mempool/budget.ts'
import { verifySigChecks } from '../../../../src/cash/consensus/verify.ts'
import { encodeTx, txid } from '../../../../src/cash/primitives/tx.ts'
import type { Transaction } from '../../../../src/cash/primitives/tx.ts'
import { TxRelay, txsTopic } from '../../../../src/cash/sync/tx-relay.ts'
import type { TxRelayInit } from '../../../../src/cash/sync/tx-relay.ts'
import { alice, log, openHarness, pay } from './mempool-helpers.ts'
import type { Harness } from './mempool-helpers.ts'
import { fakePubsub } from '../../../utils/gossip.ts'
import type { Validator } from '../../../utils/gossip.ts'
import { teardown } from '../../../utils/teardown.ts'
import type { Teardown } from '../../../utils/teardown.ts'

const peerId = (id: string): PeerId => ({ toString: () => id }) as unknown as PeerId
const bytes = (tx: Transaction): Uint8Array => encodeTx(tx, { witness: true })

/** A started tx relay over `h`'s mempool on a fake pubsub, and its topic validator; both closed by `td`. */
function relayOn (td: Teardown, h: Harness): { relay: TxRelay, validate: Validator } {
  td.add(h.cleanup, 'close the harness')
  const fake = fakePubsub()
  const relay = new TxRelay({ pubsub: fake.pubsub, topic: txsTopic('regtest'), mempool: h.mempool, log, penalize: () => {} })
  td.node(relay)
  relay.start()
  return { relay, validate: fake.validators.get(txsTopic('regtest')) as Validator }
}

describe('SigCheckBudget', () => {
  it('lets a peer spend its burst, then what it earns per second', () => {
    let now = 0
    const budget = new SigCheckBudget({ peerPerSec: 10, peerBurst: 20, totalPerSec: 1000, totalBurst: 1000, now: () => now })
    assert.equal(budget.take('a', 15), true)
    assert.equal(budget.take('a', 10), false, 'over its burst: nothing charged')
    assert.equal(budget.take('a', 5), true)
    assert.equal(budget.take('b', 20), true, 'another peer has its own bucket')
    now += 500
    assert.equal(budget.take('a', 6), false)
    assert.equal(budget.take('a', 5), true, '5 earned in half a second')
    now += 60_000
    assert.equal(budget.take('a', 20), true, 'refilled up to the burst')
    assert.equal(budget.take('a', 1), false)
    assert.equal(budget.take('c', 21), false, 'a cost above the burst never passes')
  })

  it('bounds all peers together, so fresh peer ids gain nothing, and remembers a bounded number of peers', () => {
    let now = 0
    const budget = new SigCheckBudget({ peerPerSec: 100, peerBurst: 100, totalPerSec: 50, totalBurst: 250, maxPeers: 8, now: () => now })
    let passed = 0
    for (let i = 0; i < 100; i++) if (budget.take(`fresh-${i}`, 100)) passed++
    assert.equal(passed, 2)
    assert.equal(budget.size, 8)
    now += 2000
    assert.equal(budget.take('fresh-again', 100), true, '100 earned in two seconds by all')
    assert.equal(budget.take('fresh-more', 100), false)
  })
})

describe('TxRelay signature-check budget', () => {
  it('ignores, unverified, what a peer sends past its budget and what fresh peers send past the total', async (t) => {
    const td = teardown(t)
    let verified = 0
    let now = 0
    const h = await openHarness({
      sigPool: { verify: async (checks) => { verified += checks.length; return verifySigChecks(checks) } },
      sigBudget: { peerPerSec: 1, peerBurst: 4, totalPerSec: 1, totalBurst: 8, now: () => now }
    })
    const { relay, validate } = relayOn(td, h)
    // two-input payments: two signature checks each
    const txs = [1, 3, 5, 7, 9].map((n) => pay([h.tc.coinbaseCoin(n), h.tc.coinbaseCoin(n + 1)], 1000n))
    const peer = peerId('greedy')
    assert.equal(await validate(peer, { data: bytes(txs[0] as Transaction) }), TopicValidatorResult.Accept)
    assert.equal(await validate(peer, { data: bytes(txs[1] as Transaction) }), TopicValidatorResult.Accept)
    assert.equal(await validate(peer, { data: bytes(txs[2] as Transaction) }), TopicValidatorResult.Ignore)
    assert.equal(verified, 4, 'the third was never verified')
    assert.equal(h.mempool.has(txid(txs[2] as Transaction)), false)
    // a fresh peer id has a full bucket of its own, but the total is spent after 8 checks
    assert.equal(await validate(peerId('fresh-1'), { data: bytes(txs[2] as Transaction) }), TopicValidatorResult.Accept)
    assert.equal(await validate(peerId('fresh-2'), { data: bytes(txs[3] as Transaction) }), TopicValidatorResult.Accept)
    assert.equal(await validate(peerId('fresh-3'), { data: bytes(txs[4] as Transaction) }), TopicValidatorResult.Ignore)
    assert.equal(verified, 8)
    now += 2000
    assert.equal(await validate(peerId('fresh-3'), { data: bytes(txs[4] as Transaction) }), TopicValidatorResult.Accept, 'earned again')
    assert.equal(relay.stats.overBudget, 2)
  })

  it('charges only what is verified: junk spending coins nobody has does not spend the budget honest peers share', async (t) => {
    const td = teardown(t)
    // the default budgets, on a clock that stands still: nothing is earned back during the test
    const h = await openHarness({ sigBudget: { now: () => 0 } })
    const { relay, validate } = relayOn(td, h)
    // 400 inputs of outputs that do not exist: an orphan, never verified, free to make
    const junk = (n: number): Transaction => ({
      version: 2,
      inputs: Array.from({ length: 400 }, (_v, i) => ({ prevout: { txid: sha256(Uint8Array.of(n, i & 0xff, i >> 8)), index: 0 }, scriptSig: new Uint8Array(0), sequence: 0xffffffff, witness: [new Uint8Array(64).fill(1)] })),
      outputs: [{ amount: 1000n, script: alice.script }],
      lockTime: 0
    })
    // five fresh peer ids, five each: 10,000 checks' worth, past the total burst (8,000)
    for (let p = 0; p < 5; p++) {
      for (let k = 0; k < 5; k++) assert.equal(await validate(peerId(`junk-${p}`), { data: bytes(junk(p * 5 + k)) }), TopicValidatorResult.Ignore)
    }
    const honest = pay([h.tc.coinbaseCoin(1), h.tc.coinbaseCoin(2)], 1000n)
    assert.equal(await validate(peerId('honest'), { data: bytes(honest) }), TopicValidatorResult.Accept)
    assert.equal(h.mempool.orphanCount, 25, 'the junk is held as orphans')
    assert.equal(relay.stats.overBudget, 0)
  })

  it('caps the signature checks queued for the mempool', async (t) => {
    const td = teardown(t)
    const h = await openHarness()
    td.add(h.cleanup, 'close the harness')
    const fake = fakePubsub()
    let release!: () => void
    const gate = new Promise<void>((resolve) => { release = resolve })
    let adds = 0
    const mempool = {
      add: async (...args: Parameters<typeof h.mempool.add>) => { adds++; await gate; return await h.mempool.add(...args) },
      on: h.mempool.on.bind(h.mempool),
      off: h.mempool.off.bind(h.mempool),
      has: h.mempool.has.bind(h.mempool),
      maxTxWeight: h.mempool.maxTxWeight
    } as unknown as TxRelayInit['mempool']
    const relay = new TxRelay({ pubsub: fake.pubsub, topic: txsTopic('regtest'), mempool, log, penalize: () => {}, maxPendingSigChecks: 5 })
    td.node(relay)
    td.add(() => { release() })
    relay.start()
    const validate = fake.validators.get(txsTopic('regtest')) as Validator
    const txs = [1, 3, 5].map((n) => pay([h.tc.coinbaseCoin(n), h.tc.coinbaseCoin(n + 1)], 1000n))
    const results = Promise.all(txs.map(async (tx, i) => await validate(peerId(`peer-${i}`), { data: bytes(tx) })))
    await new Promise((resolve) => setImmediate(resolve))
    assert.equal(adds, 2, '2 + 2 checks queued, 2 more is past 5')
    release()
    assert.deepEqual(await results, [TopicValidatorResult.Accept, TopicValidatorResult.Accept, TopicValidatorResult.Ignore])
    assert.equal(await validate(peerId('c'), { data: bytes(txs[2] as Transaction) }), TopicValidatorResult.Accept, 'the queue drained')
  })
})
