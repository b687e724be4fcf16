/**
 * Selective download between real nodes over TCP: `get` with a `path` or `only` globs fetches
 * exactly the directory nodes on the way (with the HAMT shard nodes that lead to the name) and
 * the selected files' blocks, counted in the downloader's store and in the seeder's server
 * stats; the output holds the selected files byte for byte and nothing else; a partial root
 * is recorded as such, and a later whole get completes it.
 */
import assert from 'node:assert/strict'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { before, describe, it } from 'node:test'
import { decode as decodeDagPb } from '@ipld/dag-pb'
import { UnixFS } from 'ipfs-unixfs'
import { CID } from 'multiformats/cid'
import type { PeerdNode } from '../../src/node/node.ts'
import { blockKey, childLinks } from '../../src/share/block.ts'
import { InvalidSelectionError, SelectionNotFoundError } from '../../src/share/session/selection.ts'
import { waitFor } from '../utils/index.ts'
import { exists, MiB, sha256File, treeDigest, waitForBlockProtocol, writeRandomFile } from '../utils/share.ts'
import { teardown } from '../utils/teardown.ts'

const TEST = { timeout: 60_000 }
/** Entries of the sharded folder: with 250-character names its node would be over the importer's 256 KiB split threshold. */
const BIG = 1000
const bigName = (i: number): string => `n-${i}-${'y'.repeat(240)}`

