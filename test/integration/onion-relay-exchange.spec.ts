/**
 * Relay descriptors spread between real libp2p hosts on loopback TCP (issue 16, "Finding relays
 * without authorities"): four relays that meet each end with all four descriptors in their
 * views; a newcomer that meets one of them learns all four by asking; a peer that serves or
 * pushes a forged descriptor is reported through onMisbehaviour; a second view request within a
 * minute is reset; a descriptor put in the DHT is found by a node that never met its relay; a
 * client builds a three-hop circuit along a path selected from the view it learned, with the
 * onion keys (from each relay's key ring) the descriptors carry.
 */
import assert from 'node:assert/strict'
import { before, describe, it } from 'node:test'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { identify } from '@libp2p/identify'
import type { Libp2p, PeerId, PrivateKey } from '@libp2p/interface'
import { kadDHT, passthroughMapper } from '@libp2p/kad-dht'
import type { KadDHT } from '@libp2p/kad-dht'
import { ping } from '@libp2p/ping'
import { tcp } from '@libp2p/tcp'
import { createLibp2p } from 'libp2p'
import { encodeFrame, readFrames } from '../../src/net/frames.ts'
import { signDescriptor } from '../../src/onion/descriptor.ts'
import { RelayDirectory } from '../../src/onion/directory.ts'
import { LinkManager } from '../../src/onion/link.ts'
import { ntorKeyPair } from '../../src/onion/ntor.ts'
import type { OnionKeyRing } from '../../src/onion/onion-keys.ts'
import { selectPath } from '../../src/onion/path.ts'
import { buildCircuit } from '../../src/onion/circuit.ts'
import { RelayCommand } from '../../src/onion/cell.ts'
import { DHT_NAMESPACE, MAX_FRAME, RelayExchange, descriptorSelector, descriptorValidator, relaysProtocol } from '../../src/onion/relay-exchange.ts'
import { echoRelay } from '../utils/loopback-host.ts'
import { teardown } from '../utils/teardown.ts'
import { waitFor } from '../utils/index.ts'

const NETWORK = 'regtest'

type DhtHost = Libp2p<{ dht: KadDHT, identify: unknown, ping: unknown }>

/** A host on loopback; without `dht` it learns other peers' addresses only from what it is told. */
async function host (privateKey: PrivateKey, dht = true): Promise<DhtHost> {
  const services = {
    identify: identify(),
    ping: ping(),
    dht: kadDHT({
      protocol: `/peerd/${NETWORK}/kad/1.0.0`,
      clientMode: false,
      peerInfoMapper: passthroughMapper,
      validators: { [DHT_NAMESPACE]: descriptorValidator(NETWORK) },
      selectors: { [DHT_NAMESPACE]: descriptorSelector }
    })
  }
  if (!dht) return await createLibp2p({
    privateKey,
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services: { identify: services.identify, ping: services.ping }
  }) as unknown as DhtHost
  return await createLibp2p({
    privateKey,
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services
  })
}

interface Node {
  key: PrivateKey
  host: DhtHost
  directory: RelayDirectory
  exchange: RelayExchange
  misbehaviour: Array<{ peer: string, reason: string, score: number }>
}

