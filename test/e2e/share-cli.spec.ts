/**
 * File sharing through the `peerd` CLI as a user runs it, against two daemon processes on
 * loopback: share a file and a folder, get them on the other daemon (a folder's tree is
 * recreated), cat a file and a path inside a folder, list, unshare and collect garbage, the
 * errors of bad input, and a download that only appears at its path once whole.
 */
import assert from 'node:assert/strict'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { before, describe, it } from 'node:test'
import { cliJson, startDaemonProcess, waitFor } from '../utils/index.ts'
import type { DaemonProcess } from '../utils/index.ts'
import {
  daemonProgress, exists, fractionDone, MiB, partPath, runCliBytes, sha256File, sha256Hex, spawnCli, tcpAddress,
  treeDigest, unknownCid, writeRandomFile
} from '../utils/share.ts'
import { teardown } from '../utils/teardown.ts'
import type { CliBytesResult } from '../utils/share.ts'

const TEST = { timeout: 60_000 }

interface ShareJson { cid: string, size: number }
interface GetJson { cid: string, path: string, size: number, peers: number, seconds: number }
interface LsJson { cid: string, name: string, size: number, type: string, complete: boolean, source: string, addedAt: string }
interface ErrorBody { name: string, message: string }

/** The parsed stdout of a successful `--json` run. */
function jsonOf<T> (r: CliBytesResult): T {
  assert.equal(r.code, 0, `exit ${String(r.code)}: ${r.stdout.toString()}${r.stderr}`)
  return JSON.parse(r.stdout.toString()) as T
}

/** The `{"error": …}` object of a failed `--json` run. */
function errorOf (r: CliBytesResult): ErrorBody {
  assert.notEqual(r.code, null, `the process did not exit by itself: ${r.stdout.toString()}${r.stderr}`)
  assert.notEqual(r.code, 0, `expected a failure: ${r.stdout.toString()}`)
  let v: { error?: ErrorBody }
  try {
    v = JSON.parse(r.stdout.toString()) as { error?: ErrorBody }
  } catch {
    assert.fail(`stdout is not JSON: ${JSON.stringify(r.stdout.toString())} (stderr: ${r.stderr})`)
  }
  assert.ok(v.error != null, `no "error" in ${r.stdout.toString()}`)
  assert.equal(typeof v.error.message, 'string')
  return v.error
}

