/**
 * The onion-service routes over real HTTP, through the API's router and its authentication,
 * with a fake service host: list, serve (201 with the service), stop (204), a bad target, name,
 * client list or puzzle flag refused with 400 before the host is asked, an unknown name 404, a
 * node without onion or without services 503, the session rules on the POSTs, and new
 * client-authorization key pairs.
 */
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, describe, it } from 'node:test'
import { checkTarget, onionRoutes } from '../../../src/api/onion-routes.ts'
import { createRouter } from '../../../src/api/router.ts'
import { CSRF_HEADER, DashboardAuth } from '../../../src/api/sessions.ts'
import type { PeerdNode } from '../../../src/node/node.ts'
import { hsClientAuthKeyPair, parseHsClientSecretKey } from '../../../src/onion/hs/client-auth.ts'
import type { HostedServiceInfo } from '../../../src/onion/hs/types.ts'
import { fakeOnion } from '../../utils/onion-control.ts'
import { fakeServices, PUBLISHED } from '../../utils/onion-services.ts'

const COOKIE = 'onion-services-cookie'
const bearer = { authorization: `Bearer ${COOKIE}`, 'content-type': 'application/json' }

/** Serves the onion routes of `node` as the daemon does. */
async function serve (node: object): Promise<{ base: string, auth: DashboardAuth, close: () => void }> {
  let url = ''
  const auth = new DashboardAuth({ cookie: () => COOKIE, apiUrl: () => url })
  const server = createServer(createRouter(onionRoutes(node as PeerdNode), {
    authenticate: (req, route) => auth.check(req, { navigable: route.navigable }),
    body: { idleMs: 5000, totalMs: 5000 },
    onError: () => {}
  }))
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  return { base: url, auth, close: () => { server.close() } }
}

async function call (url: string, init: RequestInit = {}): Promise<{ status: number, text: string, body: Record<string, unknown> }> {
  const res = await fetch(url, init)
  const text = await res.text()
  return { status: res.status, text, body: text === '' ? {} : JSON.parse(text) as Record<string, unknown> }
}

const KEYS = [hsClientAuthKeyPair(), hsClientAuthKeyPair()]

const post = (url: string, body: unknown, headers: Record<string, string> = bearer): Promise<{ status: number, text: string, body: Record<string, unknown> }> =>
  call(url, { method: 'POST', headers, body: JSON.stringify(body) })

