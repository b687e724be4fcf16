import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { waitFor } from '../utils/index.ts'
import { teardown } from '../utils/teardown.ts'

describe('circuit relay v2', () => {
  const td = teardown()

  it('a node reachable only through a relay can be dialled through it', { timeout: 60_000 }, async () => {
    const relay = await td.testNode()
    // "behind NAT": C has no listen address of its own, only a reservation on the relay
    const hidden = await td.testNode({ listen: [`${relay.addresses()[0] as string}/p2p-circuit`] })
    const circuit = await waitFor(() => hidden.addresses().find(a => a.includes('/p2p-circuit/')), { what: 'a relay reservation' })
    assert.ok(circuit.startsWith(relay.addresses()[0] as string), 'the circuit address goes through the relay')
    assert.ok(hidden.addresses().every(a => a.includes('/p2p-circuit')), 'the hidden node has no direct address')

    const dialer = await td.testNode({ relay: false })
    const peer = await dialer.connect(circuit)
    assert.equal(peer.peerId, hidden.peerId)
    await waitFor(() => hidden.peers().some(p => p.peerId === dialer.peerId), { what: 'the hidden node to see the dialler' })
  })
})
