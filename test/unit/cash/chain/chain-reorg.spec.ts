import assert from 'node:assert/strict'
import { before, describe, it } from 'node:test'
import { ChainDb, ops } from '../../../../src/cash/chain/chain-db.ts'
import { openChainLevel } from '../../../../src/cash/chain/index.ts'
import { chainParams } from '../../../../src/cash/consensus/params.ts'
import { blockWork } from '../../../../src/cash/consensus/pow.ts'
import { encodeBlock } from '../../../../src/cash/primitives/block.ts'
import type { Block } from '../../../../src/cash/primitives/block.ts'
import { bytesEqual } from '../../../../src/cash/primitives/hash.ts'
import { txid } from '../../../../src/cash/primitives/tx.ts'
import type { Transaction } from '../../../../src/cash/primitives/tx.ts'
import { spendTx, testKey, TestChain } from '../../../utils/cash.ts'
import { addAll, digestOfOnly, forkAt, hashOf, openTempChain, rejectsWith, suiteChain } from './chain-helpers.ts'
import type { TempChain } from './chain-helpers.ts'
import { teardown } from '../../../utils/teardown.ts'

const params = chainParams('regtest')
const alice = testKey(2)
const bob = testKey(3)

/** A copy of `tx` with one bit of its first signature flipped. */
function badSig (tx: Transaction): Transaction {
  return { ...tx, inputs: tx.inputs.map((i, n) => ({ ...i, witness: i.witness.map(w => { const c = Uint8Array.from(w); if (n === 0) c[3] = (c[3] as number) ^ 1; return c }) })) }
}

