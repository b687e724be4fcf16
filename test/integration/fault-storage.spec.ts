/**
 * Disk faults while a daemon stores data: ENOSPC and EIO injected into the share block store's
 * file writes and into the wallet's and the chain's LevelDB batches of one running daemon (its
 * instances only; nothing process-wide). The API answers a 5xx naming the error and what to do (507 for a full
 * disk), the daemon logs it, everything stored before stays readable, and once the fault is
 * gone the same request succeeds — no address handed out twice, no half-written block left.
 */
import assert from 'node:assert/strict'
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { before, describe, it } from 'node:test'
import type { WalletDb } from '../../src/cash/wallet/wallet-db.ts'
import { resolveDaemonConfig } from '../../src/daemon/config.ts'
import { startDaemon } from '../../src/daemon/daemon.ts'
import type { Daemon } from '../../src/daemon/daemon.ts'
import { createLogger } from '../../src/utils/logger.ts'
import { teardown } from '../utils/teardown.ts'

const TEST = { timeout: 60_000 }

/** A JSON answer of the API: an `error` object on failure, the result's fields on success. */
interface Answer { error: { name: string, message: string }, cid: string, address: string }

/** An error as Node's fs reports one. */
function fsError (code: 'ENOSPC' | 'EIO'): NodeJS.ErrnoException {
  const text = code === 'ENOSPC' ? 'no space left on device' : 'i/o error'
  return Object.assign(new Error(`${code}: ${text}, write`), { code, errno: code === 'ENOSPC' ? -28 : -5, syscall: 'write' })
}

/** An error as classic-level reports a failed batch (its message carries the OS error). */
function levelError (code: 'ENOSPC' | 'EIO'): Error {
  const text = code === 'ENOSPC' ? 'No space left on device' : 'Input/output error'
  return Object.assign(new Error(`IO error: 000003.log: ${text}`), { code: 'LEVEL_IO_ERROR' })
}

