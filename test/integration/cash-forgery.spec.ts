/**
 * The 64-byte transaction forgery across real nodes on loopback TCP (regtest): a hostile peer
 * gossips a block with an honest header over one 64-byte "transaction" (txid(coinbase) ‖
 * txid(tx1)); the victim refuses it as mutated and penalises the sender, but remembers nothing,
 * so the honest block, relayed next by another peer, connects and its relayer keeps a clean score.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { encodeBlock } from '../../src/cash/primitives/block.ts'
import { headerHash } from '../../src/cash/primitives/header.ts'
import { hashToHex } from '../../src/cash/primitives/hash.ts'
import { blocksTopic } from '../../src/cash/sync/relay.ts'
import { TestChain, testKey } from '../utils/cash.ts'
import { waitFor } from '../utils/index.ts'
import { linkOnTopic } from '../utils/gossip.ts'
import { teardown } from '../utils/teardown.ts'
import { forge64 } from '../unit/cash/consensus/forgery.ts'

const TEST = { timeout: 120_000 }
const topic = blocksTopic('regtest')

describe('cash: 64-byte transaction forgery over gossip', () => {
  const td = teardown()

  it('the forged block is refused as mutated; the honest block still propagates and its relayer is not penalised', TEST, async () => {
    const [hostile, victim, relayer] = await Promise.all([td.testNode(), td.testNode(), td.testNode()])
    const tc = new TestChain(victim.cash.params)
    const setup = tc.mineEmpty(victim.cash.params.coinbaseMaturity + 1)
    for (const n of [hostile, victim, relayer]) {
      for (const block of setup) assert.equal(await n.cash.chain.addBlock(block), 'connected')
    }
    await linkOnTopic(hostile, victim, topic)
    await linkOnTopic(relayer, victim, topic)
    // the relayer may have found the hostile peer by itself: keep them apart (both ways)
    await relayer.disconnect(hostile.peerId)
    await hostile.disconnect(relayer.peerId)

    const { honest, forged } = forge64(tc, tc.coinbaseCoin(1), testKey(2))
    await hostile.libp2p.services.pubsub.publish(topic, encodeBlock(forged))
    await waitFor(() => victim.cash.relay.stats.rejected >= 1, { timeoutMs: 15_000, what: 'the victim to refuse the forgery' })
    assert.ok(victim.scores.score(hostile.peerId) >= 99, `hostile score ${victim.scores.score(hostile.peerId)}`)
    assert.equal(victim.cash.chain.isKnownInvalid(headerHash(honest.header)), false)

    assert.equal(await relayer.cash.chain.addBlock(honest), 'connected')
    assert.ok(await relayer.cash.relay.publish(encodeBlock(honest)) >= 1)
    const want = hashToHex(headerHash(honest.header))
    await waitFor(() => victim.cash.info().tip === want, { timeoutMs: 15_000, what: 'the honest block on the victim' })
    assert.equal(victim.scores.score(relayer.peerId), 0)
    assert.ok(victim.peers().some((p) => p.peerId === relayer.peerId), 'the relayer is still connected')
    assert.equal(victim.cash.relay.stats.rejected, 1)
  })
})
