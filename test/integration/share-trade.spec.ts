/**
 * Downloaders of one file trade with each other: a node that is downloading a root announces
 * the blocks it holds (ROOT ANNOUNCING, then HAVE as blocks arrive, then ROOT COMPLETE); a
 * second downloader fetches those blocks from it and asks the seeder only for the others
 * (rarest first), so the seeder's uplink carries each block about once.
 *
 * The seeder and a "gate" provider are peerd nodes whose block handler is replaced by the test:
 * the seeder serves everything and records who asked for what; the gate serves the root and the
 * first few blocks it is asked for and holds every later want, so the first downloader stays
 * part-way for as long as the test needs.
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { before, describe, it } from 'node:test'
import type { Connection, Stream } from '@libp2p/interface'
import { CID } from 'multiformats/cid'
import { waitForDrain } from '../../src/net/drain.ts'
import type { PeerdNode } from '../../src/node/node.ts'
import { blockKey } from '../../src/share/block.ts'
import type { FsBlockstore } from '../../src/share/blockstore.ts'
import { decodeMessage, encode, readFrames, ROOT_STATUS } from '../../src/share/protocol.ts'
import type { Message } from '../../src/share/protocol.ts'
import { waitFor } from '../utils/index.ts'
import { MiB, sha256File, waitForBlockProtocol, withBlockHandler, writeRandomFile } from '../utils/share.ts'
import { teardown } from '../utils/teardown.ts'

const TEST = { timeout: 90_000 }

/** What a fake provider was asked for (by peer) and sent. */
interface Log { wants: Map<string, Set<string>>, sent: Set<string>, leaves: number }

/**
 * Serves blocks from `source`: all of them, or (with `release`) only the first `release` leaves
 * asked for; waits `firstBlockMs` before its first block.
 */
function provider (source: FsBlockstore, log: Log, options: { release?: number, firstBlockMs?: number } = {}): (stream: Stream, connection: Connection) => void {
  const { release, firstBlockMs = 0 } = options
  return (stream, connection) => {
    const from = connection.remotePeer.toString()
    void (async () => {
      try {
        for await (const body of readFrames(stream)) {
          const msg = decodeMessage(body)
          if (msg.type === 'status') {
            stream.send(encode.root(msg.cid, ROOT_STATUS.COMPLETE))
          } else if (msg.type === 'want') {
            for (const cid of msg.cids) {
              const key = blockKey(cid)
              const wanted = log.wants.get(from) ?? new Set()
              wanted.add(key)
              log.wants.set(from, wanted)
              if (release != null && cid.code === 0x55 && log.leaves >= release) continue // held for good
              if (log.sent.size === 0) await new Promise(resolve => setTimeout(resolve, firstBlockMs))
              log.sent.add(key)
              if (cid.code === 0x55) log.leaves++
              if (!stream.send(encode.block(cid, await source.getBytes(cid)))) await waitForDrain(stream)
            }
          }
        }
      } catch (err) {
        stream.abort(err as Error)
      }
    })()
  }
}

/** Reads a server's answers to one STATUS, as a downloader would. */
async function askStatus (from: PeerdNode, to: PeerdNode, root: CID): Promise<{ messages: Message[], stream: Stream }> {
  const stream = await from.libp2p.dialProtocol(to.libp2p.peerId, to.share.protocol)
  const messages: Message[] = []
  void (async () => {
    try {
      for await (const body of readFrames(stream)) messages.push(decodeMessage(body))
    } catch {
      // closed by the test
    }
  })()
  stream.send(encode.status(root))
  return { messages, stream }
}

const announced = (messages: Message[]): Set<string> =>
  new Set(messages.flatMap(m => m.type === 'have' ? m.cids.map(blockKey) : []))

