/**
 * The daemon's HTTP API over real HTTP: cookie authentication, error bodies and status codes,
 * the host names it answers to, and the public OpenAPI description.
 */
import assert from 'node:assert/strict'
import { readFile, writeFile } from 'node:fs/promises'
import { request as httpRequest } from 'node:http'
import { join } from 'node:path'
import { before, describe, it } from 'node:test'
import { startDaemonProcess } from '../utils/index.ts'
import type { DaemonProcess } from '../utils/index.ts'
import { teardown } from '../utils/teardown.ts'

const TEST = { timeout: 60_000 }

interface ErrorBody { name: string, message: string }

describe('peerd HTTP API', () => {
  const td = teardown()
  let d: DaemonProcess
  let url = ''
  let cookie = ''

  before(async () => {
    const dir = await td.dir('peerd-e2e-api-')
    await writeFile(join(dir, 'config.json'), JSON.stringify({ apiAllowedHosts: ['peerd.test', 'proxy.test:8443'] }))
    d = td.daemon(await startDaemonProcess(dir))
    url = (await readFile(join(dir, 'api'), 'utf8')).trim()
    cookie = (await readFile(join(dir, 'cookie'), 'utf8')).trim()
  })

  /** Sends a request; returns the status, headers and parsed JSON body. */
  async function request (method: string, path: string, options: { auth?: string | null, body?: string } = {}): Promise<{ status: number, headers: Headers, body: unknown }> {
    const headers: Record<string, string> = {}
    const auth = options.auth === undefined ? `Bearer ${cookie}` : options.auth
    if (auth != null) headers.authorization = auth
    if (options.body != null) headers['content-type'] = 'application/json'
    const res = await fetch(url + path, { method, headers, body: options.body, signal: AbortSignal.timeout(20_000) })
    const text = await res.text()
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/)
    return { status: res.status, headers: res.headers, body: JSON.parse(text) as unknown }
  }

  function errorName (body: unknown): string {
    const e = (body as { error?: ErrorBody }).error
    assert.ok(e != null, `no "error" in ${JSON.stringify(body)}`)
    assert.equal(typeof e.message, 'string')
    assert.ok(e.message.length > 0)
    return e.name
  }

  it('the api file points at the URL the daemon printed', TEST, () => {
    assert.equal(url, d.api)
    assert.match(url, /^http:\/\/127\.0\.0\.1:\d+$/)
    assert.match(cookie, /^\S{16,}$/)
  })

  it('answers 401 UnauthorizedError without an Authorization header', TEST, async () => {
    const r = await request('GET', '/api/v1/id', { auth: null })
    assert.equal(r.status, 401)
    assert.equal(errorName(r.body), 'UnauthorizedError')
  })

  it('answers 401 with a wrong cookie', TEST, async () => {
    const wrong = cookie.slice(0, -1) + (cookie.endsWith('0') ? '1' : '0')
    for (const auth of [`Bearer ${wrong}`, 'Bearer x', `Basic ${cookie}`]) {
      const r = await request('GET', '/api/v1/id', { auth })
      assert.equal(r.status, 401, auth)
      assert.equal(errorName(r.body), 'UnauthorizedError')
    }
  })

  it('answers 200 with the right cookie', TEST, async () => {
    const r = await request('GET', '/api/v1/id')
    assert.equal(r.status, 200)
    const id = r.body as { peerId: string, addresses: string[] }
    assert.equal(id.peerId, d?.peerId)
    assert.ok(Array.isArray(id.addresses) && id.addresses.length > 0)
  })

  it('answers 400 MalformedRequestError to a body that is not JSON', TEST, async () => {
    const r = await request('POST', '/api/v1/peers/connect', { body: '{not json' })
    assert.equal(r.status, 400)
    assert.equal(errorName(r.body), 'MalformedRequestError')
  })

  it('answers 400 InvalidArgumentError to connect without an address', TEST, async () => {
    const r = await request('POST', '/api/v1/peers/connect', { body: '{}' })
    assert.equal(r.status, 400)
    assert.equal(errorName(r.body), 'InvalidArgumentError')
  })

  it('answers 404 NotFoundError to an unknown route', TEST, async () => {
    const r = await request('GET', '/api/v1/nope')
    assert.equal(r.status, 404)
    assert.equal(errorName(r.body), 'NotFoundError')
  })

  it('serves the OpenAPI description without a cookie', TEST, async () => {
    const r = await request('GET', '/api/v1/openapi.json', { auth: null })
    assert.equal(r.status, 200)
    const doc = r.body as { openapi?: unknown }
    assert.equal(typeof doc.openapi, 'string')
    assert.ok((doc.openapi as string).startsWith('3.'), String(doc.openapi))
  })

  it('answers 405 to a wrong method', TEST, async () => {
    const r = await request('POST', '/api/v1/id', { body: '{}' })
    assert.equal(r.status, 405)
    assert.equal(errorName(r.body), 'MethodNotAllowedError')
    assert.equal(r.headers.get('allow'), 'GET')
  })

  /** GET `path` with the bearer cookie and the given `Host` (which fetch won't set). */
  async function withHost (host: string, path = '/api/v1/id'): Promise<{ status: number, body: unknown }> {
    const u = new URL(url)
    return await new Promise((resolve, reject) => {
      const req = httpRequest({ host: u.hostname, port: u.port, path, headers: { host, authorization: `Bearer ${cookie}` }, setHost: false }, (res) => {
        let text = ''
        res.setEncoding('utf8')
        res.on('data', (c: string) => { text += c })
        res.on('end', () => { resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as unknown }) })
      })
      req.on('error', reject)
      req.end()
    })
  }

  it('answers only to its own host names and the configured ones (DNS rebinding)', TEST, async () => {
    const port = new URL(url).port
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`, `peerd.test:${port}`, 'proxy.test:8443']) {
      assert.equal((await withHost(host)).status, 200, host)
    }
    for (const host of [`evil.example:${port}`, 'evil.example', `127.0.0.1:${Number(port) + 1}`, `peerd.test:${Number(port) + 1}`, 'proxy.test']) {
      const r = await withHost(host)
      assert.equal(r.status, 403, host)
      assert.equal(errorName(r.body), 'HostNotAllowedError')
      assert.match((r.body as { error: ErrorBody }).error.message, /apiAllowedHosts/)
    }
    assert.equal((await withHost(`evil.example:${port}`, '/api/v1/openapi.json')).status, 403, 'routes without auth too')
  })
})
