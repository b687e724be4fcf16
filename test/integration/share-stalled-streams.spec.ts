/**
 * Peers that ask for blocks and never read cannot make a serving node grow its memory much:
 * a daemon process under 64 block streams × 1,024 wants of one 1 MiB block grows its resident
 * set by less than 64 MiB (the streams past the limit are reset and the peer is banned), and in
 * a node under hostile peers that stay within the stream limit (and a Bitswap peer that wants
 * the block over and over) the block data held on its way out stays within the send budget,
 * each stream is sent the block once, and an honest download completes meanwhile.
 */
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { before, describe, it } from 'node:test'
import { peerIdFromString } from '@libp2p/peer-id'
import type { PeerId, Stream } from '@libp2p/interface'
import { CID } from 'multiformats/cid'
import type { PeerdNode } from '../../src/node/node.ts'
import * as lp from 'it-length-prefixed'
import { BITSWAP_120 } from '../../src/share/bitswap/constants.ts'
import { encodeMessage, WantType } from '../../src/share/bitswap/message.ts'
import type { ByteBudget } from '../../src/net/byte-budget.ts'
import { MAX_BLOCK_SIZE } from '../../src/share/block.ts'
import { MAX_STREAMS_PER_PEER } from '../../src/share/server.ts'
import { encode, MAX_WANTS } from '../../src/share/protocol.ts'
import { cliJson, startDaemonProcess, waitFor } from '../utils/index.ts'
import type { DaemonProcess } from '../utils/index.ts'
import { MiB, sha256File, tcpAddress, waitForBlockProtocol, writeRandomFile } from '../utils/share.ts'
import { teardown } from '../utils/teardown.ts'

const TEST = { timeout: 60_000 }
const STREAMS = 64
const WANTS_PER_STREAM = 1024

/** Resolves after `ms` of wall time: the length of a measurement, not a wait for something to settle. */
async function sampleFor (ms: number): Promise<void> {
  await new Promise(resolve => setTimeout(resolve, ms))
}

/** The resident set of process `pid`, in bytes, from /proc. */
async function rss (pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8')
  const kb = /^VmRSS:\s+(\d+) kB/m.exec(status)?.[1]
  if (kb == null) throw new Error(`no VmRSS in /proc/${pid}/status`)
  return Number(kb) * 1024
}

/** Opens `n` block streams from `from` to `to`, each asking 1,024 times for `cid` and never reading; returns those not refused. */
async function stall (from: PeerdNode, to: PeerId, protocol: string, cid: string, n: number): Promise<{ streams: Stream[], refused: number }> {
  const want = encode.want(Array.from({ length: MAX_WANTS }, () => CID.parse(cid)))
  const streams: Stream[] = []
  let refused = 0
  await Promise.all(Array.from({ length: n }, async () => {
    try {
      const s = await from.libp2p.dialProtocol(to, protocol, { maxOutboundStreams: n * 2 })
      s.pause() // never read: what the server sends waits in its buffers (and the window)
      for (let i = 0; i < WANTS_PER_STREAM / MAX_WANTS; i++) s.send(want)
      streams.push(s)
    } catch {
      refused++ // a stream the server refused or reset
    }
  }))
  return { streams, refused }
}

