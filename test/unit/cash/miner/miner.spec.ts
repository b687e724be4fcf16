/**
 * The miner on worker threads against a real chain: on main's real minimum difficulty
 * (about a million hashes a block) it finds valid blocks that the chain connects, and it stops
 * its threads cleanly; on regtest continuous mining is paced, and `mineBlocks` mines on demand.
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { Chain } from '../../../../src/cash/chain/index.ts'
import { checkProofOfWork } from '../../../../src/cash/consensus/pow.ts'
import { chainParams } from '../../../../src/cash/consensus/params.ts'
import { Miner } from '../../../../src/cash/miner/miner.ts'
import { p2trScript } from '../../../../src/cash/primitives/address.ts'
import { headerHash } from '../../../../src/cash/primitives/header.ts'
import { xOnlyPublicKey } from '../../../utils/schnorr.ts'
import { createLogger } from '../../../../src/utils/logger.ts'
import { waitFor } from '../../../utils/index.ts'
import { teardown } from '../../../utils/teardown.ts'

const SCRIPT = p2trScript(xOnlyPublicKey(new Uint8Array(32).fill(5)))
const log = createLogger({ level: 'silent' })

describe('miner', () => {
  const td = teardown()

  async function openChain (network: 'main' | 'regtest'): Promise<Chain> {
    const chain = new Chain({ location: join(await td.dir('peerd-miner-'), 'chain'), params: chainParams(network), workers: 0 })
    await chain.open()
    td.add(async () => { await chain.close() }, 'close the chain')
    return chain
  }

  it('mines real proof of work on main on two threads and stops them', { timeout: 120_000 }, async () => {
    const chain = await openChain('main')
    const found: Uint8Array[] = []
    const miner = new Miner({ chain, params: chain.params, log, threads: 2, onBlock: (block) => { found.push(headerHash(block.header)) } })
    miner.start(SCRIPT)
    assert.equal(miner.status().threads, 2)
    await waitFor(() => chain.tip.height >= 1, { timeoutMs: 100_000, what: 'a block on main difficulty' })
    await miner.stop()
    assert.equal(miner.status().mining, false)
    assert.equal(miner.status().threads, 0)
    const hash = found[0] as Uint8Array
    assert.ok(hash != null)
    assert.ok(checkProofOfWork(hash, chain.params.powLimitBits, chain.params.powLimit))
    assert.equal(chain.tip.header.bits, chain.params.powLimitBits)
    const height = chain.tip.height
    await new Promise((resolve) => setTimeout(resolve, 300))
    assert.equal(chain.tip.height, height, 'blocks were still mined after stop')
  })

  it('paces continuous mining on regtest and mines on demand', { timeout: 60_000 }, async () => {
    const chain = await openChain('regtest')
    const miner = new Miner({ chain, params: chain.params, log, threads: 1 })
    miner.start(SCRIPT)
    const t0 = Date.now()
    await waitFor(() => chain.tip.height >= 3, { timeoutMs: 30_000 })
    const took = Date.now() - t0
    await miner.stop()
    assert.ok(took >= 1_900, `three regtest blocks in ${took} ms: not paced`)
    const before = chain.tip.height
    const hashes = await miner.mineBlocks(20, SCRIPT)
    assert.equal(hashes.length, 20)
    assert.equal(chain.tip.height, before + 20)
  })
})