describe('Chain: reorganisations', () => {
  const td = teardown()
  let t: TempChain
  // Branch A: 12 empty blocks, then blocks 13..20, block 16 spending coinbase 1 to alice.
  const a = new TestChain(params)
  let b: TestChain
  let txA: Transaction
  let txB: Transaction

  before(async () => {
    t = await openTempChain(params)
    td.add(t.cleanup, 'close the chain')
    a.mineEmpty(12)
    for (let h = 13; h <= 20; h++) {
      if (h === 16) {
        txA = spendTx([a.coinbaseCoin(1)], [{ amount: 4n * 10n ** 8n, script: alice.script }])
        a.mine([txA])
      } else {
        a.mine()
      }
    }
    // Branch B forks after 15 and spends the same coinbase to bob, in its block 17.
    b = forkAt(a, 15)
    for (let h = 16; h <= 22; h++) {
      if (h === 17) {
        txB = spendTx([b.coinbaseCoin(1, testKey(1))], [{ amount: 4n * 10n ** 8n, script: bob.script }])
        b.mine([txB])
      } else {
        b.mine()
      }
    }
    await addAll(t.chain, a.blocks.slice(1))
  })

  it('stores a branch with less or equal work as side', async () => {
    const results = await addAll(t.chain, b.blocks.slice(16, 21))
    assert.deepEqual(results, ['side', 'side', 'side', 'side', 'side'])
    assert.ok(bytesEqual(t.chain.tip.hash, hashOf(a.tip)))
    assert.equal((await t.chain.getEntry(hashOf(b.blocks[20] as Block)))?.status, 'stored')
  })

  it('reorganises to a branch with more work, events in order, tx index and UTXO set follow', async () => {
    const events: string[] = []
    const onBlock = (e: { height: number }): void => { events.push(`+${e.height}`) }
    const onDisconnect = (e: { height: number }): void => { events.push(`-${e.height}`) }
    const onTip = (e: { height: number }): void => { events.push(`tip ${e.height}`) }
    t.chain.on('block', onBlock).on('disconnect', onDisconnect).on('tip', onTip)
    assert.equal(await t.chain.addBlock(b.blocks[21] as Block), 'reorganized')
    t.chain.off('block', onBlock).off('disconnect', onDisconnect).off('tip', onTip)
    assert.deepEqual(events, ['-20', '-19', '-18', '-17', '-16', '+16', '+17', '+18', '+19', '+20', '+21', 'tip 21'])
    assert.equal(await t.chain.addBlock(b.blocks[22] as Block), 'connected')
    assert.ok(bytesEqual(t.chain.tip.hash, hashOf(b.tip)))
    assert.equal(await t.chain.getTx(txid(txA)), undefined)
    assert.equal((await t.chain.getTx(txid(txB)))?.height, 17)
    assert.equal(await t.chain.getCoin({ txid: txid(txA), index: 0 }), undefined)
    assert.equal((await t.chain.getCoin({ txid: txid(txB), index: 0 }))?.script.length, 34)
    assert.ok(t.chain.isMainChain(t.chain.tip))
    assert.equal(t.chain.isMainChain((await t.chain.getEntry(hashOf(a.tip)))!), false)
    const stats = await t.chain.utxoStats()
    assert.deepEqual(stats, await t.chain.rebuildUtxoFromBlocks())
    assert.equal(stats.digest, await digestOfOnly(params, b.blocks.slice(1)), 'same UTXO set as a chain that only saw branch B')
  })

  it('reorganises back when branch A grows longer', async () => {
    a.mineEmpty(3) // A: 23
    const results = await addAll(t.chain, a.blocks.slice(21))
    assert.deepEqual(results, ['side', 'side', 'reorganized'])
    assert.ok(bytesEqual(t.chain.tip.hash, hashOf(a.tip)))
    assert.equal((await t.chain.getTx(txid(txA)))?.height, 16)
    assert.equal(await t.chain.getTx(txid(txB)), undefined)
    const stats = await t.chain.utxoStats()
    assert.deepEqual(stats, await t.chain.rebuildUtxoFromBlocks())
    assert.equal(stats.digest, await digestOfOnly(params, a.blocks.slice(1)), 'same UTXO set as a chain that only saw branch A')
  })

  it('survives a restart after reorganisations', async () => {
    const tip = t.chain.tip
    const stats = await t.chain.utxoStats()
    const chain = await t.reopen()
    assert.ok(bytesEqual(chain.tip.hash, tip.hash))
    assert.equal(chain.tip.chainwork, tip.chainwork)
    assert.deepEqual(await chain.utxoStats(), stats)
    assert.equal((await chain.getEntry(hashOf(b.tip)))?.status, 'valid', 'a disconnected block stays valid')
  })

  it('keeps the old tip when block N of a heavier branch is invalid', async () => {
    // C forks after 18 and reaches 25; its block 20 carries a bad signature.
    const c = forkAt(a, 18, testKey(11))
    c.mine()
    const good = spendTx([c.coinbaseCoin(2, testKey(1))], [{ amount: 10n ** 8n, script: bob.script }])
    const bad = c.makeBlock([badSig(good)])
    c.blocks.push(bad)
    for (let h = 21; h <= 25; h++) c.blocks.push(c.makeBlock())
    const before = await t.chain.utxoStats()
    const tip = t.chain.tip
    const disconnected: number[] = []
    t.chain.on('disconnect', (e) => { disconnected.push(e.height) })
    assert.deepEqual(await addAll(t.chain, c.blocks.slice(19, 24)), ['side', 'side', 'side', 'side', 'side'])
    await rejectsWith(t.chain.addBlock(c.blocks[24] as Block), 'bad-txns-signature', 100)
    t.chain.removeAllListeners('disconnect')
    assert.ok(disconnected.length > 0, 'the reorganisation was tried')
    assert.ok(bytesEqual(t.chain.tip.hash, tip.hash), 'back on the old tip')
    assert.deepEqual(await t.chain.utxoStats(), before)
    for (let h = 20; h <= 24; h++) assert.equal((await t.chain.getEntry(hashOf(c.blocks[h] as Block)))?.status, 'invalid', `C${h} invalid`)
    assert.equal((await t.chain.getEntry(hashOf(c.blocks[19] as Block)))?.status, 'valid', 'C19 was connected, then disconnected')
    await rejectsWith(t.chain.addBlock(c.blocks[25] as Block), 'bad-prevblk', 100)
    await rejectsWith(t.chain.addBlock(c.blocks[22] as Block), 'duplicate-invalid', 100)
    assert.deepEqual(await t.chain.utxoStats(), await t.chain.rebuildUtxoFromBlocks())
  })

  it('stays on the valid part of a heavier branch when it has more work than the old tip', async () => {
    // D forks after 20 (tip is A23) and reaches 27; its block 26 is invalid: D25 beats A23.
    const d = forkAt(a, 20, testKey(12))
    d.mineEmpty(5)
    const good = spendTx([d.coinbaseCoin(3, testKey(1))], [{ amount: 10n ** 8n, script: bob.script }])
    d.blocks.push(d.makeBlock([badSig(good)]))
    d.blocks.push(d.makeBlock())
    const results = await addAll(t.chain, d.blocks.slice(21, 24))
    assert.deepEqual(results, ['side', 'side', 'side'])
    assert.equal(await t.chain.addBlock(d.blocks[24] as Block), 'reorganized')
    assert.equal(await t.chain.addBlock(d.blocks[25] as Block), 'connected')
    await rejectsWith(t.chain.addBlock(d.blocks[26] as Block), 'bad-txns-signature')
    assert.ok(bytesEqual(t.chain.tip.hash, hashOf(d.blocks[25] as Block)))
    await rejectsWith(t.chain.addBlock(d.blocks[27] as Block), 'bad-prevblk')
    assert.deepEqual(await t.chain.utxoStats(), await t.chain.rebuildUtxoFromBlocks())
  })
})

