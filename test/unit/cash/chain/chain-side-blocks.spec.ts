/**
 * What the chain keeps off its best chain (issue 14, point 2): an unsolicited block with less
 * work than the tip is not stored (Bitcoin Core's AcceptBlock), a peer's headers are checked in
 * context with their work summed before any block is asked for (HeaderBranch), and side
 * branches that fork deeper than maxReorgDepth are deleted.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { ChainDb } from '../../../../src/cash/chain/chain-db.ts'
import { openChainLevel } from '../../../../src/cash/chain/index.ts'
import { nextBits } from '../../../../src/cash/consensus/context.ts'
import { genesisBlock } from '../../../../src/cash/consensus/genesis.ts'
import { chainParams } from '../../../../src/cash/consensus/params.ts'
import { blockWork, checkProofOfWork } from '../../../../src/cash/consensus/pow.ts'
import { VerifyError } from '../../../../src/cash/consensus/verify-error.ts'
import { assembleBlock } from '../../../../src/cash/miner/template.ts'
import { p2trScript } from '../../../../src/cash/primitives/address.ts'
import { encodeBlock } from '../../../../src/cash/primitives/block.ts'
import type { Block } from '../../../../src/cash/primitives/block.ts'
import { bytesEqual } from '../../../../src/cash/primitives/hash.ts'
import { TestChain, testKey } from '../../../utils/cash.ts'
import { addAll, forkAt, hashOf, NOW, openTempChain, rejectsWith, suiteChain } from './chain-helpers.ts'
import { junkBlock } from './junk.ts'
import { teardown } from '../../../utils/teardown.ts'

const params = chainParams('regtest')
const WORK = blockWork(params.powLimitBits)

/** Runs `fn` and returns the VerifyError it throws. */
function verifyError (fn: () => unknown): VerifyError {
  try {
    fn()
  } catch (err) {
    assert.ok(err instanceof VerifyError, `expected a VerifyError, got ${String(err)}`)
    return err
  }
  assert.fail('expected a VerifyError')
}

describe('Chain: unsolicited blocks', () => {
  const a = new TestChain(params)
  const t = suiteChain(a, 12)

  it('does not store an unsolicited junk side block with less work than the tip', async () => {
    const junk = junkBlock((a.blocks[9] as Block).header, 9, params)
    const bytes = encodeBlock(junk)
    assert.ok(bytes.length > 300_000, `${bytes.length} bytes`)
    assert.equal(await t.chain.addBlock(junk, { bytes, unsolicited: true }), 'ignored')
    assert.equal(await t.chain.getEntry(hashOf(junk)), undefined)
    assert.equal(await t.chain.getBlockBytes(hashOf(junk)), undefined, 'no body in LevelDB')
    assert.equal(t.chain.isKnownInvalid(hashOf(junk)), false, 'its body was never looked at')
    assert.equal(t.chain.tip.height, 12)
  })

  it('still checks the header of an unsolicited low-work block (time-too-old scores 100)', async () => {
    const fork = forkAt(a, 9)
    const old = fork.makeBlock([], { time: fork.mtpAt(9) })
    await rejectsWith(t.chain.addBlock(old, { unsolicited: true }), 'time-too-old', 100)
  })

  it('stores an unsolicited block with as much work as the tip (a competing tip), and one with more', async () => {
    const rival = forkAt(a, 11, testKey(7))
    const sibling = rival.mine()
    assert.equal(await t.chain.addBlock(sibling, { unsolicited: true }), 'side')
    assert.equal((await t.chain.getEntry(hashOf(sibling)))?.status, 'stored')
    assert.equal(await t.chain.addBlock(rival.mine(), { unsolicited: true }), 'reorganized')
    assert.ok(bytesEqual(t.chain.tip.hash, hashOf(rival.tip)))
  })

  it('ignores unsolicited blocks while the chain is below params.minimumChainWork', async (t) => {
    const strict = { ...params, minimumChainWork: 21n * WORK } // genesis and 20 blocks
    const s = await openTempChain(strict)
    teardown(t).add(s.cleanup, 'close the chain')
    const c = new TestChain(strict)
    c.mineEmpty(21)
    assert.equal(await s.chain.addBlock(c.blocks[1] as Block, { unsolicited: true }), 'ignored')
    assert.deepEqual(await addAll(s.chain, c.blocks.slice(1, 20)), new Array(19).fill('connected'), 'asked-for blocks connect')
    assert.equal(await s.chain.addBlock(c.blocks[20] as Block, { unsolicited: true }), 'connected', 'at the minimum')
  })

  it('on main, a network that has just started can be joined: another miner\'s block 1, gossiped, connects', async (t) => {
    // Were main's minimum chain work above its genesis, every node would ignore every other
    // miner's first blocks and fetch none of their headers' blocks: each would mine alone, and
    // past maxReorgDepth the forks could never merge.
    const main = chainParams('main')
    const s = await openTempChain(main)
    teardown(t).add(s.cleanup, 'close the chain')
    const genesis = genesisBlock('main').header
    const ctx = s.chain.nextBlockContext()
    const block = assembleBlock({ prevHash: ctx.prevHash, height: 1, time: genesis.time + 600, bits: ctx.bits, payoutScript: p2trScript(new Uint8Array(32).fill(7)), txs: [], fees: 0n, params: main })
    block.header.nonce = 734_275 // found once by grind (2^20 tries on average at main's powLimit)
    assert.ok(checkProofOfWork(hashOf(block), block.header.bits, main.powLimit))
    assert.equal(await s.chain.addBlock(block, { unsolicited: true }), 'connected')
  })
})

