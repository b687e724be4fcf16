/**
 * Share links through the `peerd` CLI with two daemon processes that do not know each other
 * (no common bootstrap, so no DHT route): `peerd link` on the provider prints a link, and
 * `peerd get LINK` on the other daemon fetches the file through the link's provider; the plain
 * `CID?provider=…` form works the same; bad links fail with what to fix.
 */
import assert from 'node:assert/strict'
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { before, describe, it } from 'node:test'
import { startDaemonProcess } from '../utils/index.ts'
import type { DaemonProcess } from '../utils/index.ts'
import { exists, MiB, runCliBytes, sha256File, writeRandomFile } from '../utils/share.ts'
import type { CliBytesResult } from '../utils/share.ts'
import { teardown } from '../utils/teardown.ts'

const TEST = { timeout: 60_000 }

function ok (r: CliBytesResult): string {
  assert.equal(r.code, 0, `exit ${String(r.code)}: ${r.stdout.toString()}${r.stderr}`)
  return r.stdout.toString()
}

describe('peerd link and get LINK with two daemons that do not know each other', () => {
  const td = teardown()
  let root: string
  let a: DaemonProcess
  let b: DaemonProcess
  let cid: string
  let digest: string

  const peerd = async (d: DaemonProcess, ...args: string[]): Promise<CliBytesResult> =>
    await runCliBytes([...args, '--data-dir', d.dataDir], { cwd: root, timeoutMs: 30_000 })

  before(async () => {
    root = await td.dir('peerd-e2e-link-')
    ;[a, b] = await Promise.all([startDaemonProcess(join(root, 'a')), startDaemonProcess(join(root, 'b'))]).then(ds => ds.map(d => td.daemon(d)) as [DaemonProcess, DaemonProcess])
    const file = join(root, 'src', 'holiday photos.bin')
    await mkdir(join(root, 'src'))
    digest = await writeRandomFile(file, 2 * MiB + 3)
    cid = (JSON.parse(ok(await peerd(a, 'share', file, '--json'))) as { cid: string }).cid
  })

  it('`peerd link CID` prints a link that `peerd get` on the other daemon fetches from', TEST, async () => {
    const r = await peerd(a, 'link', cid)
    const link = ok(r).trim()
    assert.match(link, new RegExp(`^peerd://${cid}\\?name=holiday%20photos\\.bin&provider=/ip4/127\\.0\\.0\\.1/tcp/\\d+/p2p/${a.peerId}$`))
    assert.match(r.stderr, /only loopback or private addresses/, 'the user is told the link is local')

    const got = JSON.parse(ok(await peerd(b, 'get', link, '--json'))) as { cid: string, path: string, size: number, peers: number }
    assert.equal(got.cid, cid)
    assert.equal(got.path, join(root, 'holiday photos.bin'), 'saved under the name the link carries')
    assert.equal(got.size, 2 * MiB + 3)
    assert.equal(got.peers, 1)
    assert.equal(await sha256File(got.path), digest)
  })

  it('the plain `CID?provider=…` form and --plain/--web links work too', TEST, async () => {
    const second = join(root, 'src', 'second.bin')
    const secondDigest = await writeRandomFile(second, MiB + 1)
    const secondCid = (JSON.parse(ok(await peerd(a, 'share', second, '--json'))) as { cid: string }).cid
    // the name the link carries is taken in the working directory: the download goes to ./CID instead of replacing it
    const plain = ok(await peerd(a, 'link', secondCid, '--plain', '--name', 'holiday photos.bin')).trim()
    assert.ok(plain.startsWith(`${secondCid}?name=holiday%20photos.bin&provider=`), plain)
    assert.ok(ok(await peerd(a, 'link', secondCid, '--web')).startsWith(`web+peerd:${secondCid}?`))
    ok(await peerd(b, 'get', plain))
    assert.equal(await sha256File(join(root, secondCid)), secondDigest)
  })

  it('a bad link fails with what is wrong, and nothing is written', TEST, async () => {
    const noPeer = await peerd(b, 'get', `peerd://${cid}?provider=/ip4/127.0.0.1/tcp/4001`)
    assert.notEqual(noPeer.code, 0)
    assert.match(noPeer.stderr, /does not end in \/p2p\/<peer id>/)
    const inside = await peerd(b, 'get', `peerd://${cid}/some/file.txt?provider=${a.addresses[0] as string}`)
    assert.notEqual(inside.code, 0)
    assert.match(inside.stderr, /is a file, not a directory: it has no entry 'some'/)
    const unheld = await peerd(a, 'link', 'bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy')
    assert.notEqual(unheld.code, 0)
    assert.match(unheld.stderr, /not held by this node/)
    assert.equal(await exists(join(root, 'file.txt')), false)
  })
})