describe('selective get: only the blocks of the selection', () => {
  const td = teardown()
  let root: string
  let a: PeerdNode
  let b: PeerdNode
  let cid: string
  let sums: Record<string, string>
  /** Nodes that hold part of the root too (they may serve B's whole get). */
  const partials: PeerdNode[] = []

  /** Every block key of the DAG under `c`, read from the seeder. */
  const subtree = async (c: CID, into = new Set<string>()): Promise<Set<string>> => {
    into.add(blockKey(c))
    if (c.code === 0x55) return into
    for (const l of childLinks(c, await a.share.blockstore.getBytes(c))) await subtree(l, into)
    return into
  }
  const node = async (c: CID): Promise<{ links: ReturnType<typeof decodeDagPb>['Links'], type: string }> => {
    const pb = decodeDagPb(await a.share.blockstore.getBytes(c))
    return { links: pb.Links, type: UnixFS.unmarshal(pb.Data ?? new Uint8Array()).type }
  }
  /** The entry `name` of directory `dir`, and the keys of the nodes read on the way (a HAMT's shard nodes down to the one that holds it). */
  const lookup = async (dir: CID, name: string): Promise<{ cid: CID, nodes: string[] } | undefined> => {
    const n = await node(dir)
    if (n.type === 'directory') {
      const l = n.links.find(l => l.Name === name)
      return l == null ? undefined : { cid: l.Hash, nodes: [blockKey(dir)] }
    }
    assert.equal(n.type, 'hamt-sharded-directory')
    for (const l of n.links) {
      const ln = l.Name ?? ''
      if (ln.length > 2 && ln.slice(2) === name) return { cid: l.Hash, nodes: [blockKey(dir)] }
      if (ln.length === 2) {
        const found = await lookup(l.Hash, name)
        if (found != null) return { cid: found.cid, nodes: [blockKey(dir), ...found.nodes] }
      }
    }
    return undefined
  }
  /** The blocks `get` with `path` must fetch: the nodes on the way, and the entry's subtree. */
  const pathBlocks = async (path: string): Promise<Set<string>> => {
    let at = CID.parse(cid)
    const out = new Set<string>()
    for (const part of path.split('/')) {
      const found = await lookup(at, part)
      assert.ok(found != null, part)
      for (const k of found.nodes) out.add(k)
      at = found.cid
    }
    return await subtree(at, out)
  }
  const held = async (n: PeerdNode): Promise<Set<string>> => {
    const keys = new Set<string>()
    for await (const c of n.share.blockstore.keys()) keys.add(blockKey(c))
    // leaves written to an output are kept as references into it
    await n.share.blockstore.flushRefs()
    for await (const k of n.share.blockstore.refKeys()) keys.add(k)
    return keys
  }
  /** Runs `get` on B and returns the blocks it newly holds and the blocks A sent for it. */
  const fetched = async (fn: () => Promise<unknown>): Promise<{ added: Set<string>, sent: number }> => {
    const before = await held(b)
    const sentBefore = a.share.serverStats().blocksSent
    await fn()
    const after = await held(b)
    return { added: new Set([...after].filter(k => !before.has(k))), sent: a.share.serverStats().blocksSent - sentBefore }
  }

  before(async () => {
    root = await td.dir('peerd-share-selective-')
    const src = join(root, 'tree')
    sums = {
      'docs/a.pdf': await writeRandomFile(join(src, 'docs', 'a.pdf'), 5 * MiB / 2),
      'docs/b.txt': await writeRandomFile(join(src, 'docs', 'b.txt'), 1000),
      'docs/sub/c.pdf': await writeRandomFile(join(src, 'docs', 'sub', 'c.pdf'), Math.round(1.2 * MiB)),
      'docs/sub/d.txt': await writeRandomFile(join(src, 'docs', 'sub', 'd.txt'), 2000),
      'img/x.bin': await writeRandomFile(join(src, 'img', 'x.bin'), 2 * MiB),
      'readme.md': await writeRandomFile(join(src, 'readme.md'), 300)
    }
    await mkdir(join(src, 'big'))
    for (let i = 0; i < BIG; i++) await writeFile(join(src, 'big', bigName(i)), `entry ${i}\n`)
    ;[a, b] = await Promise.all([td.testNode(), td.testNode()])
    cid = (await a.share.share(src)).cid
    await b.connect(a.addresses()[0] as string)
    await waitForBlockProtocol(b, a)
    assert.equal((await node((await lookup(CID.parse(cid), 'big'))?.cid as CID)).type, 'hamt-sharded-directory', 'big is sharded')
  })

  it('a PATH to a file: the directory nodes on the way and the file, written to -o; recorded partial', TEST, async () => {
    const out = join(root, 'a.pdf')
    const want = await pathBlocks('docs/a.pdf')
    assert.equal(want.size, 2 + 4, 'root, docs, and a.pdf: a root node over 3 leaves')
    const got = await fetched(async () => await b.share.get(cid, { path: 'docs/a.pdf', output: out, timeoutSeconds: 20 }))
    assert.deepEqual(got.added, want)
    assert.equal(got.sent, want.size)
    assert.equal(await sha256File(out), sums['docs/a.pdf'])
    const rec = (await b.share.ls()).find(r => r.cid === cid)
    assert.equal(rec?.complete, false)
    assert.deepEqual(rec?.selection, ['docs/a.pdf'])
    assert.equal(rec?.type, 'directory')
  })

  it('a third node lists the folder (folder nodes only, for a picker) and gets a file from the partial holder', TEST, async () => {
    const c = await td.testNode()
    partials.push(c)
    await c.connect(b.addresses()[0] as string)
    await waitForBlockProtocol(c, b)
    // the picker's listing first: folder nodes and the top nodes of multi-block files, no data
    const listing = await c.share.tree(cid, { depth: 2, timeoutSeconds: 20 })
    assert.equal(listing.truncated, true, 'docs/sub has entries below the depth')
    const top = listing.entries.filter(e => !e.path.startsWith('big/')).map(e => `${e.type} ${e.path} ${e.size}`)
    assert.deepEqual(top.sort(), ['directory big 0', 'directory docs 0', 'directory docs/sub 0', 'directory img 0', `file docs/a.pdf ${5 * MiB / 2}`, 'file docs/b.txt 1000', `file img/x.bin ${2 * MiB}`, 'file readme.md 300'])
    assert.equal(listing.entries.filter(e => e.path.startsWith('big/') && e.type === 'file').length, BIG)
    const dirOf = async (path: string): Promise<CID> => {
      let at = CID.parse(cid)
      for (const part of path.split('/')) at = (await lookup(at, part))?.cid as CID
      return at
    }
    // big's shard nodes: every dag-pb node under it (its entries are single raw blocks)
    const bigShards: string[] = []
    const shards = async (n: CID): Promise<void> => {
      if (n.code === 0x55) return
      bigShards.push(blockKey(n))
      for (const l of childLinks(n, await a.share.blockstore.getBytes(n))) await shards(l)
    }
    await shards(await dirOf('big'))
    const listed = new Set([blockKey(CID.parse(cid)), ...bigShards, ...await Promise.all(['docs', 'img', 'docs/sub', 'docs/a.pdf', 'img/x.bin'].map(async p => blockKey(await dirOf(p))))])
    assert.deepEqual(await held(c), listed)
    // the seeder out of reach (the listing may have found it): the partial holder alone serves
    await c.disconnect(a.peerId)
    const fromB = b.share.serverStats().blocksSent
    const fromA = a.share.serverStats().blocksSent
    const out = join(root, 'c-a.pdf')
    await c.share.get(cid, { path: 'docs/a.pdf', output: out, timeoutSeconds: 20 })
    assert.equal(await sha256File(out), sums['docs/a.pdf'])
    assert.equal(a.share.serverStats().blocksSent - fromA, 0)
    assert.equal(b.share.serverStats().blocksSent - fromB, 3, 'a.pdf\'s 3 leaves from B: the listing brought the nodes above them')
  })

  it('--only with **: the matching files in the tree, nothing else (small files are known to be files without a fetch)', TEST, async () => {
    const out = join(root, 'pdfs')
    const want = new Set([...await pathBlocks('docs/sub/c.pdf'), ...await pathBlocks('docs/a.pdf')])
    const before = await held(b)
    const got = await fetched(async () => await b.share.get(cid, { only: ['docs/**/*.pdf'], output: out, timeoutSeconds: 20 }))
    assert.deepEqual(got.added, new Set([...want].filter(k => !before.has(k))))
    assert.equal(got.sent, got.added.size)
    assert.deepEqual(await treeDigest(out), { docs: 'dir', 'docs/a.pdf': sums['docs/a.pdf'], 'docs/sub': 'dir', 'docs/sub/c.pdf': sums['docs/sub/c.pdf'] })
    assert.deepEqual((await b.share.ls()).find(r => r.cid === cid)?.selection, ['docs/a.pdf', 'only docs/**/*.pdf'])
  })

  it('a PATH into a HAMT-sharded folder: only the shard nodes that lead to the name', TEST, async () => {
    const name = bigName(700)
    const out = join(root, 'entry-700')
    const want = await pathBlocks(`big/${name}`)
    const got = await fetched(async () => await b.share.get(cid, { path: `big/${name}`, output: out, timeoutSeconds: 20 }))
    assert.deepEqual(got.added, new Set([...want].filter(k => k !== blockKey(CID.parse(cid)))))
    assert.ok(got.added.size >= 2 && got.added.size <= 4, `${got.added.size} blocks: big's top shard node, maybe a sub-shard, the entry`)
    assert.equal(got.sent, got.added.size)
    assert.equal(await readFile(out, 'utf8'), 'entry 700\n')
  })

  it('bad selections fail clearly and fetch nothing beyond directory nodes', TEST, async () => {
    await assert.rejects(b.share.get(cid, { path: 'docs/nope.pdf', timeoutSeconds: 20 }), (err: Error) => {
      assert.ok(err instanceof SelectionNotFoundError)
      assert.equal(err.message, `no entry 'nope.pdf' in ${cid}/docs; entries: a.pdf, b.txt, sub`)
      return true
    })
    const nothing = await fetched(async () => {
      await assert.rejects(b.share.get(cid, { only: ['img/*.iso'], timeoutSeconds: 20 }), new RegExp(`^SelectionNotFoundError: --only 'img/\\*\\.iso' matches nothing in ${cid}$`))
    })
    assert.deepEqual(nothing.added, new Set([blockKey((await lookup(CID.parse(cid), 'img'))?.cid as CID)]), 'only the img folder node')
    await assert.rejects(b.share.get(cid, { path: 'docs/a.pdf/x', timeoutSeconds: 20 }), /docs\/a\.pdf is a file, not a directory: it has no entry 'x'/)
    const file = (await lookup((await lookup(CID.parse(cid), 'img'))?.cid as CID, 'x.bin'))?.cid.toString() as string
    await assert.rejects(b.share.get(file, { path: 'x', timeoutSeconds: 20 }), /is a file, not a directory: it has no entry 'x'/)
    await assert.rejects(b.share.get(cid, { path: 'docs/../img', timeoutSeconds: 20 }), InvalidSelectionError)
    // a failed selection leaves no record of a root it never held
    assert.equal((await b.share.ls()).some(r => r.cid === file), false)
  })

  it('an interrupted selective get resumes: no block is fetched twice', TEST, async () => {
    const d = await td.testNode()
    partials.push(d)
    await d.connect(a.addresses()[0] as string)
    await waitForBlockProtocol(d, a)
    const sentBefore = a.share.serverStats().blocksSent
    const out = join(root, 'd-a.pdf')
    const abort = new AbortController()
    // capped, so that it is stopped part way: after a first leaf is in the output
    const first = d.share.get(cid, { path: 'docs/a.pdf', output: out, timeoutSeconds: 20, maxRate: 1_000_000, signal: abort.signal })
    await waitFor(() => (d.share.progressOf(cid)?.blocks ?? 0) >= 4 ? true : undefined, { what: 'a first leaf of a.pdf', intervalMs: 20 })
    abort.abort()
    await assert.rejects(first)
    assert.equal(await exists(out), false, 'nothing at the target until it is whole')
    await d.share.get(cid, { path: 'docs/a.pdf', output: out, timeoutSeconds: 20 })
    assert.equal(await sha256File(out), sums['docs/a.pdf'])
    assert.equal(a.share.serverStats().blocksSent - sentBefore, 6, 'root, docs and a.pdf\'s 4 blocks, each once')
  })

  it('a whole get later fetches the rest and completes the root', TEST, async () => {
    const all = await subtree(CID.parse(cid))
    const before = await held(b)
    const out = join(root, 'whole')
    const fromPartials = partials.map(n => n.share.serverStats().blocksSent)
    const got = await fetched(async () => await b.share.get(cid, { output: out, timeoutSeconds: 30 }))
    assert.equal(got.added.size, [...all].filter(k => !before.has(k)).length)
    const byPartials = partials.reduce((n, p, i) => n + p.share.serverStats().blocksSent - (fromPartials[i] ?? 0), 0)
    assert.equal(got.sent + byPartials, got.added.size, 'what was held is not fetched again (from the seeder, or the nodes holding a part)')
    const rec = (await b.share.ls()).find(r => r.cid === cid)
    assert.equal(rec?.complete, true)
    assert.equal(rec?.selection, undefined)
    assert.equal((await treeDigest(out))['docs/sub/d.txt'], sums['docs/sub/d.txt'])
  })
})
