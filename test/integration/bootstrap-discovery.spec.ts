import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { isConnected, waitFor } from '../utils/index.ts'
import { teardown } from '../utils/teardown.ts'

describe('three nodes find each other through one bootstrap node', () => {
  const td = teardown()

  it('B and C, told only about A, end up connected to each other', { timeout: 60_000 }, async () => {
    const a = await td.testNode()
    const bootstrap = [a.addresses()[0] as string]
    const b = await td.testNode({ bootstrap })
    const c = await td.testNode({ bootstrap })

    await waitFor(() => isConnected(b, a) && isConnected(c, a), { what: 'B and C to reach the bootstrap node' })
    // nobody told B about C: it must learn of it through A (DHT lookups)
    await waitFor(() => isConnected(b, c) && isConnected(c, b), { timeoutMs: 30_000, what: 'B and C to find each other' })
    for (const n of [a, b, c]) assert.equal(n.peers().length, 2, `${n.peerId} should see both others`)
  })
})
