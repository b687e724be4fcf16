/**
 * A restarted node redials the peerd nodes it remembers before other peers it met more recently
 * (a node on Amino meets far more IPFS nodes than peerd nodes): with one connection wanted, it
 * reconnects to the peerd node, not to the plain libp2p peer it saw last. (The peerd node here is
 * a DHT client: a DHT server close to the node's id is kept alive by kad-dht, and libp2p redials
 * those itself at start.)
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import { tcp } from '@libp2p/tcp'
import { createLibp2p } from 'libp2p'
import { startTestNode, waitFor } from '../utils/index.ts'
import { teardown } from '../utils/teardown.ts'

describe('redialling remembered peers after a restart', () => {
  const td = teardown()

  it('peerd nodes come first, even when another peer was seen more recently', { timeout: 60_000 }, async () => {
    // neither an onion relay nor a DHT server (libp2p redials the DHT routing table's peers
    // itself at start): only the peer keeper redials it
    const peerd = await td.testNode({ onionRelay: false, dhtClient: true })
    const other = await createLibp2p({
      addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
      transports: [tcp()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      services: { identify: identify() }
    })
    td.add(async () => { await other.stop() }, 'stop the plain libp2p peer')

    const dir = await td.dir()
    const a = await startTestNode({ dataDir: dir, minConnections: 1 })
    await a.connect(peerd.addresses()[0] as string)
    await new Promise(resolve => setTimeout(resolve, 50))
    await a.connect(other.getMultiaddrs()[0]?.toString() as string)
    // both recorded with their protocols (identify) and last-seen times
    await waitFor(async () => {
      const rec = await a.libp2p.peerStore.get(other.peerId).catch(() => undefined)
      return rec?.metadata.has('peerd/last-seen') === true && rec.protocols.length > 0
    }, { what: 'the plain peer to be recorded' })
    await a.stop()

    const again = td.node(await startTestNode({ dataDir: dir, minConnections: 1 }))
    const first = await waitFor(() => again.peers()[0], { timeoutMs: 15_000, what: 'the restarted node to redial a peer' })
    assert.equal(first.peerId, peerd.peerId, 'the restarted node redialled the plain peer rather than the peerd node')
    assert.equal(first.direction, 'outbound')
  })
})
