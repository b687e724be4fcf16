/**
 * A private share (issue 17, point 7): `share(path, { private: true })` serves a file only through
 * the sharer's onion service, announced by the service's address in a signed share record. Six
 * onion relays, a sharer and a downloader (neither a relay nor a DHT server, so nothing but the
 * onion code could link them): the downloader's `get --private` brings the right bytes from the
 * onion service while the two ends never connect; the DHT holds no provider record naming the
 * sharer; an ordinary peer asking the sharer directly (block protocol STATUS and WANT, Bitswap)
 * is told it has nothing, even a Bitswap want left before the share; the sharer's public content
 * is still served the ordinary way. After a
 * restart the sharer serves it again at the same address, to a new downloader.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import type { PeerdNode } from '../../src/node/node.ts'
import { decodeOnionAddress } from '../../src/onion/hs/address.ts'
import { PresenceType, WantType } from '../../src/share/bitswap/index.ts'
import { liveShareEntries, shareRecordKey } from '../../src/share/private/onion-record.ts'
import { decodeMessage, encode, readFrames, ROOT_STATUS } from '../../src/share/protocol.ts'
import { teardown } from '../utils/teardown.ts'
import { startTestNode, waitFor } from '../utils/index.ts'
import { bitswapClient, MiB, sha256File, writeRandomFile } from '../utils/share.ts'

const TEST = { timeout: 150_000 }

/** Records every libp2p connection `node` opens or accepts with `other`. */
function watchConnections (node: PeerdNode, other: PeerdNode): string[] {
  const seen: string[] = []
  node.libp2p.addEventListener('connection:open', (e) => {
    if (e.detail.remotePeer.toString() === other.peerId) seen.push(`${e.detail.direction} ${e.detail.remoteAddr.toString()}`)
  })
  return seen
}

/** What `to` answers `from` on one direct block stream: the ROOT status for `root`, and whether a WANT of it brought the block. */
async function askDirect (from: PeerdNode, to: PeerdNode, root: CID): Promise<{ status: number, block: boolean }> {
  const stream = await from.libp2p.dialProtocol(to.libp2p.peerId, to.share.protocol, { signal: AbortSignal.timeout(10_000) })
  let status = -1
  try {
    stream.send(encode.status(root))
    stream.send(encode.want([root]))
    for await (const body of readFrames(stream)) {
      const msg = decodeMessage(body)
      if (msg.type === 'root') status = msg.status
      if (msg.type === 'block') return { status, block: true }
      if (msg.type === 'dont-have') return { status, block: false }
    }
    throw new Error('no answer to the WANT')
  } finally {
    stream.abort(new Error('done'))
  }
}

