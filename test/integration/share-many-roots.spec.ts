/**
 * A node downloading many roots at once from one provider keeps within the provider's limit of
 * block streams per peer (the downloads past it wait for a slot, Bitswap serving them meanwhile),
 * so the provider refuses none of its streams and never penalises an honest downloader for them.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { describe, it } from 'node:test'
import { MAX_STREAMS_PER_PEER } from '../../src/share/server.ts'
import { waitForBlockProtocol } from '../utils/share.ts'
import { teardown } from '../utils/teardown.ts'

const ROOTS = 6 * MAX_STREAMS_PER_PEER

describe('many roots from one provider', () => {
  it(`${ROOTS} gets at once from one provider: no stream refused, no points`, { timeout: 60_000 }, async (t) => {
    const td = teardown(t)
    const [provider, downloader] = await Promise.all([td.testNode(), td.testNode()])
    const roots: string[] = []
    for (let i = 0; i < ROOTS; i++) {
      // two blocks each, so that the downloads overlap
      const r = await provider.share.add(`f${i}.bin`, (async function * () { yield randomBytes(1024 * 1024 + 1) })())
      roots.push(r.cid)
    }
    await downloader.connect(provider.addresses()[0] as string)
    await waitForBlockProtocol(downloader, provider)
    await Promise.all(roots.map(async cid => await downloader.share.get(cid, { timeoutSeconds: 30 })))
    assert.equal(provider.share.serverStats().streamsRefused, 0, 'the provider refused block streams of an honest downloader')
    assert.equal(provider.scores.score(downloader.libp2p.peerId), 0)
  })
})
