/**
 * The onion routes over real HTTP, through the API's router and its authentication (bearer
 * cookie or dashboard session), with a fake onion service: the shapes of status, circuits and
 * new-circuits, a 503 for a node without an onion service, and the session rules on the POST.
 */
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, describe, it } from 'node:test'
import { onionRoutes } from '../../../src/api/onion-routes.ts'
import { createRouter } from '../../../src/api/router.ts'
import { CSRF_HEADER, DashboardAuth } from '../../../src/api/sessions.ts'
import type { PeerdNode } from '../../../src/node/node.ts'
import type { CircuitInfo, OnionStatus } from '../../../src/onion/types.ts'
import { fakeOnion, HOPS } from '../../utils/onion-control.ts'

const COOKIE = 'onion-routes-cookie'

/** Serves the onion routes of `node` as the daemon does; resolves to its base URL. */
async function serve (node: object, auth: { url: string, auth?: DashboardAuth }): Promise<{ base: string, close: () => void }> {
  const a = new DashboardAuth({ cookie: () => COOKIE, apiUrl: () => auth.url })
  auth.auth = a
  const server = createServer(createRouter(onionRoutes(node as PeerdNode), {
    authenticate: (req, route) => a.check(req, { navigable: route.navigable }),
    body: { idleMs: 5000, totalMs: 5000 },
    onError: () => {}
  }))
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  auth.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  return { base: auth.url, close: () => { server.close() } }
}

const bearer = { authorization: `Bearer ${COOKIE}` }

async function call (url: string, init: RequestInit = {}): Promise<{ status: number, body: Record<string, unknown> }> {
  const res = await fetch(url, init)
  return { status: res.status, body: await res.json() as Record<string, unknown> }
}

describe('API onion routes', () => {
  const onion = fakeOnion()
  const withOnion = { url: '' } as { url: string, auth?: DashboardAuth }
  const without = { url: '' } as { url: string, auth?: DashboardAuth }
  let a: { base: string, close: () => void }
  let b: { base: string, close: () => void }

  before(async () => {
    a = await serve({ onion }, withOnion)
    b = await serve({}, without)
  })
  after(() => { a.close(); b.close() })

  it('answers the status: relay, exit policy, SOCKS, guards, circuits open', async () => {
    const r = await call(`${a.base}/api/v1/onion/status`, { headers: bearer })
    assert.equal(r.status, 200)
    const s = r.body as unknown as OnionStatus
    assert.deepEqual(s, onion.status())
    assert.equal(s.relay.rateBytesPerSec, 1_500_000)
    assert.deepEqual(s.relay.exitPolicy, ['accept *:80', 'accept *:443', 'reject *:*'])
    assert.equal(s.socks, '127.0.0.1:9050')
    assert.equal(s.circuitsOpen, 2)
  })

  it('answers the circuits under "circuits", hops guard first', async () => {
    const r = await call(`${a.base}/api/v1/onion/circuits`, { headers: bearer })
    assert.equal(r.status, 200)
    assert.deepEqual(Object.keys(r.body), ['circuits'])
    const circuits = r.body.circuits as CircuitInfo[]
    assert.deepEqual(circuits.map(c => c.id), ['c1', 'c2', 'c3'])
    assert.deepEqual(circuits[0]?.hops.map(h => h.peerId), [HOPS.guard, HOPS.middle, HOPS.exit])
    assert.equal(circuits[0]?.buildMs, 182.4)
    assert.equal(circuits[2]?.buildMs, null)
  })

  it('retires the open circuits on POST new-circuits, and only those not yet retired', async () => {
    const r = await call(`${a.base}/api/v1/onion/new-circuits`, { method: 'POST', headers: bearer })
    assert.deepEqual([r.status, r.body], [200, { retired: 2 }])
    const later = await call(`${a.base}/api/v1/onion/circuits`, { headers: bearer })
    assert.deepEqual((later.body.circuits as CircuitInfo[]).map(c => c.dirty), [true, true, false])
    const again = await call(`${a.base}/api/v1/onion/new-circuits`, { method: 'POST', headers: bearer })
    assert.deepEqual(again.body, { retired: 0 })
    // GET is not how one retires circuits (a link or a prefetch must not do it)
    const get = await call(`${a.base}/api/v1/onion/new-circuits`, { headers: bearer })
    assert.equal(get.status, 405)
    assert.equal(onion.newCircuitCalls, 2)
  })

  it('answers 503 NotStartedError on a node without an onion service, for each route', async () => {
    for (const [method, path] of [['GET', 'status'], ['GET', 'circuits'], ['POST', 'new-circuits']] as const) {
      const r = await call(`${b.base}/api/v1/onion/${path}`, { method, headers: bearer })
      assert.equal(r.status, 503, path)
      const e = r.body.error as { name: string, message: string }
      assert.equal(e.name, 'NotStartedError')
      assert.match(e.message, /onion service is not running/)
    }
  })

  it('needs the cookie or a session; a session POST needs the dashboard header and the own origin', async () => {
    const calls = onion.newCircuitCalls
    assert.equal((await call(`${a.base}/api/v1/onion/status`)).status, 401)
    assert.equal((await call(`${a.base}/api/v1/onion/new-circuits`, { method: 'POST', headers: { authorization: 'Bearer wrong' } })).status, 401)
    const auth = withOnion.auth as DashboardAuth
    const s = auth.redeem(auth.issueToken().token)
    assert.ok(s != null)
    const cookie = `${auth.cookieName()}=${s.session}`
    const noHeader = await call(`${a.base}/api/v1/onion/new-circuits`, { method: 'POST', headers: { cookie } })
    assert.equal(noHeader.status, 403)
    assert.match((noHeader.body.error as { message: string }).message, /x-peerd-dashboard/)
    const foreign = await call(`${a.base}/api/v1/onion/new-circuits`, { method: 'POST', headers: { cookie, [CSRF_HEADER]: '1', origin: 'http://127.0.0.1:1' } })
    assert.equal(foreign.status, 403)
    assert.equal(onion.newCircuitCalls, calls, 'a refused request retired nothing')
    const ok = await call(`${a.base}/api/v1/onion/new-circuits`, { method: 'POST', headers: { cookie, [CSRF_HEADER]: '1', origin: withOnion.url } })
    assert.deepEqual([ok.status, ok.body], [200, { retired: 0 }])
    assert.equal(onion.newCircuitCalls, calls + 1)
  })
})
