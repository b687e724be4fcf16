/**
 * Resuming interrupted downloads with daemon processes: after `kill -9` of the downloading
 * daemon, and after Ctrl-C (SIGINT) of `peerd get`, running the same `peerd get` again
 * completes the file with the right bytes and fetches only what was missing. Meanwhile the
 * output is built under a temporary name: nothing appears at the target path until it is whole.
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { before, describe, it } from 'node:test'
import type { SessionProgress } from '../../src/share/session.ts'
import { cliJson, startDaemonProcess, waitFor } from '../utils/index.ts'
import type { DaemonProcess } from '../utils/index.ts'
import { daemonProgress, exists, fractionDone, MiB, partPath, runCliBytes, sha256File, spawnCli, tcpAddress, writeRandomFile } from '../utils/share.ts'
import { teardown } from '../utils/teardown.ts'
import type { CliBytesResult } from '../utils/share.ts'

const TEST = { timeout: 90_000 }

interface GetJson { cid: string, path: string, size: number, peers: number, seconds: number }

/** Polls a daemon's progress of `cid` until `stop()`; returns the samples. */
function sampleProgress (daemon: DaemonProcess, cid: string): { samples: SessionProgress[], stop: () => Promise<void> } {
  const samples: SessionProgress[] = []
  let running = true
  const loop = (async () => {
    while (running) {
      const p = await daemonProgress(daemon, cid).catch(() => undefined)
      if (p != null) samples.push(p)
      await new Promise(resolve => setTimeout(resolve, 25))
    }
  })()
  return { samples, stop: async () => { running = false; await loop } }
}

/** Bytes a session found already held (not fetched), the most any sample showed. */
function resumedBytes (samples: SessionProgress[]): number {
  return Math.max(0, ...samples.map(p => p.bytes - p.fetched))
}

