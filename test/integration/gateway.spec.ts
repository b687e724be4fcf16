import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { before, describe, it } from 'node:test'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { runCli, startDaemonProcess, waitFor } from '../utils/index.ts'
import type { DaemonProcess } from '../utils/index.ts'
import { teardown } from '../utils/teardown.ts'

const MiB = 1024 * 1024
const ODD_NAME = 'two words <b>x & "y".txt'

async function share (path: string, dataDir: string): Promise<string> {
  const r = await runCli(['share', path, '--json', '--data-dir', dataDir])
  assert.equal(r.code, 0, r.stdout + r.stderr)
  return (JSON.parse(r.stdout) as { cid: string }).cid
}

async function bytesOf (res: Response): Promise<Buffer> {
  return Buffer.from(await res.arrayBuffer())
}

describe('HTTP gateway of a daemon', () => {
  const td = teardown()

  let a: DaemonProcess
  let gw: string
  let big: Buffer
  let bigCid: string
  let folderCid: string

  before(async () => {
    const dir = await td.dir()
    a = td.daemon(await startDaemonProcess(join(dir, 'a'), ['--gateway', '127.0.0.1:0']))
    gw = (await readFile(join(a.dataDir, 'gateway'), 'utf8')).trim()
    assert.match(gw, /^http:\/\/127\.0\.0\.1:\d+$/)

    big = randomBytes(3 * MiB)
    await writeFile(join(dir, 'big.bin'), big)
    bigCid = await share(join(dir, 'big.bin'), a.dataDir)

    const site = join(dir, 'site')
    await mkdir(join(site, 'sub'), { recursive: true })
    await mkdir(join(site, 'www'))
    await writeFile(join(site, 'notes.txt'), 'hello gateway\n')
    await writeFile(join(site, 'pic.png'), Buffer.concat([Buffer.from('89504e470d0a1a0a', 'hex'), randomBytes(200)]))
    await writeFile(join(site, ODD_NAME), 'odd name\n')
    await writeFile(join(site, 'sub', 'deep.txt'), 'deep\n')
    await writeFile(join(site, 'www', 'index.html'), '<!doctype html><title>www</title><p>home</p>\n')
    folderCid = await share(site, a.dataDir)
  })

  it('serves a whole multi-block file with its headers', { timeout: 60_000 }, async () => {
    const res = await fetch(`${gw}/ipfs/${bigCid}`)
    assert.equal(res.status, 200)
    assert.ok((await bytesOf(res)).equals(big))
    assert.equal(res.headers.get('content-length'), String(big.length))
    assert.equal(res.headers.get('content-type'), 'application/octet-stream') // random bytes, no name
    assert.equal(res.headers.get('accept-ranges'), 'bytes')
    assert.equal(res.headers.get('etag'), `"${bigCid}"`)
    assert.equal(res.headers.get('cache-control'), 'public, max-age=29030400, immutable')
    assert.equal(res.headers.get('x-ipfs-path'), `/ipfs/${bigCid}`)
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff')
  })

  it('answers byte ranges with 206 and only that part', { timeout: 60_000 }, async () => {
    const mid = await fetch(`${gw}/ipfs/${bigCid}`, { headers: { range: 'bytes=1000-1999' } })
    assert.equal(mid.status, 206)
    assert.equal(mid.headers.get('content-range'), `bytes 1000-1999/${big.length}`)
    assert.equal(mid.headers.get('content-length'), '1000')
    const body = await bytesOf(mid)
    assert.equal(body.length, 1000)
    assert.ok(body.equals(big.subarray(1000, 2000)))

    const tail = await fetch(`${gw}/ipfs/${bigCid}`, { headers: { range: 'bytes=-500' } })
    assert.equal(tail.status, 206)
    assert.equal(tail.headers.get('content-range'), `bytes ${big.length - 500}-${big.length - 1}/${big.length}`)
    assert.ok((await bytesOf(tail)).equals(big.subarray(big.length - 500)))

    // across the boundary of the first two 1 MiB blocks
    const open = await fetch(`${gw}/ipfs/${bigCid}`, { headers: { range: `bytes=${MiB - 10}-` } })
    assert.equal(open.status, 206)
    assert.ok((await bytesOf(open)).equals(big.subarray(MiB - 10)))

    const bad = await fetch(`${gw}/ipfs/${bigCid}`, { headers: { range: 'bytes=99999999-' } })
    assert.equal(bad.status, 416)
    assert.equal(bad.headers.get('content-range'), `bytes */${big.length}`)
    await bad.arrayBuffer()

    // several ranges: the whole content
    const multi = await fetch(`${gw}/ipfs/${bigCid}`, { headers: { range: 'bytes=0-1,5-6' } })
    assert.equal(multi.status, 200)
    assert.equal((await bytesOf(multi)).length, big.length)
  })

  it('answers HEAD with the headers only, and revalidation with 304', async () => {
    const head = await fetch(`${gw}/ipfs/${bigCid}`, { method: 'HEAD' })
    assert.equal(head.status, 200)
    assert.equal(head.headers.get('content-length'), String(big.length))
    assert.equal(head.headers.get('etag'), `"${bigCid}"`)
    assert.equal((await bytesOf(head)).length, 0)

    const same = await fetch(`${gw}/ipfs/${bigCid}`, { headers: { 'if-none-match': `"${bigCid}"` } })
    assert.equal(same.status, 304)
    assert.equal((await bytesOf(same)).length, 0)

    const txt = await fetch(`${gw}/ipfs/${folderCid}/notes.txt`)
    const etag = txt.headers.get('etag') as string
    await txt.arrayBuffer()
    assert.match(etag, /^"b[a-z2-7]+"$/)
    assert.notEqual(etag, `"${folderCid}"`) // the file's own CID, not the folder's
    const again = await fetch(`${gw}/ipfs/${folderCid}/notes.txt`, { headers: { 'if-none-match': etag } })
    assert.equal(again.status, 304)
  })

  it('types files by extension', async () => {
    const txt = await fetch(`${gw}/ipfs/${folderCid}/notes.txt`)
    assert.equal(txt.status, 200)
    assert.equal(txt.headers.get('content-type'), 'text/plain; charset=utf-8')
    assert.equal(await txt.text(), 'hello gateway\n')
    const png = await fetch(`${gw}/ipfs/${folderCid}/pic.png`)
    assert.equal(png.status, 200)
    assert.equal(png.headers.get('content-type'), 'image/png')
    assert.equal((await bytesOf(png)).length, 208)

    // by its own CID the name is gone: the type comes from the first bytes, or from ?filename=
    const pngCid = (png.headers.get('etag') as string).slice(1, -1)
    const sniffed = await fetch(`${gw}/ipfs/${pngCid}`)
    assert.equal(sniffed.status, 200, await sniffed.clone().text())
    assert.equal(sniffed.headers.get('content-type'), 'image/png')
    assert.equal((await bytesOf(sniffed)).length, 208)
    const named = await fetch(`${gw}/ipfs/${pngCid}?filename=${encodeURIComponent('a b.txt')}`)
    assert.equal(named.headers.get('content-type'), 'text/plain; charset=utf-8')
    assert.equal(named.headers.get('content-disposition'), 'inline; filename="a b.txt"; filename*=UTF-8\'\'a%20b.txt')
    await named.arrayBuffer()
  })

  it('redirects a folder to its slash form and lists it with escaped names and working links', async () => {
    const redirect = await fetch(`${gw}/ipfs/${folderCid}?timeout=20`, { redirect: 'manual' })
    assert.equal(redirect.status, 301)
    assert.equal(redirect.headers.get('location'), `/ipfs/${folderCid}/?timeout=20`)
    await redirect.arrayBuffer()

    const res = await fetch(`${gw}/ipfs/${folderCid}/`)
    assert.equal(res.status, 200)
    assert.equal(res.headers.get('content-type'), 'text/html; charset=utf-8')
    const html = await res.text()
    assert.ok(!html.includes('<b>'), 'a name is escaped')
    assert.ok(html.includes('two words &#60;b&#62;x &#38; &#34;y&#34;.txt'))
    const hrefs = [...html.matchAll(/href="([^"]*)"/g)].map(m => (m[1] as string).replaceAll('&#39;', "'"))
    assert.deepEqual(new Set(hrefs), new Set(['./notes.txt', './pic.png', './sub/', './www/', './' + encodeURIComponent(ODD_NAME)]))
    assert.ok(html.includes('title="14 bytes"'), 'the size of notes.txt')

    const odd = await fetch(new URL('./' + encodeURIComponent(ODD_NAME), res.url))
    assert.equal(odd.status, 200)
    assert.equal(await odd.text(), 'odd name\n')

    const sub = await fetch(new URL('./sub/', res.url))
    assert.equal(sub.status, 200)
    const subHtml = await sub.text()
    assert.ok(subHtml.includes('href="../"'))
    assert.ok(subHtml.includes('href="./deep.txt"'))
  })

  it('serves a folder\'s index.html instead of a listing', async () => {
    const res = await fetch(`${gw}/ipfs/${folderCid}/www/`)
    assert.equal(res.status, 200)
    assert.equal(res.headers.get('content-type'), 'text/html; charset=utf-8')
    assert.match(await res.text(), /<p>home<\/p>/)
  })

  it('answers errors with a status and a plain-text reason', { timeout: 30_000 }, async () => {
    const badCid = await fetch(`${gw}/ipfs/not-a-cid`)
    assert.equal(badCid.status, 400)
    assert.match(await badCid.text(), /invalid CID/)

    const missing = await fetch(`${gw}/ipfs/${folderCid}/nope.txt`)
    assert.equal(missing.status, 404)
    assert.match(await missing.text(), /no entry named nope\.txt/)

    const nobody = CID.createV1(raw.code, await sha256.digest(randomBytes(32)))
    const started = Date.now()
    const timeout = await fetch(`${gw}/ipfs/${nobody.toString()}?timeout=1`)
    assert.ok(timeout.status === 504 || timeout.status === 404, String(timeout.status))
    assert.match(await timeout.text(), /no data for 1 s/)
    assert.ok(Date.now() - started < 15_000)

    const post = await fetch(`${gw}/ipfs/${bigCid}`, { method: 'POST', body: 'x' })
    assert.equal(post.status, 405)
    assert.equal(post.headers.get('allow'), 'GET, HEAD')
    await post.arrayBuffer()

    const help = await fetch(`${gw}/`)
    assert.equal(help.status, 200)
    assert.match(await help.text(), /\/ipfs\/<CID>/)
    const other = await fetch(`${gw}/api/v1/status`)
    assert.equal(other.status, 404)
    await other.arrayBuffer()
    const badTimeout = await fetch(`${gw}/ipfs/${bigCid}?timeout=9999`)
    assert.equal(badTimeout.status, 400)
    await badTimeout.arrayBuffer()
  })

  it('stops streaming to a client that went away, and keeps serving', async () => {
    const abort = new AbortController()
    const res = await fetch(`${gw}/ipfs/${bigCid}`, { signal: abort.signal })
    const reader = (res.body as ReadableStream<Uint8Array>).getReader()
    await reader.read()
    abort.abort()
    await reader.read().catch(() => {})
    const again = await fetch(`${gw}/ipfs/${bigCid}`, { headers: { range: 'bytes=0-9' } })
    assert.equal(again.status, 206)
    assert.ok((await bytesOf(again)).equals(big.subarray(0, 10)))
  })

  it('a second node\'s gateway fetches the content from the first over the network', { timeout: 90_000 }, async () => {
    const dir = await td.dir()
    const b = td.daemon(await startDaemonProcess(join(dir, 'b'), ['--gateway', '127.0.0.1:0', '--bootstrap', a.addresses[0] as string]))
    const gwB = (await readFile(join(b.dataDir, 'gateway'), 'utf8')).trim()
    assert.notEqual(gwB, gw)
    await waitFor(async () => {
      const r = await runCli(['peers', '--json', '--data-dir', b.dataDir])
      return r.code === 0 && (JSON.parse(r.stdout) as Array<{ peerId: string }>).some(p => p.peerId === a.peerId)
    }, { timeoutMs: 30_000, what: 'B to connect to A' })

    // a range in the middle, across a block boundary, before B holds anything
    const start = 2 * MiB - 1000
    const res = await fetch(`${gwB}/ipfs/${bigCid}`, { headers: { range: `bytes=${start}-${start + 1999}` } })
    assert.equal(res.status, 206, await res.clone().text().catch(() => ''))
    assert.equal(res.headers.get('content-range'), `bytes ${start}-${start + 1999}/${big.length}`)
    assert.ok((await bytesOf(res)).equals(big.subarray(start, start + 2000)))

    const whole = await fetch(`${gwB}/ipfs/${bigCid}`)
    assert.equal(whole.status, 200)
    assert.ok((await bytesOf(whole)).equals(big))

    const listing = await fetch(`${gwB}/ipfs/${folderCid}/`)
    assert.equal(listing.status, 200)
    assert.ok((await listing.text()).includes('title="14 bytes"'))
    const txt = await fetch(`${gwB}/ipfs/${folderCid}/sub/deep.txt`)
    assert.equal(await txt.text(), 'deep\n')
  })

  it('removes the gateway file on a clean stop', { timeout: 30_000 }, async () => {
    assert.ok(existsSync(join(a.dataDir, 'gateway')))
    assert.equal(await a.stop(), 0)
    assert.ok(!existsSync(join(a.dataDir, 'gateway')))
  })
})
