/**
 * peerd's importer against CIDs published by IPFS for the unixfs-v1-2025 profile (IPIP-499),
 * made by Kubo: same bytes, same CID. Vectors and their sources: test/vectors/unixfs-cids.json.
 *
 * Vectors of 1 GiB and more run only with PEERD_SLOW_VECTORS=1 (about 2 s and 1 GiB of temporary
 * disk each).
 */
import assert from 'node:assert/strict'
import { createCipheriv, createHash } from 'node:crypto'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { before, describe, it } from 'node:test'
import * as dagPb from '@ipld/dag-pb'
import { MemoryBlockstore } from 'blockstore-core'
import { UnixFS } from 'ipfs-unixfs'
import { exporter } from 'ipfs-unixfs-exporter'
import { importer } from 'ipfs-unixfs-importer'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { FsBlockstore } from '../../../src/share/blockstore.ts'
import { IMPORT_OPTIONS, importPath, importStream } from '../../../src/share/importer.ts'
import { tempDir } from '../../utils/index.ts'
import { teardown } from '../../utils/teardown.ts'

type Recipe =
  | { generator: 'utf8', text: string }
  | { generator: 'chacha20', seed: string, size: number }

interface FileVector {
  name: string
  recipe: Recipe
  size: number
  cid: string
  shape: string
  sources: string[]
  slow?: boolean
}

interface Tree { [name: string]: string | Tree }

interface DirVector {
  name: string
  recipe: { tree: Tree } | { generator: 'kubo-hamt-names', seed: string, count: number, nameLen: number, lastNameLen: number }
  cid: string
  shape?: string
  entries?: Record<string, string>
  sources: string[]
}

interface Vectors {
  profile: string
  sources: Record<string, { url: string }>
  files: FileVector[]
  directories: DirVector[]
}

const vectors = JSON.parse(await readFile(new URL('../../vectors/unixfs-cids.json', import.meta.url), 'utf8')) as Vectors
const SLOW = process.env.PEERD_SLOW_VECTORS === '1'
const MiB = 1024 * 1024

/**
 * Kubo's DeterministicRandomReaderBytes: the ChaCha20 keystream for key sha256(seed), zero
 * nonce, counter 0. OpenSSL's 16-byte chacha20 IV is the 4-byte little-endian counter then the
 * 12-byte IETF nonce, so all zeros.
 */
async function * chacha20 (seed: string, size: number): AsyncGenerator<Uint8Array> {
  const cipher = createCipheriv('chacha20', createHash('sha256').update(seed, 'utf8').digest(), Buffer.alloc(16))
  const zeros = Buffer.alloc(Math.min(size, MiB))
  for (let left = size; left > 0;) {
    const n = Math.min(left, zeros.length)
    yield cipher.update(zeros.subarray(0, n))
    left -= n
  }
}

async function * bytesOf (recipe: Recipe): AsyncGenerator<Uint8Array> {
  if (recipe.generator === 'utf8') yield new TextEncoder().encode(recipe.text)
  else yield * chacha20(recipe.seed, recipe.size)
}

async function collect (source: Iterable<Uint8Array> | AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Uint8Array[] = []
  for await (const chunk of source) parts.push(chunk)
  return Buffer.concat(parts)
}

async function sha256Of (source: AsyncIterable<Uint8Array>): Promise<string> {
  const h = createHash('sha256')
  for await (const chunk of source) h.update(chunk)
  return h.digest('hex')
}

/** Kubo's createDeterministicFiles names (see the vector file's `kubo-hamt-names`). */
async function hamtNames (seed: string, count: number, nameLen: number, lastNameLen: number): Promise<string[]> {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz01234567890-_'
  const stream = await collect(chacha20(seed, MiB))
  const names: string[] = []
  let offset = 0
  for (let i = 0; i < count; i++) {
    const len = i === count - 1 ? lastNameLen : nameLen
    let name = ''
    for (let j = 0; j < len; j++) name += alphabet[(stream[offset + j] as number) % alphabet.length]
    names.push(name)
    offset += len
  }
  return names
}

async function writeTree (dir: string, tree: Tree): Promise<void> {
  await mkdir(dir, { recursive: true })
  for (const [name, value] of Object.entries(tree)) {
    if (typeof value === 'string') await writeFile(join(dir, name), value)
    else await writeTree(join(dir, name), value)
  }
}

