/**
 * Selective download through the `peerd` CLI with two daemon processes on loopback: `get
 * CID/PATH -o FILE` saves one file of a shared folder, `get CID --only GLOB` the folder tree
 * with only the matching entries, `ls` shows the root partial with its selection, `GET
 * /api/v1/tree` lists the folder for the dashboard's picker, and bad selections fail clearly.
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { before, describe, it } from 'node:test'
import { cliJson, startDaemonProcess, waitFor } from '../utils/index.ts'
import type { DaemonProcess } from '../utils/index.ts'
import { apiGet, exists, MiB, runCliBytes, sha256File, tcpAddress, treeDigest, writeRandomFile } from '../utils/share.ts'
import type { CliBytesResult } from '../utils/share.ts'
import { teardown } from '../utils/teardown.ts'

const TEST = { timeout: 60_000 }

function jsonOf<T> (r: CliBytesResult): T {
  assert.equal(r.code, 0, `exit ${String(r.code)}: ${r.stdout.toString()}${r.stderr}`)
  return JSON.parse(r.stdout.toString()) as T
}

function errorOf (r: CliBytesResult): { name: string, message: string } {
  assert.notEqual(r.code, 0, `expected a failure: ${r.stdout.toString()}`)
  return (JSON.parse(r.stdout.toString()) as { error: { name: string, message: string } }).error
}

describe('peerd get CID/PATH and --only with two daemons', () => {
  const td = teardown()
  let root: string
  let a: DaemonProcess
  let b: DaemonProcess
  let cid: string
  let sums: Record<string, string>

  const peerd = async (d: DaemonProcess, ...args: string[]): Promise<CliBytesResult> =>
    await runCliBytes([...args, '--data-dir', d.dataDir], { cwd: root, timeoutMs: 30_000 })

  before(async () => {
    root = await td.dir('peerd-e2e-selective-')
    a = td.daemon(await startDaemonProcess(join(root, 'a')))
    b = td.daemon(await startDaemonProcess(join(root, 'b'), ['--bootstrap', tcpAddress(a)]))
    const tree = join(root, 'tree')
    sums = {
      'docs/a.pdf': await writeRandomFile(join(tree, 'docs', 'a.pdf'), 3 * MiB / 2),
      'docs/b.txt': await writeRandomFile(join(tree, 'docs', 'b.txt'), 500),
      'img/x.bin': await writeRandomFile(join(tree, 'img', 'x.bin'), MiB + 10),
      'readme.md': await writeRandomFile(join(tree, 'readme.md'), 100)
    }
    await waitFor(async () => (await cliJson<Array<{ peerId: string }>>(['peers', '--data-dir', b.dataDir])).some(p => p.peerId === a.peerId), {
      what: 'B to connect to A'
    })
    cid = jsonOf<{ cid: string }>(await peerd(a, 'share', tree, '--json')).cid
  })

  it('lists the folder for a picker, then gets one file by its path', TEST, async () => {
    const listing = await apiGet<{ entries: Array<{ path: string, type: string, size: number }>, truncated: boolean }>(b, `/api/v1/tree?cid=${cid}`)
    assert.equal(listing.truncated, false)
    assert.deepEqual(listing.entries.map(e => `${e.type} ${e.path} ${e.size}`).sort(), [
      'directory docs 0', 'directory img 0', `file docs/a.pdf ${3 * MiB / 2}`, 'file docs/b.txt 500', `file img/x.bin ${MiB + 10}`, 'file readme.md 100'
    ])
    const out = join(root, 'a.pdf')
    const got = jsonOf<{ path: string, selection: string }>(await peerd(b, 'get', `${cid}/docs/a.pdf`, '-o', out, '--json'))
    assert.equal(got.path, out)
    assert.equal(got.selection, 'docs/a.pdf')
    assert.equal(await sha256File(out), sums['docs/a.pdf'])
    // without -o, the entry is saved under its own name
    jsonOf(await peerd(b, 'get', `${cid}/readme.md`, '--json'))
    assert.equal(await sha256File(join(root, 'readme.md')), sums['readme.md'])
  })

  it('--only saves the tree with the matching entries alone; ls shows the root partial', TEST, async () => {
    const out = join(root, 'picked')
    jsonOf(await peerd(b, 'get', cid, '--only', 'docs/*.txt', '--only', 'img', '-o', out, '--json'))
    assert.deepEqual(await treeDigest(out), { docs: 'dir', 'docs/b.txt': sums['docs/b.txt'], img: 'dir', 'img/x.bin': sums['img/x.bin'] })
    const rec = jsonOf<Array<{ cid: string, complete: boolean, selection?: string[] }>>(await peerd(b, 'ls', '--json')).find(r => r.cid === cid)
    assert.equal(rec?.complete, false)
    assert.deepEqual(rec?.selection, ['docs/a.pdf', 'readme.md', 'only docs/*.txt, img'])
    const text = (await peerd(b, 'ls')).stdout.toString()
    assert.match(text, /partial \(docs\/a\.pdf; readme\.md; only docs\/\*\.txt, img\)/)
  })

  it('bad selections: a missing entry, a glob matching nothing, ..', TEST, async () => {
    const missing = errorOf(await peerd(b, 'get', `${cid}/docs/c.pdf`, '-o', join(root, 'c.pdf'), '--json'))
    assert.equal(missing.name, 'SelectionNotFoundError')
    assert.equal(missing.message, `no entry 'c.pdf' in ${cid}/docs; entries: a.pdf, b.txt`)
    assert.equal(await exists(join(root, 'c.pdf')), false)
    const nothing = errorOf(await peerd(b, 'get', cid, '--only', '*.iso', '--json'))
    assert.equal(nothing.name, 'SelectionNotFoundError')
    assert.match(nothing.message, /--only '\*\.iso' matches nothing/)
    const dots = errorOf(await peerd(b, 'get', `${cid}/docs/../img`, '--json'))
    assert.equal(dots.name, 'InvalidSelectionError')
  })

  it('a share link into the folder fetches that entry', TEST, async () => {
    const plain = jsonOf<{ link: string }>(await peerd(a, 'link', cid, '--plain', '--json')).link
    const [, query] = plain.split('?')
    const out = join(root, 'from-link.txt')
    const got = jsonOf<{ selection: string }>(await peerd(b, 'get', `peerd://${cid}/docs/b.txt?${query ?? ''}`, '-o', out, '--json'))
    assert.equal(got.selection, 'docs/b.txt')
    assert.equal(await sha256File(out), sums['docs/b.txt'])
  })
})
