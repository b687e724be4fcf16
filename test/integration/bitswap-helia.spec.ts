import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { before, describe, it } from 'node:test'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { withBitswap } from '@helia/bitswap'
import { withLibp2pLight } from '@helia/libp2p'
import { unixfs } from '@helia/unixfs'
import * as dagPb from '@ipld/dag-pb'
import { identify } from '@libp2p/identify'
import type { PeerId, Stream } from '@libp2p/interface'
import { tcp } from '@libp2p/tcp'
import { multiaddr } from '@multiformats/multiaddr'
import { MemoryBlockstore } from 'blockstore-core'
import { createHeliaLight } from 'helia'
import { exporter } from 'ipfs-unixfs-exporter'
import { importer } from 'ipfs-unixfs-importer'
import * as lp from 'it-length-prefixed'
import type { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import * as Digest from 'multiformats/hashes/digest'
import { CID as CIDClass } from 'multiformats/cid'
import type { PeerdNode } from '../../src/node/node.ts'
import { Bitswap, PresenceType, WantType } from '../../src/share/bitswap/index.ts'
import type { WantlistEntry } from '../../src/share/bitswap/index.ts'
import { FsBlockstore } from '../../src/share/blockstore.ts'
import { rawPeer, startTestNode, waitFor } from '../utils/index.ts'
import { bitswapClient } from '../utils/share.ts'
import { teardown } from '../utils/teardown.ts'

const MiB = 1024 * 1024

/** A Helia node that can reach nothing but loopback: TCP on 127.0.0.1, no discovery, no routers, Bitswap only. */
async function startHelia (): Promise<ReturnType<typeof createLoopbackHelia>> {
  const helia = createLoopbackHelia()
  await helia.start()
  return helia
}

function createLoopbackHelia () {
  return withBitswap(withLibp2pLight(createHeliaLight(), {
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    peerDiscovery: [],
    services: { identify: identify() }
  }))
}

async function importInto (blockstore: FsBlockstore | MemoryBlockstore, content: Uint8Array): Promise<CID> {
  let root: CID | undefined
  for await (const entry of importer([{ path: 'f', content }], blockstore, { profile: 'unixfs-v1-2025' })) root = entry.cid
  assert.ok(root != null)
  return root
}

async function collect (source: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Uint8Array[] = []
  for await (const p of source) parts.push(p)
  return Buffer.concat(parts)
}

describe('bitswap interop with a real Helia node', () => {
  const td = teardown()
  const misbehaviour: Array<{ peerId: string, reason: string }> = []
  let node: PeerdNode
  let blockstore: FsBlockstore
  let bitswap: Bitswap
  let helia: Awaited<ReturnType<typeof startHelia>>

  before(async () => {
    const dir = await td.dir()
    node = td.node(await startTestNode({ dataDir: dir }))
    // this test drives its own Bitswap instance (to watch its reports): the node's steps aside
    await node.share.bitswap.stop()
    blockstore = new FsBlockstore(join(dir, 'bitswap-blocks'))
    await blockstore.open()
    bitswap = new Bitswap({
      host: node.libp2p,
      blockstore,
      log: node.log.child('bitswap'),
      onMisbehaviour: (peerId, reason) => { misbehaviour.push({ peerId: peerId.toString(), reason }) }
    })
    await bitswap.start()
    td.node(bitswap)

    helia = td.node(await startHelia())
    await helia.libp2p.dial(multiaddr(node.addresses()[0] as string))
    await waitFor(() => bitswap.stats().peers === 1, { what: 'peerd to see Helia speaks bitswap' })
  })

  it('Helia fetches a 3 MiB file that peerd imported', { timeout: 30_000 }, async () => {
    const content = randomBytes(3 * MiB)
    const cid = await importInto(blockstore, content)
    const fetched = await collect(unixfs(helia).cat(cid, { signal: AbortSignal.timeout(20_000) }))
    assert.equal(fetched.length, content.length)
    assert.ok(fetched.equals(content), 'bytes fetched by Helia equal the imported file')
    const stats = bitswap.stats()
    assert.ok(stats.blocksSent >= 4, `peerd sent the root and the three 1 MiB leaves (sent ${stats.blocksSent})`)
    assert.ok(stats.bytesSent >= content.length)
  })

  it('peerd fetches every block of a 3 MiB file added to Helia, and exports it', { timeout: 30_000 }, async () => {
    const content = randomBytes(3 * MiB)
    const cid = await unixfs(helia).addBytes(content, { profile: 'unixfs-v1-2025' })
    // the same profile as peerd's importer: same bytes, same CID
    assert.ok(cid.equals(await importInto(new MemoryBlockstore(), content)))
    assert.equal(cid.code, dagPb.code)
    assert.equal(cid.version, 1)

    const signal = AbortSignal.timeout(20_000)
    const before = bitswap.stats().blocksReceived
    // the root from Helia by name, the rest from whoever has them
    const rootBytes = await bitswap.want(cid, { signal, peers: [helia.libp2p.peerId] })
    let level = dagPb.decode(rootBytes).Links.map(l => l.Hash)
    assert.equal(level.length, 3, 'three 1 MiB raw leaves')
    while (level.length > 0) {
      const blocks = await Promise.all(level.map(async c => ({ cid: c, bytes: await bitswap.want(c, { signal }) })))
      level = blocks.flatMap(b => b.cid.code === dagPb.code ? dagPb.decode(b.bytes).Links.map(l => l.Hash) : [])
    }
    assert.equal(bitswap.stats().blocksReceived - before, 4)
    assert.equal(bitswap.stats().wants, 0)

    const entry = await exporter(cid, blockstore)
    assert.equal(entry.type, 'file')
    const exported = await collect(entry.content())
    assert.ok(exported.equals(content), 'bytes exported from peerd\'s blockstore equal the file added to Helia')
  })

  it('asks the peer that answers Have once the peer asked for the block answers DontHave', { timeout: 20_000 }, async () => {
    const other = td.node(await startHelia())
    await other.libp2p.dial(multiaddr(node.addresses()[0] as string))
    await waitFor(() => bitswap.stats().peers === 2, { what: 'peerd to see the second Helia' })
    // over 1 KiB, so Helia answers want-have with Have rather than the block itself
    const data = randomBytes(100 * 1024)
    const cid = CIDClass.createV1(raw.code, Digest.create(0x12, createHash('sha256').update(data).digest()))
    await other.blockstore.put(cid, data)
    const started = Date.now()
    // the first peer listed gets want-block (and has nothing), the second want-have
    const got = await bitswap.want(cid, { signal: AbortSignal.timeout(15_000), peers: [helia.libp2p.peerId, other.libp2p.peerId] })
    assert.ok(Buffer.from(got).equals(data))
    assert.ok(Date.now() - started < 5_000, 'found through Have/DontHave, not by waiting out the block timeout')
    assert.ok(await blockstore.has(cid))
  })

  it('serves a raw 1.2.0 client: presences, remembered wants sent once stored, cancel, cap and disconnect', { timeout: 20_000 }, async () => {
    const { peer: client, send, received } = await bitswapClient(td, node)
    const entry = (cid: CID, wantType: WantType, sendDontHave: boolean, cancel = false): WantlistEntry => ({ cid, priority: 1, cancel, wantType, sendDontHave })
    const rawBlock = (): { cid: CID, data: Uint8Array } => {
      const data = randomBytes(4096)
      return { cid: CIDClass.createV1(raw.code, Digest.create(0x12, createHash('sha256').update(data).digest())), data }
    }
    const presences = (): string[] => received.flatMap(m => m.blockPresences.map(p => `${p.type === PresenceType.Have ? 'have' : 'dont-have'} ${p.cid.toString()}`))
    const blocks = (): string[] => received.flatMap(m => m.blocks.map(b => b.cid.toString()))
    const base = bitswap.stats().peerWants

    const [x, y, z, w] = [rawBlock(), rawBlock(), rawBlock(), rawBlock()]
    await blockstore.put(x.cid, x.data)
    send([entry(x.cid, WantType.Have, true), entry(y.cid, WantType.Have, true), entry(z.cid, WantType.Block, true), entry(w.cid, WantType.Block, false)])
    await waitFor(() => presences().length >= 3, { what: 'the presences' })
    assert.deepEqual(presences().sort(), [`have ${x.cid.toString()}`, `dont-have ${y.cid.toString()}`, `dont-have ${z.cid.toString()}`].sort())
    assert.equal(bitswap.stats().peerWants - base, 3, 'y, z and w are remembered')

    send([entry(w.cid, WantType.Block, false, true)])
    await waitFor(() => bitswap.stats().peerWants - base === 2, { what: 'the cancel of w' })
    await blockstore.put(z.cid, z.data)
    await waitFor(() => blocks().includes(z.cid.toString()), { what: 'z to be sent once stored' })
    await blockstore.put(y.cid, y.data)
    await waitFor(() => presences().includes(`have ${y.cid.toString()}`), { what: 'Have y once stored' })
    await blockstore.put(w.cid, w.data)
    assert.equal(bitswap.stats().peerWants - base, 0)

    // over the per-peer cap (1024) wants are answered but not remembered
    const many = Array.from({ length: 1100 }, () => rawBlock().cid)
    send(many.slice(0, 600).map(c => entry(c, WantType.Block, false)))
    send(many.slice(600).map(c => entry(c, WantType.Block, false)))
    await waitFor(() => bitswap.stats().peerWants - base === 1024, { what: 'the wantlist to fill to its cap' })

    await client.hangUp(node.libp2p.peerId)
    await waitFor(() => bitswap.stats().peerWants - base === 0, { what: 'the wantlist to be cleared on disconnect' })
    assert.ok(!blocks().includes(w.cid.toString()), 'a cancelled want is not served')
    assert.deepEqual(misbehaviour.filter(m => m.peerId === client.peerId.toString()), [])
  })

  it('a want nobody can answer rejects with AbortError when its signal fires', { timeout: 10_000 }, async () => {
    const missing = CIDClass.createV1(raw.code, Digest.create(0x12, randomBytes(32)))
    await assert.rejects(bitswap.want(missing, { signal: AbortSignal.timeout(500) }), (err: Error) => err.name === 'AbortError')
    assert.equal(bitswap.stats().wants, 0)
  })

  it('a hostile peer sending garbage is reported and reset; the node keeps serving Helia', { timeout: 30_000 }, async () => {
    const hostile = td.node(await rawPeer())
    const peerd: PeerId = node.libp2p.peerId
    await hostile.dial(multiaddr(node.addresses()[0] as string))

    const garbage = async (frame: Uint8Array): Promise<Stream> => {
      const stream = await hostile.dialProtocol(peerd, '/ipfs/bitswap/1.2.0')
      stream.send(frame)
      return stream
    }
    // a frame of protobuf garbage, then a length prefix claiming 100 MiB
    const s1 = await garbage(lp.encode.single(Uint8Array.of(0x0a, 0xff, 0xff, 0xff, 0x0f, 1, 2, 3)).subarray())
    await waitFor(() => misbehaviour.length >= 1, { what: 'the garbage to be reported' })
    await waitFor(() => s1.status === 'reset', { what: 'peerd to reset the garbage stream' })
    const s2 = await garbage(Uint8Array.of(0x80, 0x80, 0x80, 0x32, 0, 0, 0))
    await waitFor(() => misbehaviour.length >= 2, { what: 'the oversized frame to be reported' })
    await waitFor(() => s2.status === 'reset', { what: 'peerd to reset the oversized stream' })

    const hostileId = hostile.peerId.toString()
    assert.deepEqual(misbehaviour.map(m => m.peerId), [hostileId, hostileId])
    assert.match(misbehaviour[0]?.reason ?? '', /malformed message/)
    assert.match(misbehaviour[1]?.reason ?? '', /length/i)

    assert.equal(node.status().running, true)
    const content = randomBytes(MiB + 12345)
    const cid = await importInto(blockstore, content)
    const fetched = await collect(unixfs(helia).cat(cid, { signal: AbortSignal.timeout(20_000) }))
    assert.ok(fetched.equals(content), 'Helia still fetches from peerd after the attack')
  })
})
