/**
 * FsBlockstore: nothing unverified goes in, nothing unverified comes out. Wrong bytes are
 * refused and leave no trace; a block file rotten on disk, or a file holding a referenced block
 * that changed, reads as missing (and is forgotten) rather than being served.
 */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { mkdir, readdir, readFile, rm, stat, truncate, utimes, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { beforeEach, describe, it } from 'node:test'
import * as dagPb from '@ipld/dag-pb'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import * as Digest from 'multiformats/hashes/digest'
import { blockKey, MAX_BLOCK_SIZE, MAX_IDENTITY_DIGEST } from '../../../src/share/block.ts'
import { FsBlockstore } from '../../../src/share/blockstore.ts'
import type { BlockRef, RefStore } from '../../../src/share/blockstore.ts'
import { teardownEach } from '../../utils/teardown.ts'

function sha256 (data: Uint8Array): Uint8Array {
  return createHash('sha256').update(data).digest()
}

function cidOf (data: Uint8Array, codec: number = raw.code): CID {
  return CID.createV1(codec, Digest.create(0x12, sha256(data)))
}

const text = (s: string): Uint8Array => new TextEncoder().encode(s)

/** A RefStore in memory, as ShareDb.refs() keeps it in LevelDB. */
class MemoryRefs implements RefStore {
  readonly map = new Map<string, BlockRef>()
  async get (key: string): Promise<BlockRef | undefined> { return this.map.get(key) }
  async put (key: string, ref: BlockRef): Promise<void> { this.map.set(key, ref) }
  async delete (key: string): Promise<void> { this.map.delete(key) }
  async * keys (): AsyncGenerator<string> { yield * this.map.keys() }
}

/** Every file under `root` except the temporary folder, relative. */
async function filesUnder (root: string): Promise<string[]> {
  const all = await readdir(root, { recursive: true, withFileTypes: true })
  return all.filter(e => e.isFile()).map(e => join(e.parentPath, e.name).slice(root.length + 1)).filter(p => !p.startsWith('tmp/')).sort()
}

/** The block file holding `cid` (found by its name, the block key). */
async function blockFile (root: string, cid: CID): Promise<string | undefined> {
  const rel = (await filesUnder(root)).find(p => p.endsWith('/' + blockKey(cid)))
  return rel == null ? undefined : join(root, rel)
}

async function collect (source: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = []
  for await (const p of source) parts.push(p)
  return new Uint8Array(Buffer.concat(parts))
}

const notFound = (err: Error): boolean => {
  assert.equal(err.name, 'BlockNotFoundError')
  return true
}

const invalid = (pattern: RegExp) => (err: Error): boolean => {
  assert.equal(err.name, 'InvalidBlockError')
  assert.match(err.message, pattern)
  return true
}

describe('FsBlockstore', () => {
  const td = teardownEach()
  let dir: string
  let root: string
  /** A store on `root` with no memory cache, so every read goes to disk. */
  const fresh = async (refs?: RefStore): Promise<FsBlockstore> => {
    const s = new FsBlockstore(root, { cacheBytes: 0, refs })
    await s.open()
    return s
  }

  const hello = text('hello blockstore')
  const helloCid = cidOf(hello)
  const node = dagPb.encode(dagPb.prepare({ Data: Uint8Array.of(8, 2, 24, hello.length), Links: [{ Hash: helloCid, Tsize: hello.length }] }))
  const nodeCid = cidOf(node, dagPb.code)
  const nodeV0 = CID.createV0(Digest.create(0x12, sha256(node)) as Digest.Digest<0x12, 32>)

  beforeEach(async () => {
    dir = await td.dir('peerd-blockstore-')
    root = join(dir, 'blocks')
  })

  describe('put', () => {
    it('stores verified bytes and reads them back from disk', async () => {
      const store = await fresh()
      assert.equal((await store.put(helloCid, hello)).toString(), helloCid.toString())
      assert.equal(await store.has(helloCid), true)
      const file = await blockFile(root, helloCid)
      assert.ok(file != null, 'one file named by the block key')
      assert.deepEqual(new Uint8Array(await readFile(file)), hello)
      // a new instance has no cache: the bytes come from the file
      const again = await fresh()
      assert.deepEqual(new Uint8Array(await again.getBytes(helloCid)), hello)
      assert.deepEqual(await collect(again.get(helloCid)), hello)
    })

    it('refuses bytes that do not hash to the CID and stores nothing', async () => {
      const store = await fresh()
      const heard: string[] = []
      store.onPut(cid => heard.push(cid.toString()))
      await assert.rejects(store.put(helloCid, text('hello blockstorE')), invalid(/do not match/))
      await assert.rejects(store.put(nodeCid, hello), invalid(/do not match/))
      await assert.rejects(store.put(helloCid, new Uint8Array()), invalid(/do not match/))
      assert.equal(await store.has(helloCid), false)
      assert.equal(await store.has(nodeCid), false)
      await assert.rejects(store.getBytes(helloCid), notFound)
      assert.deepEqual(await filesUnder(root), [])
      assert.deepEqual(await readdir(join(root, 'tmp')), [], 'no temporary file left')
      assert.deepEqual(heard, [])
    })

    it('takes bytes as an iterable of chunks, verifying the whole', async () => {
      const store = await fresh()
      await store.put(helloCid, (async function * () { yield hello.subarray(0, 5); yield hello.subarray(5) })())
      assert.deepEqual(new Uint8Array(await (await fresh()).getBytes(helloCid)), hello)
      await assert.rejects(store.put(nodeCid, (function * () { yield node.subarray(1) })()), invalid(/do not match/))
      assert.equal(await store.has(nodeCid), false)
    })

    it(`refuses a block over MAX_BLOCK_SIZE (${MAX_BLOCK_SIZE}), streamed or whole, before hashing it`, async () => {
      const store = await fresh()
      const big = new Uint8Array(MAX_BLOCK_SIZE + 1)
      const bigCid = cidOf(big)
      await assert.rejects(store.put(bigCid, big), invalid(/limit/))
      let pulled = 0
      const chunks = (function * () { for (let i = 0; i < 4; i++) { pulled++; yield new Uint8Array(MAX_BLOCK_SIZE / 2 + 1) } })()
      await assert.rejects(store.put(bigCid, chunks), invalid(/over/))
      assert.equal(pulled, 2, 'stops reading once over the limit')
      assert.deepEqual(await filesUnder(root), [])
      // exactly the limit is fine
      const max = new Uint8Array(MAX_BLOCK_SIZE).fill(1)
      await store.put(cidOf(max), max)
      assert.equal(await store.sizeOf(cidOf(max)), MAX_BLOCK_SIZE)
    })

    it('holds every identity CID (its block is its digest) without writing, deleting or listing it', async () => {
      const store = await fresh()
      const heard: string[] = []
      store.onPut(cid => heard.push(cid.toString()))
      const inline = CID.createV1(raw.code, Digest.create(0x00, text('tiny')))
      const empty = CID.parse('bafkqaaa')
      const inlineNode = CID.createV1(dagPb.code, Digest.create(0x00, node))
      // held before anything is put: read from the CID itself
      for (const [cid, bytes] of [[inline, text('tiny')], [empty, new Uint8Array()], [inlineNode, node]] as const) {
        assert.equal(await store.has(cid), true)
        assert.deepEqual(new Uint8Array(await store.getBytes(cid)), bytes)
        assert.deepEqual(await collect(store.get(cid)), bytes)
        assert.equal(await store.sizeOf(cid), bytes.length)
      }
      await store.put(inline, text('tiny'))
      await assert.rejects(store.put(inline, text('tinY')), invalid(/do not match/))
      await store.delete(inline)
      assert.equal(await store.has(inline), true)
      assert.deepEqual(await filesUnder(root), [], 'no block file')
      assert.deepEqual(heard, [], 'nothing new stored')
      // over MAX_IDENTITY_DIGEST: refused on put, and held by nobody
      const big = new Uint8Array(MAX_IDENTITY_DIGEST + 1).fill(7)
      const tooBig = CID.createV1(raw.code, Digest.create(0x00, big))
      await assert.rejects(store.put(tooBig, big), (err: Error) => err.name === 'IdentityTooLargeError')
      assert.equal(await store.has(tooBig), false)
      await assert.rejects(store.getBytes(tooBig), notFound)
      const atLimit = CID.createV1(raw.code, Digest.create(0x00, big.subarray(1)))
      assert.equal(await store.sizeOf(atLimit), MAX_IDENTITY_DIGEST)
    })

    it('tells listeners of each stored block until they unsubscribe', async () => {
      const store = await fresh()
      const heard: string[] = []
      const off = store.onPut((cid, bytes) => heard.push(`${cid.toString()}:${bytes().length}`))
      await store.put(helloCid, hello)
      off()
      await store.put(nodeCid, node)
      assert.deepEqual(heard, [`${helloCid.toString()}:${hello.length}`])
    })
  })

  describe('corruption on disk', () => {
    for (const [what, damage] of [
      ['a flipped byte', async (file: string) => { const b = await readFile(file); b[3] = (b[3] as number) ^ 0x01; await writeFile(file, b) }],
      ['a torn write (truncated)', async (file: string) => { await truncate(file, 4) }],
      ['an emptied file', async (file: string) => { await truncate(file, 0) }],
      ['other bytes of the same length', async (file: string) => { await writeFile(file, text('hello blockst0re')) }],
      ['a file grown past the block size limit', async (file: string) => { await writeFile(file, Buffer.concat([hello, Buffer.alloc(MAX_BLOCK_SIZE)])) }]
    ] as const) {
      it(`${what}: reported missing, deleted, never served`, async () => {
        const store = await fresh()
        await store.put(helloCid, hello)
        const file = await blockFile(root, helloCid)
        assert.ok(file != null)
        await damage(file)
        const reader = await fresh()
        await assert.rejects(reader.getBytes(helloCid), notFound)
        await assert.rejects(collect(reader.get(helloCid)), notFound)
        await assert.rejects(stat(file), /ENOENT/, 'the bad file is deleted')
        assert.equal(await reader.has(helloCid), false)
        // and it can be stored again
        await reader.put(helloCid, hello)
        assert.deepEqual(new Uint8Array(await (await fresh()).getBytes(helloCid)), hello)
      })
    }

    it('getAll skips a corrupt block and yields the good ones', async () => {
      const store = await fresh()
      await store.put(helloCid, hello)
      await store.put(nodeCid, node)
      const file = await blockFile(root, helloCid)
      assert.ok(file != null)
      await writeFile(file, text('rotten'))
      const got: string[] = []
      for await (const { cid, bytes } of (await fresh()).getAll()) {
        got.push(`${blockKey(cid)}:${Buffer.from(await collect((async function * () { yield * bytes })())).toString('hex')}`)
      }
      assert.deepEqual(got, [`${blockKey(nodeCid)}:${Buffer.from(node).toString('hex')}`])
    })
  })

  describe('blocks hashed once per unchanged file', () => {
    /** Gives `file` times far from now, so no timestamp granularity can hide the change made to it. */
    const touchPast = async (file: string): Promise<void> => {
      const t = new Date('2001-02-03T04:05:06Z')
      await utimes(file, t, t)
    }
    /** A store that trusts files hashed before, however recently they were written. */
    const trusting = async (options: { refs?: RefStore, hashedFiles?: number } = {}): Promise<FsBlockstore> => {
      const s = new FsBlockstore(root, { cacheBytes: 0, racyMs: -1, ...options })
      await s.open()
      return s
    }

    it('a block file read again unchanged is not hashed again', async () => {
      const store = await trusting()
      await store.put(helloCid, hello)
      await store.put(nodeCid, node)
      for (let i = 0; i < 3; i++) {
        assert.deepEqual(new Uint8Array(await store.getBytes(helloCid)), hello)
        assert.deepEqual(new Uint8Array(await store.getBytes(nodeCid)), node)
      }
      assert.deepEqual(store.reads, { hashed: 2, trusted: 4 })
    })

    for (const [what, damage] of [
      ['other bytes of the same length', async (file: string) => { await writeFile(file, text('hello blockst0re')) }],
      ['a flipped byte', async (file: string) => { const b = await readFile(file); b[0] = (b[0] as number) ^ 0x80; await writeFile(file, b) }],
      ['a truncation', async (file: string) => { await truncate(file, 4) }]
    ] as const) {
      it(`${what} after a trusted read is caught on the next read`, async () => {
        const store = await trusting()
        await store.put(helloCid, hello)
        await store.getBytes(helloCid)
        await store.getBytes(helloCid)
        assert.equal(store.reads.trusted, 1)
        const file = await blockFile(root, helloCid)
        assert.ok(file != null)
        await damage(file)
        await touchPast(file)
        await assert.rejects(store.getBytes(helloCid), notFound)
        await assert.rejects(stat(file), /ENOENT/, 'the bad file is deleted')
      })
    }

    it('a file written within the racy window is hashed on every read, and a change right after a read is caught', async () => {
      const store = await fresh()
      await store.put(helloCid, hello)
      await store.getBytes(helloCid)
      await store.getBytes(helloCid)
      assert.deepEqual(store.reads, { hashed: 2, trusted: 0 })
      const file = await blockFile(root, helloCid)
      assert.ok(file != null)
      await writeFile(file, text('hello blockst0re')) // no help from the times
      await assert.rejects(store.getBytes(helloCid), notFound)
    })

    it('past its memory bound, blocks are hashed again', async () => {
      const store = await trusting({ hashedFiles: 1 })
      await store.put(helloCid, hello)
      await store.put(nodeCid, node)
      for (let i = 0; i < 2; i++) {
        await store.getBytes(helloCid)
        await store.getBytes(nodeCid)
      }
      assert.deepEqual(store.reads, { hashed: 4, trusted: 0 })
      await store.getBytes(nodeCid)
      assert.deepEqual(store.reads, { hashed: 4, trusted: 1 })
    })

    it('a block kept in a downloaded file (the user\'s to edit) is hashed on every read, and dropped once it changes', async () => {
      const refs = new MemoryRefs()
      const store = await trusting({ refs })
      const file = join(dir, 'download.bin')
      await writeFile(file, Buffer.concat([text('0123456789'), hello, text('tail')]))
      await touchPast(file)
      await store.putRef(helloCid, { path: file, offset: 10, size: hello.length }, hello)
      assert.deepEqual(new Uint8Array(await store.getBytes(helloCid)), hello)
      assert.deepEqual(new Uint8Array(await store.getBytes(helloCid)), hello)
      const rewritten = Buffer.concat([text('0123456789'), text('HELLO BLOCKSTORE'), text('tail')])
      await writeFile(file, rewritten)
      await touchPast(file) // the same times as before: only hashing catches it
      await assert.rejects(store.getBytes(helloCid), notFound)
      assert.equal(refs.map.size, 0, 'the reference is forgotten')
    })
  })

  describe('references into files', () => {
    it('reads a block kept at an offset inside a file', async () => {
      const refs = new MemoryRefs()
      const store = await fresh(refs)
      const file = join(dir, 'download.bin')
      await writeFile(file, Buffer.concat([text('0123456789'), hello, text('tail')]))
      const heard: string[] = []
      store.onPut(cid => heard.push(cid.toString()))
      await store.putRef(helloCid, { path: file, offset: 10, size: hello.length }, hello)
      assert.deepEqual(heard, [helloCid.toString()])
      assert.deepEqual(await filesUnder(root), [], 'no block file: only the reference')
      assert.deepEqual(await store.refOf(helloCid), { path: file, offset: 10, size: hello.length })

      const reader = await fresh(refs)
      assert.equal(await reader.has(helloCid), true)
      assert.equal(await reader.sizeOf(helloCid), hello.length)
      assert.deepEqual(new Uint8Array(await reader.getBytes(helloCid)), hello)
      assert.deepEqual(await collect(reader.get(helloCid)), hello)
      const keys: string[] = []
      for await (const k of reader.refKeys()) keys.push(k)
      assert.deepEqual(keys, [blockKey(helloCid)])
    })

    for (const [what, change] of [
      ['its bytes change', async (file: string) => { await writeFile(file, Buffer.concat([text('0123456789'), text('HELLO BLOCKSTORE'), text('tail')])) }],
      ['it is truncated', async (file: string) => { await truncate(file, 12) }],
      ['it is deleted', async (file: string) => { await rm(file) }],
      ['it is replaced by a folder', async (file: string) => { await rm(file); await mkdir(file) }]
    ] as const) {
      it(`a referenced block is missing, and its reference dropped, when the file ${what}`, async () => {
        const refs = new MemoryRefs()
        const store = await fresh(refs)
        const file = join(dir, 'download.bin')
        await writeFile(file, Buffer.concat([text('0123456789'), hello, text('tail')]))
        await store.putRef(helloCid, { path: file, offset: 10, size: hello.length }, hello)
        await change(file)

        const reader = await fresh(refs)
        await assert.rejects(reader.getBytes(helloCid), notFound)
        assert.equal(refs.map.size, 0, 'the reference is forgotten')
        assert.equal(await reader.refOf(helloCid), undefined)
        assert.equal(await reader.has(helloCid), false)
        await assert.rejects(reader.sizeOf(helloCid), notFound)
      })
    }

    it('a reference is refused by a store that keeps none', async () => {
      const store = await fresh()
      await assert.rejects(store.putRef(helloCid, { path: '/nowhere', offset: 0, size: hello.length }, hello), /keeps no references/)
      assert.equal(await store.has(helloCid), false)
    })

    it('delete forgets the reference but leaves the file, which is the user\'s', async () => {
      const refs = new MemoryRefs()
      const store = await fresh(refs)
      const file = join(dir, 'download.bin')
      await writeFile(file, hello)
      await store.putRef(helloCid, { path: file, offset: 0, size: hello.length }, hello)
      await store.delete(helloCid)
      assert.equal(refs.map.size, 0)
      assert.equal(await store.has(helloCid), false)
      await assert.rejects(store.getBytes(helloCid), notFound, 'not served from memory either')
      assert.deepEqual(new Uint8Array(await readFile(file)), hello)
    })
  })

  describe('has, delete, keys', () => {
    it('keys lists each block once, as a raw CIDv1 of its multihash (CIDv0 and v1 share a block)', async () => {
      const store = await fresh()
      await store.put(helloCid, hello)
      await store.put(nodeCid, node)
      await store.put(nodeV0, node)
      assert.equal(await store.has(nodeV0), true)
      assert.equal(await store.has(CID.createV1(raw.code, nodeCid.multihash)), true, 'keyed by multihash')
      const keys: string[] = []
      for await (const cid of store.keys()) {
        assert.equal(cid.version, 1)
        assert.equal(cid.code, raw.code)
        keys.push(blockKey(cid))
      }
      assert.deepEqual(keys.sort(), [blockKey(helloCid), blockKey(nodeCid)].sort())
      assert.deepEqual(await store.diskUsage(), { blocks: 2, bytes: hello.length + node.length })
    })

    it('keys skips the temporary folder and files that are not blocks', async () => {
      const store = await fresh()
      await store.put(helloCid, hello)
      const file = await blockFile(root, helloCid)
      assert.ok(file != null)
      await writeFile(join(file, '..', 'not-a-block'), 'junk')
      await writeFile(join(root, 'tmp', 'half-written'), 'junk')
      await writeFile(join(root, 'stray-file'), 'junk')
      const keys: string[] = []
      for await (const cid of store.keys()) keys.push(blockKey(cid))
      assert.deepEqual(keys, [blockKey(helloCid)])
    })

    it('delete removes the file and the cached copy; deleting a missing block is a no-op', async () => {
      const store = new FsBlockstore(root) // with its memory cache
      await store.open()
      await store.put(helloCid, hello)
      await store.put(nodeCid, node)
      await store.delete(helloCid)
      assert.equal(await store.has(helloCid), false)
      await assert.rejects(store.getBytes(helloCid), notFound)
      assert.equal(await blockFile(root, helloCid), undefined)
      await store.delete(helloCid)
      await store.delete(cidOf(text('never stored')))
      const deleted: string[] = []
      for await (const cid of store.deleteMany([nodeV0])) deleted.push(cid.toString())
      assert.deepEqual(deleted, [nodeV0.toString()])
      assert.equal(await store.has(nodeCid), false, 'the v0 CID deleted the shared block')
      assert.deepEqual(await filesUnder(root), [])
    })

    it('getMany yields the bytes of each CID and fails on a missing one', async () => {
      const store = await fresh()
      await store.put(helloCid, hello)
      await store.put(nodeCid, node)
      const got: string[] = []
      for await (const { cid, bytes } of store.getMany([nodeCid, helloCid])) {
        got.push(`${cid.toString()}:${Buffer.from(await collect((async function * () { yield * bytes })())).length}`)
      }
      assert.deepEqual(got, [`${nodeCid.toString()}:${node.length}`, `${helloCid.toString()}:${hello.length}`])
      await assert.rejects(async () => { for await (const _ of store.getMany([cidOf(text('absent'))])) { /* drain */ } }, notFound)
    })
  })

  describe('open', () => {
    it('creates the folders and clears temporary files a crash left, keeping the blocks', async () => {
      const store = await fresh()
      await store.put(helloCid, hello)
      await mkdir(join(root, 'tmp', 'nested'), { recursive: true })
      await writeFile(join(root, 'tmp', 'a1b2c3d4e5f60708'), 'half a block')
      await writeFile(join(root, 'tmp', 'nested', 'x'), 'x')
      const reopened = await fresh()
      assert.deepEqual(await readdir(join(root, 'tmp')), [])
      assert.deepEqual(new Uint8Array(await reopened.getBytes(helloCid)), hello)
    })

    it('works on a folder that does not exist yet', async () => {
      root = join(dir, 'deep', 'er', 'blocks')
      const store = await fresh()
      assert.ok((await stat(join(root, 'tmp'))).isDirectory())
      await store.put(helloCid, hello)
      assert.equal(await store.has(helloCid), true)
    })
  })
})
