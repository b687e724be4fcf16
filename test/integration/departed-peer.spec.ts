import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import type { PeerdNode } from '../../src/node/node.ts'
import { isConnected, startDaemonProcess, startTestNode, tempDir, waitFor } from '../utils/index.ts'
import type { DaemonProcess } from '../utils/index.ts'

describe('a departed peer is noticed', () => {
  const cleanups: Array<() => Promise<unknown>> = []
  after(async () => { for (const c of cleanups.reverse()) await c() })

  it('drops a peer that stops cleanly', { timeout: 30_000 }, async () => {
    const da = await tempDir()
    const db = await tempDir()
    cleanups.push(da.cleanup, db.cleanup)
    const a: PeerdNode = await startTestNode({ dataDir: da.path })
    cleanups.push(async () => { await a.stop() })
    const b = await startTestNode({ dataDir: db.path })
    cleanups.push(async () => { await b.stop() })
    await b.connect(a.addresses()[0] as string)
    await waitFor(() => isConnected(a, b), { what: 'A to see B' })
    await b.stop()
    await waitFor(() => !isConnected(a, b), { what: 'A to notice B left' })
    assert.equal(a.peers().length, 0)
  })

  it('drops a peer whose process is killed with SIGKILL', { timeout: 60_000 }, async () => {
    const da = await tempDir()
    const db = await tempDir()
    cleanups.push(da.cleanup, db.cleanup)
    const a: PeerdNode = await startTestNode({ dataDir: da.path })
    cleanups.push(async () => { await a.stop() })
    const b: DaemonProcess = await startDaemonProcess(db.path, ['--bootstrap', a.addresses()[0] as string])
    cleanups.push(b.kill)
    await waitFor(() => a.peers().some(p => p.peerId === b.peerId), { what: 'A to see the daemon' })
    await b.kill()
    await waitFor(() => !a.peers().some(p => p.peerId === b.peerId), { what: 'A to notice the killed daemon' })
  })
})
