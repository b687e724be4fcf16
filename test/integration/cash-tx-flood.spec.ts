/**
 * Hostile transactions over gossip between real nodes on loopback TCP (regtest): a peer
 * publishes a transaction of Bitcoin Core's standard weight (1,700 key-path inputs spending
 * real coins, only the last signature bad) and one of peerd's (430 inputs, the same), and a
 * fresh peer id repeats the second. The victim's event loop is never held for long: the first
 * is refused for its size before anything is checked, the second is verified on the signature
 * workers, the repeat is refused by its remembered wtxid; both senders are banned.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { encodeAddress } from '../../src/cash/primitives/address.ts'
import { encodeTx, txid, txWeight } from '../../src/cash/primitives/tx.ts'
import type { Transaction } from '../../src/cash/primitives/tx.ts'
import { txsTopic } from '../../src/cash/sync/tx-relay.ts'
import type { Spendable } from '../utils/cash.ts'
import { waitFor } from '../utils/index.ts'
import { linkOnTopic } from '../utils/gossip.ts'
import { teardown } from '../utils/teardown.ts'
import { alice, lagProbe, lastSigBad, pay } from '../unit/cash/mempool/mempool-helpers.ts'

const TEST = { timeout: 120_000 }
const topic = txsTopic('regtest')

/** Every output of a confirmed `tx` at `height`, spendable by alice. */
function outputs (tx: Transaction, height: number): Spendable[] {
  const id = txid(tx)
  return tx.outputs.map((out, index) => ({ prevout: { txid: id, index }, coin: { amount: out.amount, script: out.script, height, coinbase: false }, key: alice }))
}

describe('hostile transactions over gossip', () => {
  const td = teardown()

  it('do not hold the event loop: the heaviest is refused unchecked, the rest verified off the main thread', TEST, async (t) => {
    const [victim, hostile, fresh] = await Promise.all([td.testNode(), td.testNode(), td.testNode()])
    const cash = victim.cash
    // Real coins: four coinbases of alice fanned out to 4 × 533 outputs (each fan-out within the
    // standard weight), confirmed.
    await cash.mine(14, encodeAddress('pdrt', alice.outputKey))
    const fans: Transaction[] = []
    for (let height = 1; height <= 4; height++) {
      const block = await cash.chain.getBlock((await cash.chain.getEntryByHeight(height))?.hash as Uint8Array)
      const coinbase = block?.txs[0] as Transaction
      const fan = pay({ prevout: { txid: txid(coinbase), index: 0 }, coin: { amount: coinbase.outputs[0]?.amount as bigint, script: alice.script, height, coinbase: true }, key: alice }, 100_000n, 533)
      assert.equal(await cash.mempool.add(fan), 'accepted')
      fans.push(fan)
    }
    await cash.mine(1, encodeAddress('pdrt', alice.outputKey))
    const coins = fans.flatMap((fan) => outputs(fan, cash.chain.tip.height))
    assert.equal(cash.mempool.size, 0, 'the fan-outs are confirmed')
    const coreSize = lastSigBad(coins.slice(0, 1700))
    const peerdSize = lastSigBad(coins.slice(1700, 2130))
    assert.ok(txWeight(coreSize) > 390_000 && txWeight(coreSize) <= 400_000)
    assert.ok(txWeight(peerdSize) <= 100_000)

    await linkOnTopic(hostile, victim, topic)
    await linkOnTopic(fresh, victim, topic)
    const stats = { ...cash.txRelay.stats }
    const probe = lagProbe()
    let lag
    try {
      await hostile.libp2p.services.pubsub.publish(topic, encodeTx(coreSize, { witness: true }))
      await hostile.libp2p.services.pubsub.publish(topic, encodeTx(peerdSize, { witness: true }))
      await waitFor(() => cash.txRelay.stats.rejected > stats.rejected, { timeoutMs: 30_000, what: 'the victim to reject the bad signature' })
      await fresh.libp2p.services.pubsub.publish(topic, encodeTx(peerdSize, { witness: true }))
      await waitFor(() => cash.txRelay.stats.rejected > stats.rejected + 1, { timeoutMs: 30_000, what: 'the victim to reject the repeat' })
    } finally {
      lag = probe.stop()
    }
    t.diagnostic(`longest event-loop stall ${lag.cpuMs.toFixed(1)} ms of this thread's CPU, ${lag.wallMs.toFixed(1)} ms of wall time (three nodes in this process)`)
    assert.ok(lag.cpuMs < 100, `event loop held for ${lag.cpuMs.toFixed(0)} ms (${lag.wallMs.toFixed(0)} ms of wall time)`)
    assert.equal(cash.txRelay.stats.ignored, stats.ignored + 1, 'the 1,700-input one: too heavy, no fault')
    assert.equal(cash.txRelay.stats.accepted, stats.accepted)
    for (const peer of [hostile, fresh]) {
      await waitFor(() => !victim.peers().some((p) => p.peerId === peer.peerId), { timeoutMs: 15_000, what: 'the sender dropped' })
      assert.ok(victim.scores.score(peer.peerId) >= 99, `score ${victim.scores.score(peer.peerId)}`)
    }
    assert.equal(cash.mempool.size, 0)
  })
})
