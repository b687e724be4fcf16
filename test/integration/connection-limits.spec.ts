import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import type { PeerdNode } from '../../src/node/node.ts'
import { startTestNode, tempDir, waitFor } from '../utils/index.ts'

describe('connection limits', () => {
  const cleanups: Array<() => Promise<unknown>> = []
  after(async () => { for (const c of cleanups.reverse()) await c() })

  const node = async (opts: Record<string, unknown> = {}): Promise<PeerdNode> => {
    const d = await tempDir()
    cleanups.push(d.cleanup)
    const n = await startTestNode({ dataDir: d.path, ...opts })
    cleanups.push(async () => { await n.stop() })
    return n
  }

  it('refuses inbound connections from one IP address past the per-IP limit', { timeout: 30_000 }, async () => {
    const a = await node({ maxConnectionsPerIp: 2 })
    const others = [await node(), await node(), await node()]
    const addr = a.addresses()[0] as string
    await others[0]?.connect(addr)
    await others[1]?.connect(addr)
    await waitFor(() => a.peers().filter(p => p.direction === 'inbound').length === 2, { what: 'two inbound connections' })
    await assert.rejects(others[2]?.connect(addr) as Promise<unknown>, (err: Error) => err.name === 'DialError')
    assert.equal(a.peers().length, 2)
  })
})
