/**
 * Hostile peers on the block protocol cannot spoil a download: a provider that answers every
 * want with a corrupted block is caught by verification, banned and disconnected while the
 * download completes from an honest provider; a peer that sends garbage frames (as a provider
 * and as a downloader) is penalised and the downloader keeps working and serving.
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { before, describe, it } from 'node:test'
import type { Stream } from '@libp2p/interface'
import { CID } from 'multiformats/cid'
import * as varint from 'uint8-varint'
import type { PeerdNode } from '../../src/node/node.ts'
import type { FsBlockstore } from '../../src/share/blockstore.ts'
import { decodeMessage, encode, MAX_FRAME, readFrames, ROOT_STATUS } from '../../src/share/protocol.ts'
import { isConnected, waitFor } from '../utils/index.ts'
import { MiB, sha256File, waitForBlockProtocol, withBlockHandler, writeRandomFile } from '../utils/share.ts'
import { teardown } from '../utils/teardown.ts'

const TEST = { timeout: 60_000 }

/** What a fake provider was asked for and sent. */
interface FakeStats { statuses: number, wants: number, blocksSent: number }

/**
 * A provider that claims to hold every root and answers every WANT with a BLOCK frame that
 * carries the right CID but the real block's bytes with one byte flipped.
 */
function corruptingProvider (source: FsBlockstore, stats: FakeStats): (stream: Stream) => void {
  return (stream) => {
    void (async () => {
      try {
        for await (const body of readFrames(stream)) {
          const msg = decodeMessage(body)
          if (msg.type === 'status') {
            stats.statuses++
            stream.send(encode.root(msg.cid, ROOT_STATUS.COMPLETE))
          } else if (msg.type === 'want') {
            for (const cid of msg.cids) {
              stats.wants++
              const bytes = Uint8Array.from(await source.getBytes(cid))
              const i = bytes.length >> 1
              bytes[i] = (bytes[i] ?? 0) ^ 0xff
              if (!stream.send(encode.block(cid, bytes))) await stream.onDrain()
              stats.blocksSent++
            }
          }
        }
      } catch (err) {
        // the downloader hung up on us, or we lack the block: either way, end the stream
        stream.abort(err as Error)
      }
    })()
  }
}

/** A provider that answers the first frame it gets with a frame of an unknown message type. */
function garbageProvider (stats: FakeStats): (stream: Stream) => void {
  return (stream) => {
    void (async () => {
      try {
        for await (const _ of readFrames(stream)) {
          stats.statuses++
          stream.send(Uint8Array.of(4, 0x7f, 0xde, 0xad, 0x00))
        }
      } catch {
        // the downloader hung up on us
      }
    })()
  }
}

