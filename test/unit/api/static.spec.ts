/**
 * The dashboard's static file handler: content types, cache headers, ETag, the CSP on HTML,
 * no way out of the root (dot segments, encoded slashes, symbolic links), and the page shown
 * when there is no build.
 */
import assert from 'node:assert/strict'
import { createServer } from 'node:http'
import type { Server } from 'node:http'
import { mkdir, symlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { before, describe, it } from 'node:test'
import { StaticSite } from '../../../src/api/static.ts'
import { closeHttp, listenHttp } from '../../../src/utils/http-server.ts'
import { teardown } from '../../utils/teardown.ts'

async function serve (root: string): Promise<{ url: string, server: Server }> {
  const site = new StaticSite({ root })
  const server = createServer((req, res) => {
    void site.serve(req, res, new URL(req.url ?? '/', 'http://x').pathname)
  })
  return { url: await listenHttp(server, '127.0.0.1', 0, 'test', '-'), server }
}

/** A raw GET, so that `..` and odd encodings reach the server as written. */
async function get (url: string, path: string, headers: Record<string, string> = {}): Promise<{ status: number, headers: Record<string, string | string[] | undefined>, body: string }> {
  const { request } = await import('node:http')
  return await new Promise((resolve, reject) => {
    const r = request(url + path, { headers }, (res) => {
      let body = ''
      res.on('data', (d: Buffer) => { body += d.toString() })
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, headers: res.headers, body }) })
    })
    r.on('error', reject)
    r.end()
  })
}

describe('dashboard static files', () => {
  const td = teardown()
  let built: { url: string, server: Server }
  let empty: { url: string, server: Server }

  before(async () => {
    const dir = await td.dir('peerd-static-')
    const root = join(dir, 'web')
    await mkdir(join(root, 'assets'), { recursive: true })
    await writeFile(join(root, 'index.html'), '<!doctype html><title>t</title>')
    await writeFile(join(root, 'assets', 'app-abc123.js'), 'console.log(1)')
    await writeFile(join(root, 'assets', 'app-abc123.css'), 'body{}')
    await writeFile(join(root, '.secret'), 'TOP-SECRET')
    await writeFile(join(dir, 'outside.txt'), 'TOP-SECRET')
    await symlink(join(dir, 'outside.txt'), join(root, 'assets', 'link.txt'))
    built = await serve(root)
    td.add(async () => { await closeHttp(built.server) }, 'close the server')
    empty = await serve(join(dir, 'missing'))
    td.add(async () => { await closeHttp(empty.server) }, 'close the server')
  })

  it('serves index.html at / with a strict CSP, revalidated', async () => {
    const r = await get(built.url, '/')
    assert.equal(r.status, 200)
    assert.equal(r.headers['content-type'], 'text/html; charset=utf-8')
    assert.match(String(r.headers['content-security-policy']), /default-src 'self'.*frame-ancestors 'none'/)
    assert.equal(r.headers['x-frame-options'], 'DENY')
    assert.equal(r.headers['cache-control'], 'no-cache')
    const again = await get(built.url, '/', { 'if-none-match': String(r.headers.etag) })
    assert.equal(again.status, 304)
  })

  it('serves hashed assets with their type, cached for good', async () => {
    const js = await get(built.url, '/assets/app-abc123.js')
    assert.equal(js.status, 200)
    assert.equal(js.headers['content-type'], 'text/javascript; charset=utf-8')
    assert.equal(js.headers['cache-control'], 'public, max-age=31536000, immutable')
    assert.equal(js.headers['x-content-type-options'], 'nosniff')
    assert.equal((await get(built.url, '/assets/app-abc123.css')).headers['content-type'], 'text/css; charset=utf-8')
  })

  it('never leaves the root', async () => {
    for (const path of ['/../outside.txt', '/assets/../../outside.txt', '/%2e%2e/outside.txt', '/assets%2f..%2f..%2foutside.txt',
      '/assets/..%5c..%5coutside.txt', '/.secret', '/assets/link.txt', '/assets/%00', '/%E0%A4%A', '/assets/', '/assets']) {
      const r = await get(built.url, path)
      assert.equal(r.status, 404, path)
      assert.doesNotMatch(r.body, /TOP-SECRET/, path)
    }
  })

  it('answers other methods with 405', async () => {
    const { request } = await import('node:http')
    const status = await new Promise<number>((resolve) => {
      request(built.url + '/', { method: 'DELETE' }, (res) => { res.resume(); resolve(res.statusCode ?? 0) }).end()
    })
    assert.equal(status, 405)
  })

  it('without a build, says how to make one', async () => {
    const r = await get(empty.url, '/')
    assert.equal(r.status, 503)
    assert.match(r.body, /npm run build:web/)
  })
})
