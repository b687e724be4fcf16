/**
 * Fuzzing the gateway over HTTP (`src/share/gateway.ts`), in process: one regtest node holding a
 * file and a folder, its gateway on loopback, then requests of any method, path (CIDs real or
 * not, segments percent-encoded or not), query (`timeout`, `filename`) and `Range`,
 * `If-None-Match` and `If-Range` headers. Every answer is a valid status, never a 500 and never
 * a hang; a 206 carries a `Content-Range` inside the content and exactly that many bytes. The
 * roots include identity CIDs (the data inside the CID): never a 5xx, since nothing is fetched.
 */
import assert from 'node:assert/strict'
import { Agent, METHODS, request as httpRequest } from 'node:http'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { before, describe, it } from 'node:test'
import * as dagPb from '@ipld/dag-pb'
import fc from 'fast-check'
import { UnixFS } from 'ipfs-unixfs'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import * as Digest from 'multiformats/hashes/digest'
import { Gateway } from '../../src/share/gateway.ts'
import { fuzzAsync } from '../utils/fuzz.ts'
import { teardown } from '../utils/teardown.ts'

const FILE = '$FILE'
const DIR = '$DIR'
const SIZE = 5000

const inline = (codec: number, bytes: Uint8Array): string => CID.createV1(codec, Digest.create(0x00, bytes)).toString()
const HELLO = inline(raw.code, new TextEncoder().encode('hello'))
/** Identity CIDs: empty, "hello", a folder holding "hello" as a.txt (all inlined), and one inlining too much (400). */
const INLINE = [
  'bafkqaaa',
  HELLO,
  inline(dagPb.code, dagPb.encode(dagPb.prepare({ Data: new UnixFS({ type: 'directory' }).marshal(), Links: [{ Hash: CID.parse(HELLO), Name: 'a.txt', Tsize: 5 }] }))),
  inline(raw.code, new Uint8Array(129).fill(97))
]

interface Case { method: string, path: string, query: string, headers: Record<string, string> }

const segment = fc.oneof(
  fc.constantFrom('a.txt', 'index.html', 'sub', '..', '.', '%2e%2e', '%2F', '%00', '%zz', '', 'nope'),
  fc.string({ maxLength: 10 }).map(encodeURIComponent)
)
const root = fc.oneof(
  { arbitrary: fc.constantFrom(FILE, DIR), weight: 6 },
  { arbitrary: fc.constantFrom('bafyreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy', 'not-a-cid', ''), weight: 2 },
  { arbitrary: fc.constantFrom(...INLINE), weight: 2 },
  { arbitrary: fc.string({ maxLength: 12 }).map(encodeURIComponent), weight: 1 }
)
const path = fc.oneof(
  { arbitrary: fc.tuple(root, fc.array(segment, { maxLength: 3 }), fc.boolean()).map(([r, s, slash]) => ['/ipfs', r, ...s].join('/') + (slash ? '/' : '')), weight: 8 },
  { arbitrary: fc.array(segment, { maxLength: 3 }).map(s => '/' + s.join('/')), weight: 1 },
  { arbitrary: fc.constantFrom('/', '/ipfs', '/ipfs/', '//ipfs/x', '/ipns/x'), weight: 1 }
)
const query = fc.oneof(
  fc.constant(''),
  fc.array(fc.tuple(fc.constantFrom('timeout', 'filename', 'x'), fc.oneof(fc.string({ maxLength: 12 }), fc.constantFrom('0', '1', '300', '301', '1.5', 'a.svg', 'x".html', 'é.pdf'))), { minLength: 1, maxLength: 2 })
    .map(ps => '?' + ps.map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join('&'))
)
const num = fc.oneof(fc.constant(''), fc.nat({ max: 2 * SIZE }).map(String), fc.constantFrom('0', '4999', '5000', '99999999999999999999'))
const range = fc.oneof(
  fc.tuple(num, num).map(([a, b]) => `bytes=${a}-${b}`),
  fc.constantFrom('bytes=0-1,5-6', 'items=0-1', 'bytes=-0', 'bytes=-', ''),
  fc.string({ maxLength: 20 })
)
const headers = fc.record({
  range: fc.option(range, { nil: undefined }),
  'if-none-match': fc.option(fc.oneof(fc.constantFrom('*', `"${FILE}"`, `W/"${FILE}"`), fc.string({ maxLength: 20 })), { nil: undefined }),
  'if-range': fc.option(fc.oneof(fc.constant(`"${FILE}"`), fc.string({ maxLength: 20 })), { nil: undefined })
}).map(h => Object.fromEntries(Object.entries(h).filter(([, v]) => v != null)) as Record<string, string>)
const method = fc.oneof({ arbitrary: fc.constantFrom('GET', 'HEAD'), weight: 8 }, { arbitrary: fc.constantFrom(...METHODS.filter(m => m !== 'CONNECT')), weight: 1 })
const requestCase: fc.Arbitrary<Case> = fc.record({ method, path, query, headers })

