import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import type { PeerdNode } from '../../src/node/node.ts'
import { startTestNode, tempDir, waitFor } from '../utils/index.ts'

describe('circuit relay v2', () => {
  const cleanups: Array<() => Promise<unknown>> = []
  after(async () => { for (const c of cleanups.reverse()) await c() })

  const node = async (opts: Record<string, unknown> = {}): Promise<PeerdNode> => {
    const d = await tempDir()
    cleanups.push(d.cleanup)
    const n = await startTestNode({ dataDir: d.path, ...opts })
    cleanups.push(async () => { await n.stop() })
    return n
  }

  it('a node reachable only through a relay can be dialled through it', { timeout: 60_000 }, async () => {
    const relay = await node()
    // "behind NAT": C has no listen address of its own, only a reservation on the relay
    const hidden = await node({ listen: [`${relay.addresses()[0] as string}/p2p-circuit`] })
    const circuit = await waitFor(() => hidden.addresses().find(a => a.includes('/p2p-circuit/')), { what: 'a relay reservation' })
    assert.ok(circuit.startsWith(relay.addresses()[0] as string), 'the circuit address goes through the relay')
    assert.ok(hidden.addresses().every(a => a.includes('/p2p-circuit')), 'the hidden node has no direct address')

    const dialer = await node({ relay: false })
    const peer = await dialer.connect(circuit)
    assert.equal(peer.peerId, hidden.peerId)
    await waitFor(() => hidden.peers().some(p => p.peerId === dialer.peerId), { what: 'the hidden node to see the dialler' })
  })
})
