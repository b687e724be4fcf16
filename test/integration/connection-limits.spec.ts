import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { waitFor } from '../utils/index.ts'
import { teardown } from '../utils/teardown.ts'

describe('connection limits', () => {
  const td = teardown()

  it('refuses inbound connections from one IP address past the per-IP limit', { timeout: 30_000 }, async () => {
    const a = await td.testNode({ maxConnectionsPerIp: 2 })
    const others = [await td.testNode(), await td.testNode(), await td.testNode()]
    const addr = a.addresses()[0] as string
    await others[0]?.connect(addr)
    await others[1]?.connect(addr)
    await waitFor(() => a.peers().filter(p => p.direction === 'inbound').length === 2, { what: 'two inbound connections' })
    await assert.rejects(others[2]?.connect(addr) as Promise<unknown>, (err: Error) => err.name === 'DialError')
    assert.equal(a.peers().length, 2)
  })
})
