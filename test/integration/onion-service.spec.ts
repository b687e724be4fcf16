/**
 * Onion services as `createNode` runs them (issue 17): a web server published as `<key>.peerd`
 * by one node is fetched with real curl through another node's SOCKS5 port. The client and the
 * service's host never connect to each other (their libp2p connection events are watched from
 * before the service starts to the end), the descriptor in the DHT shows no introduction point
 * to someone without the address, and the service keeps its address across a restart.
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { createHash } from 'node:crypto'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, describe, it } from 'node:test'
import { promisify } from 'node:util'
import type { PeerdNode } from '../../src/node/node.ts'
import { decodeOnionAddress } from '../../src/onion/hs/address.ts'
import { blindPublicKey, timePeriod } from '../../src/onion/hs/blinding.ts'
import { hsClientAuthKeyPair } from '../../src/onion/hs/client-auth.ts'
import { decryptHsDescriptor, verifyHsDescriptor } from '../../src/onion/hs/descriptor.ts'
import { hsDescriptorDhtKey } from '../../src/onion/hs/dht.ts'
import { teardown } from '../utils/teardown.ts'
import { waitFor } from '../utils/index.ts'

const run = promisify(execFile)
const TEST = { timeout: 120_000 }
const page = Buffer.alloc(400_000, 'onion service page ')
const pageHash = createHash('sha256').update(page).digest('hex')

/** Records every libp2p connection `node` opens or accepts with `other`. */
function watchConnections (node: PeerdNode, other: PeerdNode): string[] {
  const seen: string[] = []
  node.libp2p.addEventListener('connection:open', (e) => {
    if (e.detail.remotePeer.toString() === other.peerId) seen.push(`${e.detail.direction} ${e.detail.remoteAddr.toString()}`)
  })
  return seen
}

