/**
 * The dashboard's Onion panel in a real browser (Debian's Chromium, driven by playwright-core),
 * served by the API's router, its session check and the built dashboard, with a fake onion
 * service and a fixed event stream: the relay and exit settings, the relay traffic moving, the
 * circuits in the table and drawn in their colours on the network graph, "New circuits"
 * through the session (a POST with the dashboard header), the onion services (address with its
 * QR code and copy button, serving one from the form, a refused target, Stop), the "private"
 * badge of private transfers in the Share panel, and a node without an onion service.
 * The panel is saved as test-results/dashboard/onion.png.
 */
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { mkdir } from 'node:fs/promises'
import { createServer } from 'node:http'
import type { ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { before, describe, it } from 'node:test'
import type { Browser, Page } from 'playwright-core'
import { onionRoutes } from '../../src/api/onion-routes.ts'
import { createRouter, HANDLED } from '../../src/api/router.ts'
import type { Route } from '../../src/api/router.ts'
import { DashboardAuth } from '../../src/api/sessions.ts'
import { StaticSite, webRoot } from '../../src/api/static.ts'
import type { PeerdNode } from '../../src/node/node.ts'
import { buildWeb, isStale } from '../../src/web/build.ts'
import { findChromium, launchChromium } from '../utils/browser.ts'
import { waitFor } from '../utils/index.ts'
import { fakeOnion, HOPS } from '../utils/onion-control.ts'
import { fakeServices, PUBLISHED } from '../utils/onion-services.ts'
import { teardown } from '../utils/teardown.ts'

const TEST = { timeout: 60_000 }
const SHOTS = fileURLToPath(new URL('../../test-results/dashboard/', import.meta.url))
const SELF = '12D3KooWSe1fNodeEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEse1f'
const chromium = await findChromium()
const skip = 'skip' in chromium ? `needs Chromium: ${chromium.skip}` : false

const PRIVATE_CID = 'bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi'
const OPEN_CID = 'bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku'
const progress = { bytes: 1_048_576, total: 4_194_304, blocks: 4, peers: 2, fetched: 1_048_576, rate: 262_144 }

/** The events a daemon's feed would send first: who this node is, its one peer (the guard), the crawl, two transfers (one private) and held content fetched privately. */
function feed (res: ServerResponse): void {
  res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store' })
  const send = (name: string, data: unknown): void => { res.write(`event: ${name}\ndata: ${JSON.stringify(data)}\n\n`) }
  send('status', { peerId: SELF, network: 'regtest', version: '0.1.0', uptimeSeconds: 60, addresses: [], peers: 1, connections: 1, api: '', pid: 1, gateway: null, dataDir: '/x' })
  send('peers', [{ peerId: HOPS.guard, addresses: ['/ip4/10.0.0.2/tcp/9470'], direction: 'outbound', latencyMs: 3 }])
  send('transfers', [
    { cid: PRIVATE_CID, startedAt: new Date().toISOString(), private: true, progress },
    { cid: OPEN_CID, startedAt: new Date().toISOString(), private: false, progress }
  ])
  send('held', [{ cid: PRIVATE_CID, name: '', size: 4_194_304, type: 'file', complete: false, source: 'get', pinned: true, private: true, addedAt: new Date().toISOString() }])
  send('network', { nodes: [{ peerId: SELF, hops: 0, answered: true }, { peerId: HOPS.guard, hops: 1, answered: true }, { peerId: HOPS.middle, hops: 2, answered: false }], links: [[SELF, HOPS.guard], [HOPS.guard, HOPS.middle]], crawledAt: new Date().toISOString(), partial: false })
}

describe('the Onion panel in a browser', { skip }, () => {
  const td = teardown()
  const services = fakeServices([PUBLISHED])
  const onion = Object.assign(fakeOnion(), { services: services as typeof services | undefined })
  const node: { onion?: typeof onion } = { onion }
  let base = ''
  let browser: Browser
  let page: Page

  before(async () => {
    if ('skip' in chromium) return
    await mkdir(SHOTS, { recursive: true })
    if (isStale()) await buildWeb()
    const auth = new DashboardAuth({ cookie: () => 'unused', apiUrl: () => base })
    const site = new StaticSite({ root: webRoot() })
    const routes: Route[] = [
      { method: 'GET', path: '/api/v1/session', auth: false, handler: ({ req }) => ({ authenticated: auth.check(req) === 'session', expiresAt: null }) },
      { method: 'GET', path: '/api/v1/events', handler: ({ res }) => { feed(res); return HANDLED } },
      ...onionRoutes(node as unknown as PeerdNode)
    ]
    const server = createServer(createRouter(routes, {
      authenticate: (req, route) => auth.check(req, { navigable: route.navigable }),
      body: { idleMs: 5000, totalMs: 5000 },
      onError: (err) => { console.error('# fake daemon:', err) },
      fallback: async (req, res, url) => { await site.serve(req, res, url.pathname) }
    }))
    server.listen(0, '127.0.0.1')
    await once(server, 'listening')
    td.add(async () => { server.closeAllConnections(); server.close() }, 'close the fake daemon')
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    const session = auth.redeem(auth.issueToken().token)
    assert.ok(session != null)
    browser = await launchChromium(chromium.path)
    td.add(async () => { await browser.close() }, 'close the browser')
    const context = await browser.newContext({ viewport: { width: 1280, height: 1000 } })
    context.setDefaultTimeout(20_000)
    await context.addCookies([{ name: auth.cookieName(), value: session.session, url: base }])
    page = await context.newPage()
    page.on('pageerror', (err) => { console.error('# page error:', err.message) })
  }, { timeout: 120_000 })

  async function stat (id: string): Promise<string> {
    return (await page.locator(`[data-stat="${id}"] dd`).first().innerText()).trim()
  }

  it('shows the relay and exit settings, the SOCKS address, the guards and the circuits', TEST, async () => {
    await page.goto(`${base}/#onion`)
    await page.getByRole('heading', { name: 'Onion', level: 2 }).waitFor()
    await page.locator('#circuit-table tbody tr').nth(2).waitFor()
    assert.match(await stat('onion-relay'), /^on\s*cap 1\.5 MB\/s$/)
    assert.match(await stat('onion-relayed'), /^10\.0 MiB\s*20480 cells$/)
    assert.equal(await stat('onion-exit'), 'on')
    assert.equal(await stat('onion-relays'), '42')
    assert.equal(await stat('onion-circuits'), '2')
    assert.deepEqual(await page.locator('#onion-exit-policy li').allInnerTexts(), ['accept *:80', 'accept *:443', 'reject *:*'])
    const body = await page.locator('main').innerText()
    assert.ok(body.includes('127.0.0.1:9050'), 'the SOCKS address')
    assert.ok(body.includes(HOPS.guard), 'the guard')
    const c1 = await page.locator('#circuit-table tr[data-circuit="c1"]').innerText()
    assert.ok(c1.includes(`this node → …${HOPS.guard.slice(-6)} → …${HOPS.middle.slice(-6)} → …${HOPS.exit.slice(-6)}`), c1)
    assert.match(c1, /182 ms/)
    assert.match(c1, /5\.00 KiB \/ 5\.00 MiB/)
  })

  it('plots the relay traffic as the counters move', TEST, async () => {
    const timer = setInterval(() => { onion.relay(2000) }, 500)
    try {
      // 2000 cells of 514 bytes a second: about 1 MB/s
      const shown = await waitFor(async () => {
        const t = await stat('onion-relay-rate')
        return /^[\d.]+ (KiB|MiB)\/s$/.test(t) ? t : undefined
      }, { timeoutMs: 15_000, what: 'a relay rate' })
      const bytes = Number(/^[\d.]+/.exec(shown)?.[0]) * (shown.includes('MiB') ? 1024 * 1024 : 1024)
      assert.ok(bytes > 500_000 && bytes < 2_000_000, `relay rate shown: ${shown}`)
    } finally {
      clearInterval(timer)
    }
    assert.ok(Number(await page.locator('[data-samples]').getAttribute('data-samples')) >= 1)
    assert.ok(await page.locator('.chart canvas').count() > 0, 'the chart is drawn')
  })

  it('draws each circuit\'s path on the network graph in its colour', TEST, async () => {
    assert.deepEqual(await page.locator('.legend span').allInnerTexts(), ['this node', 'circuit c1', 'circuit c2', 'circuit c3'])
    // pixels of the first two circuits' colours on the graph's canvas (browser code as text)
    const count = async (): Promise<number[]> => await page.evaluate(`(() => {
      const c = document.querySelector('.graph canvas')
      const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data
      const near = (i, r, g, b) => Math.abs(d[i] - r) < 12 && Math.abs(d[i + 1] - g) < 12 && Math.abs(d[i + 2] - b) < 12
      let a = 0, b = 0
      for (let i = 0; i < d.length; i += 4) { if (near(i, 244, 162, 97)) a++; if (near(i, 123, 44, 191)) b++ }
      return [a, b]
    })()`)
    const [first, second] = await waitFor(async () => {
      const n = await count()
      return n.every(x => x > 50) ? n : undefined
    }, { timeoutMs: 15_000, what: 'both circuits drawn in colour' })
    console.error(`# circuit pixels on the graph: c1 ${first}, c2 ${second}`)
    await page.waitForTimeout(1500) // let the layout settle for the picture
    await page.screenshot({ path: join(SHOTS, 'onion.png'), fullPage: true })
  })

  it('retires the circuits with "New circuits" through the session', TEST, async () => {
    const calls = onion.newCircuitCalls
    await page.getByRole('button', { name: 'New circuits' }).click()
    await page.getByText('Retired 2 circuits: new streams use new circuits.').waitFor()
    assert.equal(onion.newCircuitCalls, calls + 1)
    await waitFor(async () => (await page.locator('#circuit-table tr[data-circuit="c1"] td').last().innerText()) === 'yes', { timeoutMs: 10_000, what: 'c1 retired in the table' })
    assert.equal(await page.locator('#circuit-table tr[data-circuit="c3"] td').last().innerText(), 'no')
    await page.getByText('circuit c1 (retired, dashed)').waitFor()
  })

  it('lists the onion services: address in monospace with a copy button and a QR code, target, intro points, puzzle', TEST, async () => {
    const item = page.locator('li.service[data-service="blog"]')
    await item.waitFor()
    assert.equal(await item.locator('code.mono').innerText(), PUBLISHED.address)
    assert.equal(await item.locator('[data-field="target"]').innerText(), '127.0.0.1:8080')
    assert.equal(await item.locator('[data-field="intro"]').innerText(), '3')
    assert.match(await item.locator('[data-field="published"]').innerText(), /ago \(revision 1796644800\)$/)
    assert.equal(await item.locator('[data-field="clients"]').innerText(), '2 authorized keys')
    assert.equal(await item.locator('[data-field="pow"]').innerText(), 'on, effort 150')
    assert.equal(await item.getByRole('button', { name: `Copy address: ${PUBLISHED.address}` }).count(), 1)
    // the QR code is uqr's SVG of the address: a square of modules, dozens of them for 62 characters
    const qr = item.getByRole('img', { name: `QR code of the onion address ${PUBLISHED.address}` })
    const rects = await qr.locator('svg rect, svg path').count()
    const box = await qr.boundingBox()
    assert.ok(rects > 0 && box != null && box.width > 100 && Math.abs(box.width - box.height) < 4, `QR ${rects} shapes, ${JSON.stringify(box)}`)
    await page.locator('#onion-services').screenshot({ path: join(SHOTS, 'onion-services.png') })
  })

  it('serves a local server from the form, shows its address, and refuses a bad target with the API\'s message', TEST, async () => {
    await page.locator('#serve-target').fill('127.0.0.1:3000')
    await page.locator('#serve-name').fill('notes')
    await page.getByRole('button', { name: 'Serve', exact: true }).click()
    await page.locator('#serve-result').waitFor()
    assert.deepEqual(services.served.at(-1), { target: '127.0.0.1:3000', name: 'notes' })
    const address = (await services.list()).find(s => s.name === 'notes')?.address ?? assert.fail('not served')
    assert.match(await page.locator('#serve-result').innerText(), new RegExp(`^Serving 127\\.0\\.0\\.1:3000 at ${address}$`))
    await page.locator('li.service[data-service="notes"]').waitFor()
    const calls = services.served.length
    await page.locator('#serve-target').fill('127.0.0.1:70000')
    await page.getByRole('button', { name: 'Serve', exact: true }).click()
    await page.locator('#serve-form [role="alert"]').waitFor()
    assert.match(await page.locator('#serve-form [role="alert"]').innerText(), /the port must be from 1 to 65535/)
    assert.equal(services.served.length, calls)
  })

  it('stops a service with its Stop button', TEST, async () => {
    await page.getByRole('button', { name: 'Stop notes' }).click()
    await page.locator('li.service[data-service="notes"]').waitFor({ state: 'detached' })
    assert.deepEqual(services.stopped, ['notes'])
    assert.equal(await page.locator('li.service').count(), 1)
  })

  it('says so when the node cannot host onion services', TEST, async () => {
    onion.services = undefined
    await page.locator('#onion-services-unavailable').waitFor({ timeout: 10_000 })
    assert.equal(await page.locator('#onion-services-unavailable').innerText(), 'This node cannot host onion services.')
    onion.services = services
  })

  it('marks private transfers and privately fetched content with a "private" badge in the Share panel', TEST, async () => {
    await page.goto(`${base}/#share`)
    const priv = page.locator(`li.download[data-cid="${PRIVATE_CID}"]`)
    await priv.waitFor()
    assert.equal(await priv.getAttribute('data-private'), 'true')
    assert.equal(await priv.locator('.badge').innerText(), 'private')
    const open = page.locator(`li.download[data-cid="${OPEN_CID}"]`)
    assert.equal(await open.getAttribute('data-private'), 'false')
    assert.equal(await open.locator('.badge').count(), 0)
    assert.equal(await page.locator(`#held-table tr[data-cid="${PRIVATE_CID}"] .badge`).innerText(), 'private')
    await page.goto(`${base}/#onion`)
  })

  it('says so when the node runs no onion service', TEST, async () => {
    delete node.onion
    await page.locator('#onion-unavailable').waitFor({ timeout: 10_000 })
    assert.match(await page.locator('#onion-unavailable').innerText(), /onion service is not running/)
  })
})
