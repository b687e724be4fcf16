/**
 * ChainSync's queue of peers to sync from: each peer waits in its own place, so a peer that
 * keeps asking (as one gossiping unknown-parent blocks makes it) does not replace another's
 * request. The sync itself is stood in for; the queue is the subject.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { PeerId } from '@libp2p/interface'
import type { Chain } from '../../../../src/cash/chain/index.ts'
import { chainParams } from '../../../../src/cash/consensus/params.ts'
import type { PeerdHost } from '../../../../src/net/host.ts'
import { ChainSync } from '../../../../src/cash/sync/sync.ts'
import { createLogger } from '../../../../src/utils/logger.ts'
import { waitFor } from '../../../utils/index.ts'

const peer = (name: string): PeerId => ({ toString: () => name }) as unknown as PeerId

describe('ChainSync queue', () => {
  it("one peer's repeated requests do not push out another's", async () => {
    const sync = new ChainSync({
      host: {} as unknown as PeerdHost,
      chain: { tip: { height: 0 } } as unknown as Chain,
      params: chainParams('regtest'),
      log: createLogger({ level: 'silent' }),
      penalize: () => {}
    })
    const synced: string[] = []
    ;(sync as unknown as { syncFrom: (p: PeerId) => Promise<void> }).syncFrom = async (p) => {
      synced.push(p.toString())
      await new Promise((resolve) => setImmediate(resolve))
    }
    const x = peer('x')
    const h = peer('h')
    for (const p of [x, h, x, x]) sync.requestSync(p)
    await waitFor(() => !sync.state().syncing, { timeoutMs: 5_000, what: 'the queue to drain' })
    assert.deepEqual(synced, ['x', 'h', 'x'])
  })
})
