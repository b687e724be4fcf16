/**
 * The dashboard in a real browser (Debian's Chromium, driven by playwright-core) against a
 * three-node regtest network of daemon processes: logging in through the `peerd dashboard`
 * link (once only), the peers, a download by CID with progress to completion, files picked from
 * a folder CID and fetched alone, mining moving the
 * height, and a payment through the send form moving the balances on both nodes. Every panel
 * is saved as a screenshot into test-results/dashboard/.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { before, describe, it } from 'node:test'
import { MemoryBlockstore } from 'blockstore-core'
import { importer } from 'ipfs-unixfs-importer'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { IMPORT_OPTIONS } from '../../src/share/importer.ts'
import { buildWeb, isStale } from '../../src/web/build.ts'
import { findChromium, launchChromium } from '../utils/browser.ts'
import { cliJson, startDaemonProcess, waitFor } from '../utils/index.ts'
import type { DaemonProcess } from '../utils/index.ts'
import { teardown } from '../utils/teardown.ts'

const TEST = { timeout: 60_000 }
const SHOTS = fileURLToPath(new URL('../../test-results/dashboard/', import.meta.url))
const chromium = await findChromium()
const skip = 'skip' in chromium ? `needs Chromium: ${chromium.skip}` : false

describe('the dashboard in a browser', { skip }, () => {
  const td = teardown()
  let dir: string
  const nodes: DaemonProcess[] = []
  let browser: Browser
  let context: BrowserContext
  let page: Page
  let passFile: string
  const started = Date.now()
  td.add(() => { console.error(`# screenshots: ${SHOTS} (dashboard test took ${((Date.now() - started) / 1000).toFixed(1)} s)`) }, 'the screenshots line')

  const dd = (n: DaemonProcess): string[] => ['--data-dir', n.dataDir]
  const node1 = (): DaemonProcess => nodes[0] as DaemonProcess
  const node2 = (): DaemonProcess => nodes[1] as DaemonProcess

  /** The login link `peerd dashboard` prints for `n`. */
  async function loginUrl (n: DaemonProcess): Promise<string> {
    const r = await cliJson<{ url: string }>(['dashboard', '--no-open', ...dd(n)])
    assert.match(r.url, /^http:\/\/127\.0\.0\.1:\d+\/\?token=[\w-]+$/)
    return r.url
  }

  /** The value of a stat card (`data-stat`). */
  async function stat (p: Page, id: string): Promise<string> {
    return (await p.locator(`[data-stat="${id}"] dd`).first().innerText()).trim()
  }

  /** Waits until the stat card reads what `accept` accepts; returns it. On failure, says what the page showed. */
  async function waitForStat (p: Page, id: string, accept: (text: string) => boolean, what: string): Promise<string> {
    const card = p.locator(`[data-stat="${id}"] dd`).first()
    try {
      return await waitFor(async () => {
        const t = (await card.count()) > 0 ? (await card.innerText({ timeout: 1000 })).trim() : undefined
        return t != null && accept(t) ? t : undefined
      }, { timeoutMs: 20_000, intervalMs: 150, what })
    } catch (err) {
      const shown = await p.locator('body').innerText({ timeout: 1000 }).catch(() => '?')
      throw new Error(`${(err as Error).message}; ${p.url()} shows: ${shown.replace(/\s+/g, ' ').slice(0, 600)}`, { cause: err })
    }
  }

  async function shot (p: Page, name: string): Promise<void> {
    await p.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true })
  }

  before(async () => {
    if ('skip' in chromium) return
    await mkdir(SHOTS, { recursive: true })
    if (isStale()) await buildWeb()
    dir = await td.dir('peerd-e2e-dashboard-')
    nodes.push(td.daemon(await startDaemonProcess(join(dir, 'node1'))))
    const boot = ['--bootstrap', node1().addresses[0] as string]
    nodes.push(...await Promise.all([
      startDaemonProcess(join(dir, 'node2'), boot).then(d => td.daemon(d)),
      startDaemonProcess(join(dir, 'node3'), boot).then(d => td.daemon(d))
    ]))
    passFile = join(dir, 'pass')
    await writeFile(passFile, 'dashboard test\n')
    await Promise.all([node1(), node2()].map(async n => await cliJson(['wallet', 'create', '--passphrase-file', passFile, ...dd(n)])))
    browser = await launchChromium(chromium.path)
    td.add(async () => { await browser.close() }, 'close the browser')
    context = await browser.newContext({ viewport: { width: 1280, height: 900 } })
    // fail a step with its own message well before the test's time is up
    context.setDefaultTimeout(20_000)
    page = await context.newPage()
    page.on('pageerror', (err) => { console.error('# page error:', err.message) })
  }, { timeout: 120_000 })


  it('asks for a token without a session, and logs in once through the `peerd dashboard` link', TEST, async () => {
    const url = await loginUrl(node1())
    const stranger = await browser.newContext()
    const anon = await stranger.newPage()
    await anon.goto(new URL('/', url).href)
    await anon.getByLabel('Login token or link').waitFor()
    assert.match(await anon.locator('main').innerText(), /peerd dashboard/)
    await shot(anon, 'login')

    await page.goto(url)
    assert.equal(new URL(page.url()).search, '', 'the token left the address bar')
    await page.getByRole('navigation', { name: 'Panels' }).waitFor()
    await page.locator('.conn-live').waitFor()

    // the same link again: used up
    await anon.goto(url)
    await anon.getByText(/unknown, already used or expired/).waitFor()
    // and the API refuses the stranger's requests
    const status = await anon.evaluate(async () => (await fetch('/api/v1/status')).status)
    assert.equal(status, 401)
    await stranger.close()
  })

  it('shows the peers: two connected, in the table and the graph', TEST, async () => {
    await page.goto(new URL('/#peers', page.url()).href)
    await page.locator('#peer-table tbody tr').nth(1).waitFor()
    const rows = await page.locator('#peer-table tbody tr').evaluateAll(trs => trs.map(tr => tr.getAttribute('data-peer')))
    assert.deepEqual(new Set(rows), new Set([node2().peerId, nodes[2]?.peerId]))
    // loopback connections are direct, not through a relay
    const via = await page.locator('#peer-table tbody tr td:nth-child(3)').allTextContents()
    assert.deepEqual(via, ['direct', 'direct'])
    await page.locator('.graph canvas').first().waitFor()
    await page.getByText(/^2 connected peers/).waitFor()
    await page.waitForTimeout(1500) // let the layout settle for the picture
    await shot(page, 'peers')
  })

  it('downloads a file by CID with progress to completion', TEST, async () => {
    const file = join(dir, 'video.bin')
    const bytes = randomBytes(6 * 1024 * 1024)
    await writeFile(file, bytes)
    // the CID the share will have, so node 1 can ask for it before anyone has it
    let cid = ''
    for await (const r of importer([{ path: 'video.bin', content: bytes }], new MemoryBlockstore(), IMPORT_OPTIONS)) cid = r.cid.toString()
    await page.goto(new URL('/#share', page.url()).href)
    // record every percentage the page shows (browser code as text: no DOM types in the tests)
    await page.evaluate(`window.seen = [];
      new MutationObserver(() => {
        for (const el of document.querySelectorAll('.download[data-percent]')) window.seen.push(Number(el.getAttribute('data-percent')))
      }).observe(document.body, { subtree: true, attributes: true, childList: true })`)
    await page.getByLabel('CID to fetch into this node').fill(cid)
    await page.getByRole('button', { name: 'Get', exact: true }).click()
    const row = page.locator(`.download[data-cid="${cid}"]`)
    await page.locator(`.download[data-cid="${cid}"][data-state="running"]`).waitFor()
    await row.getByText(/0 peers serving/).waitFor()
    await shot(page, 'share-waiting')

    await cliJson(['share', file, ...dd(node2())])
    await page.locator(`.download[data-cid="${cid}"][data-state="done"]`).waitFor({ timeout: 30_000 })
    assert.equal(await row.getAttribute('data-percent'), '100')
    assert.match(await row.innerText(), /Complete: 6\.00 MiB from 1 peer/)
    assert.equal(await row.locator('progress').getAttribute('value'), '100')
    const seen = [...new Set(await page.evaluate('window.seen') as number[])]
    console.error(`# download percentages shown: ${seen.join(', ')}`)
    assert.equal(seen.at(-1), 100)
    await page.locator(`#held-table tr[data-cid="${cid}"][data-complete="true"]`).waitFor({ timeout: 10_000 })
    await shot(page, 'share')
  })

  it('picks files of a folder CID in the file picker and gets only those', TEST, async () => {
    const folder = join(dir, 'album')
    await mkdir(join(folder, 'disc1'), { recursive: true })
    await writeFile(join(folder, 'disc1', 'one.bin'), randomBytes(300_000))
    await writeFile(join(folder, 'disc1', 'two.bin'), randomBytes(200_000))
    await writeFile(join(folder, 'cover.jpg'), randomBytes(50_000))
    const { cid } = await cliJson<{ cid: string }>(['share', folder, ...dd(node2())])
    await page.goto(new URL('/#share', page.url()).href)
    await page.getByLabel('CID to fetch into this node').fill(cid)
    await page.getByRole('button', { name: 'Select files…' }).click()
    const picker = page.locator(`.file-picker[data-cid="${cid}"]`)
    await picker.locator('li[data-path="disc1/two.bin"]').waitFor()
    const listed = await picker.locator('li[data-path]').evaluateAll(lis => lis.map(li => `${li.getAttribute('data-type') ?? ''} ${li.getAttribute('data-path') ?? ''}`))
    assert.deepEqual(listed.sort(), ['directory disc1', 'file cover.jpg', 'file disc1/one.bin', 'file disc1/two.bin'])
    await picker.locator('li[data-path="disc1/two.bin"] input').check()
    await shot(page, 'share-picker')
    await picker.getByRole('button', { name: 'Get 1 selected' }).click()
    await page.locator(`.download[data-cid="${cid}"][data-state="done"]`).waitFor({ timeout: 30_000 })
    await page.locator(`#held-table tr[data-cid="${cid}"][data-complete="false"]`).waitFor({ timeout: 10_000 })
    const held = await cliJson<Array<{ cid: string, complete: boolean, selection?: string[] }>>(['ls', ...dd(node1())])
    assert.deepEqual(held.find(r => r.cid === cid)?.selection, ['only disc1/two.bin'])
  })

  it('shows the height move when blocks are mined', TEST, async () => {
    await page.goto(new URL('/#chain', page.url()).href)
    const before = Number(await waitForStat(page, 'chain-height', t => /^\d+$/.test(t), 'the height'))
    await cliJson(['mine', '--blocks', '3', ...dd(node1())])
    await waitForStat(page, 'chain-height', t => Number(t) === before + 3, `height ${before + 3}`)
    await page.locator(`#block-table tr[data-height="${before + 3}"]`).waitFor()
    await shot(page, 'chain')
    // a block's detail, then its coinbase transaction
    await page.locator(`#block-table tr[data-height="${before + 3}"] a`).click()
    await page.getByRole('heading', { name: `Block ${before + 3}` }).waitFor()
    await shot(page, 'chain-block')
    await page.locator('#block-detail li a').first().click()
    await page.getByText('Coinbase (newly minted coins').waitFor()
    await shot(page, 'chain-tx')
  })

  it('moves coins with the send form; both nodes show the new balances', TEST, async () => {
    await cliJson(['mine', '--blocks', '12', ...dd(node1())])
    const to = (await cliJson<{ address: string }>(['wallet', 'address', ...dd(node2())])).address
    const page2 = await context.newPage()
    await page2.goto(await loginUrl(node2()))
    await page2.goto(new URL('/#wallet', page2.url()).href)
    await waitForStat(page2, 'unconfirmed', t => t === '0', 'node 2 starts empty')

    await page.goto(new URL('/#wallet', page.url()).href)
    await waitForStat(page, 'confirmed', t => Number(t) >= 5, 'spendable coins on node 1')
    await page.getByRole('button', { name: 'Show a receive address' }).click()
    await page.locator('.qr svg').waitFor()
    await page.getByLabel('Pay to address').fill(to)
    await page.getByLabel('Amount (coins)').fill('1.25')
    await page.getByLabel(/^Normal/).check()
    await page.getByRole('button', { name: 'Review payment' }).click()
    await page.getByText('1.25 coins', { exact: true }).waitFor()
    await shot(page, 'wallet-confirm')
    await page.getByLabel('Wallet passphrase').fill('dashboard test')
    await page.getByRole('button', { name: 'Send now' }).click()
    await page.locator('.send-done').getByText(/^Sent 1\.25 coins/).waitFor()
    const txid = (await page.locator('.send-done .mono').innerText()).trim()
    assert.match(txid, /^[0-9a-f]{64}$/)

    // the payment reaches node 2 by gossip; if that announcement is lost, the block below still
    // brings it (gossip is best effort, the chain is not), so only the confirmed balance is required
    try {
      await waitForStat(page2, 'unconfirmed', t => t === '1.25', 'node 2 sees 1.25 unconfirmed')
    } catch (err) {
      const pool = await cliJson<{ mempool: { size: number } }>(['chain', 'info', ...dd(node2())])
      console.error(`# note: node 2 did not show the payment unconfirmed (its mempool holds ${pool.mempool.size}): ${(err as Error).message.slice(0, 120)}`)
    }
    await page.goto(new URL('/#chain', page.url()).href)
    await waitForStat(page, 'mempool-size', t => t === '1', 'the payment in the mempool')
    await shot(page, 'chain-mempool')
    await page.goto(new URL('/#wallet', page.url()).href)
    await page.locator(`#history-table tr[data-txid="${txid}"]`).waitFor()
    await cliJson(['mine', '--blocks', '1', ...dd(node1())])
    await waitForStat(page2, 'confirmed', t => t === '1.25', 'node 2 sees 1.25 confirmed')
    await page2.locator(`#history-table tr[data-txid="${txid}"]`).waitFor()
    // 16 blocks of 5 coins mined to node 1, less the payment (the fee came back in the last block)
    await waitForStat(page, 'total', t => t === '78.75', "node 1's total of 78.75")
    await shot(page, 'wallet')
    await shot(page2, 'wallet-node2')
    await page2.close()
  })

  it('shows the node as an onion relay on the Onion panel, with the relays it learned', TEST, async () => {
    await page.goto(new URL('/#onion', page.url()).href)
    const stat = (id: string): ReturnType<Page['locator']> => page.locator(`[data-stat="${id}"] dd`)
    await stat('onion-relay').waitFor()
    assert.match(await stat('onion-relay').innerText(), /^on\s+cap 1 MB\/s/)
    assert.equal(await stat('onion-exit').innerText(), 'off')
    // each of the three daemons relays and publishes its descriptor; the panel polls every few seconds
    await waitFor(async () => (await stat('onion-relays').innerText()) === '3', { timeoutMs: 20_000, what: 'the panel to show 3 relays known' })
    await shot(page, 'onion')
  })

  it('moves between panels with the keyboard alone', TEST, async () => {
    await page.goto(new URL('/#overview', page.url()).href)
    await page.locator('.conn-live').waitFor()
    await page.locator('body').focus()
    let focused = ''
    for (let i = 0; i < 40 && focused !== 'Chain'; i++) {
      await page.keyboard.press('Tab')
      focused = await page.evaluate('document.activeElement?.textContent ?? ""') as string
    }
    assert.equal(focused, 'Chain', 'Tab reaches the Chain tab')
    await page.keyboard.press('Enter')
    await page.getByRole('heading', { name: 'Chain', level: 2 }).waitFor()
    // focus moves to the new panel's heading
    // (polled with evaluate: the page's CSP forbids the eval that waitForFunction would need)
    await waitFor(async () => await page.evaluate('document.activeElement?.tagName === "H2" && document.activeElement.textContent === "Chain"'), { timeoutMs: 5000, what: 'focus on the Chain heading' })
  })

  it('shows the overview, also at phone width', TEST, async () => {
    await page.goto(new URL('/#overview', page.url()).href)
    assert.equal(await stat(page, 'network'), 'regtest')
    // loopback peers see no public address of this node: AutoNAT has nothing to check
    assert.match(await page.locator('#reachability').innerText(), /Reachability\s+Not checked yet/)
    await waitForStat(page, 'rate-in', t => /MiB total/.test(t), 'the bytes of the download counted')
    // the bandwidth caps: none, then an upload cap set from the form, in force at once
    assert.equal(await waitForStat(page, 'cap-up', t => t !== '–', 'the caps'), 'unlimited')
    await page.locator('#cap-upload').fill('2MB')
    await page.locator('#bandwidth-caps button[type=submit]').click()
    await waitForStat(page, 'cap-up', t => t === '2 MB/s', 'the new upload cap')
    await shot(page, 'overview')
    await page.setViewportSize({ width: 390, height: 844 })
    await shot(page, 'overview-phone')
    await page.goto(new URL('/#wallet', page.url()).href)
    await page.locator('#history-table').waitFor()
    await shot(page, 'wallet-phone')
    const wide = await page.evaluate('document.documentElement.scrollWidth') as number
    assert.ok(wide <= 400, `no sideways scrolling at phone width (page is ${wide} px wide)`)
  })
})
