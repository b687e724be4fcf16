/**
 * The dashboard's side of the daemon's HTTP API, without a browser: `peerd dashboard`, the
 * one-time login link and its session cookie, the session's cross-origin and CSRF checks (GETs
 * too), DNS rebinding refused, the bearer cookie still working as before, and the event stream.
 */
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { request } from 'node:http'
import { join } from 'node:path'
import { before, describe, it } from 'node:test'
import { cliJson, runCli, startDaemonProcess } from '../utils/index.ts'
import type { DaemonProcess } from '../utils/index.ts'
import { teardown } from '../utils/teardown.ts'

const TEST = { timeout: 30_000 }

/** A request with headers `fetch` won't send (`Host`); resolves to the status and error name. */
async function raw (url: string, method: string, path: string, headers: Record<string, string>, body?: string): Promise<{ status: number, name?: string }> {
  const u = new URL(url)
  return await new Promise((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, method, path, headers, setHost: false }, (res) => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (d: string) => { text += d })
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, name: (JSON.parse(text) as { error?: { name: string } }).error?.name }) })
    })
    req.on('error', reject)
    req.end(body)
  })
}

describe('dashboard API', () => {
  const td = teardown()
  let d: DaemonProcess
  let dir: string
  let url = ''
  let bearer = ''

  before(async () => {
    dir = await td.dir('peerd-e2e-dashapi-')
    d = td.daemon(await startDaemonProcess(dir))
    url = d.api
    bearer = (await readFile(join(dir, 'cookie'), 'utf8')).trim()
  })

  /** A fresh login link from the CLI. */
  async function link (): Promise<string> {
    const r = await cliJson<{ url: string, expiresAt: string }>(['dashboard', '--no-open', '--data-dir', dir])
    assert.ok(Date.parse(r.expiresAt) > Date.now() + 9 * 60_000)
    return r.url
  }

  /** Follows a login link; returns the session cookie (`name=value`). */
  async function login (): Promise<string> {
    const res = await fetch(await link(), { redirect: 'manual' })
    assert.equal(res.status, 303)
    assert.equal(res.headers.get('location'), '/')
    const set = res.headers.get('set-cookie') ?? ''
    assert.match(set, /HttpOnly; SameSite=Strict/)
    return set.split(';')[0] as string
  }

  it('prints the login link; human output says it works once', TEST, async () => {
    const u = new URL(await link())
    assert.equal(u.origin, url)
    assert.equal(u.pathname, '/')
    const human = await runCli(['dashboard', '--no-open', '--data-dir', dir])
    assert.equal(human.code, 0, human.stderr)
    assert.match(human.stdout, /^dashboard: http:\/\/127\.0\.0\.1:\d+\/\?token=\S+\n.*once.*10 minutes/)
  })

  it('needs the bearer cookie for a login token', TEST, async () => {
    const r = await fetch(`${url}/api/v1/dashboard/token`, { method: 'POST' })
    assert.equal(r.status, 401)
  })

  it('turns a login link into a session cookie once; a used link is rejected', TEST, async () => {
    const l = await link()
    const first = await fetch(l, { redirect: 'manual' })
    const cookie = (first.headers.get('set-cookie') ?? '').split(';')[0] as string
    assert.match(cookie, new RegExp(`^peerd_session_${new URL(url).port}=[\\w-]{40,}$`))
    const again = await fetch(l, { redirect: 'manual' })
    assert.equal(again.status, 303)
    assert.equal(again.headers.get('location'), '/#login=rejected')
    assert.equal(again.headers.get('set-cookie'), null)
    const s = await (await fetch(`${url}/api/v1/session`, { headers: { cookie, 'x-peerd-dashboard': '1' } })).json() as { authenticated: boolean }
    assert.equal(s.authenticated, true)
    assert.equal((await fetch(`${url}/api/v1/status`, { headers: { cookie, 'x-peerd-dashboard': '1' } })).status, 200)
  })

  it('checks where session requests come from; the bearer cookie needs nothing more', TEST, async () => {
    const cookie = await login()
    const post = async (headers: Record<string, string>): Promise<{ status: number, name?: string }> => {
      const r = await fetch(`${url}/api/v1/peers/disconnect`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: '{"peerId":"x"}' })
      return { status: r.status, name: ((await r.json()) as { error?: { name: string } }).error?.name }
    }
    assert.deepEqual(await post({ cookie }), { status: 403, name: 'ForbiddenError' })
    assert.deepEqual(await post({ cookie, 'x-peerd-dashboard': '1', origin: 'http://127.0.0.1:1' }), { status: 403, name: 'ForbiddenError' })
    assert.deepEqual(await post({ cookie, 'x-peerd-dashboard': '1', origin: url }), { status: 200, name: undefined })
    assert.equal((await fetch(`${url}/api/v1/id`, { headers: { cookie, 'x-peerd-dashboard': '1', 'sec-fetch-site': 'same-site' } })).status, 403)
    assert.deepEqual(await post({ authorization: `Bearer ${bearer}` }), { status: 200, name: undefined })
  })

  it('refuses a session GET without the dashboard header; the dashboard\'s own requests work', TEST, async () => {
    const cookie = await login()
    const get = async (path: string, headers: Record<string, string>): Promise<number> => {
      const r = await fetch(`${url}${path}`, { headers: { cookie, ...headers } })
      await r.body?.cancel()
      return r.status
    }
    for (const path of ['/api/v1/status', '/api/v1/session', '/api/v1/events', '/api/v1/ls']) {
      assert.equal(await get(path, {}), 403, path)
      assert.equal(await get(path, { 'sec-fetch-site': 'same-origin' }), 403, path)
    }
    // as the dashboard sends them (Chromium adds Sec-Fetch-Site and, on a POST, Origin)
    const dash = { 'x-peerd-dashboard': '1', 'sec-fetch-site': 'same-origin', 'sec-fetch-mode': 'cors' }
    for (const path of ['/api/v1/status', '/api/v1/session', '/api/v1/events', '/api/v1/ls']) assert.equal(await get(path, dash), 200, path)
    assert.equal((await fetch(`${url}/api/v1/peers/disconnect`, { method: 'POST', headers: { cookie, ...dash, origin: url }, body: '{"peerId":"x"}' })).status, 200)
    // the download link: a same-origin navigation needs no header (400: the cid is missing, past the auth)
    // (node:http: fetch sends its own Sec-Fetch-Mode)
    const nav = { cookie, host: new URL(url).host, 'sec-fetch-site': 'same-origin', 'sec-fetch-mode': 'navigate' }
    assert.deepEqual(await raw(url, 'GET', '/api/v1/cat', nav), { status: 400, name: 'InvalidArgumentError' })
    assert.deepEqual(await raw(url, 'GET', '/api/v1/status', nav), { status: 403, name: 'ForbiddenError' })
  })

  it('refuses DNS rebinding: a foreign Host, and a foreign Origin with the API\'s own Host', TEST, async () => {
    const cookie = await login()
    const port = new URL(url).port
    const dash = { cookie, 'x-peerd-dashboard': '1', 'content-type': 'application/json' }
    const disconnect = async (headers: Record<string, string>): Promise<{ status: number, name?: string }> =>
      await raw(url, 'POST', '/api/v1/peers/disconnect', { ...dash, ...headers }, '{"peerId":"x"}')
    // a rebound page: its requests name its own host, and its origin is that host too
    const rebound = { host: `evil.example:${port}`, origin: `http://evil.example:${port}` }
    assert.deepEqual(await disconnect(rebound), { status: 403, name: 'HostNotAllowedError' })
    assert.deepEqual(await raw(url, 'GET', '/api/v1/status', { ...dash, host: rebound.host }), { status: 403, name: 'HostNotAllowedError' })
    assert.deepEqual(await raw(url, 'GET', '/api/v1/status', { authorization: `Bearer ${bearer}`, host: 'evil.example' }), { status: 403, name: 'HostNotAllowedError' })
    assert.equal((await raw(url, 'GET', '/', { host: rebound.host })).status, 403, 'the dashboard\'s pages too')
    // a foreign origin with the API's own Host
    assert.deepEqual(await disconnect({ host: `127.0.0.1:${port}`, origin: 'http://evil.example' }), { status: 403, name: 'ForbiddenError' })
    assert.deepEqual(await disconnect({ host: `127.0.0.1:${port}`, origin: `http://evil.example:${port}` }), { status: 403, name: 'ForbiddenError' })
    // the API's own names work
    assert.deepEqual(await disconnect({ host: `127.0.0.1:${port}`, origin: url }), { status: 200, name: undefined })
    assert.deepEqual(await disconnect({ host: `localhost:${port}`, origin: `http://localhost:${port}` }), { status: 200, name: undefined })
  })

  it('logs in with a token in the body too, and logs out', TEST, async () => {
    const token = new URL(await link()).searchParams.get('token') as string
    const bad = await fetch(`${url}/api/v1/session`, { method: 'POST', body: '{"token":"nope"}' })
    assert.equal(bad.status, 400)
    const r = await fetch(`${url}/api/v1/session`, { method: 'POST', body: JSON.stringify({ token }) })
    assert.equal(r.status, 200)
    const cookie = (r.headers.get('set-cookie') ?? '').split(';')[0] as string
    const out = await fetch(`${url}/api/v1/session/end`, { method: 'POST', headers: { cookie, 'x-peerd-dashboard': '1' } })
    assert.equal(out.status, 200)
    assert.match(out.headers.get('set-cookie') ?? '', /Max-Age=0/)
    assert.equal((await fetch(`${url}/api/v1/status`, { headers: { cookie } })).status, 401)
  })

  it('streams the node state as server-sent events', TEST, async () => {
    const abort = new AbortController()
    const res = await fetch(`${url}/api/v1/events`, { headers: { authorization: `Bearer ${bearer}` }, signal: abort.signal })
    assert.equal(res.status, 200)
    assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/)
    const seen = new Map<string, unknown>()
    const reader = (res.body as ReadableStream<Uint8Array>).pipeThrough(new TextDecoderStream()).getReader()
    let text = ''
    const want = ['bandwidthHistory', 'status', 'peers', 'chain', 'blocks', 'wallet', 'network', 'bandwidth']
    while (!want.every(w => seen.has(w))) {
      const { value, done } = await reader.read()
      if (done) break
      text += value
      for (let i = text.indexOf('\n\n'); i >= 0; i = text.indexOf('\n\n')) {
        const block = text.slice(0, i)
        text = text.slice(i + 2)
        const event = /^event: (\S+)$/m.exec(block)?.[1]
        const data = /^data: (.*)$/m.exec(block)?.[1]
        if (event != null && data != null) seen.set(event, JSON.parse(data))
      }
    }
    abort.abort()
    assert.equal((seen.get('status') as { peerId: string }).peerId, d.peerId)
    assert.equal((seen.get('status') as { gateway: unknown }).gateway, null)
    assert.equal((seen.get('chain') as { height: number }).height, 0)
    assert.deepEqual(seen.get('wallet'), { exists: false })
    assert.equal((seen.get('network') as { nodes: unknown[] }).nodes.length, 1)
  })

  it('serves the recent blocks, bandwidth and network map as JSON', TEST, async () => {
    const auth = { authorization: `Bearer ${bearer}` }
    const blocks = await (await fetch(`${url}/api/v1/chain/blocks?count=5`, { headers: auth })).json() as Array<{ height: number }>
    assert.deepEqual(blocks.map(b => b.height), [0])
    assert.equal((await fetch(`${url}/api/v1/chain/blocks?count=0`, { headers: auth })).status, 400)
    const bw = await (await fetch(`${url}/api/v1/bandwidth`, { headers: auth })).json() as { bytesIn: number, history: unknown[] }
    assert.equal(typeof bw.bytesIn, 'number')
    assert.ok(Array.isArray(bw.history))
    assert.equal((await fetch(`${url}/api/v1/network`, { headers: auth })).status, 200)
  })

  it('answers / with the dashboard (or how to build it) and keeps /api/ paths JSON', TEST, async () => {
    const page = await fetch(`${url}/`)
    assert.ok(page.status === 200 || page.status === 503, String(page.status))
    assert.match(page.headers.get('content-type') ?? '', /^text\/html/)
    assert.match(page.headers.get('content-security-policy') ?? '', /default-src 'self'/)
    const api404 = await fetch(`${url}/api/v1/nope`)
    assert.equal(api404.status, 404)
    assert.match(api404.headers.get('content-type') ?? '', /^application\/json/)
  })
})
