/**
 * Downloads of DAGs with many children and repeated blocks: a folder of many files (a node
 * whose children are looked up in the store a few at a time), files whose 1 MiB chunks are all
 * the same block, and a second get of content already held (every block found locally).
 */
import assert from 'node:assert/strict'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { before, describe, it } from 'node:test'
import type { PeerdNode } from '../../src/node/node.ts'
import { MiB, treeDigest, waitForBlockProtocol } from '../utils/share.ts'
import { teardown } from '../utils/teardown.ts'

const TEST = { timeout: 60_000 }

describe('share DAGs with many children and repeated blocks', () => {
  const td = teardown()
  let root: string
  let a: PeerdNode
  let b: PeerdNode
  let c: PeerdNode

  before(async () => {
    root = await td.dir('peerd-share-dag-')
    ;[a, b, c] = await Promise.all([td.testNode(), td.testNode(), td.testNode()])
  })

  it('gets a folder of 150 files, repeated chunks among them, from a seeder, again from the store, and from a downloader', TEST, async () => {
    const src = join(root, 'tree')
    await mkdir(join(src, 'sub'), { recursive: true })
    for (let i = 0; i < 120; i++) {
      // a few distinct contents, so that many files share their block
      await writeFile(join(src, `f${String(i).padStart(3, '0')}.txt`), `file ${i % 7}\n`.repeat(1 + (i % 5) * 40))
    }
    for (let i = 0; i < 30; i++) await writeFile(join(src, 'sub', `g${i}.bin`), Buffer.alloc(1000 + i, i))
    await writeFile(join(src, 'zeros.bin'), Buffer.alloc(5 * MiB + 3)) // five identical 1 MiB leaves
    await writeFile(join(src, 'ones.bin'), Buffer.alloc(3 * MiB, 1))
    const want = await treeDigest(src)
    const shared = await a.share.share(src)

    await b.connect(a.addresses()[0] as string)
    await waitForBlockProtocol(b, a)
    const out1 = join(root, 'out-b1')
    const got1 = await b.share.get(shared.cid, { output: out1, timeoutSeconds: 20 })
    assert.equal(got1.peers, 1)
    assert.deepEqual(await treeDigest(out1), want)

    // every block is held now: a second output is written from the store alone
    const sentBefore = a.share.serverStats().blocksSent
    const out2 = join(root, 'out-b2')
    await b.share.get(shared.cid, { output: out2, timeoutSeconds: 20 })
    assert.deepEqual(await treeDigest(out2), want)
    assert.equal(a.share.serverStats().blocksSent, sentBefore, 'the second get fetched blocks again')

    // and B, serving from its outputs, is enough for C
    await c.connect(b.addresses()[0] as string)
    await waitForBlockProtocol(c, b)
    const out3 = join(root, 'out-c')
    const got3 = await c.share.get(shared.cid, { output: out3, timeoutSeconds: 20 })
    assert.deepEqual(await treeDigest(out3), want)
    assert.ok(got3.peers >= 1)
  })
})