describe('Chain: header branches', () => {
  const a = new TestChain(params)
  const t = suiteChain(a, 10)

  it('sums the work of headers that follow a stored block, and hands their hashes out once', () => {
    const fork = forkAt(a, 6)
    fork.mineEmpty(8)
    assert.equal(t.chain.headerBranch(hashOf(fork.tip)), undefined, 'unknown root')
    const branch = t.chain.headerBranch(hashOf(a.blocks[6] as Block))
    assert.ok(branch !== undefined)
    branch.extend(fork.blocks.slice(7, 10).map(b => b.header))
    assert.ok(branch.chainwork < t.chain.tip.chainwork)
    branch.extend(fork.blocks.slice(10).map(b => b.header))
    assert.equal(branch.height, 14)
    assert.equal(branch.chainwork, 15n * WORK)
    assert.ok(branch.chainwork > t.chain.tip.chainwork)
    assert.deepEqual(branch.take(), fork.blocks.slice(7).map(hashOf))
    assert.deepEqual(branch.take(), [])
  })

  it('refuses headers out of order, too old, too new or without their proof of work', () => {
    const root = a.blocks[10] as Block
    const next = new TestChain(params)
    for (const b of a.blocks.slice(1)) next.connect(b, NOW())
    const fresh = (): NonNullable<ReturnType<typeof t.chain.headerBranch>> => t.chain.headerBranch(hashOf(root)) as NonNullable<ReturnType<typeof t.chain.headerBranch>>
    const good = next.makeBlock()
    const skip = { ...good.header, prevHash: good.header.merkleRoot }
    assert.equal(verifyError(() => { fresh().extend([skip]) }).reason, 'bad-header-chain')
    const old = next.makeBlock([], { time: next.mtpAt(10) })
    const e1 = verifyError(() => { fresh().extend([old.header]) })
    assert.deepEqual([e1.reason, e1.score], ['time-too-old', 100])
    const late = next.makeBlock([], { time: NOW() + params.maxFutureBlockTime + 1 })
    const e2 = verifyError(() => { fresh().extend([late.header]) })
    assert.deepEqual([e2.reason, e2.score], ['time-too-new', 0])
    const weak = next.makeBlock()
    while (checkProofOfWork(hashOf(weak), weak.header.bits, params.powLimit)) weak.header.nonce++
    const e3 = verifyError(() => { fresh().extend([weak.header]) })
    assert.equal(e3.reason, 'high-hash')
    assert.equal(verifyError(() => { fresh().extend([good.header, good.header]) }).reason, 'bad-header-chain', 'a repeat does not follow')
    const branch = fresh()
    branch.extend([good.header])
    assert.equal(branch.height, 11, 'a good header is accepted')
  })

  it('refuses a header of a block known invalid, and a branch from one', async () => {
    const bad = junkBlock((a.tip).header, a.height, params, 2)
    await rejectsWith(t.chain.addBlock(bad), 'bad-txns-inputs-missingorspent', 100)
    const err = verifyError(() => { t.chain.headerBranch(hashOf(a.tip))?.extend([bad.header]) })
    assert.deepEqual([err.reason, err.score], ['duplicate-invalid', 100])
    assert.equal(verifyError(() => t.chain.headerBranch(hashOf(bad))).reason, 'bad-prevblk')
  })

  it('checks the bits a header claims against ASERT given its parent', async (t) => {
    const asert = { ...params, noRetargeting: false }
    const s = await openTempChain(asert)
    teardown(t).add(s.cleanup, 'close the chain')
    const c = new TestChain(asert)
    c.mineEmpty(3)
    await addAll(s.chain, c.blocks.slice(1))
    const branch = s.chain.headerBranch(hashOf(c.tip))
    assert.ok(branch !== undefined)
    // blocks a second apart instead of a minute: ASERT makes the next ones harder
    for (let i = 0; i < 12; i++) c.mine([], { time: c.tip.header.time + 1 })
    branch.extend(c.blocks.slice(4).map(b => b.header))
    const expected = nextBits({ height: c.height, time: c.tip.header.time }, asert)
    assert.notEqual(expected, asert.powLimitBits, 'the target moved')
    const easy = c.makeBlock([], { bits: asert.powLimitBits, time: c.tip.header.time + 1 })
    const err = verifyError(() => { branch.extend([easy.header]) })
    assert.deepEqual([err.reason, err.score], ['bad-diffbits', 100])
    assert.equal(branch.chainwork, s.chain.tip.chainwork + c.blocks.slice(4).reduce((w, b) => w + blockWork(b.header.bits), 0n))
  })

  it('refuses a branch from an invalid block or forking deeper than maxReorgDepth', async (t) => {
    const limited = { ...params, maxReorgDepth: 3 }
    const s = await openTempChain(limited)
    teardown(t).add(s.cleanup, 'close the chain')
    const c = new TestChain(limited)
    c.mineEmpty(8)
    await addAll(s.chain, c.blocks.slice(1))
    assert.ok(s.chain.headerBranch(hashOf(c.blocks[5] as Block)) !== undefined, '3 below the tip')
    const err = verifyError(() => s.chain.headerBranch(hashOf(c.blocks[4] as Block)))
    assert.deepEqual([err.reason, err.score], ['bad-fork-prior-to-checkpoint', 0])
  })
})