describe('API onion service routes', () => {
  const services = fakeServices([PUBLISHED])
  let a: Awaited<ReturnType<typeof serve>>
  let noOnion: Awaited<ReturnType<typeof serve>>
  let noServices: Awaited<ReturnType<typeof serve>>

  before(async () => {
    a = await serve({ onion: { ...fakeOnion(), services } })
    noOnion = await serve({})
    noServices = await serve({ onion: fakeOnion() })
  })
  after(() => { a.close(); noOnion.close(); noServices.close() })

  it('lists the hosted services under "services"', async () => {
    const r = await call(`${a.base}/api/v1/onion/services`, { headers: bearer })
    assert.equal(r.status, 200)
    assert.deepEqual(Object.keys(r.body), ['services'])
    assert.deepEqual(r.body.services, [PUBLISHED])
  })

  it('serves a new one: 201 with the service, the host given exactly the options, then listed', async () => {
    const r = await post(`${a.base}/api/v1/onion/services`, { target: '127.0.0.1:8080', name: 'shop_2', authorizedClients: KEYS.map(k => k.publicKey), pow: true })
    assert.equal(r.status, 201, r.text)
    const info = r.body as unknown as HostedServiceInfo
    assert.equal(info.name, 'shop_2')
    assert.match(info.address, /^[a-z2-7]{56}\.peerd$/)
    assert.equal(info.target, '127.0.0.1:8080')
    assert.deepEqual(info.pow, { enabled: true, suggestedEffort: 0 })
    assert.equal(info.authorizedClients, 2)
    assert.deepEqual(services.served.at(-1), { target: '127.0.0.1:8080', name: 'shop_2', authorizedClients: KEYS.map(k => k.publicKey), pow: true })
    // no name: the host picks it (the fake, as the real one, from the port)
    const bare = await post(`${a.base}/api/v1/onion/services`, { target: '[::1]:9000' })
    assert.equal(bare.status, 201, bare.text)
    assert.deepEqual(services.served.at(-1), { target: '[::1]:9000' })
    const list = await call(`${a.base}/api/v1/onion/services`, { headers: bearer })
    assert.deepEqual((list.body.services as HostedServiceInfo[]).map(s => s.name), ['blog', 'shop_2', 'web-9000'])
  })

  it('refuses a bad target, name, client list or puzzle flag with 400 before asking the host', async () => {
    const calls = services.served.length
    const bad: Array<[unknown, RegExp]> = [
      [undefined, /string "target"/],
      [{}, /string "target"/],
      [{ target: 8080 }, /string "target"/],
      [[{ target: '127.0.0.1:80' }], /string "target"/],
      [{ target: '127.0.0.1' }, /not of that form/],
      [{ target: '8080' }, /not of that form/],
      [{ target: '127.0.0.1:0' }, /from 1 to 65535/],
      [{ target: '127.0.0.1:65536' }, /from 1 to 65535/],
      [{ target: '127.0.0.1:80x' }, /not of that form/],
      [{ target: '[zz]:80' }, /IPv6/],
      [{ target: '::1:80' }, /not of that form/],
      [{ target: 'bad host:80' }, /an IP address or localhost/],
      [{ target: 'example.com:80' }, /an IP address or localhost/],
      [{ target: 'http://127.0.0.1:80' }, /not of that form/],
      [{ target: `${'a'.repeat(70)}:80` }, /too long/],
      [{ target: '127.0.0.1:80', name: 'a/b' }, /"name"/],
      [{ target: '127.0.0.1:80', name: 'x'.repeat(33) }, /"name"/],
      [{ target: '127.0.0.1:80', name: 7 }, /"name"/],
      [{ target: '127.0.0.1:80', authorizedClients: 'k1' }, /"authorizedClients"/],
      [{ target: '127.0.0.1:80', authorizedClients: [''] }, /"authorizedClients"/],
      [{ target: '127.0.0.1:80', authorizedClients: ['k'.repeat(129)] }, /"authorizedClients"/],
      [{ target: '127.0.0.1:80', authorizedClients: [KEYS[0]?.publicKey, 'k1'] }, /"authorizedClients"\[1\] is not a client public key/],
      // the secret half pasted by mistake
      [{ target: '127.0.0.1:80', authorizedClients: [KEYS[0]?.secretKey] }, /"authorizedClients"\[0\] is not a client public key/],
      [{ target: '127.0.0.1:80', authorizedClients: Array.from({ length: 33 }, () => KEYS[0]?.publicKey) }, /at most 32/],
      [{ target: '127.0.0.1:80', pow: 'yes' }, /"pow"/]
    ]
    for (const [body, message] of bad) {
      const r = body === undefined
        ? await call(`${a.base}/api/v1/onion/services`, { method: 'POST', headers: bearer })
        : await post(`${a.base}/api/v1/onion/services`, body)
      assert.equal(r.status, 400, `${JSON.stringify(body)}: ${r.text}`)
      const e = r.body.error as { name: string, message: string }
      assert.equal(e.name, 'InvalidArgumentError')
      assert.match(e.message, message, JSON.stringify(body))
    }
    assert.equal(services.served.length, calls, 'the host was never asked')
  })

  it('takes the targets a user types: IPv4, bracketed IPv6, localhost', () => {
    for (const t of ['127.0.0.1:8080', '10.1.2.3:1', '[::1]:65535', '[fe80::1%eth0]:80', 'localhost:3000']) assert.equal(checkTarget(t), t)
  })

  it('stops a service by name (204, no body); an unknown name is a 404 and stops nothing', async () => {
    const unknown = await post(`${a.base}/api/v1/onion/services/stop`, { name: 'nope' })
    assert.equal(unknown.status, 404)
    assert.deepEqual(unknown.body.error, { name: 'NotFoundError', message: 'no onion service named "nope" on this node' })
    const noName = await post(`${a.base}/api/v1/onion/services/stop`, {})
    assert.equal(noName.status, 400)
    assert.deepEqual(services.stopped, [])
    const r = await post(`${a.base}/api/v1/onion/services/stop`, { name: 'blog' })
    assert.equal(r.status, 204)
    assert.equal(r.text, '')
    assert.deepEqual(services.stopped, ['blog'])
    const list = await call(`${a.base}/api/v1/onion/services`, { headers: bearer })
    assert.ok(!(list.body.services as HostedServiceInfo[]).some(s => s.name === 'blog'))
    // a GET (a link, a prefetch) stops nothing
    assert.equal((await call(`${a.base}/api/v1/onion/services/stop`, { headers: bearer })).status, 405)
  })

  it('makes a new client key pair on each POST, whose secret half gives its public half; any node answers', async () => {
    const a1 = await call(`${a.base}/api/v1/onion/client-key`, { method: 'POST', headers: bearer })
    const a2 = await call(`${noOnion.base}/api/v1/onion/client-key`, { method: 'POST', headers: bearer })
    for (const r of [a1, a2]) {
      assert.equal(r.status, 200, r.text)
      assert.deepEqual(Object.keys(r.body).sort(), ['publicKey', 'secretKey'])
      assert.match(r.body.publicKey as string, /^descriptor:x25519:[a-z2-7]{52}$/)
      assert.match(r.body.secretKey as string, /^descriptor:x25519-private:[a-z2-7]{52}$/)
      assert.equal(hsClientAuthKeyPair(parseHsClientSecretKey(r.body.secretKey as string)).publicKey, r.body.publicKey)
    }
    assert.notEqual(a1.body.secretKey, a2.body.secretKey)
    assert.equal((await call(`${a.base}/api/v1/onion/client-key`, { headers: bearer })).status, 405)
    assert.equal((await call(`${a.base}/api/v1/onion/client-key`, { method: 'POST' })).status, 401)
  })

  it('answers 503 on a node without onion, or whose onion hosts no services', async () => {
    for (const [node, message] of [[noOnion, /onion service is not running/], [noServices, /cannot host onion services/]] as const) {
      for (const [method, path, body] of [['GET', 'services', undefined], ['POST', 'services', { target: '127.0.0.1:80' }], ['POST', 'services/stop', { name: 'blog' }]] as const) {
        const r = await call(`${node.base}/api/v1/onion/${path}`, { method, headers: bearer, body: body == null ? undefined : JSON.stringify(body) })
        assert.equal(r.status, 503, `${method} ${path}`)
        const e = r.body.error as { name: string, message: string }
        assert.equal(e.name, 'NotStartedError')
        assert.match(e.message, message)
      }
    }
  })

  it('needs the cookie or a session with the dashboard header for a POST', async () => {
    const calls = services.served.length
    assert.equal((await call(`${a.base}/api/v1/onion/services`)).status, 401)
    assert.equal((await post(`${a.base}/api/v1/onion/services`, { target: '127.0.0.1:80' }, { 'content-type': 'application/json' })).status, 401)
    const s = a.auth.redeem(a.auth.issueToken().token)
    assert.ok(s != null)
    const cookie = `${a.auth.cookieName()}=${s.session}`
    const noHeader = await post(`${a.base}/api/v1/onion/services`, { target: '127.0.0.1:80' }, { cookie, 'content-type': 'application/json' })
    assert.equal(noHeader.status, 403)
    assert.equal(services.served.length, calls)
    const ok = await post(`${a.base}/api/v1/onion/services`, { target: '127.0.0.1:81', name: 'from-dashboard' }, { cookie, 'content-type': 'application/json', [CSRF_HEADER]: '1', origin: a.base })
    assert.equal(ok.status, 201, ok.text)
    assert.equal(services.served.length, calls + 1)
  })
})
