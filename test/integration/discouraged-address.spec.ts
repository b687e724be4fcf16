/**
 * A ban reaches past the peer id: a peer banned for a junk gossip block comes back under a new
 * peer id from the same address and is refused. On loopback (where every local node lives)
 * the policy is Bitcoin Core's inbound rule: the discouraged address connects only while the
 * node has a connection slot to spare (elsewhere it is refused outright, see
 * test/unit/net/peer-scores.spec.ts).
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { blocksTopic } from '../../src/cash/sync/relay.ts'
import type { PeerdNode } from '../../src/node/node.ts'
import { isConnected, waitFor } from '../utils/index.ts'
import { teardown } from '../utils/teardown.ts'

describe('discouraged address', () => {
  const td = teardown()

  it('refuses a banned peer that returns with a new peer id from the same address', { timeout: 60_000 }, async () => {
    // two connection slots: with one taken, a discouraged loopback address has none to spare
    const victim = await td.testNode({ maxConnections: 2 })
    const honest = await td.testNode()
    const attacker = await td.testNode()
    const addr = victim.addresses()[0] as string

    await honest.connect(addr)
    // before any offence a new peer id from 127.0.0.1 gets the second slot
    await attacker.connect(addr)
    await waitFor(() => isConnected(victim, honest) && isConnected(victim, attacker), { what: 'both peers on the victim' })

    const topic = blocksTopic('regtest')
    await waitFor(() => attacker.libp2p.services.pubsub.getSubscribers(topic).some(p => p.equals(victim.libp2p.peerId)), { timeoutMs: 15_000, what: 'the victim subscribed, seen by the attacker' })
    await attacker.libp2p.services.pubsub.publish(topic, new Uint8Array(16).fill(0xee))
    await waitFor(() => victim.scores.isBanned(attacker.libp2p.peerId) && !isConnected(victim, attacker), { timeoutMs: 15_000, what: 'the attacker banned and dropped' })

    // the same machine under a fresh identity: the slot it left is not given back to it
    const again: PeerdNode = await td.testNode()
    assert.notEqual(again.peerId, attacker.peerId)
    await assert.rejects(again.connect(addr), (err: Error) => err.name === 'DialError')
    assert.equal(isConnected(victim, again), false)
    assert.equal(isConnected(victim, honest), true, 'the honest peer on the same address was dropped')
    assert.ok(victim.scores.addressScore('127.0.0.1') >= 99, `address score ${victim.scores.addressScore('127.0.0.1')}`)

    // with slots to spare, the discouraged loopback address may connect again
    await honest.disconnect(victim.peerId)
    await waitFor(() => victim.peers().length === 0, { what: 'the honest peer gone' })
    await again.connect(addr)
    await waitFor(() => isConnected(victim, again), { what: 'the fresh peer id let in while slots are spare' })
  })
})
