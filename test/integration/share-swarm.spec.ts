/**
 * File sharing among several in-process nodes on loopback TCP: a downloader becomes a server
 * and the next downloader fetches from both; a download survives its provider stopping in the
 * middle; content nobody has fails with ContentNotFoundError; and a provider the downloader is
 * not connected to is found through its DHT provider record.
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { before, describe, it } from 'node:test'
import type { QueryEvent } from '@libp2p/kad-dht'
import type { PeerdGater } from '../../src/net/gater.ts'
import type { PeerdNode } from '../../src/node/node.ts'
import { isConnected, waitFor } from '../utils/index.ts'
import { fractionDone, MiB, sha256File, unknownCid, waitForBlockProtocol, waitForProviderRecord, writeRandomFile } from '../utils/share.ts'
import { teardown } from '../utils/teardown.ts'

const TEST = { timeout: 60_000 }

describe('share swarm', () => {
  const td = teardown()
  let root: string
  let a: PeerdNode
  let b: PeerdNode
  let c: PeerdNode

  before(async () => {
    root = await td.dir('peerd-share-swarm-')
    a = await td.testNode()
    ;[b, c] = await Promise.all([td.testNode({ bootstrap: [a.addresses()[0] as string] }), td.testNode()])
  })

  it('every downloader becomes a server: C fetches 32 MiB from both A and B', TEST, async () => {
    const file = join(root, 'data-32m.bin')
    const digest = await writeRandomFile(file, 32 * MiB)
    const shared = await a.share.share(file)
    assert.equal(shared.size, 32 * MiB)

    await waitForBlockProtocol(b, a)
    const outB = join(root, 'out-b', 'copy.bin')
    const gotB = await b.share.get(shared.cid, { output: outB, timeoutSeconds: 20 })
    assert.equal(gotB.cid, shared.cid)
    assert.equal(gotB.path, outB)
    assert.equal(gotB.size, 32 * MiB)
    assert.equal(gotB.peers, 1)
    assert.equal(await sha256File(outB), digest, 'B saved different bytes')
    // and B announces what it downloaded
    await waitForProviderRecord(a, shared.cid, b)

    await c.connect(a.addresses()[0] as string)
    await c.connect(b.addresses()[0] as string)
    await Promise.all([waitForBlockProtocol(c, a), waitForBlockProtocol(c, b)])
    const sentA = a.share.serverStats().blocksSent
    const sentB = b.share.serverStats().blocksSent
    const outC = join(root, 'out-c', 'copy.bin')
    const gotC = await c.share.get(shared.cid, { output: outC, timeoutSeconds: 20 })
    assert.equal(gotC.size, 32 * MiB)
    assert.equal(await sha256File(outC), digest, 'C saved different bytes')
    assert.equal(gotC.peers, 2, 'C should have fetched from A and B')
    assert.ok(a.share.serverStats().blocksSent > sentA, 'A sent C no block')
    assert.ok(b.share.serverStats().blocksSent > sentB, 'B (a downloader) sent C no block')

    for (const node of [b, c]) {
      const rec = (await node.share.ls()).find(r => r.cid === shared.cid)
      assert.ok(rec != null, `${node === b ? 'B' : 'C'} does not list ${shared.cid}`)
      assert.equal(rec.complete, true)
      assert.equal(rec.size, 32 * MiB)
      assert.equal(rec.type, 'file')
      assert.equal(rec.source, 'get')
    }
  })

  it('finds a provider it is not connected to through its DHT provider record', TEST, async () => {
    // B holds a file A does not have; D knows only A
    const file = join(root, 'only-on-b.bin')
    const digest = await writeRandomFile(file, 4 * MiB + 777)
    const shared = await b.share.share(file)

    // B's share() announces; wait until the record is in the DHT
    await waitForProviderRecord(a, shared.cid, b)

    const d = await td.testNode()
    // Kademlia itself connects peers that meet in its queries (and libp2p redials its closest
    // peers), so D would soon be connected to B and find it without the DHT. Keep them apart
    // with D's connection gater until D's provider lookup returns B: the ban is lifted then.
    const gater = gaterOf(d)
    gater.ban(b.libp2p.peerId, 120_000)
    await d.connect(a.addresses()[0] as string)
    // the implementation's routing table (not in the KadDHT interface): D can look things up once A is in it
    const table = (d.libp2p.services.dht as unknown as { routingTable: { size: number } }).routingTable
    await waitFor(() => table.size > 0, { what: "A in D's DHT routing table" })

    const dht = d.libp2p.services.dht
    const original = dht.findProviders.bind(dht)
    const providersSeen = new Set<string>()
    dht.findProviders = (key, options) => (async function * (): AsyncGenerator<QueryEvent> {
      for await (const ev of original(key, options)) {
        if (ev.name === 'PROVIDER') {
          for (const p of ev.providers) providersSeen.add(p.id.toString())
          if (providersSeen.has(b.peerId)) gater.ban(b.libp2p.peerId, -1)
        }
        yield ev
      }
    })()

    assert.equal(isConnected(d, b), false, 'D is connected to B before the get')
    const out = join(root, 'out-d', 'from-b.bin')
    const got = await d.share.get(shared.cid, { output: out, timeoutSeconds: 20 })
    assert.equal(got.size, 4 * MiB + 777)
    assert.equal(got.peers, 1)
    assert.equal(await sha256File(out), digest)
    assert.ok(providersSeen.has(b.peerId), `D's DHT lookup did not return B (saw ${[...providersSeen].join(', ') || 'nothing'})`)
    assert.ok(isConnected(d, b), 'D should have dialled B')
  })

  it('fails with ContentNotFoundError for content nobody has', TEST, async () => {
    const cid = await unknownCid()
    const started = Date.now()
    await assert.rejects(c.share.get(cid, { timeoutSeconds: 2 }), (err: Error) => {
      assert.equal(err.name, 'ContentNotFoundError', `${err.name}: ${err.message}`)
      assert.match(err.message, new RegExp(cid))
      return true
    })
    const ms = Date.now() - started
    assert.ok(ms >= 1_500 && ms < 6_000, `took ${ms} ms with a 2 s timeout`)
    await waitFor(() => c.share.progressOf(cid) == null, { timeoutMs: 2_000, what: 'the failed download to leave the transfers' })
  })

  it('completes from B when provider A stops in the middle of the download', TEST, async () => {
    const size = 64 * MiB
    const file = join(root, 'data-64m.bin')
    const digest = await writeRandomFile(file, size)
    // the same bytes give the same CID: A and B both hold it
    const [onA, onB] = await Promise.all([a.share.share(file), b.share.share(file)])
    assert.equal(onA.cid, onB.cid)
    const cid = onA.cid
    await Promise.all([waitForBlockProtocol(c, a), waitForBlockProtocol(c, b)])
    assert.ok(isConnected(c, a) && isConnected(c, b))

    const out = join(root, 'out-c', 'interrupted.bin')
    const getting = c.share.get(cid, { output: out, timeoutSeconds: 20 })
    getting.catch(() => {}) // awaited below; do not let a rejection go unhandled meanwhile
    // stop A once C is past 10% and fetching from both
    const at = await waitFor(() => {
      const p = c.share.progressOf(cid)
      const f = fractionDone(p, size)
      return f >= 0.1 && p?.peers === 2 ? f : undefined
    }, { intervalMs: 5, timeoutMs: 20_000, what: "C's download to pass 10% with two providers" })
    assert.ok(at < 0.9, `the download was ${Math.round(at * 100)}% done before A could be stopped`)
    // counted as A starts stopping: the node stops its other services too, and C may finish
    // from B before a.stop() returns
    const sentBAtStop = b.share.serverStats().blocksSent
    await a.stop()

    const got = await getting
    assert.equal(got.size, size)
    assert.equal(await sha256File(out), digest)
    assert.ok(b.share.serverStats().blocksSent > sentBAtStop, 'B served nothing after A stopped')
    assert.equal((await c.share.ls()).find(r => r.cid === cid)?.complete, true)
  })
})

/** The node's connection gater (reached through its scores: the tests need timed bans). */
function gaterOf (node: PeerdNode): PeerdGater {
  return (node.scores as unknown as { gater: PeerdGater }).gater
}
