/**
 * `peerd get` and `peerd cat` of identity CIDs (the data is inside the CID) against a daemon
 * with no peers: answered at once from the CID, and one inlining too much is refused as a 400.
 */
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { before, describe, it } from 'node:test'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import * as Digest from 'multiformats/hashes/digest'
import { startDaemonProcess } from '../utils/index.ts'
import type { DaemonProcess } from '../utils/index.ts'
import { runCliBytes } from '../utils/share.ts'
import type { CliBytesResult } from '../utils/share.ts'
import { teardown } from '../utils/teardown.ts'

const inline = (bytes: Uint8Array): string => CID.createV1(raw.code, Digest.create(0x00, bytes)).toString()

describe('peerd get and cat of identity CIDs', () => {
  const td = teardown()
  let daemon: DaemonProcess | undefined
  let root = ''

  const peerd = async (...args: string[]): Promise<CliBytesResult> => {
    assert.ok(daemon != null)
    // --timeout 3: content not read from the CID would fail after it, not be served
    return await runCliBytes([...args, '--timeout', '3', '--data-dir', daemon.dataDir], { cwd: root, timeoutMs: 20_000 })
  }

  before(async () => {
    root = await td.dir('peerd-e2e-identity-')
    daemon = td.daemon(await startDaemonProcess(join(root, 'node')))
  })

  it('get saves an inlined "hello", cat prints it and bafkqaaa (empty); over 128 bytes inlined is an IdentityTooLargeError', { timeout: 30_000 }, async () => {
    const hello = inline(new TextEncoder().encode('hello'))
    const out = join(root, 'hello.txt')
    const got = await peerd('get', hello, '-o', out, '--json')
    assert.equal(got.code, 0, got.stdout.toString() + got.stderr)
    assert.equal(await readFile(out, 'utf8'), 'hello')

    const cat = await peerd('cat', hello)
    assert.equal(cat.code, 0, cat.stderr)
    assert.equal(cat.stdout.toString(), 'hello')
    const empty = await peerd('cat', 'bafkqaaa')
    assert.equal(empty.code, 0, empty.stderr)
    assert.equal(empty.stdout.length, 0)

    const big = await peerd('get', inline(new Uint8Array(129).fill(97)), '-o', join(root, 'big'), '--json')
    assert.notEqual(big.code, 0)
    const error = (JSON.parse(big.stdout.toString()) as { error: { name: string, message: string } }).error
    assert.equal(error.name, 'IdentityTooLargeError', error.message)
  })
})
