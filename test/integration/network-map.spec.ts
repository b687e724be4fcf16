/**
 * The network map the dashboard draws: three in-process nodes in a line (A–B–C). A asks its
 * peer B for B's peers and so sees C two hops away, and the B–C link; B's answers are rate
 * limited. The bandwidth meter counts the bytes on the wire.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { peerIdFromString } from '@libp2p/peer-id'
import { isConnected, waitFor } from '../utils/index.ts'
import { teardown } from '../utils/teardown.ts'

describe('network map over the peer list protocol', () => {
  const td = teardown()

  it('sees a peer of a peer, and the links between them', { timeout: 30_000 }, async () => {
    // A and C keep no minimum of peers, so neither dials the other once B tells them about it
    // (A finding C by itself made this test fail about once in four CI runs)
    const a = await td.testNode({ minConnections: 0 })
    const b = await td.testNode()
    const c = await td.testNode({ minConnections: 0 })
    await a.connect(b.addresses()[0] as string)
    await c.connect(b.addresses()[0] as string)
    await waitFor(() => isConnected(b, a) && isConnected(b, c), { what: 'A–B–C' })
    // A must not find C by itself for this test: drop a connection the keepers may have made
    if (isConnected(a, c)) await a.disconnect(c.peerId)
    await waitFor(async () => (await a.libp2p.peerStore.get(peerIdFromString(b.peerId))).protocols.includes(a.peerList.protocol), { what: 'B to announce the protocol' })

    const map = await a.peerList.network()
    const hops = Object.fromEntries(map.nodes.map(n => [n.peerId, n.hops]))
    assert.equal(hops[a.peerId], 0)
    assert.equal(hops[b.peerId], 1)
    assert.equal(hops[c.peerId], 2)
    const links = new Set(map.links.map(l => [...l].sort().join(' ')))
    assert.ok(links.has([a.peerId, b.peerId].sort().join(' ')), 'A–B')
    assert.ok(links.has([b.peerId, c.peerId].sort().join(' ')), 'B–C')
    assert.equal(map.partial, false)
    assert.ok(map.nodes.find(n => n.peerId === b.peerId)?.answered)

    // a burst of requests: the first three are answered, then B refuses
    const results = await Promise.allSettled(Array.from({ length: 6 }, async () => await a.peerList.ask(peerIdFromString(b.peerId))))
    assert.ok(results.some(r => r.status === 'rejected'), 'rate limited')

    const bw = a.bandwidth.totals()
    assert.ok(bw.bytesIn > 1000 && bw.bytesOut > 1000, JSON.stringify(bw))
  })
})