describe('private share through an onion service', () => {
  const td = teardown()
  let relays: PeerdNode[]
  let sharer: PeerdNode
  let downloader: PeerdNode
  let dir: string
  let cid: string
  let hash: string
  let address: string
  let sharerSaw: string[]
  let downloaderSaw: string[]
  const provided: string[] = []

  before(async () => {
    dir = await td.dir()
    const first = await td.testNode({ onionRelayRate: 50_000_000 })
    const boot = first.addresses()
    relays = [first]
    for (let i = 0; i < 5; i++) relays.push(await td.testNode({ bootstrap: boot, onionRelayRate: 50_000_000 }))
    // neither end is a relay (never a hop of the other's circuits), looks for more peers or serves the DHT
    sharer = await td.testNode({ bootstrap: boot, onionRelay: false, minConnections: 0, dhtClient: true })
    downloader = await td.testNode({ bootstrap: boot, onionRelay: false, minConnections: 0, dhtClient: true })
    await waitFor(() => downloader.onion.status().relaysKnown >= 6 && sharer.onion.status().relaysKnown >= 6, { timeoutMs: 40_000, what: 'both ends to learn 6 relay descriptors' })
    await downloader.libp2p.hangUp(sharer.libp2p.peerId).catch(() => {})
    sharerSaw = watchConnections(sharer, downloader)
    downloaderSaw = watchConnections(downloader, sharer)
    const dht = sharer.libp2p.services.dht
    const { provide } = dht
    dht.provide = (key: CID, options) => { provided.push(key.toString()); return provide.call(dht, key, options) }
    const path = join(dir, 'secret')
    hash = await writeRandomFile(path, 3 * MiB)
    const shared = await sharer.share.share(path, { private: true })
    cid = shared.cid
    assert.equal(shared.private, true)
    address = shared.onion as string
    assert.match(address, /^[a-z2-7]{56}\.peerd$/)
    await waitFor(() => sharer.share.privatePublishedAt(cid) != null, { timeoutMs: 90_000, intervalMs: 250, what: 'the share record to be published' })
  })
  after(async () => { await td.run() })

  it('lists the root as privately shared with its onion address; the DHT record is signed by the address\'s key', TEST, async () => {
    const rec = (await sharer.share.ls()).find(r => r.cid === cid)
    assert.equal(rec?.private, true)
    assert.equal(rec?.onion, address)
    assert.equal(sharer.share.onionAddress, address)
    // read from a relay's DHT, as any node could: the record names the service, not the node
    const key = shareRecordKey('regtest', CID.parse(cid))
    let value: Uint8Array | undefined
    for await (const ev of (relays[3] as PeerdNode).libp2p.services.dht.get(key, { signal: AbortSignal.timeout(10_000) })) if (ev.name === 'VALUE') value = ev.value
    assert.ok(value != null, 'the share record is in the DHT')
    const entries = liveShareEntries(key, value, Math.floor(Date.now() / 1000))
    assert.deepEqual(entries.map(e => Buffer.from(e.publicKey).toString('hex')), [Buffer.from(decodeOnionAddress(address)).toString('hex')])
    assert.ok(!Buffer.from(value).includes(Buffer.from(sharer.libp2p.peerId.toMultihash().bytes)), 'the sharer\'s peer id is not in it')
  })

  it('get --private fetches it from the onion service; the sharer and the downloader never connect', TEST, async () => {
    const output = join(dir, 'out')
    const result = await downloader.share.get(cid, { output, private: true, timeoutSeconds: 90 })
    assert.equal(await sha256File(output), hash)
    assert.equal(result.private, true)
    assert.ok(sharer.share.onionServerStats().blocksSent > 0, 'the blocks went out through the onion service')
    assert.equal(sharer.share.serverStats().blocksSent, 0, 'and none on a libp2p block stream')
    assert.deepEqual(sharerSaw, [], 'the sharer opened or accepted no connection with the downloader')
    assert.deepEqual(downloaderSaw, [], 'the downloader opened or accepted no connection with the sharer')
    assert.equal(downloader.libp2p.getConnections(sharer.libp2p.peerId).length, 0)
  })

  it('names no provider: no DHT provider record, STATUS NONE, no block over the block protocol or Bitswap', TEST, async () => {
    assert.ok(!provided.includes(cid), 'the sharer announced no provider record')
    const ids = new Set<string>()
    try {
      for await (const e of (relays[1] as PeerdNode).libp2p.services.dht.findProviders(CID.parse(cid), { signal: AbortSignal.timeout(5_000) })) {
        if (e.name === 'PROVIDER') for (const p of e.providers) ids.add(p.id.toString())
      }
    } catch { /* the lookup's time is up: what it found is checked */ }
    assert.ok(!ids.has(sharer.peerId), 'no provider record names the sharer')
    const asked = await askDirect(relays[0] as PeerdNode, sharer, CID.parse(cid))
    assert.deepEqual(asked, { status: ROOT_STATUS.NONE, block: false }, 'an ordinary peer is told the sharer has neither the root nor its block')
    const { send, received } = await bitswapClient(td, sharer)
    send([{ cid: CID.parse(cid), priority: 1, cancel: false, wantType: WantType.Block, sendDontHave: true }])
    await waitFor(() => received.some(m => m.blockPresences.length > 0 || m.blocks.length > 0), { timeoutMs: 10_000, what: 'a Bitswap answer' })
    assert.deepEqual(received.flatMap(m => m.blocks), [], 'Bitswap sent no block')
    assert.ok(received.flatMap(m => m.blockPresences).every(p => p.type === PresenceType.DontHave), 'only DONT_HAVE')
  })

  it('contrast: content the sharer shares in the open is announced and served on a direct stream', TEST, async () => {
    const path = join(dir, 'public')
    await writeRandomFile(path, 256 * 1024)
    const shared = await sharer.share.share(path)
    assert.equal(shared.private, undefined)
    const asked = await askDirect(relays[0] as PeerdNode, sharer, CID.parse(shared.cid))
    assert.deepEqual(asked, { status: ROOT_STATUS.COMPLETE, block: true })
    await waitFor(() => provided.includes(shared.cid), { timeoutMs: 10_000, what: 'the public root to be announced' })
  })

  it('a Bitswap want left with the sharer before a private share is never answered by it', TEST, async () => {
    // one raw leaf: its CID is the hash of the bytes, known before the import
    const bytes = new Uint8Array(randomBytes(64 * 1024))
    const leaf = CID.create(1, raw.code, await sha256.digest(bytes))
    const { send, received } = await bitswapClient(td, sharer)
    send([{ cid: leaf, priority: 1, cancel: false, wantType: WantType.Block, sendDontHave: false }, { cid: leaf, priority: 1, cancel: false, wantType: WantType.Have, sendDontHave: false }])
    await new Promise(resolve => setTimeout(resolve, 300)) // the want reaches the sharer's ledger
    const path = join(dir, 'wanted')
    await writeFile(path, bytes)
    const shared = await sharer.share.share(path, { private: true })
    assert.equal(shared.cid, leaf.toString())
    await new Promise(resolve => setTimeout(resolve, 1_000))
    assert.deepEqual(received.flatMap(m => m.blocks), [], 'no block sent')
    assert.ok(received.flatMap(m => m.blockPresences).every(p => p.type === PresenceType.DontHave), 'no HAVE sent')
  })

  it('after a restart the sharer serves it at the same address again and still withholds it', TEST, async () => {
    const dataDir = sharer.paths.root
    await sharer.stop()
    const boot = (relays[0] as PeerdNode).addresses()
    sharer = td.node(await startTestNode({ dataDir, bootstrap: boot, onionRelay: false, minConnections: 0, dhtClient: true }))
    await waitFor(() => sharer.share.onionAddress != null, { timeoutMs: 60_000, what: 'the share service to be hosted again' })
    assert.equal(sharer.share.onionAddress, address)
    assert.equal((await sharer.share.ls()).find(r => r.cid === cid)?.onion, address)
    await waitFor(() => sharer.share.privatePublishedAt(cid) != null, { timeoutMs: 90_000, intervalMs: 250, what: 'the share record to be published again' })
    assert.deepEqual(await askDirect(relays[0] as PeerdNode, sharer, CID.parse(cid)), { status: ROOT_STATUS.NONE, block: false })
    const fresh = await td.testNode({ bootstrap: boot, onionRelay: false, minConnections: 0, dhtClient: true })
    await waitFor(() => fresh.onion.status().relaysKnown >= 6, { timeoutMs: 40_000, what: 'the new downloader to learn the relays' })
    await fresh.libp2p.hangUp(sharer.libp2p.peerId).catch(() => {})
    const saw = watchConnections(fresh, sharer)
    const output = join(dir, 'out-after-restart')
    await fresh.share.get(cid, { output, private: true, timeoutSeconds: 90 })
    assert.equal(await sha256File(output), hash)
    assert.ok(sharer.share.onionServerStats().blocksSent > 0)
    assert.deepEqual(saw, [])
  })
})