describe('stalled block streams (daemon process)', () => {
  const td = teardown()
  let root: string
  let daemon: DaemonProcess
  let hostile: PeerdNode
  let honest: PeerdNode

  before(async () => {
    root = await td.dir('peerd-share-stalled-')
    daemon = td.daemon(await startDaemonProcess(join(root, 'daemon')))
    ;[hostile, honest] = await Promise.all([td.testNode(), td.testNode()])
  })

  it('64 streams × 1,024 wants of one 1 MiB block, never read, grow the daemon by < 64 MiB; an honest download completes meanwhile', TEST, async (t) => {
    // one chunk of 1 MiB: the root is that raw block
    const bait = join(root, 'bait.bin')
    await writeRandomFile(bait, MiB)
    const { cid: baitCid } = await cliJson<{ cid: string }>(['share', bait, '--data-dir', daemon.dataDir])
    const files = [join(root, 'warm.bin'), join(root, 'file.bin')]
    const digests = await Promise.all(files.map(async f => await writeRandomFile(f, 8 * MiB)))
    const cids: string[] = []
    for (const f of files) cids.push((await cliJson<{ cid: string }>(['share', f, '--data-dir', daemon.dataDir])).cid)

    await honest.connect(tcpAddress(daemon))
    await hostile.connect(tcpAddress(daemon))
    const daemonId = peerIdFromString(daemon.peerId)
    await waitFor(async () => (await hostile.libp2p.peerStore.get(daemonId)).protocols.includes(hostile.share.protocol), { what: 'identify of the daemon' })
    // a first download warms the daemon's serving path, so the baseline includes it
    const warm = await honest.share.get(cids[0] as string, { output: join(root, 'out', 'warm.bin'), timeoutSeconds: 20 })
    assert.equal(await sha256File(join(root, 'out', 'warm.bin')), digests[0])
    assert.equal(warm.peers, 1)
    const base = await rss(daemon.child.pid as number)

    let peak = base
    let sampling = true
    // sampled through the attack, the honest download, and two seconds more
    const sampler = (async () => {
      while (sampling) {
        peak = Math.max(peak, await rss(daemon.child.pid as number).catch(() => 0))
        await new Promise(resolve => setTimeout(resolve, 50))
      }
    })()
    let attack: { streams: Stream[], refused: number } = { streams: [], refused: 0 }
    const seen = { resetLater: 0 }
    try {
      attack = await stall(hostile, daemonId, hostile.share.protocol, baitCid, STREAMS)
      const out = join(root, 'out', 'file.bin')
      const got = await honest.share.get(cids[1] as string, { output: out, timeoutSeconds: 20 })
      assert.equal(await sha256File(out), digests[1])
      assert.equal(got.peers, 1)
      await sampleFor(2_000)
      // a reset can reach the client after its negotiation finished (how soon depends on how the
      // transport batches writes): count those with the streams refused outright
      seen.resetLater = attack.streams.filter(s => s.status !== 'open').length
    } finally {
      sampling = false
      await sampler
      for (const s of attack.streams) s.abort(new Error('done'))
    }
    const grew = (peak - base) / MiB
    const refused = attack.refused + seen.resetLater
    t.diagnostic(`daemon RSS ${(base / MiB).toFixed(0)} MiB, peak under attack +${grew.toFixed(1)} MiB; ${refused} of ${STREAMS} streams refused or reset (${attack.refused} at once)`)
    assert.ok(grew < 64, `the daemon's resident set grew by ${grew.toFixed(1)} MiB (from ${(base / MiB).toFixed(0)} MiB) under the attack`)
    // at most 8 open at once: most were reset (some admitted as others ended, before the ban)
    assert.ok(refused >= STREAMS / 2, `only ${refused} of ${STREAMS} streams were refused or reset`)
    // a peer that keeps opening streams past the limit is banned
    await waitFor(() => hostile.libp2p.getConnections(daemonId).length === 0, { what: 'the daemon to hang up on the hostile peer' })
  })
})

