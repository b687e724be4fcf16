/**
 * Reorganisations at the edges of the wallet's undo records: one below the wallet's birth is
 * followed with the records written at creation (no rescan); one deeper than the records kept
 * makes the wallet rescan from genesis, and it ends with the right coins either way.
 */
import assert from 'node:assert/strict'
import { before, describe, it } from 'node:test'
import type { Chain, ChainEntry } from '../../../../src/cash/chain/index.ts'
import { chainParams } from '../../../../src/cash/consensus/params.ts'
import { headerHash } from '../../../../src/cash/primitives/header.ts'
import type { Logger } from '../../../../src/utils/logger.ts'
import { testKey } from '../../../utils/cash.ts'
import { WalletScope, blockOn, mine } from './wallet-helpers.ts'
import { teardown } from '../../../utils/teardown.ts'

const params = chainParams('regtest')

function recorder (): { log: Logger, warnings: string[] } {
  const warnings: string[] = []
  const log: Logger = { error () {}, warn (msg) { warnings.push(msg) }, info () {}, debug () {}, trace () {}, child () { return log } }
  return { log, warnings }
}

/** Mines `n` blocks on `from` (a side branch until it has more work), paying `script`. */
async function branch (chain: Chain, from: ChainEntry, n: number, script: Uint8Array, salt: number): Promise<void> {
  let tip = from
  for (let i = 0; i < n; i++) {
    const b = blockOn(chain, tip, script, [], 0n, salt)
    await chain.addBlock(b)
    const next = await chain.getEntry(headerHash(b.header))
    assert.ok(next)
    tip = next
  }
}

describe('wallet: reorganisations below its birth and past its undo records', () => {
  const td = teardown()
  let scope: WalletScope

  before(async () => {
    scope = await WalletScope.create(td, params)
    await mine(scope.chain, testKey(5).script, 5)
  })

  it('follows a fork below the height it was created at without a rescan', async () => {
    const { log, warnings } = recorder()
    const w = await scope.wallet({ log })
    await w.create('pw')
    assert.equal(w.height, 5)
    await branch(scope.chain, await scope.chain.getEntryByHeight(2) as ChainEntry, 4, w.payoutScript(), 3)
    await w.sync()
    assert.equal(w.height, 6)
    assert.deepEqual(warnings, [])
    assert.deepEqual(w.balance(), { confirmed: 0n, unconfirmed: 0n, immature: 4n * params.initialSubsidy })
  })

  it('rescans from genesis when the fork is deeper than the undo records it keeps', async () => {
    const { log, warnings } = recorder()
    const w = await scope.wallet({ log, params: { ...params, maxReorgDepth: 1 } }) // keeps 2 undo records
    await w.create('pw')
    const script = w.payoutScript()
    await mine(scope.chain, script, 3)
    await w.sync()
    assert.deepEqual(w.balance().immature, 3n * params.initialSubsidy)
    const forkHeight = scope.chain.tip.height - 4
    // The new branch pays the wallet twice (the same fresh address), then beats the old tip.
    await branch(scope.chain, await scope.chain.getEntryByHeight(forkHeight) as ChainEntry, 5, script, 5)
    await w.sync()
    assert.equal(w.height, scope.chain.tip.height)
    assert.match(warnings.join('\n'), /rescanning from genesis/)
    assert.deepEqual(w.balance(), { confirmed: 0n, unconfirmed: 0n, immature: 5n * params.initialSubsidy })
    assert.equal(w.history().length, 5)
  })
})
