/**
 * importPath and importStream: what goes in comes back out. A file or a folder (nested, with an
 * empty subfolder and an empty file) imported into an FsBlockstore exports, through
 * ipfs-unixfs-exporter, to exactly the input; entries that are neither files nor folders are
 * skipped and reported; a missing path is an InvalidArgumentError.
 */
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { lstat, mkdir, readdir, readFile, symlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { before, describe, it } from 'node:test'
import { exporter } from 'ipfs-unixfs-exporter'
import type { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { FsBlockstore } from '../../../src/share/blockstore.ts'
import { importPath, importStream } from '../../../src/share/importer.ts'
import { teardown } from '../../utils/teardown.ts'
import { prng } from '../../utils/share.ts'

const MiB = 1024 * 1024

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')

/** A folder's content: relative path → sha256 of a file, or '<dir>'. */
type Listing = Record<string, string>

/** What is on disk under `root`: regular files and folders only (what importPath takes). */
async function onDisk (root: string, rel = ''): Promise<Listing> {
  const out: Listing = {}
  for (const name of await readdir(join(root, rel))) {
    const path = rel === '' ? name : `${rel}/${name}`
    const st = await lstat(join(root, path))
    if (st.isDirectory()) Object.assign(out, { [path]: '<dir>' }, await onDisk(root, path))
    else if (st.isFile()) out[path] = sha(await readFile(join(root, path)))
  }
  return out
}

async function contentOf (source: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = []
  for await (const p of source) parts.push(p)
  return new Uint8Array(Buffer.concat(parts))
}

/** What the DAG at `cid` holds, read back with ipfs-unixfs-exporter. */
async function exported (cid: CID, store: FsBlockstore, rel = ''): Promise<Listing> {
  const entry = await exporter(cid, store)
  if (entry.type !== 'directory') throw new Error(`${rel} is a ${entry.type}, not a directory`)
  const out: Listing = {}
  for await (const child of entry.entries()) {
    const path = rel === '' ? child.name : `${rel}/${child.name}`
    const e = await exporter(child.cid, store)
    if (e.type === 'directory') Object.assign(out, { [path]: '<dir>' }, await exported(child.cid, store, path))
    else if (e.type === 'file' && e.unixfs.type === 'symlink') out[path] = `-> ${new TextDecoder().decode(e.unixfs.data)}`
    else if (e.type === 'file' || e.type === 'raw' || e.type === 'identity') out[path] = sha(await contentOf(e.content()))
    else throw new Error(`${path}: unexpected ${e.type}`)
  }
  return out
}

describe('importer', () => {
  const td = teardown()
  let dir: string
  let store: FsBlockstore

  before(async () => {
    dir = await td.dir('peerd-importer-')
    store = new FsBlockstore(join(dir, 'blocks'), { cacheBytes: 0 }) // exports read from disk
    await store.open()
  })

  describe('importPath of a file', () => {
    for (const [what, size] of [['a small file', 1000], ['a multi-block file (2.5 MiB)', 2.5 * MiB], ['an empty file', 0]] as const) {
      it(`${what}: the root exports to its bytes`, async () => {
        const data = prng(size + 1)(size)
        const path = join(dir, `file-${size}.bin`)
        await writeFile(path, data)
        let progress = 0
        const root = await importPath(path, store, { onBytes: n => { progress += n } })
        assert.equal(root.type, 'file')
        assert.equal(root.name, `file-${size}.bin`)
        assert.equal(root.size, size)
        assert.equal(progress, size, 'onBytes counts every byte')
        assert.deepEqual(root.skipped, [])
        assert.equal(root.cid.version, 1)
        assert.equal(root.cid.code === raw.code, size <= MiB, 'a file of one chunk is one raw block')
        const entry = await exporter(root.cid, store)
        assert.ok(entry.type === 'file' || entry.type === 'raw')
        assert.equal(sha(await contentOf(entry.content())), sha(data))
      })
    }

    it('gives the same CID as importStream of the same bytes, and again on a second import', async () => {
      const data = prng(3)(MiB + 17)
      const path = join(dir, 'same.bin')
      await writeFile(path, data)
      const fromPath = await importPath(path, store)
      const fromStream = await importStream('whatever-name', (async function * () {
        for (let i = 0; i < data.length; i += 65536) yield data.subarray(i, i + 65536)
      })(), store)
      assert.equal(fromStream.cid.toString(), fromPath.cid.toString())
      assert.deepEqual({ ...fromStream, cid: undefined }, { cid: undefined, name: 'whatever-name', size: data.length, type: 'file', skipped: [] })
      assert.equal((await importPath(path, store)).cid.toString(), fromPath.cid.toString())
    })
  })

  describe('importPath of a folder', () => {
    let folder: string
    const files: Record<string, Uint8Array> = {
      'a.txt': new TextEncoder().encode('alpha\n'),
      'big.bin': prng(9)(MiB + MiB / 2),
      'empty.txt': new Uint8Array(),
      'nested/b.txt': new TextEncoder().encode('beta\n'),
      'nested/deeper/c.bin': prng(11)(4097),
      'nested/deeper/empty-too': new Uint8Array(),
      '.hidden': new TextEncoder().encode('dotfiles are shared too\n'),
      'spaced name ü.txt': new TextEncoder().encode('utf-8 names\n')
    }

    before(async () => {
      folder = join(dir, 'shared')
      for (const [rel, data] of Object.entries(files)) {
        await mkdir(join(folder, rel, '..'), { recursive: true })
        await writeFile(join(folder, rel), data)
      }
      await mkdir(join(folder, 'empty-folder'))
      await mkdir(join(folder, 'nested', 'empty-sub'))
    })

    it('leaves hidden entries out by default, as `ipfs add -r` does, and reports them', async () => {
      const root = await importPath(folder, store)
      assert.deepEqual(root.skipped, ['.hidden'])
      const want = await onDisk(folder)
      delete want['.hidden']
      assert.deepEqual(await exported(root.cid, store), want)
    })

    it('exports to exactly the input: nested folders, empty folders, empty files (with --hidden)', async () => {
      const root = await importPath(folder, store, { hidden: true })
      assert.equal(root.type, 'directory')
      assert.equal(root.name, 'shared')
      assert.deepEqual(root.skipped, [])
      assert.equal(root.size, Object.values(files).reduce((n, b) => n + b.length, 0))
      const want = await onDisk(folder)
      assert.equal(want['empty-folder'], '<dir>')
      assert.equal(want['nested/empty-sub'], '<dir>')
      assert.deepEqual(await exported(root.cid, store), want)
    })

    it('gives the same CID however the folder was made (entries are sorted)', async () => {
      const copy = join(dir, 'copy', 'shared')
      // the same tree written in reverse order, under another parent
      for (const [rel, data] of Object.entries(files).reverse()) {
        await mkdir(join(copy, rel, '..'), { recursive: true })
        await writeFile(join(copy, rel), data)
      }
      await mkdir(join(copy, 'nested', 'empty-sub'))
      await mkdir(join(copy, 'empty-folder'))
      assert.equal((await importPath(copy, store, { hidden: true })).cid.toString(), (await importPath(folder, store, { hidden: true })).cid.toString())
    })

    it('stores symbolic links as UnixFS symlinks without following them (as Kubo does); skips special files', async () => {
      const withLinks = join(dir, 'with-links')
      await mkdir(join(withLinks, 'sub'), { recursive: true })
      await writeFile(join(withLinks, 'real.txt'), 'real\n')
      await writeFile(join(withLinks, 'sub', 'inner.txt'), 'inner\n')
      await symlink('real.txt', join(withLinks, 'link-to-file'))
      await symlink(folder, join(withLinks, 'sub', 'link-to-folder'))
      await symlink('/nowhere/at/all', join(withLinks, 'dangling'))
      await symlink('..', join(withLinks, 'sub', 'loop'))
      let fifo = false
      try {
        execFileSync('mkfifo', [join(withLinks, 'pipe')])
        fifo = true
      } catch { /* no mkfifo: links alone */ }

      const root = await importPath(withLinks, store)
      assert.deepEqual([...root.skipped].sort(), fifo ? ['pipe'] : [])
      assert.deepEqual(await exported(root.cid, store), {
        'real.txt': sha(new TextEncoder().encode('real\n')),
        'link-to-file': '-> real.txt',
        dangling: '-> /nowhere/at/all',
        sub: '<dir>',
        'sub/inner.txt': sha(new TextEncoder().encode('inner\n')),
        'sub/link-to-folder': `-> ${folder}`,
        'sub/loop': '-> ..'
      })
      assert.equal(root.size, 'real\n'.length + 'inner\n'.length, 'nothing behind a link was read')
    })

    it('refuses a path that is itself a symbolic link (it is not followed)', async () => {
      const link = join(dir, 'link-to-shared')
      await symlink(folder, link)
      await assert.rejects(importPath(link, store), (err: Error) => err.name === 'InvalidArgumentError' && /neither a file nor a directory/.test(err.message))
    })
  })

  it('a missing path is an InvalidArgumentError naming it', async () => {
    const missing = join(dir, 'no', 'such', 'thing')
    await assert.rejects(importPath(missing, store), (err: Error) => {
      assert.equal(err.name, 'InvalidArgumentError')
      assert.match(err.message, /no such file or directory/)
      assert.ok(err.message.includes(missing))
      return true
    })
  })

  it('importStream of nothing is the empty file', async () => {
    const root = await importStream('empty', (async function * () {})(), store)
    assert.equal(root.size, 0)
    // the empty raw block (UnixFS spec, well-known CIDs)
    assert.equal(root.cid.toString(), 'bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku')
  })
})
