/**
 * Helpers for the chain tests: a Chain on a temporary LevelDB with a fixed clock, forks of a
 * TestChain, and feeding blocks.
 */
import assert from 'node:assert/strict'
import { after, before } from 'node:test'
import { Chain } from '../../../../src/cash/chain/index.ts'
import type { AddResult, ChainOptions } from '../../../../src/cash/chain/index.ts'
import { VerifyError } from '../../../../src/cash/consensus/verify-error.ts'
import type { ChainParams } from '../../../../src/cash/consensus/params.ts'
import type { Block } from '../../../../src/cash/primitives/block.ts'
import { headerHash } from '../../../../src/cash/primitives/header.ts'
import { TestChain, testKey } from '../../../utils/cash.ts'
import type { TestKey } from '../../../utils/cash.ts'
import { tempDir } from '../../../utils/index.ts'

/** A clock well after every test block's time. */
export const NOW = (): number => 2_000_000_000

/** A Chain on a fresh temp dir; `reopen()` closes and opens it again on the same dir. */
export interface TempChain {
  chain: Chain
  path: string
  reopen: () => Promise<Chain>
  cleanup: () => Promise<void>
}

/** Opens a chain on a new temp dir (inline signature checks unless `workers` is given). */
export async function openTempChain (params: ChainParams, options: Partial<ChainOptions> = {}): Promise<TempChain> {
  const dir = await tempDir('peerd-chain-')
  const make = async (): Promise<Chain> => {
    const c = new Chain({ location: dir.path, params, now: NOW, workers: 0, ...options })
    await c.open()
    return c
  }
  const t: TempChain = {
    chain: await make(),
    path: dir.path,
    reopen: async () => {
      await t.chain.close()
      t.chain = await make()
      return t.chain
    },
    cleanup: async () => {
      await t.chain.close()
      await dir.cleanup()
    }
  }
  return t
}

/**
 * A suite's chain: opened in `before` holding `blocks` empty blocks mined on `a` (which then
 * holds them too), closed and removed in `after`. Read it inside tests only.
 */
export function suiteChain (a: TestChain, blocks: number): TempChain {
  let inner: TempChain | undefined
  const open = (): TempChain => {
    if (inner == null) throw new Error('the suite chain opens in before()')
    return inner
  }
  before(async () => {
    inner = await openTempChain(a.params)
    a.mineEmpty(blocks)
    await addAll(inner.chain, a.blocks.slice(1))
  })
  after(async () => { await inner?.cleanup() })
  return {
    get chain () { return open().chain },
    get path () { return open().path },
    reopen: async () => await open().reopen(),
    cleanup: async () => { await open().cleanup() }
  }
}

/** A TestChain that shares `base`'s blocks up to `height`, paying its coinbases to `payout`. */
export function forkAt (base: TestChain, height: number, payout: TestKey = testKey(9)): TestChain {
  const fork = new TestChain(base.params, payout)
  for (const block of base.blocks.slice(1, height + 1)) fork.connect(block)
  return fork
}

/** Adds blocks in order; returns the results. */
export async function addAll (chain: Chain, blocks: readonly Block[]): Promise<AddResult[]> {
  const out: AddResult[] = []
  for (const b of blocks) out.push(await chain.addBlock(b))
  return out
}

/** Asserts that `promise` rejects with a VerifyError of this reason (and score, when given). */
export async function rejectsWith (promise: Promise<unknown>, reason: string, score?: number): Promise<VerifyError> {
  let caught: unknown
  try {
    await promise
  } catch (err) {
    caught = err
  }
  assert.ok(caught instanceof VerifyError, `expected VerifyError ${reason}, got ${String(caught)}`)
  assert.equal(caught.reason, reason, caught.message)
  if (score !== undefined) assert.equal(caught.score, score, `score of ${reason}`)
  return caught
}

/** Hash of a block. */
export function hashOf (block: Block): Uint8Array {
  return headerHash(block.header)
}

/** A fresh chain fed only `blocks` (from height 1), for comparing UTXO sets. */
export async function digestOfOnly (params: ChainParams, blocks: readonly Block[]): Promise<string> {
  const t = await openTempChain(params)
  try {
    await addAll(t.chain, blocks)
    return (await t.chain.utxoStats()).digest
  } finally {
    await t.cleanup()
  }
}