describe('peerd share, get, cat, ls, unshare and gc with two daemons', () => {
  const td = teardown()
  let root: string
  let a: DaemonProcess
  let b: DaemonProcess
  let file: string
  let fileDigest: string
  let tree: string
  let fileCid: string
  let treeCid: string
  const fileSize = 3 * MiB + 12_345
  const subText = 'a text file inside a folder inside a folder\n'.repeat(40)
  /** a.txt, sub/file.txt and sub/deeper/data.bin (empty.txt adds nothing) */
  const treeSize = 'hello\n'.length + subText.length + (MiB + MiB / 2)

  const peerd = async (d: DaemonProcess, ...args: string[]): Promise<CliBytesResult> =>
    await runCliBytes([...args, '--data-dir', d.dataDir], { cwd: root, timeoutMs: 30_000 })

  before(async () => {
    root = await td.dir('peerd-e2e-share-')
    a = td.daemon(await startDaemonProcess(join(root, 'a')))
    b = td.daemon(await startDaemonProcess(join(root, 'b'), ['--bootstrap', tcpAddress(a)]))
    file = join(root, 'file.bin')
    fileDigest = await writeRandomFile(file, fileSize)
    tree = join(root, 'tree')
    await mkdir(join(tree, 'sub', 'empty-dir'), { recursive: true })
    await writeFile(join(tree, 'a.txt'), 'hello\n')
    await writeFile(join(tree, 'sub', 'file.txt'), subText)
    await writeFile(join(tree, 'empty.txt'), '')
    await writeRandomFile(join(tree, 'sub', 'deeper', 'data.bin'), MiB + MiB / 2)
    await waitFor(async () => (await cliJson<Array<{ peerId: string }>>(['peers', '--data-dir', b.dataDir])).some(p => p.peerId === a.peerId), {
      what: 'B to connect to A'
    })
  })

  it('`share FILE --json` gives the CID and the file size', TEST, async () => {
    const r = jsonOf<ShareJson>(await peerd(a, 'share', file, '--json'))
    assert.deepEqual(Object.keys(r).sort(), ['cid', 'size'])
    assert.match(r.cid, /^bafy/)
    assert.equal(r.size, fileSize)
    fileCid = r.cid
    // a relative path is the user's (the CLI's working directory), and the same bytes give the same CID
    const again = jsonOf<ShareJson>(await peerd(a, 'share', 'file.bin', '--json'))
    assert.equal(again.cid, fileCid)
  })

  it('`share DIR --json` shares a folder with nested files', TEST, async () => {
    const r = jsonOf<ShareJson>(await peerd(a, 'share', tree, '--json'))
    assert.deepEqual(Object.keys(r).sort(), ['cid', 'size'])
    assert.match(r.cid, /^bafy/)
    assert.notEqual(r.cid, fileCid)
    assert.equal(r.size, treeSize)
    treeCid = r.cid
  })

  it('`get CID -o PATH --json` on the other daemon saves the same bytes', TEST, async () => {
    const out = join(root, 'downloads', 'file-copy.bin')
    const r = jsonOf<GetJson>(await peerd(b, 'get', fileCid, '-o', out, '--json'))
    assert.deepEqual(Object.keys(r).sort(), ['cid', 'path', 'peers', 'seconds', 'size'])
    assert.equal(r.cid, fileCid)
    assert.equal(r.path, out)
    assert.equal(r.size, fileSize)
    assert.equal(r.peers, 1)
    assert.equal(typeof r.seconds, 'number')
    assert.ok(r.seconds > 0 && r.seconds < 30, `seconds: ${r.seconds}`)
    assert.equal(await sha256File(out), fileDigest)
  })

  it('`get` of a folder recreates its tree (a relative -o is the user\'s)', TEST, async () => {
    const r = jsonOf<GetJson>(await peerd(b, 'get', treeCid, '-o', 'downloads/tree-copy', '--json'))
    const out = join(root, 'downloads', 'tree-copy')
    assert.equal(r.path, out)
    assert.equal(r.size, treeSize)
    assert.equal(r.peers, 1)
    const want = await treeDigest(tree)
    assert.deepEqual(Object.keys(want).sort(), ['a.txt', 'empty.txt', 'sub', 'sub/deeper', 'sub/deeper/data.bin', 'sub/empty-dir', 'sub/file.txt'])
    assert.deepEqual(await treeDigest(out), want)
  })

  it('`cat CID` writes the file to stdout; `cat DIRCID/sub/file.txt` a file inside a folder', TEST, async () => {
    const whole = await peerd(b, 'cat', fileCid)
    assert.equal(whole.code, 0, whole.stderr)
    assert.equal(whole.stdout.length, fileSize)
    assert.equal(sha256Hex(whole.stdout), fileDigest)

    const inner = await peerd(b, 'cat', `${treeCid}/sub/file.txt`)
    assert.equal(inner.code, 0, inner.stderr)
    assert.equal(inner.stdout.toString(), subText)
    const deep = await peerd(b, 'cat', `/ipfs/${treeCid}/sub/deeper/data.bin`)
    assert.equal(deep.code, 0, deep.stderr)
    assert.equal(sha256Hex(deep.stdout), await sha256File(join(tree, 'sub', 'deeper', 'data.bin')))
    const empty = await peerd(b, 'cat', `${treeCid}/empty.txt`)
    assert.equal(empty.code, 0, empty.stderr)
    assert.equal(empty.stdout.length, 0)

    // a folder or a missing entry is an error, not a stream
    const dir = errorOf(await peerd(b, 'cat', treeCid, '--json'))
    assert.equal(dir.name, 'InvalidArgumentError', dir.message)
    const missing = errorOf(await peerd(b, 'cat', `${treeCid}/sub/nope.txt`, '--json'))
    assert.equal(missing.name, 'NotFoundError', missing.message)
  })

  it('`ls --json` lists both, complete, on the sharer and on the downloader', TEST, async () => {
    for (const [d, source] of [[a, 'share'], [b, 'get']] as const) {
      const list = jsonOf<LsJson[]>(await peerd(d, 'ls', '--json'))
      for (const [cid, size, type] of [[fileCid, fileSize, 'file'], [treeCid, treeSize, 'directory']] as const) {
        const rec = list.find(r => r.cid === cid)
        assert.ok(rec != null, `${source === 'share' ? 'A' : 'B'} does not list ${cid}: ${JSON.stringify(list)}`)
        assert.equal(rec.complete, true)
        assert.equal(rec.size, size)
        assert.equal(rec.type, type)
        assert.equal(rec.source, source)
      }
    }
  })

  it('`unshare CID` then `gc --json` frees its blocks and `ls` no longer lists it', TEST, async () => {
    const un = await peerd(a, 'unshare', fileCid, '--json')
    assert.deepEqual(jsonOf(un), { cid: fileCid, unshared: true })
    const gc = jsonOf<{ removedBlocks: number, freedBytes: number }>(await peerd(a, 'gc', '--json'))
    assert.ok(gc.removedBlocks > 0, `gc removed ${gc.removedBlocks} blocks`)
    assert.ok(gc.freedBytes >= fileSize, `gc freed ${gc.freedBytes} bytes of a ${fileSize}-byte file`)
    const list = jsonOf<LsJson[]>(await peerd(a, 'ls', '--json'))
    assert.equal(list.some(r => r.cid === fileCid), false, 'the unshared file is still listed')
    assert.ok(list.some(r => r.cid === treeCid), 'the folder went too')
    // what is still held is intact
    const deep = await peerd(a, 'cat', `${treeCid}/sub/deeper/data.bin`)
    assert.equal(deep.code, 0, deep.stderr)
    assert.equal(sha256Hex(deep.stdout), await sha256File(join(tree, 'sub', 'deeper', 'data.bin')))
    // a second unshare has nothing to do
    assert.equal(errorOf(await peerd(a, 'unshare', fileCid, '--json')).name, 'NotFoundError')

    // on the downloader, gc forgets the blocks but never deletes the user's downloaded file
    jsonOf(await peerd(b, 'unshare', fileCid, '--json'))
    jsonOf(await peerd(b, 'gc', '--json'))
    assert.equal(jsonOf<LsJson[]>(await peerd(b, 'ls', '--json')).some(r => r.cid === fileCid), false)
    assert.equal(await sha256File(join(root, 'downloads', 'file-copy.bin')), fileDigest)
  })

  it('bad input: a malformed CID, a missing path, content nobody has', TEST, async () => {
    const badRun = await peerd(b, 'get', 'not-a-cid', '-o', join(root, 'never'), '--json')
    assert.equal(badRun.code, 1)
    const bad = errorOf(badRun)
    assert.equal(bad.name, 'InvalidArgumentError', bad.message)
    assert.equal(await exists(join(root, 'never')), false)

    const missingRun = await peerd(a, 'share', '/no/such/path', '--json')
    assert.equal(missingRun.code, 1)
    const missing = errorOf(missingRun)
    assert.equal(missing.name, 'InvalidArgumentError', missing.message)
    assert.match(missing.message, /no such file/)

    const cid = await unknownCid()
    const target = join(root, 'downloads', 'nobody-has-it')
    const r = await peerd(b, 'get', cid, '-o', target, '--timeout', '2', '--json')
    const err = errorOf(r)
    assert.equal(err.name, 'ContentNotFoundError', err.message)
    assert.ok(r.ms < 10_000, `took ${r.ms} ms with --timeout 2`)
    assert.equal(await exists(target), false)
  })

  it('a download appears at its path only when complete', TEST, async () => {
    const size = 48 * MiB
    const big = join(root, 'big.bin')
    const digest = await writeRandomFile(big, size)
    const { cid } = jsonOf<ShareJson>(await peerd(a, 'share', big, '--json'))
    const out = join(root, 'downloads', 'big.bin')
    const run = td.cli(spawnCli(['get', cid, '-o', out, '--data-dir', b.dataDir, '--json'], { timeoutMs: 60_000 }))
    let seenRunning = false
    while (true) {
      const p = await daemonProgress(b, cid).catch(() => undefined)
      const f = fractionDone(p, size)
      if (f > 0 && f < 1) {
        assert.equal(await exists(out), false, `${out} exists while the download is ${Math.round(f * 100)}% done`)
        seenRunning = true
      }
      if (p == null && (run.child.exitCode != null || run.child.signalCode != null)) break
      await new Promise(resolve => setTimeout(resolve, 10))
    }
    const r = jsonOf<GetJson>(await run.result)
    assert.ok(seenRunning, 'the download finished before it could be watched')
    assert.equal(r.path, out)
    assert.equal(await sha256File(out), digest)
    assert.equal(await exists(partPath(out, cid)), false)
    assert.equal((await readFile(out)).length, size)
  })
})
