/**
 * Identity CIDs (multihash 0x00: the block is the digest, inside the CID) are read from the CID
 * in every path, never fetched nor stored: the gateway serves `bafkqaaa` and an inlined "hello"
 * at once; a second node gets a folder whose file has an identity leaf, and which holds an
 * inlined dag-pb file, from a peer that holds only the hashed blocks; a Bitswap peer asking for
 * an identity CID is answered from the CID. One inlining over MAX_IDENTITY_DIGEST bytes is a 400.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { before, describe, it } from 'node:test'
import * as dagPb from '@ipld/dag-pb'
import { UnixFS } from 'ipfs-unixfs'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import * as Digest from 'multiformats/hashes/digest'
import type { PeerdNode } from '../../src/node/node.ts'
import { MAX_IDENTITY_DIGEST } from '../../src/share/block.ts'
import { PresenceType, WantType } from '../../src/share/bitswap/index.ts'
import { Gateway } from '../../src/share/gateway.ts'
import { waitFor } from '../utils/index.ts'
import { bitswapClient, waitForBlockProtocol } from '../utils/share.ts'
import { teardown } from '../utils/teardown.ts'

const text = (s: string): Uint8Array => new TextEncoder().encode(s)
const identityCid = (codec: number, bytes: Uint8Array): CID => CID.createV1(codec, Digest.create(0x00, bytes))
const pbNode = (data: UnixFS, links: Array<{ cid: CID, size: number, name?: string }> = []): Uint8Array =>
  dagPb.encode(dagPb.prepare({ Data: data.marshal(), Links: links.map(l => ({ Hash: l.cid, Tsize: l.size, Name: l.name })) }))

describe('identity CIDs', () => {
  const td = teardown()
  let a: PeerdNode | undefined
  let b: PeerdNode | undefined
  let root = ''
  let base = ''

  before(async () => {
    root = await td.dir('peerd-identity-')
    ;[a, b] = await Promise.all([td.testNode(), td.testNode()])
    const gateway = new Gateway({ share: a.share, host: '127.0.0.1', port: 0, log: a.log })
    base = await gateway.start()
    td.node(gateway)
  })

  /** A gateway GET with a 3 s content timeout: content not served at once would be a 504 after it. */
  async function get (path: string): Promise<{ status: number, body: Buffer, ms: number }> {
    const t0 = performance.now()
    const res = await fetch(`${base}${path}?timeout=3`, { signal: AbortSignal.timeout(10_000) })
    const body = Buffer.from(await res.arrayBuffer())
    return { status: res.status, body, ms: performance.now() - t0 }
  }

  it('the gateway serves /ipfs/bafkqaaa (empty) and an inlined "hello" at once, from a node that holds nothing', async () => {
    const empty = await get('/ipfs/bafkqaaa')
    assert.equal(empty.status, 200, empty.body.toString())
    assert.equal(empty.body.length, 0)
    assert.ok(empty.ms < 1500, `answered in ${Math.round(empty.ms)} ms`)
    const hello = identityCid(raw.code, text('hello'))
    const got = await get(`/ipfs/${hello.toString()}`)
    assert.equal(got.status, 200, got.body.toString())
    assert.equal(got.body.toString(), 'hello')
    assert.ok(got.ms < 1500, `answered in ${Math.round(got.ms)} ms`)
  })

  it(`an identity CID inlining over ${MAX_IDENTITY_DIGEST} bytes is a 400, at the gateway and from the service`, async () => {
    const big = identityCid(raw.code, new Uint8Array(MAX_IDENTITY_DIGEST + 1).fill(97))
    const res = await get(`/ipfs/${big.toString()}`)
    assert.equal(res.status, 400, res.body.toString())
    assert.match(res.body.toString(), /inlines 129 bytes/)
    await assert.rejects(a?.share.get(big.toString()) ?? Promise.reject(new Error('no node')), (err: Error) => err.name === 'IdentityTooLargeError')
    const atLimit = identityCid(raw.code, new Uint8Array(MAX_IDENTITY_DIGEST).fill(97))
    const ok = await get(`/ipfs/${atLimit.toString()}`)
    assert.equal(ok.status, 200)
    assert.equal(ok.body.length, MAX_IDENTITY_DIGEST)
  })

  it('a second node gets a folder with an identity leaf and an inlined dag-pb file from a peer that holds only the hashed blocks', { timeout: 30_000 }, async () => {
    assert.ok(a != null && b != null)
    // a file of a hashed 2000-byte leaf and an inlined 5-byte tail, as `ipfs add --inline` makes
    const head = randomBytes(2000)
    const headCid = CID.createV1(raw.code, await sha256.digest(head))
    const tail = text('tail!')
    const tailCid = identityCid(raw.code, tail)
    const file = pbNode(new UnixFS({ type: 'file', blockSizes: [2000n, 5n] }), [{ cid: headCid, size: 2000 }, { cid: tailCid, size: 5 }])
    const fileCid = CID.createV1(dagPb.code, await sha256.digest(file))
    // a small file that is one dag-pb node, inlined whole
    const small = pbNode(new UnixFS({ type: 'file', data: text('inline file') }))
    const smallCid = identityCid(dagPb.code, small)
    const dir = pbNode(new UnixFS({ type: 'directory' }), [{ cid: fileCid, size: file.length + 2005, name: 'big.bin' }, { cid: smallCid, size: small.length, name: 'small.txt' }])
    const dirCid = CID.createV1(dagPb.code, await sha256.digest(dir))
    for (const [cid, bytes] of [[headCid, head], [fileCid, file], [dirCid, dir]] as const) await a.share.blockstore.put(cid, bytes)

    await b.connect(a.addresses()[0] as string)
    await waitForBlockProtocol(b, a)
    const out = join(root, 'out')
    const result = await b.share.get(dirCid.toString(), { output: out, timeoutSeconds: 5 })
    assert.equal(result.size, 2005 + 11)
    assert.deepEqual(await readFile(join(out, 'big.bin')), Buffer.concat([head, tail]))
    assert.equal(await readFile(join(out, 'small.txt'), 'utf8'), 'inline file')
    // nothing was stored under an identity CID, and cat reads it too
    for await (const cid of b.share.blockstore.keys()) assert.notEqual(cid.multihash.code, 0x00, 'an identity block on disk')
    const parts: Uint8Array[] = []
    for await (const p of b.share.cat(dirCid.toString(), { path: 'big.bin', offset: 1998, timeoutSeconds: 5 })) parts.push(p)
    assert.deepEqual(Buffer.concat(parts), Buffer.concat([head.subarray(1998), tail]))
  })

  it('a Bitswap peer asking for an identity CID is answered from the CID: a Have and the block', { timeout: 20_000 }, async () => {
    assert.ok(a != null)
    const { send, received } = await bitswapClient(td, a)
    const hello = identityCid(raw.code, text('hello'))
    const entries = [
      { cid: hello, priority: 1, cancel: false, wantType: WantType.Block, sendDontHave: true },
      { cid: CID.parse('bafkqaaa'), priority: 1, cancel: false, wantType: WantType.Have, sendDontHave: true }
    ]
    send(entries)
    const answered = await waitFor(() => {
      const blocks = received.flatMap(m => m.blocks)
      const presences = received.flatMap(m => m.blockPresences)
      return blocks.length > 0 && presences.length > 0 ? { blocks, presences } : undefined
    }, { timeoutMs: 5000, what: 'the block and the presence' })
    assert.deepEqual(answered.blocks.map(x => [x.cid.toString(), Buffer.from(x.data).toString()]), [[hello.toString(), 'hello']])
    assert.deepEqual(answered.presences.map(p => [p.cid.toString(), p.type]), [['bafkqaaa', PresenceType.Have]])
  })
})
