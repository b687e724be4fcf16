/**
 * A block stored but left unconnected by a failed connect write (ENOSPC in its second LevelDB
 * batch, real LevelDB) is connected by {@link Chain.activateBestChain} once the disk takes writes
 * again, with no new block needed (the relay ignores repeats of a known block; sync skips stored ones).
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { ChainWriteError } from '../../../../src/cash/chain/chain-db.ts'
import { chainParams } from '../../../../src/cash/consensus/params.ts'
import { TestChain } from '../../../utils/cash.ts'
import { hashOf, openTempChain } from './chain-helpers.ts'
import { teardown } from '../../../utils/teardown.ts'

const params = chainParams('regtest')

describe('Chain after a failed block write', () => {
  const td = teardown()

  it('connects the stored block once the disk takes writes again', async () => {
    const t = await openTempChain(params)
    td.add(t.cleanup, 'close the chain')
    const chain = t.chain
    const tc = new TestChain(params)
    for (const block of tc.mineEmpty(3)) assert.equal(await chain.addBlock(block), 'connected')
    assert.equal(await chain.activateBestChain(), false, 'nothing to do')

    const level = (chain as unknown as { db: { db: { batch: (...args: unknown[]) => Promise<void> } } }).db.db
    const realBatch = level.batch
    let calls = 0
    // the block's first batch (store) passes, its second (connect) finds the disk full
    level.batch = async (...args: unknown[]) => {
      if (calls++ < 1) { await realBatch.apply(level, args); return }
      throw Object.assign(new Error('IO error: 000003.log: No space left on device'), { code: 'LEVEL_IO_ERROR' })
    }
    const block = tc.makeBlock()
    await assert.rejects(chain.addBlock(block), ChainWriteError)
    assert.equal(chain.tip.height, 3)
    assert.equal((await chain.getEntry(hashOf(block)))?.status, 'stored')
    await assert.rejects(chain.activateBestChain(), ChainWriteError, 'the disk is still full')
    assert.equal(chain.tip.height, 3)

    level.batch = realBatch
    assert.equal(await chain.activateBestChain(), true)
    assert.equal(chain.tip.height, 4)
    assert.deepEqual(chain.tip.hash, hashOf(block))
    assert.equal(await chain.activateBestChain(), false)
  })
})