describe('resuming an interrupted download (daemon processes)', () => {
  const td = teardown()
  let root: string
  let a: DaemonProcess
  let b: DaemonProcess
  /** How `peerd get` ended when its daemon was killed under it. */
  let killed: CliBytesResult | undefined

  const startB = async (): Promise<DaemonProcess> => {
    const d = td.daemon(await startDaemonProcess(join(root, 'b'), ['--bootstrap', tcpAddress(a)]))
    await waitFor(async () => (await cliJson<Array<{ peerId: string }>>(['peers', '--data-dir', d.dataDir])).some(p => p.peerId === a.peerId), {
      what: 'B to connect to A'
    })
    return d
  }

  /** Runs `peerd get --json` on B to the end, sampling B's progress meanwhile. */
  const getAgain = async (cid: string, out: string): Promise<{ got: GetJson, samples: SessionProgress[] }> => {
    const watch = sampleProgress(b, cid)
    const r = await runCliBytes(['get', cid, '-o', out, '--data-dir', b.dataDir, '--json'], { timeoutMs: 60_000 })
    await watch.stop()
    assert.equal(r.code, 0, r.stdout.toString() + r.stderr)
    return { got: JSON.parse(r.stdout.toString()) as GetJson, samples: watch.samples }
  }

  /** Starts `peerd get` on B and waits until B's daemon is at least `fraction` through it. */
  const startGet = async (cid: string, out: string, size: number, fraction: number, json: boolean): Promise<{ run: ReturnType<typeof spawnCli>, at: number }> => {
    const run = td.cli(spawnCli(['get', cid, '-o', out, '--data-dir', b.dataDir, ...(json ? ['--json'] : [])], { timeoutMs: 60_000 }))
    const at = await waitFor(async () => {
      const f = fractionDone(await daemonProgress(b, cid), size)
      return f >= fraction ? f : undefined
    }, { intervalMs: 20, timeoutMs: 30_000, what: `B's download to pass ${fraction * 100}%` })
    assert.ok(at < 0.95, `the download was ${Math.round(at * 100)}% done before it could be interrupted`)
    return { run, at }
  }

  before(async () => {
    root = await td.dir('peerd-share-resume-')
    a = td.daemon(await startDaemonProcess(join(root, 'a')))
    b = await startB()
  })

  it('after kill -9 of the downloading daemon, the same get resumes and fetches only what is missing', TEST, async () => {
    const size = 128 * MiB
    const file = join(root, 'big.bin')
    const digest = await writeRandomFile(file, size)
    const shared = await cliJson<{ cid: string, size: number }>(['share', file, '--data-dir', a.dataDir])
    assert.equal(shared.size, size)
    const { cid } = shared
    const out = join(root, 'downloads', 'big.bin')

    const { run } = await startGet(cid, out, size, 0.3, true)
    assert.equal(await exists(out), false, 'a partial file is at the target path while the get runs')
    assert.equal(await exists(partPath(out, cid)), true, 'no partial output under the temporary name')
    await b.kill()
    killed = await run.result
    assert.notEqual(killed.code, null, `the get did not exit by itself: ${killed.stderr}`)
    assert.notEqual(killed.code, 0, `the get should fail when its daemon dies: ${killed.stdout.toString()}${killed.stderr}`)
    assert.equal(await exists(out), false, 'an incomplete file was moved to the target path')

    b = await startB()
    const { got, samples } = await getAgain(cid, out)
    assert.equal(got.cid, cid)
    assert.equal(got.path, out)
    assert.equal(got.size, size)
    assert.equal(await sha256File(out), digest, 'the resumed file differs')
    assert.equal(await exists(partPath(out, cid)), false, 'the temporary output was left behind')

    assert.ok(samples.length > 0, 'no progress seen during the second get')
    const resumed = resumedBytes(samples)
    const fetched = Math.max(...samples.map(p => p.fetched))
    assert.ok(resumed >= 0.2 * size, `the second get reused only ${resumed} bytes of the ${size} (the first got past 30%)`)
    assert.ok(fetched < size, `the second get fetched ${fetched} bytes: the whole file again`)
  })

  it('when its daemon is killed, `peerd get` says so in one readable line', TEST, () => {
    assert.ok(killed != null, 'the kill -9 test did not run')
    let error: { name: string, message: string } | undefined
    try {
      error = (JSON.parse(killed.stdout.toString()) as { error?: { name: string, message: string } }).error
    } catch {
      assert.fail(`stdout is not JSON: ${killed.stdout.toString()} (stderr: ${killed.stderr})`)
    }
    assert.ok(error != null, `no "error" in ${killed.stdout.toString()}`)
    // a peerd error naming what happened, not the HTTP client's bare TypeError "terminated"
    assert.notEqual(error.name, 'TypeError', `the CLI printed ${JSON.stringify(error)}`)
    assert.match(error.message, /daemon/i, `the CLI printed ${JSON.stringify(error)}`)
    assert.match(error.message, /resume|again/i, `the CLI printed ${JSON.stringify(error)}`)
  })

  it('after Ctrl-C of `peerd get`, it exits non-zero pointing at resume, and a second get completes', TEST, async () => {
    const size = 64 * MiB
    const file = join(root, 'medium.bin')
    const digest = await writeRandomFile(file, size)
    const { cid } = await cliJson<{ cid: string }>(['share', file, '--data-dir', a.dataDir])
    const out = join(root, 'downloads', 'medium.bin')

    const { run } = await startGet(cid, out, size, 0.3, false)
    run.child.kill('SIGINT')
    const interrupted = await run.result
    assert.notEqual(interrupted.code, null, `peerd get did not exit after SIGINT: ${interrupted.stderr}`)
    assert.notEqual(interrupted.code, 0)
    assert.match(interrupted.stderr, /resume/i, `stderr: ${interrupted.stderr}`)
    // the daemon lives on and stops the download its client left
    await waitFor(async () => await daemonProgress(b, cid) == null, { what: 'B to stop the abandoned download' })
    assert.equal(b.child.exitCode, null, 'the daemon exited')
    assert.equal(await exists(out), false)
    assert.equal(await exists(partPath(out, cid)), true, 'the partial output was not kept for a resume')

    const { got, samples } = await getAgain(cid, out)
    assert.equal(got.size, size)
    assert.equal(await sha256File(out), digest)
    assert.ok(resumedBytes(samples) >= 0.2 * size, `the second get reused only ${resumedBytes(samples)} bytes`)
  })
})