describe('onion services in createNode', () => {
  const td = teardown()
  let client: PeerdNode
  let service: PeerdNode
  let relays: PeerdNode[]
  let address: string
  let clientSaw: string[]
  let serviceSaw: string[]

  before(async () => {
    const server = createServer((req, res) => {
      if (req.url === '/page') { res.writeHead(200, { 'content-length': page.length }); res.end(page) } else { res.writeHead(404); res.end() }
    })
    await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
    td.add(async () => { server.closeAllConnections(); await new Promise(resolve => server.close(resolve)) }, 'stop the http server')
    const port = (server.address() as AddressInfo).port
    const first = await td.testNode({ onionRelayRate: 50_000_000 })
    const boot = first.addresses()
    relays = [first]
    for (let i = 0; i < 5; i++) relays.push(await td.testNode({ bootstrap: boot, onionRelayRate: 50_000_000 }))
    // neither end is a relay, so neither is ever a hop of the other's circuits; neither looks for
    // more peers (minConnections 0) nor serves the DHT (so no DHT walk dials it): any connection
    // between them would be the onion code's
    service = await td.testNode({ bootstrap: boot, onionRelay: false, minConnections: 0, dhtClient: true })
    client = await td.testNode({ bootstrap: boot, onionRelay: false, minConnections: 0, dhtClient: true, socks: '127.0.0.1:0' })
    await waitFor(() => client.onion.status().relaysKnown >= 6 && service.onion.status().relaysKnown >= 6, { timeoutMs: 40_000, what: 'both ends to learn 6 relay descriptors' })
    // a DHT walk at start may have linked them; from here on they must stay apart
    await client.libp2p.hangUp(service.libp2p.peerId).catch(() => {})
    clientSaw = watchConnections(client, service)
    serviceSaw = watchConnections(service, client)
    const info = await service.onion.services.serve({ name: 'web', target: `127.0.0.1:${port}` })
    address = info.address
    assert.match(address, /^[a-z2-7]{56}\.peerd$/)
    await waitFor(() => (service.onion.services.list()[0]?.publishedAt ?? 0) > 0, { timeoutMs: 60_000, what: 'the descriptor to be published' })
  })
  after(async () => { await td.run() })

  it('serves a web page to curl --socks5-hostname through a rendezvous; the two ends never connect', TEST, async () => {
    const socks = client.onion.status().socks as string
    const { stdout } = await run('curl', ['-sS', '--max-time', '60', '--socks5-hostname', socks, `http://${address}/page`], { encoding: 'buffer', maxBuffer: 10_000_000 })
    assert.equal(createHash('sha256').update(stdout).digest('hex'), pageHash)
    const info = service.onion.services.list()[0]
    assert.equal(info?.introPoints, 3)
    assert.ok((info?.stats.rendezvous ?? 0) >= 1)
    // a second request reuses the joined circuit
    const again = await run('curl', ['-sS', '--max-time', '60', '--socks5-hostname', socks, `http://${address}/page`], { encoding: 'buffer', maxBuffer: 10_000_000 })
    assert.equal(again.stdout.length, page.length)
    assert.equal(service.onion.services.list()[0]?.stats.rendezvous, info?.stats.rendezvous, 'no second rendezvous for the same client')
    assert.deepEqual(clientSaw, [], 'the client opened or accepted no connection with the service\'s host')
    assert.deepEqual(serviceSaw, [], 'the service\'s host opened or accepted no connection with the client')
    assert.equal(client.libp2p.getConnections(service.libp2p.peerId).length, 0)
  })

  it('stores in the DHT a descriptor that names no introduction point to those without the address', TEST, async () => {
    const pub = decodeOnionAddress(address)
    const key = hsDescriptorDhtKey('regtest', blindPublicKey(pub, timePeriod(Date.now())))
    // what a DHT node holds: read straight from a relay's DHT, as any node could
    let record: Uint8Array | undefined
    for await (const ev of relays[2]?.libp2p.services.dht.get(key) ?? []) if (ev.name === 'VALUE') record = ev.value
    assert.ok(record != null, 'the descriptor is in the DHT under the blinded key')
    const raw = Buffer.from(record)
    assert.ok(!raw.includes(Buffer.from(pub)), 'the service\'s key is not in it')
    for (const r of relays) assert.ok(!raw.includes(Buffer.from(r.libp2p.peerId.toMultihash().bytes)), 'no relay\'s peer id is in it')
    const outer = verifyHsDescriptor(record)
    assert.deepEqual(new Uint8Array(outer.blindedKey), blindPublicKey(pub, timePeriod(Date.now())))
    // with the address, the introduction points are there
    const inner = decryptHsDescriptor(outer, pub, { period: timePeriod(Date.now()) })
    assert.equal(inner.introPoints.length, 3)
    const introRelays = new Set(inner.introPoints.map(ip => Buffer.from(ip.peerId).toString('hex')))
    assert.ok(relays.filter(r => introRelays.has(Buffer.from(r.libp2p.peerId.toMultihash().bytes).toString('hex'))).length === 3, 'the three are relays of this network')
  })

  it('keeps serving a client that visits under 70 isolations in a row: idle joined circuits are closed at both ends', TEST, async () => {
    const visit = async (i: number): Promise<void> => {
      const stream = await client.onion.connect(address, 80, { isolation: `visit-${i}` })
      const chunks: Buffer[] = []
      stream.on('data', (d: Buffer) => { chunks.push(d) })
      stream.write('GET /missing HTTP/1.0\r\n\r\n')
      await new Promise<void>((resolve, reject) => { stream.on('close', resolve); stream.on('error', reject) })
      assert.match(Buffer.concat(chunks).subarray(0, 16).toString(), /^HTTP\/1\.[01] 404/, `visit ${i}`)
    }
    // each visit is a new rendezvous; before the caps, the 62nd failed with both pools full of idle circuits
    for (let i = 0; i < 70; i++) await visit(i)
    const serviceCircuits = service.onion.circuits().filter(c => c.purpose === 'hs-service' && c.state === 'open').length
    const clientCircuits = client.onion.circuits().filter(c => c.purpose === 'hs-client' && c.state === 'open').length
    assert.ok(serviceCircuits <= 3 + 32, `${serviceCircuits} service circuits open (3 introduction + at most 32 rendezvous)`)
    assert.ok(clientCircuits <= 32, `${clientCircuits} client rendezvous circuits open`)
  })

  it('refuses a mistyped address before building anything', TEST, async () => {
    const socks = client.onion.status().socks as string
    const bad = address.slice(0, 10) + (address[10] === 'a' ? 'b' : 'a') + address.slice(11)
    const r = await run('curl', ['-sS', '--max-time', '20', '--socks5-hostname', socks, `http://${bad}/page`], { encoding: 'utf8' }).catch((err: { code: number }) => err)
    assert.equal((r as { code?: number }).code, 97, 'curl: the proxy refused the CONNECT')
  })

  it('with client authorization, only a client holding an authorized key can reach the service', TEST, async () => {
    const keys = hsClientAuthKeyPair()
    const target = service.onion.services.list()[0]?.target as string
    const info = await service.onion.services.serve({ name: 'private', target, authorizedClients: [keys.publicKey] })
    assert.equal(info.authorizedClients, 1)
    await waitFor(() => (service.onion.services.list().find(s => s.name === 'private')?.publishedAt ?? 0) > 0, { timeoutMs: 60_000, what: 'the private service to be published' })
    const authorized = await td.testNode({ bootstrap: relays[0]?.addresses(), onionRelay: false, minConnections: 0, dhtClient: true, onionClientAuth: { [info.address]: keys.secretKey } })
    await waitFor(() => authorized.onion.status().relaysKnown >= 6, { timeoutMs: 40_000, what: 'the authorized client to learn the relays' })
    const stream = await authorized.onion.connect(info.address, 80)
    const chunks: Buffer[] = []
    stream.on('data', (d: Buffer) => { chunks.push(d) })
    stream.write('GET /page HTTP/1.0\r\nHost: x\r\n\r\n')
    await new Promise<void>((resolve, reject) => { stream.on('end', resolve); stream.on('close', resolve); stream.on('error', reject) })
    const response = Buffer.concat(chunks)
    assert.match(response.subarray(0, 20).toString(), /^HTTP\/1\.[01] 200/)
    assert.equal(createHash('sha256').update(response.subarray(response.indexOf('\r\n\r\n') + 4)).digest('hex'), pageHash)
    // the first client has no key: it finds the descriptor but cannot read its introduction points
    await assert.rejects(client.onion.connect(info.address, 80), (err: Error) => err.name === 'HsClientNotAuthorizedError', 'a client without the key is refused')
    await service.onion.services.stop('private')
  })

  it('keeps the address when the service is stopped and served again under its name', TEST, async () => {
    const target = service.onion.services.list()[0]?.target as string
    await service.onion.services.stop('web')
    assert.equal(service.onion.services.list().length, 0)
    const again = await service.onion.services.serve({ name: 'web', target })
    assert.equal(again.address, address)
  })
})