describe('fuzz: gateway over HTTP', () => {
  const td = teardown()
  let base = ''
  let file = ''
  let folder = ''
  const agent = new Agent({ keepAlive: true, maxSockets: 4 })
  td.add(() => { agent.destroy() }, 'destroy the HTTP agent')

  before(async () => {
    const node = await td.testNode()
    file = (await node.share.add('a.txt', (async function * () { yield new Uint8Array(SIZE).fill(97) })())).cid
    const src = join(await td.dir('peerd-fuzz-gateway-'), 'folder')
    await mkdir(join(src, 'sub'), { recursive: true })
    await writeFile(join(src, 'a.txt'), 'hello')
    await writeFile(join(src, 'index.html'), '<p>hi</p>')
    await writeFile(join(src, 'sub', 'b.bin'), new Uint8Array(100))
    folder = (await node.share.share(src)).cid
    const gateway = new Gateway({ share: node.share, host: '127.0.0.1', port: 0, log: node.log })
    base = await gateway.start()
    td.node(gateway)
  })

  const fill = (s: string): string => s.replaceAll(FILE, file).replaceAll(DIR, folder)

  async function send (c: Case): Promise<{ status: number, headers: Record<string, string | string[] | undefined>, body: Buffer }> {
    return await new Promise((resolve, reject) => {
      const hs = Object.fromEntries(Object.entries(c.headers).map(([k, v]) => [k, fill(v)]))
      // timeout=1 unless the case sets one: a CID nobody has (a random one) then fails in a second, not thirty
      const q = c.query.includes('timeout=') ? c.query : (c.query === '' ? '?' : c.query + '&') + 'timeout=1'
      const req = httpRequest(base + fill(c.path) + q, { method: c.method, headers: hs, agent, timeout: 15_000 }, (res) => {
        const chunks: Buffer[] = []
        res.on('data', (d: Buffer) => { chunks.push(d) })
        res.on('end', () => { resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }) })
        res.on('error', reject)
      })
      req.on('timeout', () => { req.destroy(new Error(`no answer within 15 s to ${c.method} ${c.path}${q}`)) })
      req.on('error', reject)
      req.end()
    })
  }

  it('answers every request with a valid status, never a 500, and ranges inside the content', async () => {
    await fuzzAsync(requestCase, async (c) => {
      const a = await send(c)
      const what = `${c.method} ${c.path}${c.query} ${JSON.stringify(c.headers)} → ${a.status} ${a.body.subarray(0, 120).toString()}`
      assert.ok(a.status >= 200 && a.status <= 599, what)
      assert.ok(a.status < 500 || [502, 503, 504].includes(a.status), what)
      if (INLINE.some(cid => c.path.startsWith(`/ipfs/${cid}`))) assert.ok(a.status < 500, what)
      if (a.status === 206) {
        const m = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(String(a.headers['content-range']))
        assert.ok(m != null, what)
        const [start, end, size] = [Number(m[1]), Number(m[2]), Number(m[3])]
        assert.ok(start <= end && end < size, what)
        if (c.method === 'GET') assert.equal(a.body.length, end - start + 1, what)
      }
    })
  })
})
