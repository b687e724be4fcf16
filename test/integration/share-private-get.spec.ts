/**
 * A private get (issue 17, point 7): seven regtest nodes on loopback — four onion relays, two
 * providers sharing the same file, and a downloader that is an onion client only. The private
 * get must bring the right bytes from both providers while neither provider ever has a libp2p
 * connection to the downloader (watched on both sides, events and lists, for the whole transfer),
 * the downloader asks its DHT for no provider of the CID and announces nothing. The same checks
 * on a direct get of a second file must see the connections and the DHT query, so they can fail.
 */
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import type { Connection } from '@libp2p/interface'
import { CID } from 'multiformats/cid'
import type { PeerdNode } from '../../src/node/node.ts'
import { lookupProtocol } from '../../src/share/private/lookup-protocol.ts'
import { decodeMessage, encode, readFrames, ROOT_STATUS } from '../../src/share/protocol.ts'
import { teardown } from '../utils/teardown.ts'
import { waitFor } from '../utils/index.ts'
import { MiB, sha256File, writeRandomFile } from '../utils/share.ts'

const TEST = { timeout: 60_000 }

/**
 * Every connection between the downloader and the providers while it runs, seen from either side,
 * and the peers each provider's block streams came from.
 */
function watchConnections (downloader: PeerdNode, providers: PeerdNode[]): { seen: () => string[], blockStreamsFrom: Map<string, Set<string>>, stop: () => void } {
  const ids = new Set(providers.map(p => p.peerId))
  const seen: string[] = []
  const blockStreamsFrom = new Map(providers.map(p => [p.peerId, new Set<string>()]))
  const onOpen = (side: string) => (evt: CustomEvent<Connection>): void => {
    const remote = evt.detail.remotePeer.toString()
    if ((side === 'downloader' && ids.has(remote)) || (side !== 'downloader' && remote === downloader.peerId)) seen.push(`${side} event ${remote}`)
  }
  const listeners = [downloader, ...providers].map(n => {
    const fn = onOpen(n === downloader ? 'downloader' : n.peerId)
    n.libp2p.addEventListener('connection:open', fn)
    return () => { n.libp2p.removeEventListener('connection:open', fn) }
  })
  const poll = (): void => {
    for (const c of downloader.libp2p.getConnections()) if (ids.has(c.remotePeer.toString())) seen.push(`downloader list ${c.remotePeer.toString()}`)
    for (const p of providers) {
      for (const c of p.libp2p.getConnections()) {
        if (c.remotePeer.toString() === downloader.peerId) seen.push(`provider ${p.peerId} list`)
        if (c.streams.some(s => s.protocol === p.share.protocol)) blockStreamsFrom.get(p.peerId)?.add(c.remotePeer.toString())
      }
    }
  }
  poll()
  const timer = setInterval(poll, 25)
  return { seen: () => { poll(); return seen }, blockStreamsFrom, stop: () => { clearInterval(timer); for (const off of listeners) off() } }
}

/** The root status `to` answers `from` for `root` on the block protocol. */
async function askStatus (from: PeerdNode, to: PeerdNode, root: CID): Promise<number> {
  const stream = await from.libp2p.dialProtocol(to.libp2p.peerId, to.share.protocol, { signal: AbortSignal.timeout(10_000) })
  try {
    stream.send(encode.status(root))
    for await (const body of readFrames(stream)) {
      const msg = decodeMessage(body)
      if (msg.type === 'root') return msg.status
    }
    throw new Error('no ROOT answer')
  } finally {
    stream.abort(new Error('done'))
  }
}

/** Whether `a` has no connection to `b` and no dial to it pending. */
function apart (a: PeerdNode, b: PeerdNode): boolean {
  return a.libp2p.getConnections(b.libp2p.peerId).length === 0 && !a.libp2p.getDialQueue().some(d => d.peerId?.equals(b.libp2p.peerId) === true || d.multiaddrs.some(m => m.toString().endsWith(b.peerId)))
}

/** Records every share protocol stream (blocks, provider lookups) `node` opens to one of `targets`. */
function spyShareDials (node: PeerdNode, targets: PeerdNode[]): { tried: string[], restore: () => void } {
  const ids = new Set(targets.map(t => t.peerId))
  const share = new Set([node.share.protocol, lookupProtocol(node.config.network)])
  const host = node.libp2p
  const tried: string[] = []
  const { dialProtocol } = host
  host.dialProtocol = async (to, protocols, options) => {
    const id = String(to.toString()).split('/p2p/').pop() ?? ''
    const list = Array.isArray(protocols) ? protocols : [protocols]
    if (ids.has(id) && list.some(p => share.has(p))) tried.push(`${id} ${list.join(',')}`)
    return await dialProtocol.call(host, to, protocols, options)
  }
  return { tried, restore: () => { host.dialProtocol = dialProtocol } }
}

