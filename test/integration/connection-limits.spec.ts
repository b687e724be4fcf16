import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import { nodeScope, waitFor } from '../utils/index.ts'

describe('connection limits', () => {
  const { node, cleanup } = nodeScope()
  after(cleanup)

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
