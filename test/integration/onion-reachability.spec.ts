/**
 * Reachability checks between real libp2p hosts on loopback TCP (regtest, issue 16): a client
 * whose relay view verifies addresses learns four real relays and two forged descriptors — one
 * signed by a key whose host listens elsewhere but that names a real relay's address, one by a
 * key with no host, naming a port nobody listens on. The real relays are verified (by the open
 * outbound connection the client already had, or by a dial), the forged ones fail, are never
 * picked for a path though they declare the most bandwidth, and leave the view after three
 * failed checks; a circuit along a selected path carries data. A relay proven by an open
 * connection gets no second one; a relay that stops loses its proof at its next check.
 */
import assert from 'node:assert/strict'
import { createServer } from 'node:net'
import { before, describe, it } from 'node:test'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { identify } from '@libp2p/identify'
import type { Libp2p, PeerId, PrivateKey } from '@libp2p/interface'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { tcp } from '@libp2p/tcp'
import { createLibp2p } from 'libp2p'
import { RelayCommand } from '../../src/onion/cell.ts'
import { buildCircuit } from '../../src/onion/circuit.ts'
import { signDescriptor } from '../../src/onion/descriptor.ts'
import { RelayDirectory } from '../../src/onion/directory.ts'
import { LinkManager } from '../../src/onion/link.ts'
import { ntorKeyPair } from '../../src/onion/ntor.ts'
import { selectPath } from '../../src/onion/path.ts'
import { ReachabilityChecker } from '../../src/onion/reachability.ts'
import type { ReachabilityEvent } from '../../src/onion/reachability.ts'
import { waitFor } from '../utils/index.ts'
import { echoRelay } from '../utils/loopback-host.ts'
import { teardown } from '../utils/teardown.ts'

const NETWORK = 'regtest'

async function host (privateKey: PrivateKey): Promise<Libp2p> {
  return await createLibp2p({
    privateKey,
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services: { identify: identify() }
  })
}

/** A loopback port nobody listens on (bound, then released). */
async function closedPort (): Promise<number> {
  const server = createServer()
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as { port: number }).port
  await new Promise<void>(resolve => server.close(() => { resolve() }))
  return port
}

