/**
 * Upload slots on the wire: a node serves four peers at a time (BitTorrent's regular slots) and
 * tells the others CHOKE; a choked peer's wants are dropped, not queued; when a served peer
 * leaves, its slot goes to one that waits (UNCHOKE), whose wants are then answered.
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { before, describe, it } from 'node:test'
import type { Stream } from '@libp2p/interface'
import { CID } from 'multiformats/cid'
import type { PeerdNode } from '../../src/node/node.ts'
import { encode } from '../../src/share/protocol.ts'
import type { Message } from '../../src/share/protocol.ts'
import { UPLOAD_SLOTS } from '../../src/share/choker.ts'
import { waitFor } from '../utils/index.ts'
import { MiB, openBlockStream, waitForBlockProtocol, writeRandomFile } from '../utils/share.ts'
import { teardown } from '../utils/teardown.ts'

describe('share upload slots (choking)', () => {
  const td = teardown()
  let seeder: PeerdNode
  let peers: PeerdNode[]
  let cid: CID

  before(async () => {
    const dir = await td.dir('peerd-share-choke-')
    seeder = await td.testNode()
    peers = await Promise.all(Array.from({ length: UPLOAD_SLOTS + 2 }, async () => await td.testNode()))
    for (const p of peers) {
      await p.connect(seeder.addresses()[0] as string)
      await waitForBlockProtocol(p, seeder)
    }
    const file = join(dir, 'slots.bin')
    await writeRandomFile(file, 2 * MiB)
    cid = CID.parse((await seeder.share.share(file)).cid)
  })

  it('chokes the peers beyond the slots, drops their wants, and unchokes one when a slot frees', { timeout: 60_000 }, async () => {
    const streams: Array<{ stream: Stream, got: Message[] }> = []
    for (const p of peers) streams.push(await openBlockStream(p, seeder))
    for (const s of streams) s.stream.send(encode.want([cid]))
    // the server meets each stream at its first frame: which four it serves is its choice
    await waitFor(() => streams.every(s => s.got.length > 0), { what: 'every peer to hear from the seeder' })
    await new Promise(resolve => setTimeout(resolve, 500))
    const served = streams.filter(s => s.got.some(m => m.type === 'block'))
    const waiting = streams.filter(s => !served.includes(s))
    assert.equal(served.length, UPLOAD_SLOTS, `${served.length} peers were served at once`)
    for (const s of served) assert.ok(!s.got.some(m => m.type === 'choke'), 'a peer within the slots was choked')
    for (const s of waiting) {
      assert.equal(s.got[0]?.type, 'choke', 'a peer beyond the slots is told CHOKE first')
      assert.ok(!s.got.some(m => m.type === 'block'), 'a choked peer was served')
    }
    // a served peer leaves: its slot goes to a waiting one, which must ask again (its want was dropped)
    served[0]?.stream.abort(new Error('leaving'))
    await waitFor(() => waiting.some(s => s.got.some(m => m.type === 'unchoke')), { what: 'a waiting peer to be unchoked' })
    const lucky = waiting.find(s => s.got.some(m => m.type === 'unchoke')) as { stream: Stream, got: Message[] }
    assert.ok(!lucky.got.some(m => m.type === 'block'), 'the want sent while choked was kept')
    lucky.stream.send(encode.want([cid]))
    await waitFor(() => lucky.got.some(m => m.type === 'block'), { what: 'the unchoked peer to be served' })
    for (const s of streams) s.stream.abort(new Error('done'))
  })
})
