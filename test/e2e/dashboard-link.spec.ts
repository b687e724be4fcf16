/**
 * Share links in the dashboard, in a real browser (Debian's Chromium) against two daemon
 * processes that do not know each other: "Copy link" on the provider's held content copies a
 * peerd:// link (or, without a clipboard, shows it selected in a field); the other node's
 * dashboard opened at `#/open?link=…` (what a registered web+peerd: handler opens) has the get
 * form filled in, and Get fetches the content through the link's provider.
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { before, describe, it } from 'node:test'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { buildWeb, isStale } from '../../src/web/build.ts'
import { findChromium, launchChromium } from '../utils/browser.ts'
import { cliJson, startDaemonProcess } from '../utils/index.ts'
import type { DaemonProcess } from '../utils/index.ts'
import { MiB, writeRandomFile } from '../utils/share.ts'
import { teardown } from '../utils/teardown.ts'

const TEST = { timeout: 60_000 }
const chromium = await findChromium()
const skip = 'skip' in chromium ? `needs Chromium: ${chromium.skip}` : false

describe('share links in the dashboard', { skip }, () => {
  const td = teardown()
  let a: DaemonProcess
  let b: DaemonProcess
  let browser: Browser
  let cid: string
  let link: string

  /** A logged-in page on `n`'s dashboard, in a context of its own. */
  async function dashboard (n: DaemonProcess, init?: (c: BrowserContext) => Promise<void>): Promise<Page> {
    const { url } = await cliJson<{ url: string }>(['dashboard', '--no-open', '--data-dir', n.dataDir])
    const context = await browser.newContext()
    context.setDefaultTimeout(20_000)
    await init?.(context)
    const page = await context.newPage()
    page.on('pageerror', (err) => { console.error('# page error:', err.message) })
    await page.goto(url)
    await page.getByRole('navigation', { name: 'Panels' }).waitFor()
    return page
  }

  before(async () => {
    if ('skip' in chromium) return
    if (isStale()) await buildWeb()
    const dir = await td.dir('peerd-e2e-dashboard-link-')
    ;[a, b] = await Promise.all(['a', 'b'].map(async n => td.daemon(await startDaemonProcess(join(dir, n))))) as [DaemonProcess, DaemonProcess]
    const file = join(dir, 'linked.bin')
    await writeRandomFile(file, MiB + 17)
    cid = (await cliJson<{ cid: string }>(['share', file, '--data-dir', a.dataDir])).cid
    browser = await launchChromium(chromium.path)
    td.add(async () => { await browser.close() }, 'close the browser')
  }, { timeout: 60_000 })

  it('"Copy link" copies the root\'s peerd:// link naming the node', TEST, async () => {
    const page = await dashboard(a, async c => { await c.grantPermissions(['clipboard-read', 'clipboard-write']) })
    await page.goto(new URL('/#share', page.url()).href)
    const row = page.locator(`#held-table tr[data-cid="${cid}"]`)
    await row.getByRole('button', { name: `Copy link: ${cid}` }).click()
    await row.getByText('Copied').waitFor()
    // the page's navigator (a browser's, with a clipboard), not Node's
    link = await page.evaluate(async () => await (navigator as unknown as { clipboard: { readText: () => Promise<string> } }).clipboard.readText())
    assert.match(link, new RegExp(`^peerd://${cid}\\?name=linked\\.bin&provider=/ip4/127\\.0\\.0\\.1/tcp/\\d+/p2p/${a.peerId}$`))
    await page.context().close()
  })

  it('without a clipboard, the link is shown selected in a field instead', TEST, async () => {
    const page = await dashboard(a, async c => { await c.addInitScript(() => { Object.defineProperty(navigator, 'clipboard', { value: undefined }) }) })
    await page.goto(new URL('/#share', page.url()).href)
    const row = page.locator(`#held-table tr[data-cid="${cid}"]`)
    await row.getByRole('button', { name: `Copy link: ${cid}` }).click()
    const field = row.getByLabel(`Share link of ${cid}`)
    assert.equal(await field.inputValue(), link)
    const selected = await field.evaluate((el) => {
      const input = el as unknown as { value: string, selectionStart: number | null, selectionEnd: number | null }
      return input.value.slice(input.selectionStart ?? 0, input.selectionEnd ?? 0)
    })
    assert.equal(selected, link, 'the whole link is selected, ready to copy')
    await page.context().close()
  })

  it('#/open?link=… fills the get form in, and Get fetches through the link\'s provider', TEST, async () => {
    const page = await dashboard(b)
    // as the browser opens it for a web+peerd: link: the whole link percent-encoded
    const web = link.replace(/^peerd:\/\//, 'web+peerd:')
    await page.goto(new URL(`/#/open?link=${encodeURIComponent(web)}`, page.url()).href)
    const input = page.getByLabel('CID to fetch into this node')
    assert.equal(await input.inputValue(), web)
    await page.getByRole('button', { name: 'Get', exact: true }).click()
    await page.locator(`.download[data-cid="${cid}"][data-state="done"]`).waitFor()
    const held = await cliJson<Array<{ cid: string, complete: boolean }>>(['ls', '--data-dir', b.dataDir])
    assert.equal(held.find(r => r.cid === cid)?.complete, true)
    await page.context().close()
  })
})