describe('Chain: reorganisation depth limit', () => {
  const limited = { ...chainParams('regtest'), maxReorgDepth: 3 }
  const a = new TestChain(limited)
  const t = suiteChain(a, 10)

  it('refuses a branch forking deeper than maxReorgDepth (score 0, not remembered)', async () => {
    const deep = forkAt(a, 6)
    deep.mineEmpty(6)
    const err = await rejectsWith(t.chain.addBlock(deep.blocks[7] as Block), 'bad-fork-prior-to-checkpoint', 0)
    assert.equal(err.kind, 'block')
    assert.equal(await t.chain.getEntry(hashOf(deep.blocks[7] as Block)), undefined)
    await rejectsWith(t.chain.addBlock(deep.blocks[7] as Block), 'bad-fork-prior-to-checkpoint', 0)
    assert.equal(t.chain.tip.height, 10)
  })

  it('follows a branch forking exactly maxReorgDepth below the tip', async () => {
    const ok = forkAt(a, 7)
    ok.mineEmpty(4)
    assert.deepEqual(await addAll(t.chain, ok.blocks.slice(8)), ['side', 'side', 'side', 'reorganized'])
    assert.equal(t.chain.tip.height, 11)
  })
})

describe('Chain: recovery at open', () => {
  it('connects a stored block with more work than the tip (a crash between storing and connecting it)', async (ctx) => {
    const a = new TestChain(params)
    a.mineEmpty(5)
    const t = await openTempChain(params)
    teardown(ctx).add(t.cleanup, 'close the chain')
    await addAll(t.chain, a.blocks.slice(1, 5))
    const prev = t.chain.tip
    await t.chain.close()
    // What the first of the two batches of addBlock leaves: the entry and the bytes, status 'stored'.
    const level = openChainLevel(t.path)
    const db = new ChainDb(level)
    await db.open()
    const block = a.blocks[5] as Block
    const hash = hashOf(block)
    await db.write([
      ops.entry(hash, { header: block.header, height: 5, chainwork: prev.chainwork + blockWork(block.header.bits), status: 'stored' }),
      ops.block(hash, encodeBlock(block))
    ])
    await level.close()
    const chain = await t.reopen()
    assert.ok(bytesEqual(chain.tip.hash, hash))
    assert.equal(chain.tip.status, 'valid')
    assert.deepEqual(await chain.utxoStats(), await chain.rebuildUtxoFromBlocks())
    assert.equal((await chain.utxoStats()).count, 5)
  })
})
