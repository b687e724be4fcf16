import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import type { PeerdNode } from '../../src/node/node.ts'
import { isConnected, startTestNode, tempDir, waitFor } from '../utils/index.ts'

describe('three nodes find each other through one bootstrap node', () => {
  const nodes: PeerdNode[] = []
  const dirs: Array<{ cleanup: () => Promise<void> }> = []
  after(async () => {
    await Promise.all(nodes.map(async n => { await n.stop() }))
    await Promise.all(dirs.map(async d => { await d.cleanup() }))
  })

  it('B and C, told only about A, end up connected to each other', { timeout: 60_000 }, async () => {
    const mk = async (bootstrap: string[]): Promise<PeerdNode> => {
      const d = await tempDir()
      dirs.push(d)
      const n = await startTestNode({ dataDir: d.path, bootstrap })
      nodes.push(n)
      return n
    }
    const a = await mk([])
    const bootstrap = [a.addresses()[0] as string]
    const b = await mk(bootstrap)
    const c = await mk(bootstrap)

    await waitFor(() => isConnected(b, a) && isConnected(c, a), { what: 'B and C to reach the bootstrap node' })
    // nobody told B about C: it must learn of it through A (DHT lookups)
    await waitFor(() => isConnected(b, c) && isConnected(c, b), { timeoutMs: 30_000, what: 'B and C to find each other' })
    for (const n of [a, b, c]) assert.equal(n.peers().length, 2, `${n.peerId} should see both others`)
  })
})