describe('downloaders trade blocks', () => {
  const td = teardown()
  let root: string
  let source: PeerdNode

  before(async () => {
    root = await td.dir('peerd-share-trade-')
    source = await td.testNode() // holds the file; connected to nobody
  })

  it('a downloader announces what it holds, serves it to another downloader, and the seeder is asked only for the rest', TEST, async () => {
    const file = join(root, 'data-8m.bin')
    const digest = await writeRandomFile(file, 8 * MiB)
    const { cid } = await source.share.share(file)
    const rootCid = CID.parse(cid)

    const gateLog: Log = { wants: new Map(), sent: new Set(), leaves: 0 }
    const seedLog: Log = { wants: new Map(), sent: new Set(), leaves: 0 }
    const gate = await withBlockHandler(await td.testNode(), provider(source.share.blockstore, gateLog, { release: 3 }))
    // the seeder answers at once but sends its first block (the root, asked before B has
    // answered) a moment later: C then knows what B holds before it picks any leaf
    const seeder = await withBlockHandler(await td.testNode(), provider(source.share.blockstore, seedLog, { firstBlockMs: 300 }))
    const [b, c, t] = await Promise.all([td.testNode(), td.testNode(), td.testNode()])

    // B downloads through the gate alone and stops at the root and three leaves
    await b.connect(gate.addresses()[0] as string)
    await waitForBlockProtocol(b, gate)
    const outB = join(root, 'out-b', 'data-8m.bin')
    const getB = b.share.get(cid, { output: outB, timeoutSeconds: 60 })
    getB.catch(() => {})
    await waitFor(() => (b.share.progressOf(cid)?.blocks ?? 0) >= 4, { what: 'B to hold the root and three leaves' })
    const early = new Set(gateLog.sent)
    assert.equal(early.size, 4)

    // asked about the root, B says it is downloading it and lists what it holds
    await t.connect(b.addresses()[0] as string)
    await waitForBlockProtocol(t, b)
    const watcher = await askStatus(t, b, rootCid)
    await waitFor(() => announced(watcher.messages).size >= 4, { what: 'B to announce its blocks' })
    const first = watcher.messages[0]
    assert.deepEqual(first?.type === 'root' ? first.status : first?.type, ROOT_STATUS.ANNOUNCING)
    assert.deepEqual([...announced(watcher.messages)].sort(), [...early].sort())

    // C, connected to B and the seeder, fetches B's leaves from B and only the others from the seeder
    await c.connect(seeder.addresses()[0] as string)
    await c.connect(b.addresses()[0] as string)
    await Promise.all([waitForBlockProtocol(c, b), waitForBlockProtocol(c, seeder)])
    const servedByB = b.share.serverStats().blocksSent
    const outC = join(root, 'out-c', 'data-8m.bin')
    const gotC = await c.share.get(cid, { output: outC, timeoutSeconds: 60 })
    assert.equal(await sha256File(outC), digest)
    const askedOfSeeder = seedLog.wants.get(c.peerId) ?? new Set()
    const earlyLeaves = [...early].filter(k => k !== blockKey(rootCid))
    assert.deepEqual(earlyLeaves.filter(k => askedOfSeeder.has(k)), [], 'C asked the seeder for leaves B had announced')
    assert.ok(b.share.serverStats().blocksSent - servedByB >= 3, `B served C ${b.share.serverStats().blocksSent - servedByB} blocks`)
    assert.equal(gotC.peers, 2)

    // B gets the rest from C (now complete), not from the gate, and announces everything, then COMPLETE
    const gotB = await getB
    assert.equal(await sha256File(outB), digest)
    assert.equal(gotB.size, 8 * MiB)
    await waitFor(() => watcher.messages.some(m => m.type === 'root' && m.status === ROOT_STATUS.COMPLETE), { what: 'B to say it is complete' })
    assert.equal(announced(watcher.messages).size, 9, 'B announced every block (root and 8 leaves)')
    const last = watcher.messages.at(-1)
    assert.equal(last?.type === 'root' ? last.status : undefined, ROOT_STATUS.COMPLETE, 'COMPLETE comes after the last HAVE')
    assert.equal(gateLog.sent.size, 4, 'the gate served nothing more')
    watcher.stream.abort(new Error('done'))
  })
})
