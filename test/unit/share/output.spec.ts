/**
 * OutputWriter: a downloaded DAG is written into its files at the right offsets whatever order
 * its blocks arrive in, built under a temporary name and renamed into place; a directory entry
 * whose name could escape the output is refused before anything is written; a DAG shape that is
 * not UnixFS is refused. Also checkEntryName, the rule both writers share.
 */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { mkdir, open, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { join, relative, sep } from 'node:path'
import { beforeEach, describe, it } from 'node:test'
import * as dagPb from '@ipld/dag-pb'
import { MemoryBlockstore } from 'blockstore-core'
import { UnixFS } from 'ipfs-unixfs'
import { importer } from 'ipfs-unixfs-importer'
import type { ImporterOptions } from 'ipfs-unixfs-importer'
import { fixedSize } from 'ipfs-unixfs-importer/chunker'
import { balanced, trickle } from 'ipfs-unixfs-importer/layout'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import * as Digest from 'multiformats/hashes/digest'
import { childLinks } from '../../../src/share/block.ts'
import { checkEntryName } from '../../../src/share/export.ts'
import { IMPORT_OPTIONS } from '../../../src/share/importer.ts'
import { OutputWriter } from '../../../src/share/output.ts'
import type { BlockRef, Placement } from '../../../src/share/output.ts'
import { teardownEach } from '../../utils/teardown.ts'

function sha256 (data: Uint8Array): Uint8Array {
  return createHash('sha256').update(data).digest()
}

function cidOf (data: Uint8Array, codec: number = raw.code): CID {
  return CID.createV1(codec, Digest.create(0x12, sha256(data)))
}

const text = (s: string): Uint8Array => new TextEncoder().encode(s)

/** Deterministic pseudo-random numbers (xorshift32). */
function prng (seed: number): () => number {
  let s = seed >>> 0
  return () => {
    s ^= s << 13; s >>>= 0
    s ^= s >>> 17
    s ^= s << 5; s >>>= 0
    return s
  }
}

function pseudoRandomBytes (n: number, seed: number): Uint8Array {
  const next = prng(seed)
  const out = new Uint8Array(n)
  for (let i = 0; i < n; i++) out[i] = next() & 0xff
  return out
}

interface Block { cid: CID, bytes: Uint8Array }

/** A hand-built dag-pb node. */
function pbNode (data: UnixFS, links: Array<{ name?: string, cid: CID, size?: number }> = []): Block {
  const bytes = dagPb.encode(dagPb.prepare({
    Data: data.marshal(),
    Links: links.map(l => ({ Hash: l.cid, Name: l.name, Tsize: l.size ?? 0 }))
  }))
  return { cid: cidOf(bytes, dagPb.code), bytes }
}

const directory = (links: Array<{ name: string, cid: CID, size?: number }>): Block => pbNode(new UnixFS({ type: 'directory' }), links)
const hamtShard = (links: Array<{ name: string, cid: CID }>): Block =>
  pbNode(new UnixFS({ type: 'hamt-sharded-directory', fanout: 256n, hashType: 0x22n, data: Uint8Array.of(0xff) }), links)

/** Every path under `root`, relative, directories with a trailing separator. */
async function tree (root: string): Promise<string[]> {
  const entries = await readdir(root, { recursive: true, withFileTypes: true })
  return entries.map(e => relative(root, join(e.parentPath, e.name)) + (e.isDirectory() ? sep : '')).sort()
}

/** A tree of files to import: path → content (undefined for an empty folder). */
type Spec = Record<string, Uint8Array | undefined>

async function importSpec (spec: Spec, options: Partial<ImporterOptions>): Promise<{ root: CID, store: MemoryBlockstore }> {
  const store = new MemoryBlockstore()
  const source = Object.entries(spec).map(([path, content]) => content == null ? { path } : { path, content })
  let root: CID | undefined
  for await (const entry of importer(source, store, options)) root = entry.cid // the root comes last
  assert.ok(root != null)
  return { root, store }
}

async function getBlock (store: MemoryBlockstore, cid: CID): Promise<Uint8Array> {
  const parts: Uint8Array[] = []
  for await (const p of store.get(cid)) parts.push(p)
  return new Uint8Array(Buffer.concat(parts))
}

/**
 * Places every block of the DAG, as a download would: a block can be placed once its parent
 * has been (which tells where it goes); among those, `pick` chooses the next. Leaf references
 * are checked against the bytes they point to while the output is still in its temporary place.
 */
async function writeDag (writer: OutputWriter, store: MemoryBlockstore, root: CID, pick: (ready: number) => number, skipLeaf: (cid: CID) => boolean = () => false): Promise<number> {
  const ready: Array<{ where: Placement, cid: CID }> = [{ where: writer.rootPlacement(), cid: root }]
  let leaves = 0
  while (ready.length > 0) {
    const [{ where, cid }] = ready.splice(pick(ready.length), 1) as [{ where: Placement, cid: CID }]
    if (cid.code === raw.code && skipLeaf(cid)) continue
    const bytes = await getBlock(store, cid)
    const { children, ref } = await writer.place(where, cid, bytes)
    const links = childLinks(cid, bytes)
    assert.equal(children.length, links.length, 'one placement per link')
    children.forEach((child, i) => ready.push({ where: child, cid: links[i] as CID }))
    if (cid.code === raw.code) {
      leaves++
      assert.ok(ref != null, 'a raw leaf is kept as a reference')
      await assertRef(ref, bytes)
    } else {
      assert.equal(ref, undefined)
    }
  }
  return leaves
}

async function assertRef (ref: BlockRef, bytes: Uint8Array): Promise<void> {
  assert.equal(ref.size, bytes.length)
  const fh = await open(ref.path, 'r')
  try {
    const buf = Buffer.alloc(ref.size)
    const { bytesRead } = await fh.read(buf, 0, ref.size, ref.offset)
    assert.equal(bytesRead, ref.size)
    assert.ok(Buffer.compare(buf, bytes) === 0, `the reference ${ref.path}@${ref.offset} holds other bytes`)
  } finally {
    await fh.close()
  }
}

const unsafe = (err: Error): boolean => {
  assert.equal(err.name, 'UnsafePathError')
  return true
}

const unsupported = (err: Error): boolean => {
  assert.equal(err.name, 'UnsupportedDagError')
  return true
}

describe('OutputWriter', () => {
  const td = teardownEach()
  let dir: string
  let sandbox: string

  beforeEach(async () => {
    dir = await td.dir('peerd-output-')
    sandbox = join(dir, 'sandbox')
    await mkdir(sandbox)
  })

  /** Asserts that nothing exists under the test folder but `allowed` and what is inside it. */
  async function assertOnlyUnder (allowed: string): Promise<void> {
    const within = (from: string, to: string): boolean => { const r = relative(from, to); return r === '' || (!r.startsWith('..') && !r.startsWith(sep)) }
    for (const p of await tree(dir)) {
      const abs = join(dir, p)
      // inside the allowed folder, or one of the folders leading to it
      assert.ok(within(allowed, abs) || within(abs, allowed), `${p} was written outside ${relative(dir, allowed)}`)
    }
  }

  describe('refuses unsafe directory entry names', () => {
    const leaf = text('payload')
    const leafCid = cidOf(leaf)
    const bad = ['..', '.', '', 'a/b', '../evil', '/etc/passwd', 'a\\b', '..\\evil', 'x\0y', '\0']

    for (const name of bad) {
      it(`an entry named ${JSON.stringify(name)}, even beside a safe one, before anything is placed`, async () => {
        const d = directory([{ name: 'safe.txt', cid: leafCid, size: leaf.length }, { name, cid: leafCid, size: leaf.length }])
        const writer = new OutputWriter(join(sandbox, 'out'), d.cid)
        await writer.prepare()
        await assert.rejects(writer.place(writer.rootPlacement(), d.cid, d.bytes), unsafe)
        await writer.finish(false)
        await assertOnlyUnder(writer.temp)
        assert.equal(writer.written, 0)
      })
    }

    it('in a nested directory: the subfolder is made, nothing escapes', async () => {
      const inner = directory([{ name: '..', cid: leafCid, size: leaf.length }])
      const outer = directory([{ name: 'sub', cid: inner.cid }])
      const writer = new OutputWriter(join(sandbox, 'out'), outer.cid)
      await writer.prepare()
      const { children } = await writer.place(writer.rootPlacement(), outer.cid, outer.bytes)
      assert.deepEqual(children, [{ kind: 'file', path: 'sub', offset: 0 }])
      await assert.rejects(writer.place(children[0], inner.cid, inner.bytes), unsafe)
      await writer.finish(false)
      await assertOnlyUnder(writer.temp)
    })

    for (const name of ['..', '../evil', 'x/..', 'x\0']) {
      it(`a HAMT shard entry whose name after the bucket prefix is ${JSON.stringify(name)}`, async () => {
        const shard = hamtShard([{ name: `7F${name}`, cid: leafCid }, { name: '80ok', cid: leafCid }])
        const writer = new OutputWriter(join(sandbox, 'out'), shard.cid)
        await writer.prepare()
        await assert.rejects(writer.place(writer.rootPlacement(), shard.cid, shard.bytes), unsafe)
        await writer.finish(false)
        await assertOnlyUnder(writer.temp)
      })
    }

    it('a HAMT shard: prefixes are stripped from names and sub-shards stay in the same folder', async () => {
      const sub = hamtShard([{ name: 'A1deep.txt', cid: leafCid }])
      const shard = hamtShard([{ name: '0Atop.txt', cid: leafCid }, { name: 'FF', cid: sub.cid }])
      const writer = new OutputWriter(join(sandbox, 'out'), shard.cid)
      await writer.prepare()
      const top = await writer.place(writer.rootPlacement(), shard.cid, shard.bytes)
      assert.deepEqual(top.children, [{ kind: 'file', path: 'top.txt', offset: 0 }, { kind: 'dir', path: '' }])
      const deep = await writer.place(top.children[1], sub.cid, sub.bytes)
      assert.deepEqual(deep.children, [{ kind: 'file', path: 'deep.txt', offset: 0 }])
      for (const where of [top.children[0], deep.children[0]]) await writer.place(where, leafCid, leaf)
      assert.deepEqual(await writer.finish(true), { path: join(sandbox, 'out'), type: 'directory' })
      assert.deepEqual(await tree(join(sandbox, 'out')), ['deep.txt', 'top.txt'])
    })
  })

  describe('refuses DAGs that are not UnixFS as peerd writes it', () => {
    const leaf = text('payload')
    const leafCid = cidOf(leaf)

    it('two entries of one directory with the same name (UnixFS: duplicate names are not allowed)', async () => {
      // both would be written to the same file, mixing two verified files into one that is neither
      const other = text('another payload')
      const d = directory([{ name: 'a', cid: leafCid, size: leaf.length }, { name: 'a', cid: cidOf(other), size: other.length }])
      const writer = new OutputWriter(join(sandbox, 'out'), d.cid)
      await writer.prepare()
      let children: Placement[] | undefined
      try {
        children = (await writer.place(writer.rootPlacement(), d.cid, d.bytes)).children
      } catch (err) {
        assert.ok(['UnsupportedDagError', 'UnsafePathError'].includes((err as Error).name), (err as Error).message)
        return
      }
      // ignoring the second entry (as a reader resolving a path would) is as good as refusing;
      // placing both at one path writes "payload" over "another payload": "payload payload"
      const paths = children.filter(c => c != null).map(c => c.path)
      assert.equal(new Set(paths).size, paths.length, `two entries placed at the same path: ${JSON.stringify(children)}`)
    })

    it('a File node linking to a directory (UnixFS: a file\'s children are files)', async () => {
      const inner = directory([{ name: 'x.txt', cid: leafCid, size: leaf.length }])
      const file = pbNode(new UnixFS({ type: 'file', blockSizes: [7n] }), [{ cid: inner.cid, size: inner.bytes.length }])
      const writer = new OutputWriter(join(sandbox, 'out'), file.cid)
      await writer.prepare()
      const { children } = await writer.place(writer.rootPlacement(), file.cid, file.bytes)
      assert.deepEqual(children, [{ kind: 'file', path: '', offset: 0, chunk: true }])
      await assert.rejects(writer.place(children[0], inner.cid, inner.bytes), unsupported)
    })

    it('never creates a symbolic link from a peer\'s data: it is skipped and reported', async () => {
      const link = pbNode(new UnixFS({ type: 'symlink', data: text('../../etc/passwd') }))
      const dir = directory([{ name: 'evil', cid: link.cid, size: link.bytes.length }])
      const writer = new OutputWriter(join(sandbox, 'out-links'), dir.cid)
      await writer.prepare()
      const { children } = await writer.place(writer.rootPlacement(), dir.cid, dir.bytes)
      assert.deepEqual(await writer.place(children[0], link.cid, link.bytes), { children: [] })
      assert.deepEqual(writer.skipped, ['evil'])
      await writer.finish(true)
      assert.deepEqual(await tree(join(sandbox, 'out-links')), [])
      await rm(join(sandbox, 'out-links'), { recursive: true })
    })

    it('a raw leaf where a directory belongs, a directory inside a file, and mismatched block sizes', async () => {
      const writer = new OutputWriter(join(sandbox, 'out'), leafCid)
      await writer.prepare()
      await assert.rejects(writer.place({ kind: 'dir', path: '' }, leafCid, leaf), unsupported)
      const d = directory([])
      await assert.rejects(writer.place({ kind: 'file', path: 'f', offset: 7 }, d.cid, d.bytes), unsupported)
      const bad = pbNode(new UnixFS({ type: 'file', blockSizes: [7n] }), [{ cid: leafCid }, { cid: leafCid }])
      await assert.rejects(writer.place(writer.rootPlacement(), bad.cid, bad.bytes), unsupported)
      const notUnixfs = { bytes: dagPb.encode({ Data: Uint8Array.of(0xff, 0xff), Links: [] }), cid: CID.createV1(dagPb.code, Digest.create(0x12, new Uint8Array(32))) }
      await assert.rejects(writer.place(writer.rootPlacement(), notUnixfs.cid, notUnixfs.bytes), unsupported)
      await writer.discard()
      assert.deepEqual(await tree(sandbox), [])
    })
  })

  describe('writes a tree', () => {
    const big = pseudoRandomBytes(2 * 1024 * 1024 + 12345, 1)
    const mid = pseudoRandomBytes(70_001, 2)
    const spec: Spec = {
      'root/big.bin': big,
      'root/docs/readme.txt': text('read me\n'),
      'root/docs/deeper/mid.bin': mid,
      'root/docs/deeper/also-empty': undefined,
      'root/empty-file': new Uint8Array(),
      'root/empty-folder': undefined,
      'root/ünïcode name.txt': text('names are UTF-8\n')
    }

    async function assertWritten (out: string): Promise<void> {
      assert.deepEqual(await tree(out), [
        'big.bin', `docs${sep}`, `docs${sep}deeper${sep}`, `docs${sep}deeper${sep}also-empty${sep}`,
        `docs${sep}deeper${sep}mid.bin`, `docs${sep}readme.txt`, 'empty-file', `empty-folder${sep}`, 'ünïcode name.txt'
      ].sort())
      for (const [path, content] of Object.entries(spec)) {
        if (content == null) continue
        const got = await readFile(join(out, path.slice('root/'.length)))
        assert.equal(got.length, content.length, path)
        assert.ok(Buffer.compare(got, content) === 0, `${path} differs`)
      }
    }

    const shapes: Array<[string, Partial<ImporterOptions>]> = [
      ['the unixfs-v1-2025 profile (1 MiB raw leaves)', IMPORT_OPTIONS],
      ['a deep balanced DAG (1000-byte raw leaves, 3 links a node)', { cidVersion: 1, rawLeaves: true, chunker: fixedSize({ chunkSize: 1000 }), layout: balanced({ maxChildrenPerNode: 3 }) }],
      ['a trickle DAG', { cidVersion: 1, rawLeaves: true, chunker: fixedSize({ chunkSize: 4096 }), layout: trickle({ maxChildrenPerNode: 4, layerRepeat: 2 }) }],
      ['dag-pb leaves holding the data (CIDv0 style)', { cidVersion: 0, rawLeaves: false, reduceSingleLeafToSelf: true, chunker: fixedSize({ chunkSize: 8192 }) }],
      ['HAMT-sharded folders (fanout 4, so sub-shards)', { cidVersion: 1, rawLeaves: true, shardSplitThresholdBytes: 1, shardFanoutBits: 2 }]
    ]

    for (const [shape, options] of shapes) {
      it(`${shape}, blocks placed in random order`, async () => {
        const { root, store } = await importSpec(spec, options)
        const out = join(sandbox, 'root')
        const writer = new OutputWriter(out, root)
        await writer.prepare()
        const next = prng(7)
        await writeDag(writer, store, root, n => next() % n)
        assert.equal(writer.written, big.length + mid.length + 8 + 16)
        await assert.rejects(stat(out), /ENOENT/, 'not in place before finish')
        assert.deepEqual(await writer.finish(true), { path: out, type: 'directory' })
        await assert.rejects(stat(writer.temp), /ENOENT/, 'the temporary output is gone')
        await assertWritten(out)
        const beside = (await tree(sandbox)).filter(p => p !== `root${sep}` && !p.startsWith(`root${sep}`))
        assert.deepEqual(beside, [], 'nothing beside the output')
      })
    }

    it('a single multi-block file, last leaf first, then renamed over an existing file', async () => {
      const { root, store } = await importSpec({ 'big.bin': big }, { ...IMPORT_OPTIONS, chunker: fixedSize({ chunkSize: 300_000 }) })
      const out = join(sandbox, 'big.bin')
      await writeFile(out, 'an older file of that name')
      const writer = new OutputWriter(out, root)
      await writer.prepare()
      const leaves = await writeDag(writer, store, root, n => n - 1) // always the newest: last link first
      assert.equal(leaves, Math.ceil(big.length / 300_000))
      assert.deepEqual(await writer.finish(true), { path: out, type: 'file' })
      assert.ok(Buffer.compare(await readFile(out), big) === 0)
    })

    it('a single raw block as the root is a file', async () => {
      const writer = new OutputWriter(join(sandbox, 'small.txt'), cidOf(text('small\n')))
      await writer.prepare()
      const { children, ref } = await writer.place(writer.rootPlacement(), cidOf(text('small\n')), text('small\n'))
      assert.deepEqual(children, [])
      assert.deepEqual(ref, { path: writer.temp, offset: 0, size: 6 })
      assert.deepEqual(await writer.finish(true), { path: join(sandbox, 'small.txt'), type: 'file' })
      assert.equal(await readFile(join(sandbox, 'small.txt'), 'utf8'), 'small\n')
    })

    it('an empty file (nothing placed) is still created on finish', async () => {
      const empty = cidOf(new Uint8Array())
      const writer = new OutputWriter(join(sandbox, 'empty'), empty)
      await writer.prepare()
      assert.deepEqual(await writer.finish(true), { path: join(sandbox, 'empty'), type: 'file' })
      assert.equal((await stat(join(sandbox, 'empty'))).size, 0)
    })

    it('resumes: a second writer for the same root keeps what the first wrote', async () => {
      const { root, store } = await importSpec(spec, { cidVersion: 1, rawLeaves: true, chunker: fixedSize({ chunkSize: 50_000 }) })
      const out = join(sandbox, 'root')
      const first = new OutputWriter(out, root)
      await first.prepare()
      const half = new Set<string>()
      let i = 0
      await writeDag(first, store, root, n => n - 1, cid => { if (i++ % 2 === 0) return false; half.add(cid.toString()); return true })
      assert.ok(half.size > 10)
      assert.equal(await first.finish(false), undefined, 'interrupted: not renamed')
      await assert.rejects(stat(out), /ENOENT/)

      const second = new OutputWriter(out, root)
      assert.equal(second.temp, first.temp, 'the same temporary output')
      await second.prepare()
      await writeDag(second, store, root, n => n - 1, cid => !half.has(cid.toString()))
      await second.finish(true)
      await assertWritten(out)
    })

    it('discard removes the temporary output', async () => {
      const { root, store } = await importSpec(spec, IMPORT_OPTIONS)
      const writer = new OutputWriter(join(sandbox, 'root'), root)
      await writer.prepare()
      await writeDag(writer, store, root, () => 0)
      await writer.discard()
      assert.deepEqual(await tree(sandbox), [])
    })
  })

  describe('the target', () => {
    it('an existing folder is refused before anything is written', async () => {
      const target = join(sandbox, 'taken')
      await mkdir(target)
      await writeFile(join(target, 'keep.txt'), 'mine')
      const writer = new OutputWriter(target, cidOf(text('x')))
      await assert.rejects(writer.prepare(), (err: Error) => err.name === 'InvalidArgumentError' && /is a directory/.test(err.message))
      assert.deepEqual(await tree(sandbox), ['taken' + sep, `taken${sep}keep.txt`])
    })

    it('a folder download is not renamed over anything that appeared meanwhile', async () => {
      const leaf = text('x')
      const d = directory([{ name: 'x', cid: cidOf(leaf), size: 1 }])
      const target = join(sandbox, 'dl')
      const writer = new OutputWriter(target, d.cid)
      await writer.prepare()
      const { children } = await writer.place(writer.rootPlacement(), d.cid, d.bytes)
      await writer.place(children[0], cidOf(leaf), leaf)
      await writeFile(target, 'created while downloading')
      await assert.rejects(writer.finish(true), (err: Error) => err.name === 'InvalidArgumentError' && /already exists/.test(err.message))
      assert.equal(await readFile(target, 'utf8'), 'created while downloading')
    })

    it('its temporary name is a hidden sibling named after the target and the root', () => {
      const root = cidOf(text('x'))
      const writer = new OutputWriter(join(sandbox, 'name.txt'), root)
      assert.equal(writer.temp, join(sandbox, `.name.txt.${root.toString().slice(-12)}.peerd-part`))
      assert.equal(writer.tempPath('a/b'), join(writer.temp, 'a', 'b'))
      assert.equal(writer.finalPath('a/b'), join(sandbox, 'name.txt', 'a', 'b'))
      assert.equal(writer.finalPath(''), join(sandbox, 'name.txt'))
    })
  })
})

describe('checkEntryName', () => {
  const ok = ['a', 'file.txt', '.hidden', '...', '..a', 'a..', 'a b', ' ', 'ünïcode', '名前', 'a:b', '-', 'x'.repeat(255), 'CON']
  const refused = ['', '.', '..', '/', 'a/b', '/abs', 'trailing/', '../x', '\\', 'a\\b', '..\\x', 'C:\\x', '\0', 'a\0', '\0..']

  for (const name of ok) {
    it(`accepts ${JSON.stringify(name.length > 20 ? `${name.slice(0, 8)}…(${name.length})` : name)}`, () => {
      assert.doesNotThrow(() => { checkEntryName(name) })
    })
  }
  for (const name of refused) {
    it(`refuses ${JSON.stringify(name)}`, () => {
      assert.throws(() => { checkEntryName(name) }, (err: Error) => {
        assert.equal(err.name, 'UnsafePathError')
        assert.ok(err.message.includes(JSON.stringify(name)), 'names the entry')
        return true
      })
    })
  }
})