describe('hostile peers on the block protocol', () => {
  const td = teardown()
  let root: string
  let a: PeerdNode
  let c: PeerdNode

  before(async () => {
    root = await td.dir('peerd-share-hostile-')
    ;[a, c] = await Promise.all([td.testNode(), td.testNode()])
  })

  it('a provider sending corrupted blocks is banned and disconnected; the download completes from the honest one', TEST, async () => {
    const file = join(root, 'data-8m.bin')
    const digest = await writeRandomFile(file, 8 * MiB)
    const { cid } = await a.share.share(file)

    const stats: FakeStats = { statuses: 0, wants: 0, blocksSent: 0 }
    const hostile = await withBlockHandler(await td.testNode(), corruptingProvider(a.share.blockstore, stats))
    await c.connect(hostile.addresses()[0] as string)
    await c.connect(a.addresses()[0] as string)
    await Promise.all([waitForBlockProtocol(c, hostile), waitForBlockProtocol(c, a)])

    const out = join(root, 'out', 'data-8m.bin')
    const got = await c.share.get(cid, { output: out, timeoutSeconds: 20 })
    assert.equal(got.size, 8 * MiB)
    assert.equal(await sha256File(out), digest, 'a corrupted block reached the output')
    assert.ok(stats.wants > 0 && stats.blocksSent > 0, `the hostile provider was never asked for a block (${JSON.stringify(stats)})`)
    assert.equal(got.peers, 1, 'only the honest provider delivered blocks')

    assert.equal(c.scores.isBanned(hostile.libp2p.peerId), true, 'the hostile provider is not banned')
    assert.ok(c.scores.score(hostile.peerId) >= 99, `score ${c.scores.score(hostile.peerId)}`)
    assert.equal(c.scores.isBanned(a.libp2p.peerId), false, 'the honest provider was banned')
    assert.equal(c.scores.score(a.peerId), 0)
    await waitFor(() => !isConnected(c, hostile), { what: 'C to hang up on the hostile provider' })
    // a banned peer cannot come back: its dial is refused, or (when its side finished the upgrade
    // before C's gater answered) the connection is closed at once and C never counts it as a peer
    await hostile.connect(c.addresses()[0] as string, { signal: AbortSignal.timeout(10_000) }).catch(() => {})
    await waitFor(() => !isConnected(c, hostile) && !isConnected(hostile, c), { timeoutMs: 5_000, what: 'the banned peer\'s connection to be closed' })
    assert.equal(c.peers().some(p => p.peerId === hostile.peerId), false)
    await hostile.stop()
  })

  it('a peer sending garbage frames is penalised and neither crashes nor stops the downloader', TEST, async () => {
    const file = join(root, 'data-4m.bin')
    const digest = await writeRandomFile(file, 4 * MiB + 3)
    const { cid } = await a.share.share(file)

    // as a provider: answers C's STATUS with a frame of an unknown type
    const stats: FakeStats = { statuses: 0, wants: 0, blocksSent: 0 }
    const garbage = await withBlockHandler(await td.testNode(), garbageProvider(stats))
    await c.connect(garbage.addresses()[0] as string)
    await Promise.all([waitForBlockProtocol(c, garbage), waitForBlockProtocol(c, a)])
    const out = join(root, 'out', 'data-4m.bin')
    const got = await c.share.get(cid, { output: out, timeoutSeconds: 20 })
    assert.equal(await sha256File(out), digest)
    assert.equal(got.peers, 1)
    await waitFor(() => c.scores.score(garbage.peerId) > 0, { what: 'C to penalise the garbage provider' })
    const first = c.scores.score(garbage.peerId)
    assert.ok(first >= 45 && first <= 50, `a protocol violation should cost 50 points, not ${first}`)
    assert.ok(stats.statuses > 0)

    // as a downloader: a frame length over the limit on C's block server
    const stream = await garbage.libp2p.dialProtocol(c.libp2p.peerId, c.share.protocol)
    stream.send(varint.encode(MAX_FRAME + 1))
    stream.send(new Uint8Array(64))
    await waitFor(() => c.scores.score(garbage.peerId) > first + 40, { what: "C's block server to penalise the garbage downloader" })
    stream.abort(new Error('done'))

    // C still runs and serves: A fetches something only C has
    assert.equal(c.running, true)
    const only = join(root, 'only-on-c.bin')
    const onlyDigest = await writeRandomFile(only, MiB + 5)
    const shared = await c.share.share(only)
    await waitForBlockProtocol(a, c)
    const sentBefore = c.share.serverStats().blocksSent
    const back = join(root, 'out-a', 'only-on-c.bin')
    const fetched = await a.share.get(shared.cid, { output: back, timeoutSeconds: 20 })
    assert.equal(fetched.peers, 1)
    assert.equal(await sha256File(back), onlyDigest)
    assert.ok(c.share.serverStats().blocksSent > sentBefore, 'C did not serve')
  })

  it('a downloader asking STATUS again on one stream is penalised and cut off (each answer may queue a HAVE per block)', TEST, async () => {
    const file = join(root, 'data-2m.bin')
    await writeRandomFile(file, 2 * MiB)
    const { cid } = await c.share.share(file)
    const asker = await td.testNode()
    await asker.connect(c.addresses()[0] as string)
    await waitForBlockProtocol(asker, c)

    const stream = await asker.libp2p.dialProtocol(c.libp2p.peerId, c.share.protocol)
    const answers: string[] = []
    const reading = (async () => {
      try {
        for await (const body of readFrames(stream)) answers.push(decodeMessage(body).type)
      } catch {
        answers.push('reset')
      }
    })()
    stream.send(encode.status(CID.parse(cid)))
    await waitFor(() => answers.length > 0, { what: 'the answer to the first STATUS' })
    assert.deepEqual(answers, ['root'], 'the first STATUS is answered')
    assert.equal(c.scores.score(asker.peerId), 0)
    stream.send(encode.status(CID.parse(cid)))
    await waitFor(() => c.scores.score(asker.peerId) > 0, { what: 'C to penalise a second STATUS' })
    assert.ok(c.scores.score(asker.peerId) >= 45, `a protocol violation should cost 50 points, not ${c.scores.score(asker.peerId)}`)
    await reading
    assert.equal(answers.filter(a => a === 'root').length, 1, `the second STATUS was answered: ${answers.join(', ')}`)
    assert.equal(c.running, true)
  })
})