describe('fault injection: ENOSPC and EIO in block files, wallet and chain batches', () => {
  const td = teardown()
  let dir: string
  let d: Daemon
  let cookie: string
  const log: string[] = []

  const api = async (method: string, path: string, body?: unknown): Promise<{ status: number, json: Answer }> => {
    const raw = body instanceof Uint8Array
    const res = await fetch(d.apiUrl + path, {
      method,
      headers: { authorization: `Bearer ${cookie}`, ...(body != null && !raw ? { 'content-type': 'application/json' } : {}) },
      body: body == null ? undefined : raw ? body : JSON.stringify(body)
    })
    const text = await res.text()
    return { status: res.status, json: JSON.parse(text) as Answer }
  }
  const start = async (): Promise<void> => {
    const config = resolveDaemonConfig({ dataDir: join(dir, 'node'), network: 'regtest', listen: ['/ip4/127.0.0.1/tcp/0'], api: '127.0.0.1:0', mdns: false })
    d = await startDaemon(config, createLogger({ level: 'info', pretty: false, write: (l) => { log.push(l) } }))
    cookie = (await readFile(d.node.paths.cookie, 'utf8')).trim()
  }

  before(async () => {
    dir = await td.dir('peerd-fault-')
    // the daemon restarts within tests: whichever runs last is stopped
    td.add(async () => { await d?.stop() }, 'stop the daemon')
    await start()
  })

  it('a block write that fails answers 507/500 with what to do, keeps the stored blocks, and succeeds once retried', TEST, async () => {
    const first = new TextEncoder().encode('stored before the fault\n'.repeat(4000))
    const added = await api('POST', '/api/v1/add?name=first.txt', first)
    assert.equal(added.status, 200, JSON.stringify(added.json))
    const firstCid = added.json.cid

    const store = d.node.share.blockstore as unknown as { writeBlockFile: (path: string, data: Uint8Array) => Promise<void> }
    const real = store.writeBlockFile
    const second = new TextEncoder().encode('written while the disk is full\n'.repeat(5000))
    for (const code of ['ENOSPC', 'EIO'] as const) {
      let attempts = 0
      store.writeBlockFile = async (path, data) => {
        attempts++
        await real.call(store, path, data.subarray(0, 100)) // a torn write, then the error
        throw fsError(code)
      }
      const failed = await api('POST', '/api/v1/add?name=second.txt', second)
      assert.ok(attempts > 0, 'the fault was hit')
      assert.equal(failed.status, code === 'ENOSPC' ? 507 : 500)
      assert.equal(failed.json.error.name, 'BlockWriteError')
      assert.match(failed.json.error.message, new RegExp(code))
      assert.match(failed.json.error.message, code === 'ENOSPC' ? /disk is full: free space .* then retry/ : /check the disk .* then retry/)
      assert.ok(log.some(l => l.includes('"level":"error"') && l.includes('cannot store a block') && l.includes(code)), `logged: ${log.slice(-3).join('\n')}`)
    }
    store.writeBlockFile = real
    // nothing half-written is left behind, under a block's name or in the temporary folder
    assert.deepEqual(await readdir(join(dir, 'node', 'blocks', 'tmp')), [])

    const cat = await fetch(`${d.apiUrl}/api/v1/cat?cid=${firstCid}`, { headers: { authorization: `Bearer ${cookie}` } })
    assert.equal(cat.status, 200)
    assert.equal(cat.headers.get('x-content-type-options'), 'nosniff', 'cat on the API origin is never sniffed')
    assert.equal(cat.headers.get('content-security-policy'), 'sandbox', 'nor run as a page')
    assert.deepEqual(new Uint8Array(await cat.arrayBuffer()), first, 'what was stored before is intact')

    const retried = await api('POST', '/api/v1/add?name=second.txt', second)
    assert.equal(retried.status, 200, JSON.stringify(retried.json))
    const back = await fetch(`${d.apiUrl}/api/v1/cat?cid=${retried.json.cid}`, { headers: { authorization: `Bearer ${cookie}` } })
    assert.deepEqual(new Uint8Array(await back.arrayBuffer()), second)
  })

  it('a wallet batch that fails answers 507/500, hands out no address, and the wallet carries on (after a restart too)', TEST, async () => {
    const created = await api('POST', '/api/v1/wallet/create', { passphrase: 'fault pass' })
    assert.equal(created.status, 200, JSON.stringify(created.json))
    const handed = [created.json.address]
    handed.push((await api('POST', '/api/v1/wallet/address')).json.address)

    const level = (d.node.cash.wallet as unknown as { db: WalletDb }).db.db
    const realBatch = level.batch
    for (const code of ['ENOSPC', 'EIO'] as const) {
      (level as unknown as { batch: () => Promise<never> }).batch = async () => { throw levelError(code) }
      const failed = await api('POST', '/api/v1/wallet/address')
      assert.equal(failed.status, code === 'ENOSPC' ? 507 : 500)
      assert.equal(failed.json.error.name, 'WalletWriteError')
      assert.match(failed.json.error.message, code === 'ENOSPC' ? /disk is full: free space .* then retry/ : /check the disk .* then retry/)
      assert.ok(log.some(l => l.includes('"level":"error"') && l.includes('cannot write the wallet database')), `logged: ${log.slice(-3).join('\n')}`)
      // what the wallet knew stays readable
      assert.equal((await api('GET', '/api/v1/wallet/balance')).status, 200)
    }
    level.batch = realBatch

    const retried = await api('POST', '/api/v1/wallet/address')
    assert.equal(retried.status, 200, JSON.stringify(retried.json))
    handed.push(retried.json.address)
    assert.equal(new Set(handed).size, handed.length, 'no address handed out twice')

    await d.stop()
    await start()
    const after = await api('POST', '/api/v1/wallet/address')
    assert.equal(after.status, 200)
    assert.ok(!handed.includes(after.json.address), 'the addresses handed out before the restart are not handed out again')
  })

  it('a chain batch that fails answers a 5xx with what to do; the chain keeps its blocks and mines on once the fault is gone', TEST, async () => {
    const mined = await api('POST', '/api/v1/mine', { blocks: 3 })
    assert.equal(mined.status, 200, JSON.stringify(mined.json))
    const before = await api('GET', '/api/v1/chain/info')
    const level = (d.node.cash.chain as unknown as { db: { db: { batch: (...args: unknown[]) => Promise<void> } } }).db.db
    const realBatch = level.batch
    // the block's first batch (store) or its second (connect: coins, undo data, tip) fails
    for (const [code, passing] of [['ENOSPC', 0], ['EIO', 0], ['ENOSPC', 1]] as const) {
      let calls = 0
      level.batch = async (...args: unknown[]) => {
        if (calls++ < passing) { await realBatch.apply(level, args); return }
        throw levelError(code)
      }
      const failed = await api('POST', '/api/v1/mine', { blocks: 1 })
      assert.equal(failed.status, code === 'ENOSPC' ? 507 : 500)
      assert.equal(failed.json.error.name, 'ChainWriteError')
      assert.match(failed.json.error.message, code === 'ENOSPC' ? /disk is full: free space .* then retry/ : /check the disk .* then retry/)
      assert.deepEqual(await api('GET', '/api/v1/chain/info'), before, 'the chain did not move')
    }
    level.batch = realBatch
    // the last fault left a block stored but not connected: sync's periodic round connects it
    // with no new block (Core's ActivateBestChain), then mining goes on
    const heightOf = (a: { json: unknown }): number => (a.json as { height: number }).height
    await d.node.cash.sync.poll()
    assert.equal(heightOf(await api('GET', '/api/v1/chain/info')), heightOf(before) + 1)
    const retried = await api('POST', '/api/v1/mine', { blocks: 1 })
    assert.equal(retried.status, 200, JSON.stringify(retried.json))
    assert.equal(heightOf(await api('GET', '/api/v1/chain/info')), heightOf(before) + 2)
    for (const hash of (mined.json as unknown as { blocks: string[] }).blocks) {
      assert.equal((await api('GET', `/api/v1/chain/block?id=${hash}`)).status, 200, 'blocks stored before the fault are readable')
    }
  })
})