/** Records the CIDs the node's DHT is asked for providers of, and those it announces. */
function spyDht (node: PeerdNode): { found: string[], provided: string[], restore: () => void } {
  const dht = node.libp2p.services.dht
  const found: string[] = []
  const provided: string[] = []
  const { findProviders, provide } = dht
  dht.findProviders = (key: CID, options) => { found.push(key.toString()); return findProviders.call(dht, key, options) }
  dht.provide = (key: CID, options) => { provided.push(key.toString()); return provide.call(dht, key, options) }
  return { found, provided, restore: () => { dht.findProviders = findProviders; dht.provide = provide } }
}

describe('private get through onion circuits', () => {
  const td = teardown()
  let relays: PeerdNode[]
  let providers: PeerdNode[]
  let downloader: PeerdNode
  let dir: string
  const files: Array<{ cid: string, hash: string }> = []

  before(async () => {
    dir = await td.dir()
    const first = await td.testNode({ onionRelayRate: 50_000_000 })
    const boot = first.addresses()
    relays = [first]
    for (let i = 0; i < 3; i++) relays.push(await td.testNode({ bootstrap: boot, onionRelayRate: 50_000_000 }))
    // providers and downloader keep to their bootstrap peers (minConnections 0): no keeper dials between them
    providers = [
      await td.testNode({ bootstrap: boot, onionRelay: false, minConnections: 0 }),
      await td.testNode({ bootstrap: boot, onionRelay: false, minConnections: 0 })
    ]
    for (const [i, size] of [[0, 6 * MiB], [1, 4 * MiB]] as const) {
      const path = join(dir, `file-${i}`)
      const hash = await writeRandomFile(path, size)
      const shared = await Promise.all(providers.map(async p => await p.share.share(path)))
      assert.equal(shared[0]?.cid, shared[1]?.cid)
      files.push({ cid: shared[0]?.cid as string, hash })
    }
    // both provider records are in the DHT (asked from a relay, not from the downloader)
    for (const { cid } of files) {
      await waitFor(async () => {
        const ids = new Set<string>()
        for await (const e of (relays[1] as PeerdNode).libp2p.services.dht.findProviders(CID.parse(cid), { signal: AbortSignal.timeout(5_000) })) {
          if (e.name === 'PROVIDER') for (const p of e.providers) ids.add(p.id.toString())
        }
        return providers.every(p => ids.has(p.peerId))
      }, { timeoutMs: 20_000, intervalMs: 500, what: 'both providers in the DHT' })
    }
    downloader = await td.testNode({ bootstrap: relays.flatMap(r => r.addresses()), onionRelay: false, minConnections: 0 })
    // the DHT's self-query runs a second after start (then every 5 min) and dials the peers closest to this node's id
    const selfQuery = once(downloader.libp2p as unknown as EventTarget, 'kad-dht:query:self', { signal: AbortSignal.timeout(30_000) })
    downloader.share.attachOnion(downloader.onion)
    await waitFor(() => downloader.onion.status().relaysKnown >= 4, { timeoutMs: 30_000, what: 'the downloader to learn the 4 relays' })
    await selfQuery
  })
  after(async () => { await td.run() })

  it('fetches the file from both providers through circuits; no provider ever connects to the downloader', TEST, async () => {
    const { cid, hash } = files[0] as { cid: string, hash: string }
    // In seven nodes every node is one of every other's 20 DHT-closest peers, which kad-dht keeps
    // connected (keep-alive tags, pings, redials); in a real network a provider is rarely one of a
    // downloader's. As there: the downloader and the providers refuse each other for the transfer
    // (`peerd disconnect` on each side), so the blocks can only come through relays, and the spies
    // below show that nothing on the downloader tried the direct way.
    for (const p of providers) {
      await downloader.disconnect(p.peerId)
      await p.disconnect(downloader.peerId)
    }
    // and no dial between them is still under way (one that passed the gater before the bans)
    await waitFor(() => providers.every(p => apart(downloader, p) && apart(p, downloader)), { timeoutMs: 10_000, what: 'no connection or dial left between the downloader and the providers' })
    const dials = spyShareDials(downloader, providers)
    const sentBefore = providers.map(p => p.share.serverStats().blocksSent)
    const dht = spyDht(downloader)
    const watch = watchConnections(downloader, providers)
    const marked: boolean[] = []
    const circuitIds = new Set<string>()
    const sampler = setInterval(() => {
      for (const t of downloader.share.transfers()) if (t.cid === cid) marked.push(t.private)
      for (const c of downloader.onion.circuits()) if (c.purpose === 'peerd' && c.state === 'open') circuitIds.add(c.id)
    }, 50)
    try {
      const output = join(dir, 'private-out')
      const result = await downloader.share.get(cid, { output, private: true, timeoutSeconds: 40 })
      assert.equal(await sha256File(output), hash)
      assert.equal(result.private, true)
      assert.equal(result.peers, 2, 'blocks came from both providers')
    } finally {
      clearInterval(sampler)
      watch.stop()
      dht.restore()
      dials.restore()
    }
    assert.deepEqual(watch.seen(), [], 'no direct connection between the downloader and a provider')
    assert.deepEqual(dials.tried, [], 'the downloader opened no block or lookup stream to a provider')
    const served = providers.map((p, i) => p.share.serverStats().blocksSent - (sentBefore[i] as number))
    assert.ok(served.every(n => n > 0), `blocks served per provider: ${served.join(', ')}`)
    // each provider's block streams came from relays (the last hop of a circuit), never the downloader
    const relayIds = new Set(relays.map(r => r.peerId))
    for (const [provider, from] of watch.blockStreamsFrom) {
      assert.ok(from.size > 0 && [...from].every(id => relayIds.has(id)), `${provider}'s block streams came from ${[...from].join(', ')}`)
    }
    assert.ok(!dht.found.includes(cid), 'the downloader asked its DHT for no provider of the CID')
    assert.ok(!dht.provided.includes(cid), 'nor announced it')
    assert.ok(marked.length > 0 && marked.every(m => m), 'the transfer is listed as private')
    // the streams came through circuits, each provider's its own, ending at relays; retired once the transfer ended
    assert.ok(circuitIds.size >= 4, `${circuitIds.size} circuits: at least 2 lookups and 2 providers`)
    await waitFor(() => downloader.onion.circuits().filter(c => circuitIds.has(c.id) && c.state === 'open' && !c.dirty).length === 0, { timeoutMs: 10_000, what: 'the transfer\'s circuits to be retired' })
    const rec = (await downloader.share.ls()).find(r => r.cid === cid)
    assert.equal(rec?.private, true)
    assert.equal(rec?.complete, true)
    // asked by a peer, the downloader says it does not have it
    assert.equal(await askStatus(relays[0] as PeerdNode, downloader, CID.parse(cid)), ROOT_STATUS.NONE)
    assert.equal(await askStatus(relays[0] as PeerdNode, providers[0] as PeerdNode, CID.parse(cid)), ROOT_STATUS.COMPLETE)
    // two helpers at least answered the lookups (asked through circuits: any node but the downloader)
    await waitFor(() => [...relays, ...providers].reduce((n, r) => n + r.share.lookupStats().answered, 0) >= 2, { timeoutMs: 20_000, what: 'two helpers to answer' })
  })

  it('contrast: a direct get of the other file connects to the providers and asks the DHT', TEST, async () => {
    const { cid, hash } = files[1] as { cid: string, hash: string }
    for (const p of providers) {
      downloader.unban(p.peerId)
      p.unban(downloader.peerId)
    }
    const dht = spyDht(downloader)
    const dials = spyShareDials(downloader, providers)
    const watch = watchConnections(downloader, providers)
    try {
      const output = join(dir, 'direct-out')
      const result = await downloader.share.get(cid, { output, timeoutSeconds: 40 })
      assert.equal(await sha256File(output), hash)
      assert.equal(result.private, false)
    } finally {
      watch.stop()
      dht.restore()
      dials.restore()
    }
    assert.ok(watch.seen().length > 0, 'the direct get connected to a provider')
    assert.ok(dials.tried.length > 0, 'and opened block streams to the providers')
    assert.ok([...watch.blockStreamsFrom.values()].some(from => from.has(downloader.peerId)), 'and a provider served it on a block stream from the downloader')
    assert.ok(dht.found.includes(cid), 'and asked the DHT for providers of the CID')
  })
})