describe('reachability checks of relay descriptors', () => {
  const td = teardown()
  const relays: Array<{ key: PrivateKey, host: Libp2p, descriptor: Uint8Array }> = []
  const forged: Array<{ id: PeerId, descriptor: Uint8Array }> = []
  let client: Libp2p

  before(async () => {
    for (let i = 0; i < 4; i++) {
      const key = await generateKeyPair('Ed25519')
      const h = td.node(await host(key))
      const { ring } = await echoRelay(td, h, NETWORK)
      const descriptor = await signDescriptor({ network: NETWORK, onionKey: ring.current().publicKey, bandwidth: 100_000, addresses: h.getMultiaddrs().map(String) }, key)
      relays.push({ key, host: h, descriptor })
    }
    // relays know each other, so each can extend to the next
    for (const a of relays) for (const b of relays) if (a !== b) await a.host.peerStore.merge(b.host.peerId, { multiaddrs: b.host.getMultiaddrs() })

    // a key whose host listens elsewhere, claiming relay 0's address (and declaring the most bandwidth)
    const squatterKey = await generateKeyPair('Ed25519')
    const squatter = td.node(await host(squatterKey))
    const relay0 = (relays[0] as { host: Libp2p }).host.getMultiaddrs()[0]?.decapsulateCode(421).toString() as string
    forged.push({ id: squatter.peerId, descriptor: await signDescriptor({ network: NETWORK, onionKey: ntorKeyPair().publicKey, bandwidth: 10_000_000, addresses: [relay0] }, squatterKey) })
    // a key with no host at all, naming a port nobody listens on
    const ghostKey = await generateKeyPair('Ed25519')
    forged.push({ id: peerIdFromPrivateKey(ghostKey), descriptor: await signDescriptor({ network: NETWORK, onionKey: ntorKeyPair().publicKey, bandwidth: 10_000_000, addresses: [`/ip4/127.0.0.1/tcp/${await closedPort()}`] }, ghostKey) })

    client = td.node(await host(await generateKeyPair('Ed25519')))
  })

  it('verifies real relays, never uses forged ones, and drops them after three failed checks', async (t) => {
    const [r0, r1, r2] = relays as [typeof relays[0], typeof relays[0], typeof relays[0]]
    await client.dial(r0.host.getMultiaddrs()) // an outbound connection: proof already
    await r1.host.dial(client.getMultiaddrs()) // inbound only, from the declared IP: proof of the IP, no dial
    await waitFor(() => client.getConnections(r1.host.peerId).length === 1, { timeoutMs: 5_000, what: 'the inbound connection from relay 1' })

    const directory = await RelayDirectory.open(await td.dir(), { network: NETWORK, verifyAddresses: true, self: client.peerId, expireIntervalMs: 0 })
    td.add(async () => { await directory.close() }, 'close the directory')
    const events: ReachabilityEvent[] = []
    const checker = new ReachabilityChecker({ host: client, directory, network: NETWORK, recheckMs: 1_000, reverifyMs: 1_000, scanIntervalMs: 100, onResult: e => { events.push(e) } })
    checker.start()
    td.add(() => { checker.stop() }, 'stop the checker')
    for (const d of [...forged.map(f => f.descriptor), ...relays.map(r => r.descriptor)]) {
      assert.equal((await directory.add(d)).status, 'added')
    }
    for (const r of relays) await client.peerStore.merge(r.host.peerId, { multiaddrs: r.host.getMultiaddrs() })

    await waitFor(() => directory.verifiedCount === 4 && forged.every(f => events.some(e => e.peerId === f.id.toString() && e.status === 'failed')), { timeoutMs: 15_000, what: 'four relays verified and both forged descriptors failed once' })
    const byPeer = (id: PeerId): ReachabilityEvent | undefined => events.find(e => e.peerId === id.toString() && e.status === 'verified')
    assert.equal(byPeer(r0.host.peerId)?.via, 'connection')
    assert.equal(byPeer(r1.host.peerId)?.via, 'connection')
    assert.equal(client.getConnections(r1.host.peerId).length, 1, 'the inbound connection from its IP was proof enough: no dial')
    assert.equal(byPeer(r2.host.peerId)?.via, 'dial')
    assert.equal(client.getConnections(r0.host.peerId).length, 1, 'the open outbound connection was proof enough: no dial')
    for (const f of forged) {
      assert.equal(directory.get(f.id)?.verified, false, 'a forged descriptor stays unverified')
      assert.equal(events.some(e => e.peerId === f.id.toString() && e.status === 'verified'), false)
    }

    // the forged descriptors declare 100 times the bandwidth, yet no path uses them
    const forgedIds = new Set(forged.map(f => f.id.toString()))
    for (let n = 0; n < 200; n++) {
      const path = selectPath({ relays: directory.relays(), target: { kind: 'peerd' }, network: NETWORK, self: client.peerId })
      for (const hop of path) assert.ok(!forgedIds.has(hop.peerId.toString()), `forged relay ${hop.peerId.toString()} picked`)
    }
    const links = new LinkManager({ host: client, network: NETWORK })
    await links.start()
    td.add(async () => { await links.stop() }, 'stop the client links')
    const circuit = await buildCircuit(links, selectPath({ relays: directory.relays(), target: { kind: 'peerd' }, network: NETWORK, self: client.peerId }))
    const reply = new Promise<string>(resolve => { circuit.onMessage = (_hop, msg) => { resolve(new TextDecoder().decode(msg.data)) } })
    circuit.send(RelayCommand.DATA, 1, new TextEncoder().encode('through verified relays'))
    assert.equal(await reply, 'through verified relays')
    circuit.destroy()

    await waitFor(() => forged.every(f => directory.get(f.id) == null), { timeoutMs: 10_000, what: 'the forged descriptors to leave the view after three failed checks' })
    assert.deepEqual(forged.map(f => events.filter(e => e.peerId === f.id.toString()).map(e => e.status)), [['failed', 'failed', 'dropped'], ['failed', 'failed', 'dropped']])
    assert.equal(directory.verifiedCount, 4)
    const squatterError = events.find(e => e.peerId === forged[0]?.id.toString())?.error ?? ''
    assert.ok(squatterError.length > 0, 'a failed check says why')

    // a relay that goes away loses its proof at its next check
    const leaverKey = await generateKeyPair('Ed25519')
    const leaver = td.node(await host(leaverKey))
    assert.equal((await directory.add(await signDescriptor({ network: NETWORK, onionKey: ntorKeyPair().publicKey, bandwidth: 100_000, addresses: leaver.getMultiaddrs().map(String) }, leaverKey))).status, 'added')
    await waitFor(() => directory.get(leaver.peerId)?.verified === true, { timeoutMs: 10_000, what: 'the new relay to be verified' })
    await leaver.stop()
    await waitFor(() => directory.get(leaver.peerId)?.verified === false, { timeoutMs: 10_000, what: 'the stopped relay to lose its proof' })
    assert.equal(directory.verifiedCount, 4)
    assert.ok(events.some(e => e.peerId === leaver.peerId.toString() && e.status === 'failed'))
    const ms = events.filter(e => e.status === 'verified').map(e => Math.round(e.ms))
    t.diagnostic(`checks that verified (first checks, then re-checks): ${ms.join(', ')} ms; the squatter's: ${squatterError.slice(0, 120)}`)
  })
})
