import assert from 'node:assert/strict'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { circuitRelayTransport } from '@libp2p/circuit-relay-v2'
import { identify } from '@libp2p/identify'
import { tcp } from '@libp2p/tcp'
import { createLibp2p } from 'libp2p'
import { waitFor } from '../utils/index.ts'
import { MiB, sha256File, writeRandomFile } from '../utils/share.ts'
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

    const dialer = await td.testNode({ relay: false, listen: [] }) // no address: the hidden node cannot dial it directly
    const peer = await dialer.connect(circuit)
    assert.equal(peer.peerId, hidden.peerId)
    assert.equal(peer.relayed, true, 'the peer list says the connection goes through the relay')
    await waitFor(() => hidden.peers().some(p => p.peerId === dialer.peerId), { what: 'the hidden node to see the dialler' })

    // peerd's relays set no data or time limit: libp2p's default would cut this at 128 KiB
    const root = await td.dir('peerd-relay-')
    const file = join(root, 'data.bin')
    const digest = await writeRandomFile(file, 3 * MiB)
    const shared = await hidden.share.share(file)
    const out = join(root, 'copy.bin')
    await dialer.share.get(shared.cid, { output: out, timeoutSeconds: 30 })
    assert.equal(await sha256File(out), digest, '3 MiB crossed the relay intact')
    assert.ok(dialer.peers().find(p => p.peerId === hidden.peerId)?.relayed, 'still through the relay')
  })

  it('the relay is bounded by rate: --relay-rate caps what it carries for others', { timeout: 60_000 }, async () => {
    const rate = 500_000
    const relay = await td.testNode({ relayRate: rate })
    const hidden = await td.testNode({ listen: [`${relay.addresses()[0] as string}/p2p-circuit`] })
    const circuit = await waitFor(() => hidden.addresses().find(a => a.includes('/p2p-circuit/')), { what: 'a relay reservation' })
    const dialer = await td.testNode({ relay: false, listen: [] }) // no address: the hidden node cannot dial it directly
    await dialer.connect(circuit)
    const root = await td.dir('peerd-relay-rate-')
    const file = join(root, 'data.bin')
    const digest = await writeRandomFile(file, 3 * MiB)
    const shared = await hidden.share.share(file)
    const out = join(root, 'copy.bin')
    const started = Date.now()
    await dialer.share.get(shared.cid, { output: out, timeoutSeconds: 40 })
    const seconds = (Date.now() - started) / 1000
    assert.equal(await sha256File(out), digest)
    // a lower bound only (a busy machine can make it slower, never faster than the cap allows); the
    // relay charges whole yamux messages, and one 1 MiB block can pass before the bucket stops it
    assert.ok(seconds >= 0.8 * 2 * MiB / rate, `3 MiB crossed a relay capped at ${rate} B/s in ${seconds} s`)
    const stats = relay.natStatus().relayService
    assert.ok(stats != null && stats.rate === rate && stats.bytes >= 3 * MiB, `the relay counted ${stats?.bytes} bytes`)
  })

  it('a peerd relay grants reservations to peerd nodes only', { timeout: 60_000 }, async () => {
    const relay = await td.testNode()
    // a plain libp2p node (no peerd protocol) that must listen through the relay cannot start
    const started: Array<{ stop: () => void | Promise<void> }> = []
    await assert.rejects(createLibp2p({
      addresses: { listen: [`${relay.addresses()[0] as string}/p2p-circuit`] },
      transports: [tcp(), circuitRelayTransport()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      services: { identify: identify() }
    }).then(n => { started.push(n); return n }), /PERMISSION_DENIED/, 'the relay refused the stranger a reservation')
    await Promise.all(started.map(async n => { await n.stop() }))
    // while a peerd node gets one from the same relay
    const hidden = await td.testNode({ listen: [`${relay.addresses()[0] as string}/p2p-circuit`] })
    await waitFor(() => hidden.addresses().find(a => a.includes('/p2p-circuit/')), { what: 'a peerd node\'s reservation' })
  })
})
