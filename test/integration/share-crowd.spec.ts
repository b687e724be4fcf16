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
import type { PeerdNode } from '../../src/node/node.ts'
import { MiB, sha256File, waitForBlockProtocol, writeRandomFile } from '../utils/share.ts'
import { teardown } from '../utils/teardown.ts'

const SIZE_MIB = 32
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
})
