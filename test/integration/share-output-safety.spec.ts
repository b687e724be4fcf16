/**
 * Regressions found in review of the download path: a resume that trusts a deleted partial
 * file, a link planted at the predictable temporary name, a second get to the same output, and
 * a downloaded file moved away while the node still holds it.
 */
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { lstat, mkdir, readdir, readFile, rename, rm, symlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { before, describe, it } from 'node:test'
import * as dagPb from '@ipld/dag-pb'
import { CID } from 'multiformats/cid'
import type { PeerdNode } from '../../src/node/node.ts'
import { waitFor } from '../utils/index.ts'
import { teardown } from '../utils/teardown.ts'

const MiB = 1024 * 1024
const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')

describe('download output safety', () => {
  const td = teardown()
  let dir: string
  let a: PeerdNode
  let b: PeerdNode

  before(async () => {
    dir = await td.dir()
    ;[a, b] = await Promise.all([td.testNode(), td.testNode()])
    await b.connect(a.addresses()[0] as string)
    await waitFor(async () => (await b.libp2p.peerStore.get(a.libp2p.peerId)).protocols.includes(b.share.protocol), { what: 'identify' })
  })

  async function shareRandom (name: string, size: number): Promise<{ cid: string, bytes: Buffer }> {
    const bytes = randomBytes(size)
    const path = join(dir, name)
    await writeFile(path, bytes)
    return { cid: (await a.share.share(path)).cid, bytes }
  }

  it('a resume whose partial file was deleted fetches again instead of leaving zeros', { timeout: 60_000 }, async () => {
    const { cid, bytes } = await shareRandom('resume.bin', 8 * MiB)
    // A loses half the leaves, so B's first get stalls half done
    const root = dagPb.decode(await a.share.blockstore.getBytes(CID.parse(cid)))
    for (const l of root.Links.slice(4)) await a.share.blockstore.delete(l.Hash)
    const outDir = join(dir, 'dl-resume')
    const out = join(outDir, 'out.bin')
    await assert.rejects(b.share.get(cid, { output: out, timeoutSeconds: 2 }), (e: Error) => e.name === 'ContentNotFoundError')
    for (const p of await readdir(outDir)) await rm(join(outDir, p)) // the partial file is gone
    await a.share.share(join(dir, 'resume.bin')) // A whole again
    await b.share.get(cid, { output: out, timeoutSeconds: 10 })
    assert.equal(sha(await readFile(out)), sha(bytes))
  })

  it('never writes through a link planted at the temporary name', { timeout: 30_000 }, async () => {
    const { cid } = await shareRandom('notes.txt', 1000)
    const shared = join(dir, 'shared-dl')
    await mkdir(shared)
    const victim = join(dir, 'victim.txt')
    await writeFile(victim, 'precious\n')
    await symlink(victim, join(shared, `.notes.txt.${cid.slice(-12)}.peerd-part`))
    await assert.rejects(b.share.get(cid, { output: join(shared, 'notes.txt') }), (e: Error) => e.name === 'UnsafePathError')
    assert.equal(await readFile(victim, 'utf8'), 'precious\n')
    assert.equal(await lstat(join(shared, 'notes.txt')).catch(() => undefined), undefined)
  })

  it('refuses a second get to the same output while the first runs; the first completes', { timeout: 30_000 }, async () => {
    const { cid, bytes } = await shareRandom('twice.bin', 4 * MiB)
    const out = join(dir, 'dl-twice', 'out.bin')
    const [first, second] = await Promise.allSettled([b.share.get(cid, { output: out }), b.share.get(cid, { output: out })])
    const outcomes = [first.status, second.status].sort()
    assert.deepEqual(outcomes, ['fulfilled', 'rejected'])
    const rejected = (first.status === 'rejected' ? first : second) as PromiseRejectedResult
    assert.match((rejected.reason as Error).message, /already running/)
    assert.equal(sha(await readFile(out)), sha(bytes))
  })

  it('a downloaded file moved away is fetched again when read, not waited for forever', { timeout: 30_000 }, async () => {
    const { cid, bytes } = await shareRandom('moved.bin', 3 * MiB)
    const out = join(dir, 'dl-moved', 'out.bin')
    await b.share.get(cid, { output: out })
    await rename(out, join(dir, 'moved-away.bin'))
    const parts: Uint8Array[] = []
    for await (const chunk of b.share.cat(cid, { timeoutSeconds: 5 })) parts.push(chunk)
    assert.equal(sha(Buffer.concat(parts)), sha(bytes))
  })
})
