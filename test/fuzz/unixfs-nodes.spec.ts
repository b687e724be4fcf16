/**
 * Fuzzing the placing of downloaded DAG nodes (`OutputWriter.place`, `src/share/output.ts`):
 * a block's bytes are verified against its CID, but whoever made the content chose them, so
 * dag-pb and UnixFS nodes of any shape (and mutated or random bytes under a dag-pb CID) must
 * be placed or refused with a typed error, give children at offsets a file can have, and never
 * create anything outside the download's temporary path.
 */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { before, describe, it } from 'node:test'
import * as dagPb from '@ipld/dag-pb'
import fc from 'fast-check'
import { UnixFS } from 'ipfs-unixfs'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import * as Digest from 'multiformats/hashes/digest'
import { OutputWriter } from '../../src/share/output.ts'
import type { Placement } from '../../src/share/output.ts'
import { decodeOrTypedAsync, fuzzAsync, hostileBytes } from '../utils/fuzz.ts'
import { teardown } from '../utils/teardown.ts'

const TYPED = ['UnsupportedDagError', 'UnsafePathError', 'InvalidArgumentError']

function pbCid (bytes: Uint8Array): CID {
  return CID.createV1(dagPb.code, Digest.create(0x12, createHash('sha256').update(bytes).digest()))
}

const childCid = fc.uint8Array({ minLength: 32, maxLength: 32 }).chain(d => fc.constantFrom(
  CID.createV1(raw.code, Digest.create(0x12, d)), CID.createV1(dagPb.code, Digest.create(0x12, d))))
const name = fc.oneof(fc.string({ maxLength: 12 }), fc.constantFrom('..', '.', '', 'a/b', 'a\\b', 'x\0', 'FF', 'FFname', '/etc'))
const size = fc.oneof(fc.bigInt({ min: 0n, max: 2n ** 20n }), fc.constantFrom(0n, 2n ** 32n, 2n ** 53n, 2n ** 63n, 2n ** 64n - 1n))

/** dag-pb nodes with UnixFS data of every type, link names and block sizes chosen freely. */
const node: fc.Arbitrary<Uint8Array> = fc.record({
  type: fc.constantFrom('raw', 'directory', 'file', 'metadata', 'symlink', 'hamt-sharded-directory'),
  data: fc.option(fc.uint8Array({ maxLength: 64 }), { nil: undefined }),
  fanout: fc.option(fc.constantFrom(2n, 16n, 256n, 1024n, 0n), { nil: undefined }),
  links: fc.array(fc.record({ Hash: childCid, Name: fc.option(name, { nil: undefined }), Tsize: fc.option(fc.nat(), { nil: undefined }) }), { maxLength: 5 }),
  sizes: fc.array(size, { maxLength: 6 }),
  unixfs: fc.boolean()
}).map(n => {
  let Data: Uint8Array
  if (n.unixfs) {
    const fs = new UnixFS({ type: n.type, data: n.data, fanout: n.fanout })
    for (const s of n.sizes) fs.addBlockSize(s)
    Data = fs.marshal()
  } else {
    Data = n.data ?? new Uint8Array(0)
  }
  const links = n.links.map(l => ({ Hash: l.Hash, ...(l.Name != null ? { Name: l.Name } : {}), ...(l.Tsize != null ? { Tsize: l.Tsize } : {}) }))
  return dagPb.encode(dagPb.prepare({ Data, Links: links }))
})

const placement: fc.Arbitrary<Placement> = fc.oneof(
  fc.constant<Placement>({ kind: 'file', path: '', offset: 0 }),
  fc.constant<Placement>({ kind: 'dir', path: '' }),
  fc.nat({ max: 2 ** 20 }).map<Placement>(offset => ({ kind: 'file', path: 'sub', offset, chunk: true }))
)

describe('fuzz: UnixFS nodes placed by a download', () => {
  const td = teardown()
  let dir = ''
  let n = 0
  before(async () => { dir = await td.dir('peerd-fuzz-unixfs-') })

  it('places any node or refuses it with a typed error; children sit at offsets a file can have', async () => {
    await fuzzAsync(fc.tuple(hostileBytes(node, 200), placement), async ([bytes, where]) => {
      const target = join(dir, `out-${n++}`)
      const writer = new OutputWriter(target, pbCid(bytes))
      try {
        const placed = await decodeOrTypedAsync(async () => await writer.place(where, pbCid(bytes), bytes), TYPED)
        for (const child of placed?.children ?? []) {
          if (child.kind === 'file') assert.ok(Number.isSafeInteger(child.offset) && child.offset >= 0, `child at offset ${child.offset}`)
        }
      } finally {
        await writer.discard()
      }
      // nothing but the temporary output (now removed) was ever created
      assert.deepStrictEqual((await readdir(dir)).filter(f => !f.startsWith('.out-')), [])
    }, 0.5)
  })

  it('refuses a malformed dag-pb node, and block sizes past 2^53, with UnsupportedDagError (found by this target)', async () => {
    const fs = new UnixFS({ type: 'file' })
    fs.addBlockSize(2n ** 53n)
    fs.addBlockSize(1n)
    const leaf = CID.createV1(raw.code, Digest.create(0x12, new Uint8Array(32)))
    const huge = dagPb.encode(dagPb.prepare({ Data: fs.marshal(), Links: [{ Hash: leaf }, { Hash: leaf }] }))
    for (const bytes of [Uint8Array.of(0), huge]) {
      const writer = new OutputWriter(join(dir, `out-${n++}`), pbCid(bytes))
      try {
        await assert.rejects(writer.place(writer.rootPlacement(), pbCid(bytes), bytes), { name: 'UnsupportedDagError' })
      } finally {
        await writer.discard()
      }
    }
  })
})
