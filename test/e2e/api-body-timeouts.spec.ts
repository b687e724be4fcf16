/**
 * Request bodies of the API time out when they stall, not when they are long: an upload through
 * `POST /api/v1/add` that keeps sending takes as long as it needs, one that stops sending gets
 * `408 RequestTimeoutError` after the idle timeout. A real node and API server on loopback, with
 * the idle timeout at 1 s so that a 3 s upload outlasts it three times over.
 */
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { request } from 'node:http'
import type { IncomingMessage } from 'node:http'
import { setTimeout as sleep } from 'node:timers/promises'
import { before, describe, it } from 'node:test'
import { ApiServer } from '../../src/api/server.ts'
import type { PeerdNode } from '../../src/node/node.ts'
import { createLogger } from '../../src/utils/logger.ts'
import { teardown } from '../utils/teardown.ts'

const IDLE_MS = 1000
const TEST = { timeout: 20_000 }

interface Answer { status: number, headers: IncomingMessage['headers'], body: unknown, ms: number }

describe('API request body timeouts', () => {
  const td = teardown()
  let node: PeerdNode
  let url: URL
  const cookie = randomBytes(16).toString('hex')

  before(async () => {
    node = await td.testNode()
    const api = new ApiServer({
      node,
      cookie,
      host: '127.0.0.1',
      port: 0,
      log: createLogger({ level: 'silent' }),
      requestStop: () => {},
      timeouts: { bodyIdle: IDLE_MS, jsonBody: 2 * IDLE_MS }
    })
    url = new URL(await api.start())
    td.node(api)
  })

  /**
   * POSTs to `path`, writing `chunks` `everyMs` apart, then either ending the body or (`stall`)
   * leaving it open; resolves with the answer and how long it took from the first byte.
   */
  async function post (path: string, chunks: Buffer[], everyMs: number, options: { stall?: boolean, length?: number } = {}): Promise<Answer> {
    const started = Date.now()
    const headers: Record<string, string | number> = { authorization: `Bearer ${cookie}` }
    if (options.length != null) headers['content-length'] = options.length
    const req = request({ host: url.hostname, port: url.port, method: 'POST', path, headers })
    const answer = new Promise<Answer>((resolve, reject) => {
      req.on('error', reject)
      req.on('response', (res) => {
        let text = ''
        res.setEncoding('utf8')
        res.on('data', (d: string) => { text += d })
        res.on('end', () => { resolve({ status: res.statusCode ?? 0, headers: res.headers, body: JSON.parse(text) as unknown, ms: Date.now() - started }) })
        res.on('error', reject)
      })
    })
    let answered = false
    void answer.finally(() => { answered = true }).catch(() => {})
    for (const [i, c] of chunks.entries()) {
      if (answered) break
      if (i > 0) await sleep(everyMs)
      req.write(c)
    }
    if (options.stall !== true) req.end()
    try {
      return await answer
    } finally {
      req.destroy()
    }
  }

  it('takes an upload that trickles for 3 s, three times the idle timeout', TEST, async () => {
    const chunks = Array.from({ length: 16 }, () => randomBytes(4096))
    const r = await post('/api/v1/add?name=slow.bin', chunks, 200)
    assert.equal(r.status, 200, JSON.stringify(r.body))
    assert.ok(r.ms >= 3 * IDLE_MS, `took ${r.ms} ms`)
    const root = r.body as { cid: string, size: number }
    assert.equal(root.size, 16 * 4096)
    const back: Buffer[] = []
    for await (const c of node.share.cat(root.cid)) back.push(Buffer.from(c))
    assert.equal(createHash('sha256').update(Buffer.concat(back)).digest('hex'), createHash('sha256').update(Buffer.concat(chunks)).digest('hex'))
  })

  it('cuts an upload that stops sending with 408 after the idle timeout, and closes the connection', TEST, async () => {
    const r = await post('/api/v1/add?name=stalled.bin', [randomBytes(4096), randomBytes(4096)], 200, { stall: true })
    assert.equal(r.status, 408, JSON.stringify(r.body))
    assert.equal((r.body as { error: { name: string } }).error.name, 'RequestTimeoutError')
    assert.match((r.body as { error: { message: string } }).error.message, /stalled/)
    assert.ok(r.ms >= IDLE_MS && r.ms < IDLE_MS + 2000, `answered after ${r.ms} ms`)
    assert.equal(r.headers.connection, 'close')
    // nothing half-imported was kept
    assert.ok(!(await node.share.ls()).some(x => x.name === 'stalled.bin'))
  })

  it('cuts a JSON body that stalls, and one that takes longer than its total limit', TEST, async () => {
    const stalled = await post('/api/v1/peers/connect', [Buffer.from('{"addr')], 0, { stall: true, length: 100 })
    assert.equal(stalled.status, 408, JSON.stringify(stalled.body))
    // padded with JSON whitespace: 100 bytes
    const json = JSON.stringify({ address: '/ip4/127.0.0.1/tcp/1' })
    const body = Buffer.from(json + ' '.repeat(100 - json.length))
    // a byte every twentieth of the idle timeout (5 s in all, over the 2 s total): on a loaded
    // machine a gap near the idle timeout would end it as a stall, not over its total
    const slow = await post('/api/v1/peers/connect', [...body].map(b => Buffer.from([b])), IDLE_MS / 20, { length: body.length })
    assert.equal(slow.status, 408, JSON.stringify(slow.body))
    assert.match((slow.body as { error: { message: string } }).error.message, /longer than 2000 ms/)
  })
})
