/**
 * Every CID shares the gateway's origin, so what it serves must stay inert: an HTML or SVG file
 * comes with `Content-Security-Policy: sandbox` (no script, an opaque origin) and `nosniff`,
 * and so do a folder's index.html, its listing, and a 304 revalidation. A real node and gateway
 * on loopback.
 */
import assert from 'node:assert/strict'
import { before, describe, it } from 'node:test'
import { Gateway } from '../../src/share/gateway.ts'
import { createLogger } from '../../src/utils/logger.ts'
import { teardown } from '../utils/teardown.ts'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'

const TEST = { timeout: 20_000 }
const PAGE = '<!doctype html><title>x</title><script>fetch("/ipfs/")</script>\n'

/** The CSP directives of a response, by name. */
function csp (res: Response): Map<string, string> {
  const out = new Map<string, string>()
  for (const d of (res.headers.get('content-security-policy') ?? '').split(';')) {
    const [name, ...rest] = d.trim().split(/\s+/)
    if (name != null && name !== '') out.set(name.toLowerCase(), rest.join(' '))
  }
  return out
}

/** Asserts the response is sandboxed with no `allow-scripts` or `allow-same-origin` token. */
function assertSandboxed (res: Response, what: string): void {
  const sandbox = csp(res).get('sandbox')
  assert.ok(sandbox != null, `${what}: no CSP sandbox in ${String(res.headers.get('content-security-policy'))}`)
  assert.doesNotMatch(sandbox, /allow-scripts|allow-same-origin/, what)
  assert.equal(res.headers.get('x-content-type-options'), 'nosniff', what)
}

describe('gateway content is sandboxed', () => {
  const td = teardown()
  let gw = ''
  let html = ''
  let site = ''

  before(async () => {
    const node = await td.testNode()
    const gateway = new Gateway({ share: node.share, host: '127.0.0.1', port: 0, log: createLogger({ level: 'silent' }) })
    gw = await gateway.start()
    td.node(gateway)
    html = (await node.share.add('page.html', (async function * () { yield Buffer.from(PAGE) })())).cid
    const folder = join(await td.dir('peerd-gw-sandbox-'), 'site')
    await mkdir(join(folder, 'www'), { recursive: true })
    await writeFile(join(folder, 'www', 'index.html'), PAGE)
    await writeFile(join(folder, 'pic.svg'), '<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>')
    site = (await node.share.share(folder)).cid
  })

  it('serves an HTML file sandboxed: it can run no script', TEST, async () => {
    const res = await fetch(`${gw}/ipfs/${html}?filename=page.html`)
    assert.equal(res.status, 200)
    assert.match(res.headers.get('content-type') ?? '', /^text\/html/)
    assertSandboxed(res, 'html file')
    assert.equal(await res.text(), PAGE)
    const head = await fetch(`${gw}/ipfs/${html}?filename=page.html`, { method: 'HEAD' })
    assertSandboxed(head, 'HEAD')
    const again = await fetch(`${gw}/ipfs/${html}`, { headers: { 'if-none-match': `"${html}"` } })
    assert.equal(again.status, 304)
    assertSandboxed(again, '304')
  })

  it('sandboxes an SVG, a folder index.html and a folder listing', TEST, async () => {
    const svg = await fetch(`${gw}/ipfs/${site}/pic.svg`)
    assert.equal(svg.headers.get('content-type'), 'image/svg+xml')
    assertSandboxed(svg, 'svg')
    const index = await fetch(`${gw}/ipfs/${site}/www/`)
    assert.match(index.headers.get('content-type') ?? '', /^text\/html/)
    assertSandboxed(index, 'index.html')
    const listing = await fetch(`${gw}/ipfs/${site}/`)
    assert.match(await listing.text(), /Index of/)
    assertSandboxed(listing, 'listing')
    assert.equal(csp(listing).get('default-src'), "'none'")
  })
})