describe('Chain: pruning stale side branches', () => {
  const limited = { ...params, maxReorgDepth: 3 }
  const a = new TestChain(limited)
  const t = suiteChain(a, 10)

  it('keeps a side branch a reorganisation could still reach, deletes it once it forks deeper', async () => {
    const side = forkAt(a, 8, testKey(7))
    side.mineEmpty(2)
    assert.deepEqual(await addAll(t.chain, side.blocks.slice(9)), ['side', 'side'])
    await addAll(t.chain, a.mineEmpty(1)) // tip 11: the side branch forks 3 below
    for (const b of side.blocks.slice(9)) assert.ok(await t.chain.getBlockBytes(hashOf(b)) !== undefined)
    await addAll(t.chain, a.mineEmpty(1)) // tip 12: 4 below
    for (const b of side.blocks.slice(9)) {
      assert.equal(await t.chain.getEntry(hashOf(b)), undefined)
      assert.equal(await t.chain.getBlockBytes(hashOf(b)), undefined)
    }
  })

  it('deletes the blocks a reorganisation left behind, with their undo data, and reopens', async () => {
    const b = forkAt(a, 11, testKey(8))
    b.mineEmpty(2)
    assert.deepEqual(await addAll(t.chain, b.blocks.slice(12)), ['side', 'reorganized'])
    const left = hashOf(a.blocks[12] as Block)
    assert.equal((await t.chain.getEntry(left))?.status, 'valid', 'connected once, now on a side branch')
    b.mineEmpty(2)
    await addAll(t.chain, b.blocks.slice(14)) // tip 15: A12's branch forks 4 below
    assert.equal(await t.chain.getEntry(left), undefined)
    await t.chain.close()
    const level = openChainLevel(t.path)
    try {
      const db = new ChainDb(level)
      await db.open()
      assert.equal(await db.blockBytes(left), undefined)
      assert.equal(await db.undo(left), undefined)
      for await (const [hash] of db.entries()) assert.ok(!bytesEqual(hash, left))
    } finally {
      await level.close()
    }
    const chain = await t.reopen()
    assert.ok(bytesEqual(chain.tip.hash, hashOf(b.tip)))
    assert.deepEqual(await chain.utxoStats(), await chain.rebuildUtxoFromBlocks())
  })
})
