/**
 * Fuzzing the HTTP API (`src/api/router.ts` and the real route handlers) in process: one
 * regtest node and its API server on loopback, then requests of arbitrary methods, paths,
 * queries, credentials and bodies (JSON near the routes' shapes, any JSON, bytes that are not
 * JSON). Every answer is a valid HTTP status; under `/api/` it is JSON, and an error is
 * `{ error: { name, message } }` with a typed name; no answer is a 500 (an untyped throw), no
 * request hangs, and the node still answers afterwards.
 */
import assert from 'node:assert/strict'
import { Agent, METHODS, request as httpRequest } from 'node:http'
import { join } from 'node:path'
import { before, describe, it } from 'node:test'
import fc from 'fast-check'
import { ApiServer } from '../../src/api/server.ts'
import { fuzzAsync } from '../utils/fuzz.ts'
import { teardown } from '../utils/teardown.ts'

const COOKIE = 'fuzz-cookie-0123456789abcdef'

/** Stands for the CID of the file the test node holds (known once it is added). */
const STORED = '$STORED'

/** The API's routes, and paths near them. */
const ROUTES = [
  '/api/v1/openapi.json', '/api/v1/id', '/api/v1/status', '/api/v1/peers', '/api/v1/peers/connect',
  '/api/v1/peers/disconnect', '/api/v1/stop', '/api/v1/share', '/api/v1/add', '/api/v1/get', '/api/v1/cat',
  '/api/v1/ls', '/api/v1/unshare', '/api/v1/gc', '/api/v1/transfers', '/api/v1/chain/info', '/api/v1/chain/block',
  '/api/v1/chain/tx', '/api/v1/chain/blocks', '/api/v1/mine', '/api/v1/wallet/create', '/api/v1/wallet/restore',
  '/api/v1/wallet/address', '/api/v1/wallet/balance', '/api/v1/wallet/history', '/api/v1/send',
  '/api/v1/dashboard/token', '/api/v1/session', '/api/v1/session/end', '/api/v1/events', '/api/v1/network',
  '/api/v1/bandwidth'
]
/** Body fields and query parameters the routes read. */
const KEYS = ['address', 'peerId', 'path', 'hidden', 'cid', 'output', 'timeoutSeconds', 'blocks', 'passphrase',
  'mnemonic', 'amount', 'feeRate', 'token', 'id', 'txid', 'offset', 'length', 'timeout', 'name', 'limit']

const segment = fc.oneof(
  fc.constantFrom('api', 'v1', '', '.', '..', '%2e%2e', '%00', '%zz', '%2F', 'index.html', 'ipfs'),
  fc.string({ maxLength: 12 }).map(encodeURIComponent)
)
const path = fc.oneof(
  { arbitrary: fc.constantFrom(...ROUTES), weight: 6 },
  { arbitrary: fc.tuple(fc.constantFrom(...ROUTES), fc.constantFrom('/', '//', '/x', '%20', '.json', '?')).map(([p, s]) => p + s), weight: 1 },
  { arbitrary: fc.constantFrom(...ROUTES).map(p => p.toUpperCase()), weight: 1 },
  { arbitrary: fc.array(segment, { maxLength: 5 }).map(s => '/' + s.join('/')), weight: 1 },
  { arbitrary: fc.array(segment, { maxLength: 3 }).map(s => '/api/' + s.join('/')), weight: 1 }
)
const query = fc.oneof(
  fc.constant(''),
  fc.array(fc.tuple(fc.constantFrom(...KEYS), fc.oneof(fc.string({ maxLength: 20 }), fc.nat().map(String), fc.constantFrom('0', '-1', '1e3', '2999', '3000', '3001', '99999999999999999999', STORED))), { minLength: 1, maxLength: 4 })
    .map(ps => '?' + ps.map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join('&'))
)
const method = fc.oneof(
  { arbitrary: fc.constantFrom('GET', 'POST'), weight: 6 },
  // every method Node's parser knows (another never reaches the router: the parser answers 400)
  { arbitrary: fc.constantFrom(...METHODS.filter(m => m !== 'CONNECT')), weight: 3 }
)
const jsonNearShape = fc.dictionary(fc.constantFrom(...KEYS), fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.string({ maxLength: 30 }), fc.constant(STORED)), { maxKeys: 4 })
  .map(o => JSON.stringify(o))
