/**
 * A flash crowd on loopback: one seeder whose upload cap is the bottleneck and five downloaders
 * that start together, every node connected to every other. The seeder super-seeds (it answers
 * SEEDING and hands each block out once); the downloaders trade the rest. What a user of the
 * seeder would check: every downloader has the file, and the seeder sent each block about once
 * (the node's own counter of blocks served), not once per downloader.
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { before, describe, it } from 'node:test'
import { CID } from 'multiformats/cid'
import type { PeerdNode } from '../../src/node/node.ts'
import { blockKey } from '../../src/share/block.ts'
import { OFFERS_AHEAD } from '../../src/share/handout.ts'
import { encode, ROOT_STATUS } from '../../src/share/protocol.ts'
import type { Message } from '../../src/share/protocol.ts'
import { waitFor } from '../utils/index.ts'
import { MiB, openBlockStream, sha256File, waitForBlockProtocol, writeRandomFile } from '../utils/share.ts'
import { teardown } from '../utils/teardown.ts'

const SIZE_MIB = 32

const statuses = (got: Message[]): number[] => got.flatMap(m => m.type === 'root' ? [m.status] : [])
const offered = (got: Message[]): string[] => got.flatMap(m => m.type === 'have' ? m.cids.filter(c => c.code === 0x55).map(blockKey) : [])
/** Upload cap of every node, bytes per second: the seeder's makes the crowd take a few seconds. */
const CAP = 6 * MiB

describe('share flash crowd', () => {
  const td = teardown()
  let root: string
  let seeder: PeerdNode
  let crowd: PeerdNode[]

  before(async () => {
    root = await td.dir('peerd-share-crowd-')
    seeder = await td.testNode({ maxUpload: CAP })
    crowd = await Promise.all(Array.from({ length: 5 }, async () => await td.testNode({ maxUpload: CAP })))
    const all = [seeder, ...crowd]
    for (let i = 0; i < all.length; i++) {
      for (let j = i + 1; j < all.length; j++) await (all[i] as PeerdNode).connect((all[j] as PeerdNode).addresses()[0] as string)
    }
    await Promise.all(crowd.flatMap(a => [seeder, ...crowd].filter(b => b !== a).map(async b => { await waitForBlockProtocol(a, b) })))
  })

  it('the seeder sends each block about once and every downloader gets the file', { timeout: 90_000 }, async () => {
    const file = join(root, 'crowd.bin')
    const digest = await writeRandomFile(file, SIZE_MIB * MiB)
    const { cid } = await seeder.share.share(file)
    const before = seeder.share.serverStats().bytesSent
    const results = await Promise.all(crowd.map(async (node, i) => {
      const out = join(root, `out-${i}`, 'crowd.bin')
      const got = await node.share.get(cid, { output: out, timeoutSeconds: 60 })
      assert.equal(await sha256File(out), digest)
      return got
    }))
    const copies = (seeder.share.serverStats().bytesSent - before) / (SIZE_MIB * MiB)
    const traded = crowd.reduce((n, node) => n + node.share.serverStats().bytesSent, 0) / (SIZE_MIB * MiB)
    assert.ok(copies <= 1.35, `the seeder sent ${copies.toFixed(2)} copies of the file to 5 downloaders (target ≤ 1.35)`)
    assert.ok(traded >= 5 - copies - 0.01, `the downloaders sent each other ${traded.toFixed(2)} copies`)
    assert.ok(results.every(r => r.peers >= 2), 'every downloader fetched from more than one peer')
  })

  it('on the wire: SEEDING from the second downloader, different blocks offered to each, others refused', { timeout: 60_000 }, async () => {
    const file = join(root, 'wire.bin')
    await writeRandomFile(file, 8 * MiB)
    const rootCid = CID.parse((await seeder.share.share(file)).cid)
    const [p1, p2, p3] = crowd as [PeerdNode, PeerdNode, PeerdNode]
    const s1 = await openBlockStream(p1, seeder)
    s1.stream.send(encode.status(rootCid))
    await waitFor(() => statuses(s1.got).length > 0, { what: 'the first answer' })
    assert.deepEqual(statuses(s1.got), [ROOT_STATUS.COMPLETE], 'alone, a downloader is served as usual')
    const s2 = await openBlockStream(p2, seeder)
    s2.stream.send(encode.status(rootCid))
    await waitFor(() => offered(s1.got).length >= OFFERS_AHEAD && offered(s2.got).length >= OFFERS_AHEAD, { what: 'offers to both' })
    assert.deepEqual(statuses(s1.got), [ROOT_STATUS.COMPLETE, ROOT_STATUS.SEEDING])
    assert.deepEqual(statuses(s2.got), [ROOT_STATUS.SEEDING])
    const one = offered(s1.got)
    const two = offered(s2.got)
    assert.equal(one.filter(k => two.includes(k)).length, 0, 'a block was offered to both')
    // a block offered to the other is not given
    const other = s2.got.flatMap(m => m.type === 'have' ? m.cids.filter(c => c.code === 0x55) : [])[0] as CID
    s1.stream.send(encode.want([other]))
    await waitFor(() => s1.got.some(m => m.type === 'dont-have'), { what: 'DONT_HAVE for a block not offered' })
    // moved out of seeding and in again, a downloader announces all it holds each time, unpunished
    const leaves = [...one, ...two]
    const all = s1.got.concat(s2.got).flatMap(m => m.type === 'have' ? m.cids.filter(c => leaves.includes(blockKey(c))) : [])
    // each time nearly as many HAVEs as the root has blocks and a list more: twice would be too many
    const announce = (): void => { for (let n = 0; n < 200; n += all.length) s1.stream.send(encode.have(all)) }
    announce()
    s2.stream.abort(new Error('leaving'))
    await waitFor(() => statuses(s1.got).at(-1) === ROOT_STATUS.COMPLETE, { what: 'COMPLETE when one downloader is left' })
    const s3 = await openBlockStream(p3, seeder)
    s3.stream.send(encode.status(rootCid))
    await waitFor(() => statuses(s1.got).at(-1) === ROOT_STATUS.SEEDING, { what: 'SEEDING again' })
    announce()
    s1.stream.send(encode.want([rootCid]))
    await waitFor(() => s1.got.some(m => m.type === 'block' && blockKey(m.cid) === blockKey(rootCid)), { what: 'the stream to still be served' })
    for (const s of [s1, s3]) s.stream.abort(new Error('done'))
  })
})