describe('UnixFS CID vectors (unixfs-v1-2025, expected CIDs from Kubo)', () => {
  const td = teardown()
  let dir: string
  let blockstore: FsBlockstore

  before(async () => {
    dir = await td.dir('peerd-cid-vectors-')
    blockstore = new FsBlockstore(join(dir, 'blocks'))
    await blockstore.open()
  })

  it('the vector file is for the profile peerd imports with, and every vector names a known source', () => {
    assert.equal(vectors.profile, IMPORT_OPTIONS.profile)
    for (const v of [...vectors.files, ...vectors.directories]) {
      assert.ok(v.sources.length > 0, v.name)
      for (const s of v.sources) assert.ok(vectors.sources[s]?.url.startsWith('https://'), `${v.name}: source ${s}`)
    }
  })

  for (const v of vectors.files) {
    const skip = v.slow === true && !SLOW ? 'set PEERD_SLOW_VECTORS=1 to import this (1 GiB or more)' : false
    it(`file ${v.name} (${v.size} bytes): ${v.shape}`, { skip }, async () => {
      // the slow ones get their own store without a memory cache, removed right after
      const own = v.slow === true ? await tempDir('peerd-cid-slow-') : undefined
      const store = own != null ? new FsBlockstore(own.path, { cacheBytes: 0 }) : blockstore
      try {
        if (own != null) await store.open()
        const root = await importStream(v.name, bytesOf(v.recipe), store)
        assert.equal(root.size, v.size)
        assert.equal(root.cid.toString(), v.cid)

        const cid = CID.parse(v.cid)
        if (v.size <= MiB) {
          assert.equal(cid.code, raw.code, 'one chunk or less is a single raw leaf')
        } else {
          // a dag-pb File over raw leaves whose sizes add up to the file
          assert.equal(cid.code, dagPb.code)
          const node = dagPb.decode(await store.getBytes(cid))
          const fs = UnixFS.unmarshal(node.Data as Uint8Array)
          assert.equal(fs.type, 'file')
          assert.equal(fs.fileSize(), BigInt(v.size))
          assert.equal(fs.blockSizes.length, node.Links.length)
          assert.ok(node.Links.length <= 1024)
          if (v.size <= 1024 * MiB) assert.ok(node.Links.every(l => l.Hash.code === raw.code), 'leaves are raw')
        }
        if (own == null) {
          // what the store holds reads back as the input
          const entry = await exporter(cid, store)
          assert.ok(entry.type === 'file' || entry.type === 'raw')
          assert.equal(await sha256Of(entry.content()), await sha256Of(bytesOf(v.recipe)))
        }
      } finally {
        await own?.cleanup()
      }
    })
  }

  for (const v of vectors.directories) {
    const recipe = v.recipe
    if ('tree' in recipe) {
      it(`directory ${v.name} via importPath`, async () => {
        const path = join(dir, 'trees', v.name)
        await writeTree(path, recipe.tree)
        const root = await importPath(path, blockstore)
        assert.equal(root.type, 'directory')
        assert.deepEqual(root.skipped, [])
        assert.equal(root.cid.toString(), v.cid)
        for (const [rel, expected] of Object.entries(v.entries ?? {})) {
          const entry = await exporter(`${v.cid}/${rel}`, blockstore)
          assert.equal(entry.cid.toString(), expected, rel)
        }
      })
      continue
    }

    // 4766 one-byte files: imported through the importer with peerd's IMPORT_OPTIONS (what fixes
    // the HAMT threshold) into memory, as writing 4766 block files takes seconds; the full
    // importPath + FsBlockstore run is in the slow set.
    it(`directory ${v.name} with IMPORT_OPTIONS: ${v.shape ?? ''}`, async () => {
      const names = await hamtNames(recipe.seed, recipe.count, recipe.nameLen, recipe.lastNameLen)
      assert.equal(new Set(names).size, recipe.count, 'names are distinct')
      names.sort() // as importPath walks a folder
      const store = new MemoryBlockstore()
      const x = new TextEncoder().encode('x')
      let root: CID | undefined
      const source = [{ path: 'dir' }, ...names.map(n => ({ path: `dir/${n}`, content: x }))]
      for await (const e of importer(source, store, IMPORT_OPTIONS)) if (e.path === 'dir') root = e.cid
      assert.ok(root != null)
      assert.equal(root.toString(), v.cid)

      const block = await collect(store.get(root))
      const fs = UnixFS.unmarshal(dagPb.decode(block).Data as Uint8Array)
      if (recipe.lastNameLen === 21) {
        // Kubo's check: a basic directory whose block is exactly the 256 KiB threshold
        assert.equal(fs.type, 'directory')
        assert.equal(block.length, 262144)
        assert.equal(dagPb.decode(block).Links.length, recipe.count)
      } else {
        assert.equal(fs.type, 'hamt-sharded-directory')
        assert.equal(fs.fanout, 256n)
      }
    })

    it(`directory ${v.name} via importPath into FsBlockstore`, { skip: SLOW ? false : 'set PEERD_SLOW_VECTORS=1 (writes 4766 files)' }, async () => {
      const names = await hamtNames(recipe.seed, recipe.count, recipe.nameLen, recipe.lastNameLen)
      const path = join(dir, 'hamt', v.name)
      await mkdir(path, { recursive: true })
      for (const n of names) await writeFile(join(path, n), 'x')
      const root = await importPath(path, blockstore)
      assert.equal(root.cid.toString(), v.cid)
      assert.equal(root.size, recipe.count)
    })
  }
})
