/**
 * Dashboard login tokens and sessions: single use, expiry, the per-port cookie, and the
 * cross-origin checks on session requests.
 */
import assert from 'node:assert/strict'
import type { IncomingMessage } from 'node:http'
import { describe, it, mock } from 'node:test'
import { CSRF_HEADER, DashboardAuth, SESSION_TTL_MS, TOKEN_TTL_MS } from '../../../src/api/sessions.ts'

const auth = (): DashboardAuth => new DashboardAuth({ cookie: () => 'secret-cookie', apiUrl: () => 'http://127.0.0.1:4567' })

function req (headers: Record<string, string>, method = 'GET'): IncomingMessage {
  return { headers, method } as unknown as IncomingMessage
}

function cookieOf (a: DashboardAuth, session: string): Record<string, string> {
  return { cookie: `other=1; ${a.cookieName()}=${session}` }
}

describe('dashboard auth', () => {
  it('redeems a token once, for a session in an HttpOnly SameSite=Strict cookie named after the port', () => {
    const a = auth()
    const { token } = a.issueToken()
    const s = a.redeem(token)
    assert.ok(s != null)
    assert.equal(a.redeem(token), undefined, 'single use')
    assert.equal(a.redeem('made-up'), undefined)
    assert.equal(a.cookieName(), 'peerd_session_4567')
    assert.match(a.sessionCookie(s.session), /^peerd_session_4567=[\w-]+; Path=\/; HttpOnly; SameSite=Strict; Max-Age=43200$/)
    assert.equal(a.check(req({ ...cookieOf(a, s.session), [CSRF_HEADER]: '1' })), 'session')
    assert.equal(a.check(req({ cookie: `${a.cookieName()}=nope` })), undefined)
    a.end(s.session)
    assert.equal(a.check(req({ ...cookieOf(a, s.session), [CSRF_HEADER]: '1' })), undefined)
  })

  it('lets tokens and sessions expire', () => {
    mock.timers.enable({ apis: ['Date'], now: 1_000_000 })
    try {
      const a = auth()
      const late = a.issueToken().token
      const early = a.issueToken().token
      const s = a.redeem(early)
      assert.ok(s != null)
      mock.timers.tick(TOKEN_TTL_MS + 1)
      assert.equal(a.redeem(late), undefined, 'token expired')
      assert.equal(a.check(req({ ...cookieOf(a, s.session), [CSRF_HEADER]: '1' })), 'session')
      mock.timers.tick(SESSION_TTL_MS)
      assert.equal(a.check(req({ ...cookieOf(a, s.session), [CSRF_HEADER]: '1' })), undefined, 'session expired')
    } finally {
      mock.timers.reset()
    }
  })

  it('takes the bearer cookie as before, whatever the headers', () => {
    const a = auth()
    assert.equal(a.check(req({ authorization: 'Bearer secret-cookie' }, 'POST')), 'bearer')
    assert.equal(a.check(req({ authorization: 'bearer secret-cookie', 'sec-fetch-site': 'cross-site' }, 'POST')), 'bearer')
    assert.equal(a.check(req({ authorization: 'Bearer secret-cookiE' })), undefined)
  })

  it('refuses session requests from other origins, and any without the dashboard header', () => {
    const a = auth()
    const s = a.redeem(a.issueToken().token)
    assert.ok(s != null)
    const c = { ...cookieOf(a, s.session), [CSRF_HEADER]: '1' }
    assert.throws(() => a.check(req({ ...c, 'sec-fetch-site': 'cross-site' })), { name: 'ForbiddenError' })
    // another port of the same host (the gateway) is "same-site", not same-origin
    assert.throws(() => a.check(req({ ...c, 'sec-fetch-site': 'same-site' })), { name: 'ForbiddenError' })
    assert.equal(a.check(req({ ...c, 'sec-fetch-site': 'same-origin' })), 'session')
    assert.throws(() => a.check(req({ ...c, origin: 'http://127.0.0.1:8080' }, 'POST')), /origin/)
    assert.equal(a.check(req({ ...c, origin: 'http://127.0.0.1:4567' }, 'POST')), 'session')
    // the origin is compared with the API's own URL, not with the request's Host (DNS rebinding)
    assert.throws(() => a.check(req({ ...c, host: 'evil.example:4567', origin: 'http://evil.example:4567' }, 'POST')), /origin/)
    // GETs need the header too; POSTs as before
    const bare = cookieOf(a, s.session)
    assert.throws(() => a.check(req(bare)), /x-peerd-dashboard/)
    assert.throws(() => a.check(req({ ...bare, 'sec-fetch-site': 'same-origin' })), /x-peerd-dashboard/)
    assert.throws(() => a.check(req(bare, 'POST')), /x-peerd-dashboard/)
  })

  it('lets a same-origin navigation open a download route without the header, and nothing else', () => {
    const a = auth()
    const s = a.redeem(a.issueToken().token)
    assert.ok(s != null)
    const nav = { ...cookieOf(a, s.session), 'sec-fetch-site': 'same-origin', 'sec-fetch-mode': 'navigate' }
    assert.equal(a.check(req(nav), { navigable: true }), 'session')
    assert.throws(() => a.check(req(nav)), /x-peerd-dashboard/, 'a route that is not navigable')
    assert.throws(() => a.check(req({ ...nav, 'sec-fetch-mode': 'no-cors' }), { navigable: true }), /x-peerd-dashboard/)
    assert.throws(() => a.check(req({ ...nav, 'sec-fetch-site': 'none' }), { navigable: true }), /x-peerd-dashboard/)
    assert.throws(() => a.check(req(nav, 'POST'), { navigable: true }), /x-peerd-dashboard/)
  })

  it('keeps a bounded number of tokens', () => {
    const a = auth()
    const first = a.issueToken().token
    for (let i = 0; i < 40; i++) a.issueToken()
    assert.equal(a.redeem(first), undefined, 'the oldest unused token went')
  })
})