const body = fc.oneof(
  { arbitrary: fc.constant(undefined), weight: 3 },
  { arbitrary: jsonNearShape, weight: 5 },
  { arbitrary: fc.json({ maxDepth: 3 }), weight: 2 },
  { arbitrary: fc.uint8Array({ maxLength: 200 }).map(b => Buffer.from(b)), weight: 1 },
  { arbitrary: fc.constantFrom('{', '[]', 'null', '"x"', '{"a":', '\ufeff{}', '{"__proto__":{"x":1}}', '{"passphrase":"x","passphrase":"y"}'), weight: 1 }
)
const auth = fc.oneof(
  { arbitrary: fc.constant(`Bearer ${COOKIE}`), weight: 8 },
  { arbitrary: fc.constantFrom(undefined, 'Bearer', `Bearer ${COOKIE}x`, `bearer ${COOKIE}`, 'Basic Zm9vOmJhcg=='), weight: 2 }
)

interface Case { method: string, path: string, query: string, body: string | Buffer | undefined, auth: string | undefined }
const requestCase: fc.Arbitrary<Case> = fc.record({ method, path, query, body, auth })

interface Answer { status: number, type: string, text: string, streaming: boolean }

describe('fuzz: API router', () => {
  const td = teardown()
  let base = ''
  let dir = ''
  let stored = ''
  const agent = new Agent({ keepAlive: true, maxSockets: 4 })
  td.add(() => { agent.destroy() }, 'destroy the HTTP agent')

  before(async () => {
    dir = await td.dir('peerd-fuzz-api-')
    const node = await td.testNode()
    const api = new ApiServer({ node, cookie: COOKIE, host: '127.0.0.1', port: 0, log: node.log, requestStop: () => {}, webRoot: join(dir, 'no-web') })
    base = await api.start()
    td.node(api)
    // content the node holds, so reads with offsets and lengths reach the file reader
    stored = (await node.share.add('fuzz.txt', (async function * () { yield new Uint8Array(3000).fill(120) })())).cid
  })

  /**
   * Keeps requests from acting outside the test: no paths outside its directory, no long mining,
   * the stored file never unshared (reading it would then wait for the network).
   */
  function tame (c: Case): Case {
    const cid = c.path.startsWith('/api/v1/unshare') ? 'bafkqaaa' : stored
    c = { ...c, query: c.query.replaceAll(STORED, cid), body: typeof c.body === 'string' ? c.body.replaceAll(STORED, cid) : c.body }
    if (typeof c.body !== 'string' || !c.body.startsWith('{')) return c
    let o: Record<string, unknown>
    try { o = JSON.parse(c.body) as Record<string, unknown> } catch { return c }
    if (o == null || typeof o !== 'object' || Array.isArray(o)) return c
    for (const k of ['path', 'output']) if (typeof o[k] === 'string') o[k] = join(dir, 'sandbox', encodeURIComponent(o[k]))
    if (typeof o.blocks === 'number' && o.blocks > 2) o.blocks = 2
    return { ...c, body: JSON.stringify(o) }
  }

  /** Sends one request; a streaming answer (events, cat, get) is cut after its headers. */
  async function send (c: Case): Promise<Answer> {
    return await new Promise<Answer>((resolve, reject) => {
      const headers: Record<string, string> = {}
      if (c.auth != null) headers.authorization = c.auth
      if (c.body != null) {
        headers['content-type'] = 'application/json'
        // explicit: Node's client sends a GET's body unframed, which the server would read as the next request
        headers['content-length'] = String(Buffer.byteLength(c.body))
      }
      const req = httpRequest(base + c.path + c.query, { method: c.method, headers, agent, timeout: 15_000 }, (res) => {
        const type = String(res.headers['content-type'] ?? '')
        if (/event-stream|ndjson|octet-stream/.test(type)) {
          res.destroy()
          resolve({ status: res.statusCode ?? 0, type, text: '', streaming: true })
          return
        }
        const chunks: Buffer[] = []
        res.on('data', (d: Buffer) => { chunks.push(d) })
        res.on('end', () => { resolve({ status: res.statusCode ?? 0, type, text: Buffer.concat(chunks).toString('utf8'), streaming: false }) })
        res.on('error', reject)
      })
      req.on('timeout', () => { req.destroy(new Error(`no answer within 15 s to ${c.method} ${c.path}${c.query}`)) })
      req.on('error', reject)
      req.end(c.body)
    })
  }

  function check (c: Case, a: Answer): void {
    const what = `${c.method} ${c.path}${c.query} → ${a.status} ${a.text.slice(0, 200)}`
    assert.ok(a.status >= 200 && a.status <= 599, what)
    assert.ok(a.status < 500 || [502, 503, 504].includes(a.status), what)
    // as the router sees it: dot segments resolved ('/api/..' is the dashboard's '/')
    // (a target that is no URL at all is the router's own 400, in JSON)
    let pathname: string
    try { pathname = new URL(c.path + c.query, 'http://localhost').pathname } catch { pathname = '/api/' }
    const api = pathname === '/api' || pathname.startsWith('/api/')
    if (!api || c.method === 'HEAD' || a.streaming || a.status === 204 || a.status === 304) return
    assert.match(a.type, /^application\/json/, what)
    const parsed = JSON.parse(a.text) as { error?: { name?: unknown, message?: unknown } }
    if (a.status >= 400) {
      assert.equal(typeof parsed.error?.name, 'string', what)
      assert.equal(typeof parsed.error?.message, 'string', what)
      assert.ok(!['Error', 'TypeError', 'RangeError', 'SyntaxError', 'ReferenceError'].includes(parsed.error?.name as string), what)
    }
  }

  it('answers every request with a valid status, JSON under /api/, typed errors and no 500', async () => {
    await fuzzAsync(requestCase, async (c) => {
      const tamed = tame(c)
      check(tamed, await send(tamed))
    }, 0.5)
    const alive = await send({ method: 'GET', path: '/api/v1/status', query: '', body: undefined, auth: `Bearer ${COOKIE}` })
    assert.equal(alive.status, 200)
  })

  it('answers a request target that is not a valid URL (//.) with 400, not 500 (found by this target)', async () => {
    const a = await send({ method: 'GET', path: '//.', query: '', body: undefined, auth: `Bearer ${COOKIE}` })
    assert.equal(a.status, 400, a.text)
    assert.equal((JSON.parse(a.text) as { error: { name: string } }).error.name, 'MalformedRequestError')
  })

  it('answers reads of stored content at any offset and length with 200 or a typed 4xx', async () => {
    for (const q of ['offset=999999', 'offset=3000', 'offset=2999&length=5', 'length=0', 'offset=0&length=99999999999999999999', 'offset=99999999999999999999']) {
      const a = await send({ method: 'GET', path: '/api/v1/cat', query: `?cid=${stored}&${q}`, body: undefined, auth: `Bearer ${COOKIE}` })
      assert.ok(a.status === 200 || (a.status >= 400 && a.status < 500), `${q} → ${a.status} ${a.text}`)
    }
  })

  it('refuses a body declared or sent over the limit with 413, without reading it', async () => {
    const big = await new Promise<number>((resolve, reject) => {
      const req = httpRequest(base + '/api/v1/peers/connect', { method: 'POST', agent, headers: { authorization: `Bearer ${COOKIE}`, 'content-length': String(4 * 2 ** 30) } }, (res) => {
        res.resume()
        resolve(res.statusCode ?? 0)
      })
      req.on('error', reject)
      req.write('{')
    })
    assert.equal(big, 413)
  })
})