describe('stalled block streams within the limits (in-process nodes)', () => {
  const td = teardown()

  it('hostile peers at the stream limit and a Bitswap peer that never reads: held block data stays within the budget, each stream gets the block once, an honest download completes', TEST, async (t) => {
    const root = await td.dir('peerd-share-stalled-in-')
    const [a, h1, h2, h3, honest] = await Promise.all([td.testNode(), td.testNode(), td.testNode(), td.testNode(), td.testNode()])
    const bait = join(root, 'bait.bin')
    await writeRandomFile(bait, MiB)
    const { cid: baitCid } = await a.share.share(bait)
    const file = join(root, 'file.bin')
    const digest = await writeRandomFile(file, 8 * MiB)
    const { cid } = await a.share.share(file)
    for (const n of [h1, h2, h3, honest]) await n.connect(a.addresses()[0] as string)
    await Promise.all([h1, h2, honest].map(async n => { await waitForBlockProtocol(n, a) }))

    // h3 speaks Bitswap but never reads what A sends it
    await h3.share.bitswap.stop()
    await h3.libp2p.handle(BITSWAP_120, (stream) => { stream.pause() }, { maxInboundStreams: 64 })

    // undefined before the budget existed: the test then fails on what was sent, not on a TypeError
    const budget = a.share.sendBudget as ByteBudget | undefined
    const peak = { total: 0, peer: 0 }
    const hostileIds = [h1, h2, h3].map(n => n.libp2p.peerId.toString())
    let sampling = true
    const sampler = (async () => {
      while (sampling) {
        peak.total = Math.max(peak.total, budget?.used() ?? 0)
        for (const id of hostileIds) peak.peer = Math.max(peak.peer, budget?.used(id) ?? 0)
        await new Promise(resolve => setTimeout(resolve, 5))
      }
    })()
    const sentBefore = a.share.serverStats().blocksSent
    const streams: Stream[] = []
    try {
      for (const h of [h1, h2]) {
        const attack = await stall(h, a.libp2p.peerId, a.share.protocol, baitCid, MAX_STREAMS_PER_PEER)
        assert.equal(attack.refused, 0, 'a stream within the limit was refused')
        streams.push(...attack.streams)
      }
      const bs = await h3.libp2p.dialProtocol(a.libp2p.peerId, BITSWAP_120)
      const entries = [{ cid: CID.parse(baitCid), priority: 1, cancel: false, wantType: WantType.Block, sendDontHave: false }]
      for (let i = 0; i < 64; i++) bs.send(lp.encode.single(encodeMessage({ wantlist: { entries, full: false }, blocks: [], blockPresences: [], pendingBytes: 0 })))
      streams.push(bs)

      const got = await honest.share.get(cid, { output: join(root, 'out', 'file.bin'), timeoutSeconds: 20 })
      assert.equal(await sha256File(join(root, 'out', 'file.bin')), digest)
      assert.equal(got.peers, 1)
      await sampleFor(1_000)
    } finally {
      sampling = false
      await sampler
      for (const s of streams) s.abort(new Error('done'))
    }
    const sent = a.share.serverStats().blocksSent - sentBefore
    t.diagnostic(`held at most ${(peak.total / MiB).toFixed(1)} MiB in all, ${(peak.peer / MiB).toFixed(1)} MiB for one hostile peer; ${sent} blocks sent on the block protocol, ${a.share.bitswap.stats().blocksSent} over Bitswap`)
    // the honest file is 8 leaves and a root; each hostile stream asked 1,024 times for one block
    assert.ok(sent <= 9 + 2 * MAX_STREAMS_PER_PEER, `${sent} blocks sent: a block asked for again while queued was sent again`)
    assert.ok(budget != null && peak.peer > 0, 'the hostile peers never held any budget: the test measured nothing')
    assert.ok(peak.total <= budget.total, `${peak.total} bytes held in all, over the budget of ${budget.total}`)
    assert.ok(peak.peer <= budget.perPeer + MAX_BLOCK_SIZE, `${peak.peer} bytes held for one peer, over its budget of ${budget.perPeer}`)
    for (const h of [h1, h2]) assert.equal(a.scores.score(h.peerId), 0, 'a peer within the limits was penalised')
    // A's own stream to h3 waits for a drain that never comes, until h3 leaves
    await a.libp2p.hangUp(h3.libp2p.peerId)
    await waitFor(() => budget.used() === 0, { what: 'the budget to be given back once the streams ended' })
  })
})