describe('relay descriptor exchange between libp2p hosts', () => {
  const td = teardown()
  const nodes: Node[] = []

  async function node (options: { relay: boolean, start: boolean, dht?: boolean }): Promise<Node> {
    const key = await generateKeyPair('Ed25519')
    const dht = options.dht ?? true
    const h = td.node(await host(key, dht))
    const directory = await RelayDirectory.open(await td.dir(), { network: NETWORK })
    td.add(async () => { await directory.close() }, 'close a directory')
    const misbehaviour: Node['misbehaviour'] = []
    let ring: OnionKeyRing | undefined
    if (options.relay) {
      ;({ ring } = await echoRelay(td, h, NETWORK))
    }
    const exchange = new RelayExchange({
      host: h,
      network: NETWORK,
      directory,
      dht: dht ? h.services.dht : undefined,
      peerStore: h.peerStore,
      descriptor: ring != null ? async () => await signDescriptor({ network: NETWORK, onionKey: (ring as OnionKeyRing).current().publicKey, bandwidth: 1_000_000, addresses: h.getMultiaddrs().map(String) }, key) : undefined,
      onMisbehaviour: (peer, reason, score) => { misbehaviour.push({ peer: peer.toString(), reason, score }) }
    })
    if (options.start) { await exchange.start(); td.add(async () => { await exchange.stop() }, 'stop an exchange') }
    return { key, host: h, directory, exchange, misbehaviour }
  }

  /** A raw host that speaks the relays protocol by hand (a hostile peer). */
  async function rawHost (): Promise<DhtHost> {
    return td.node(await host(await generateKeyPair('Ed25519')))
  }

  async function forged (): Promise<Uint8Array> {
    const bytes = await signDescriptor({ network: NETWORK, onionKey: ntorKeyPair().publicKey, bandwidth: 1 }, await generateKeyPair('Ed25519'))
    bytes[bytes.length - 1] = (bytes[bytes.length - 1] as number) ^ 1
    return bytes
  }

  before(async () => {
    for (let i = 0; i < 4; i++) nodes.push(await node({ relay: true, start: true }))
  })

  it('four relays that meet end with all four descriptors in each view', async () => {
    for (let i = 0; i < nodes.length; i++) {
      for (let j = i + 1; j < nodes.length; j++) await (nodes[i] as Node).host.dial((nodes[j] as Node).host.getMultiaddrs())
    }
    const ids = nodes.map(n => n.host.peerId.toString()).sort()
    for (const n of nodes) {
      await waitFor(() => n.directory.size === 4, { timeoutMs: 10_000, what: `${n.host.peerId.toString()}'s view to hold 4 relays (has ${n.directory.size})` })
      assert.deepEqual(n.directory.relays().map(e => e.descriptor.peerId.toString()).sort(), ids)
      assert.deepEqual(n.misbehaviour, [])
    }
  })

  it('a newcomer that meets one relay learns all four by asking it', async () => {
    const newcomer = await node({ relay: false, start: true })
    await newcomer.host.dial((nodes[0] as Node).host.getMultiaddrs())
    await waitFor(() => newcomer.directory.size === 4, { timeoutMs: 10_000, what: 'the newcomer\'s view' })
    // it is no relay: nobody learned a descriptor of it
    assert.ok(nodes.every(n => n.directory.get(newcomer.host.peerId) == null))
  })

  it('a client builds a circuit along a path selected from the view it learned', async () => {
    const client = await node({ relay: false, start: true, dht: false })
    await client.host.dial((nodes[1] as Node).host.getMultiaddrs())
    await waitFor(() => client.directory.size === 4, { timeoutMs: 10_000, what: 'the client\'s view' })
    const links = new LinkManager({ host: client.host, network: NETWORK })
    await links.start()
    td.add(async () => { await links.stop() }, 'stop the client links')
    for (let i = 0; i < 3; i++) {
      // no DHT: a guard it never met is dialled at the address its descriptor carries
      const exclude = i === 0 ? [(nodes[1] as Node).host.peerId] : [] // the first circuit avoids the one relay it met
      const path = selectPath({ relays: client.directory.relays(), target: { kind: 'peerd' }, network: NETWORK, self: client.host.peerId, exclude })
      const circuit = await buildCircuit(links, path)
      assert.equal(circuit.hops, 3)
      const reply = new Promise<string>((resolve) => { circuit.onMessage = (_hop, msg) => { resolve(new TextDecoder().decode(msg.data)) } })
      circuit.send(RelayCommand.DATA, 1, new TextEncoder().encode(`hello ${i}`))
      assert.equal(await reply, `hello ${i}`)
      circuit.destroy()
    }
  })

  it('reports a peer that serves a forged descriptor, and one that pushes one', async () => {
    const a = nodes[0] as Node
    const evil = await rawHost()
    const bad = await forged()
    await evil.handle(relaysProtocol(NETWORK), (stream) => {
      void (async () => {
        for await (const _ of readFrames(stream, MAX_FRAME)) break
        stream.send(encodeFrame(bad))
        await stream.close()
      })().catch(() => {})
    })
    await evil.dial(a.host.getMultiaddrs())
    await waitFor(() => a.misbehaviour.find(m => m.peer === evil.peerId.toString()), { timeoutMs: 10_000, what: 'a report of the forged answer' })
    assert.deepEqual(a.misbehaviour.find(m => m.peer === evil.peerId.toString()), { peer: evil.peerId.toString(), reason: 'descriptor-forged', score: 100 })
    assert.equal(a.directory.size, 4)

    const b = nodes[1] as Node
    await evil.dial(b.host.getMultiaddrs())
    const stream = await evil.dialProtocol(b.host.peerId, relaysProtocol(NETWORK))
    stream.send(encodeFrame(Uint8Array.of(0x02), bad))
    await stream.close().catch(() => {})
    await waitFor(() => b.misbehaviour.find(m => m.peer === evil.peerId.toString() && m.reason === 'descriptor-forged'), { timeoutMs: 10_000, what: 'a report of the forged push' })
    assert.equal(b.directory.size, 4)

    // a frame over the limit is refused from its length prefix alone, and reported
    const big = await evil.dialProtocol(b.host.peerId, relaysProtocol(NETWORK))
    big.send(encodeFrame(Uint8Array.of(0x02), new Uint8Array(MAX_FRAME)))
    await big.close().catch(() => {})
    await waitFor(() => b.misbehaviour.find(m => m.peer === evil.peerId.toString() && m.reason === 'descriptor-too-large'), { timeoutMs: 10_000, what: 'a report of the oversized push' })
  })

  it('answers one view request per peer and minute; the next is reset', async () => {
    const c = nodes[2] as Node
    const asker = await rawHost()
    await asker.dial(c.host.getMultiaddrs())
    const ask = async (): Promise<number> => {
      const stream = await asker.dialProtocol(c.host.peerId, relaysProtocol(NETWORK))
      stream.send(encodeFrame(Uint8Array.of(0x01)))
      let n = 0
      for await (const _ of readFrames(stream, MAX_FRAME)) n++
      return n
    }
    assert.equal(await ask(), 4)
    await assert.rejects(ask())
  })

  it('finds a descriptor in the DHT from a node that never met its relay', async () => {
    const a = nodes[0] as Node
    const d = nodes[3] as Node
    const seeker = await node({ relay: false, start: false }) // not started: learns only through the DHT
    await seeker.host.dial(d.host.getMultiaddrs())
    // the routing table is not in KadDHT's public type; its size says identify has run
    const tableSize = (n: Node): number => (n.host.services.dht as unknown as { routingTable: { size: number } }).routingTable.size
    await waitFor(() => tableSize(a) >= 3 && tableSize(seeker) >= 1, { timeoutMs: 10_000, what: 'DHT routing tables' })
    await a.exchange.republish()
    const found = await waitFor(async () => {
      const r = await seeker.exchange.lookup(a.host.peerId as PeerId, AbortSignal.timeout(5_000))
      return r?.status === 'added' ? r : undefined
    }, { timeoutMs: 20_000, what: 'the descriptor from the DHT' })
    assert.equal(found.entry.descriptor.peerId.toString(), a.host.peerId.toString())
    assert.equal(seeker.directory.size, 1)
  })
})
