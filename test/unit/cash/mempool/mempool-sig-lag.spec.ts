/**
 * Heavy transactions with only their last signature bad, arriving through the tx relay's
 * gossip validator from fresh peer ids, do not stall the event loop: one at Bitcoin Core's
 * standard weight (1,700 key-path inputs, ~0.35 s of verification on one core) is refused for
 * its size before its signatures are looked at, and one at peerd's standard weight (430 inputs)
 * is verified on the signature workers. Real chain (LevelDB), real UTXOs, real worker pool.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { TopicValidatorResult } from '@libp2p/gossipsub'
import type { PeerId } from '@libp2p/interface'
import { SigPool } from '../../../../src/cash/chain/index.ts'
import { VerifyError } from '../../../../src/cash/consensus/verify-error.ts'
import { encodeTx, txid, txWeight } from '../../../../src/cash/primitives/tx.ts'
import type { Transaction } from '../../../../src/cash/primitives/tx.ts'
import { TxRelay, txsTopic } from '../../../../src/cash/sync/tx-relay.ts'
import type { Spendable } from '../../../utils/cash.ts'
import { alice, lagProbe, lastSigBad, log, mine, openHarness, pay } from './mempool-helpers.ts'
import { fakePubsub } from '../../../utils/gossip.ts'
import type { Validator } from '../../../utils/gossip.ts'
import { teardown } from '../../../utils/teardown.ts'

/** Inputs of a transaction at Bitcoin Core's standard weight (391,222 WU). */
const CORE_SIZE_INPUTS = 1_700
/** Inputs of one at peerd's (99,122 WU of 100,000). */
const PEERD_SIZE_INPUTS = 430

let peers = 0
const freshPeer = (): PeerId => { const id = `attacker-${++peers}`; return { toString: () => id } as unknown as PeerId }

describe('signature checks of relayed transactions', () => {
  it('keep the event loop responsive while heavy transactions with a bad last signature arrive', async (t) => {
    const td = teardown(t)
    const sigPool = new SigPool({ size: 2 })
    sigPool.start()
    td.add(async () => { await sigPool.close() }, 'close the signature pool')
    let batches = 0
    const h = await openHarness({ sigPool: { verify: async (checks) => { batches++; return await sigPool.verify(checks) } } })
    td.add(h.cleanup, 'close the harness')
    const fake = fakePubsub()
    const penalties: string[] = []
    const relay = new TxRelay({ pubsub: fake.pubsub, topic: txsTopic('regtest'), mempool: h.mempool, log, penalize: (_p, points, reason) => { penalties.push(`${points} ${reason}`) } })
    relay.start()
    td.node(relay)
    // Real UTXOs: two coinbases fanned out to 2,130 confirmed outputs.
    const fanA = pay(h.tc.coinbaseCoin(1), 100_000n, CORE_SIZE_INPUTS)
    const fanB = pay(h.tc.coinbaseCoin(2), 100_000n, PEERD_SIZE_INPUTS)
    await mine(h, [fanA, fanB])
    const outputs = (tx: Transaction): Spendable[] => {
      const id = txid(tx)
      return tx.outputs.map((out, index) => ({ prevout: { txid: id, index }, coin: { amount: out.amount, script: out.script, height: h.chain.tip.height, coinbase: false }, key: alice }))
    }
    const coreSize = lastSigBad(outputs(fanA))
    const peerdSize = [0, 1, 2, 3].map((round) => lastSigBad(outputs(fanB), round))
    assert.ok(txWeight(coreSize) > 390_000 && txWeight(coreSize) <= 400_000, `${txWeight(coreSize)}`)
    assert.ok(txWeight(peerdSize[0] as Transaction) <= 100_000)
    const validate = fake.validators.get(txsTopic('regtest')) as Validator

    const messages = [...Array(3).fill(coreSize), ...peerdSize].map((tx: Transaction) => encodeTx(tx, { witness: true }))

    // Several arrive at once, each from a peer id not seen before, as gossip delivers them.
    const started = performance.now()
    const probe = lagProbe()
    td.add(() => { probe.stop() }, 'stop the lag probe')
    const results = await Promise.all(messages.map(async (data) => await validate(freshPeer(), { data })))
    const lag = probe.stop()
    t.diagnostic(`longest event-loop stall ${lag.cpuMs.toFixed(1)} ms of this thread's CPU, ${lag.wallMs.toFixed(1)} ms of wall time; ${(performance.now() - started).toFixed(0)} ms of validation`)
    assert.ok(lag.cpuMs < 100, `event loop held for ${lag.cpuMs.toFixed(0)} ms (${lag.wallMs.toFixed(0)} ms of wall time)`)
    // Core's size is too heavy to relay (no fault of the sender), the bad signatures are invalid.
    assert.deepEqual(results, [
      TopicValidatorResult.Ignore, TopicValidatorResult.Ignore, TopicValidatorResult.Ignore,
      TopicValidatorResult.Reject, TopicValidatorResult.Reject, TopicValidatorResult.Reject, TopicValidatorResult.Reject
    ])
    assert.deepEqual(penalties, Array(4).fill('100 invalid tx: bad-txns-signature'))
    await assert.rejects(h.mempool.add(coreSize), (err) => err instanceof VerifyError && err.reason === 'tx-size')
    assert.equal(batches, 4, 'the 430-input ones were verified by the pool')
    // The same transaction again costs no verification: its wtxid is remembered.
    await assert.rejects(h.mempool.add(peerdSize[0] as Transaction), (err) => err instanceof VerifyError && err.reason === 'bad-txns-signature' && err.score === 100)
    assert.equal(batches, 4)
    assert.equal(h.mempool.size, 0)
  })
})
