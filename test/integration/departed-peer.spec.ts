import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { isConnected, startDaemonProcess, waitFor } from '../utils/index.ts'
import { teardown } from '../utils/teardown.ts'

describe('a departed peer is noticed', () => {
  const td = teardown()

  it('drops a peer that stops cleanly', { timeout: 30_000 }, async () => {
    const [a, b] = await Promise.all([td.testNode(), td.testNode()])
    await b.connect(a.addresses()[0] as string)
    await waitFor(() => isConnected(a, b), { what: 'A to see B' })
    await b.stop()
    await waitFor(() => !isConnected(a, b), { what: 'A to notice B left' })
    assert.equal(a.peers().length, 0)
  })

  it('drops a peer whose process is killed with SIGKILL', { timeout: 60_000 }, async () => {
    const a = await td.testNode()
    const b = td.daemon(await startDaemonProcess(await td.dir(), ['--bootstrap', a.addresses()[0] as string]))
    await waitFor(() => a.peers().some(p => p.peerId === b.peerId), { what: 'A to see the daemon' })
    await b.kill()
    await waitFor(() => !a.peers().some(p => p.peerId === b.peerId), { what: 'A to notice the killed daemon' })
  })
})
