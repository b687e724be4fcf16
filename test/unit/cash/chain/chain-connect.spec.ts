import assert from 'node:assert/strict'
import { before, describe, it } from 'node:test'
import type { Chain } from '../../../../src/cash/chain/index.ts'
import { chainParams } from '../../../../src/cash/consensus/params.ts'
import { checkProofOfWork } from '../../../../src/cash/consensus/pow.ts'
import { spendTx, testKey, TestChain } from '../../../utils/cash.ts'
import type { Spendable } from '../../../utils/cash.ts'
import { encodeBlock } from '../../../../src/cash/primitives/block.ts'
import type { Block } from '../../../../src/cash/primitives/block.ts'
import { bytesEqual } from '../../../../src/cash/primitives/hash.ts'
import { txid } from '../../../../src/cash/primitives/tx.ts'
import type { Transaction } from '../../../../src/cash/primitives/tx.ts'
import { addAll, hashOf, openTempChain, rejectsWith } from './chain-helpers.ts'
import type { TempChain } from './chain-helpers.ts'
import { teardown } from '../../../utils/teardown.ts'

const params = chainParams('regtest')
const alice = testKey(2)
const bob = testKey(3)

/** A copy of `tx` with one bit of its first signature flipped. */
function badSig (tx: Transaction): Transaction {
  const copy: Transaction = { ...tx, inputs: tx.inputs.map(i => ({ ...i, witness: i.witness.map(w => Uint8Array.from(w)) })) }
  const w = copy.inputs[0]?.witness[0] as Uint8Array
  w[5] = (w[5] as number) ^ 0x01
  return copy
}

describe('Chain: connecting blocks', () => {
  const td = teardown()
  let t: TempChain
  let chain: Chain
  const tc = new TestChain(params)
  let spend: Transaction

  before(async () => {
    t = await openTempChain(params)
    td.add(t.cleanup, 'close the chain')
    chain = t.chain
  })

  it('starts at genesis with an empty UTXO set', async () => {
    assert.equal(chain.tip.height, 0)
    assert.ok(bytesEqual(chain.tip.hash, params.genesis.hash))
    assert.deepEqual(await chain.utxoStats(), { count: 0, total: 0n, digest: (await chain.rebuildUtxoFromBlocks()).digest })
    const cb = tc.blocks[0]?.txs[0] as Transaction
    assert.equal(await chain.getCoin({ txid: txid(cb), index: 0 }), undefined, 'genesis outputs are not coins')
    assert.equal((await chain.getTx(txid(cb)))?.height, 0)
  })

  it('connects a chain of regtest blocks and emits block and tip events in order', async () => {
    const blocks = tc.mineEmpty(params.coinbaseMaturity)
    const seen: number[] = []
    const tips: number[] = []
    const onBlock = (e: { height: number }): void => { seen.push(e.height) }
    const onTip = (e: { height: number }): void => { tips.push(e.height) }
    chain.on('block', onBlock)
    chain.on('tip', onTip)
    assert.deepEqual(await addAll(chain, blocks), blocks.map(() => 'connected'))
    chain.off('block', onBlock)
    chain.off('tip', onTip)
    assert.deepEqual(seen, blocks.map((_b, i) => i + 1))
    assert.deepEqual(tips, seen)
    assert.equal(chain.tip.height, params.coinbaseMaturity)
    assert.equal(chain.tip.status, 'valid')
    const stats = await chain.utxoStats()
    assert.equal(stats.count, params.coinbaseMaturity)
    assert.equal(stats.total, BigInt(params.coinbaseMaturity) * params.initialSubsidy)
    assert.deepEqual(stats, await chain.rebuildUtxoFromBlocks())
  })

  it('answers duplicate for a known block and orphan for an unknown parent', async () => {
    assert.equal(await chain.addBlock(tc.blocks[3] as Block), 'duplicate')
    const other = new TestChain(params, testKey(7))
    other.mineEmpty(2)
    const orphan = other.blocks[2] as Block
    assert.equal(await chain.addBlock(orphan), 'orphan')
    assert.equal(await chain.getEntry(hashOf(orphan)), undefined, 'orphans are not stored')
    assert.equal(await chain.getBlockBytes(hashOf(orphan)), undefined)
  })

  it('spends a matured coinbase; the tx index and the coins follow', async () => {
    const coin = tc.coinbaseCoin(1)
    spend = spendTx([coin], [{ amount: 3n * 10n ** 8n, script: alice.script }, { amount: 2n * 10n ** 8n - 1000n, script: bob.script }])
    const block = tc.mine([spend])
    assert.equal(await chain.addBlock(block, { bytes: encodeBlock(block), peer: 'test' }), 'connected')
    const id = txid(spend)
    const found = await chain.getTx(id)
    assert.ok(found !== undefined)
    assert.equal(found.height, tc.height)
    assert.equal(found.position, 1)
    assert.ok(bytesEqual(found.blockHash, hashOf(block)))
    assert.ok(bytesEqual(txid(found.tx), id))
    assert.equal(await chain.getCoin(coin.prevout), undefined, 'the spent coinbase is gone')
    const out = await chain.getCoin({ txid: id, index: 1 })
    assert.deepEqual(out, { amount: 2n * 10n ** 8n - 1000n, script: bob.script, height: tc.height, coinbase: false })
    const cb = await chain.getCoin({ txid: txid(block.txs[0] as Transaction), index: 0 })
    assert.equal(cb?.coinbase, true)
    assert.equal(cb?.amount, params.initialSubsidy + 1000n, 'the coinbase claims the fee')
    assert.deepEqual(await chain.utxoStats(), await chain.rebuildUtxoFromBlocks())
  })

  it('stores the given bytes, or its own encoding when they do not match the block', async () => {
    const block = tc.mine()
    const other = encodeBlock(tc.blocks[1] as Block)
    assert.equal(await chain.addBlock(block, { bytes: other }), 'connected')
    assert.ok(bytesEqual(await chain.getBlockBytes(hashOf(block)) ?? new Uint8Array(), encodeBlock(block)))
    assert.deepEqual(await chain.getBlock(hashOf(block)), block)
  })

  it('connects a block whose transactions spend each other', async () => {
    const a = spendTx([{ prevout: { txid: txid(spend), index: 0 }, coin: { amount: 3n * 10n ** 8n, script: alice.script, height: 11, coinbase: false }, key: alice }],
      [{ amount: 2n * 10n ** 8n, script: bob.script }, { amount: 10n ** 8n - 500n, script: alice.script }])
    const b = spendTx([{ prevout: { txid: txid(a), index: 0 }, coin: { amount: 2n * 10n ** 8n, script: bob.script, height: 12, coinbase: false }, key: bob }],
      [{ amount: 2n * 10n ** 8n - 500n, script: alice.script }])
    assert.equal(await chain.addBlock(tc.mine([a, b])), 'connected')
    assert.equal(await chain.getCoin({ txid: txid(a), index: 0 }), undefined, 'created and spent in the block')
    assert.equal((await chain.getCoin({ txid: txid(a), index: 1 }))?.amount, 10n ** 8n - 500n)
    assert.equal((await chain.getCoin({ txid: txid(b), index: 0 }))?.amount, 2n * 10n ** 8n - 500n)
    assert.deepEqual(await chain.utxoStats(), await chain.rebuildUtxoFromBlocks())
  })

  it('rejects a double spend across blocks; tip unchanged', async () => {
    const again = spendTx([tc.coinbaseCoin(1)], [{ amount: 10n ** 8n, script: alice.script }])
    const block = tc.makeBlock([again])
    const tip = chain.tip
    const before = await chain.utxoStats()
    await rejectsWith(chain.addBlock(block), 'bad-txns-inputs-missingorspent')
    assert.equal(chain.tip, tip)
    assert.equal((await chain.getEntry(hashOf(block)))?.status, 'invalid')
    assert.equal(await chain.getBlockBytes(hashOf(block)), undefined, 'an invalid block is not kept')
    assert.deepEqual(await chain.utxoStats(), before)
    await rejectsWith(chain.addBlock(block), 'duplicate-invalid', 100)
  })

  it('rejects a block spending a missing input', async () => {
    const ghost: Spendable = { prevout: { txid: new Uint8Array(32).fill(7), index: 0 }, coin: { amount: 10n ** 8n, script: alice.script, height: 1, coinbase: false }, key: alice }
    const block = tc.makeBlock([spendTx([ghost], [{ amount: 10n ** 7n, script: bob.script }])])
    const tip = chain.tip
    await rejectsWith(chain.addBlock(block), 'bad-txns-inputs-missingorspent')
    assert.equal(chain.tip, tip)
  })

  it('rejects a premature spend of a coinbase', async () => {
    const young = tc.coinbaseCoin(tc.height - params.coinbaseMaturity + 2)
    const block = tc.makeBlock([spendTx([young], [{ amount: 10n ** 7n, script: bob.script }])])
    await rejectsWith(chain.addBlock(block), 'bad-txns-premature-spend-of-coinbase', 100)
  })

  it('rejects a bad signature: not stored as valid, tip unchanged, a child is bad-prevblk', async () => {
    const good = spendTx([tc.coinbaseCoin(2)], [{ amount: 10n ** 8n, script: alice.script }])
    const block = tc.makeBlock([badSig(good)])
    const tip = chain.tip
    const before = await chain.utxoStats()
    await rejectsWith(chain.addBlock(block), 'bad-txns-signature', 100)
    assert.equal(chain.tip, tip)
    assert.equal((await chain.getEntry(hashOf(block)))?.status, 'invalid')
    assert.deepEqual(await chain.utxoStats(), before)
    await rejectsWith(chain.addBlock(block), 'duplicate-invalid')
    const fake = new TestChain(params)
    for (const b of tc.blocks.slice(1)) fake.connect(b)
    fake.blocks.push(block)
    await rejectsWith(chain.addBlock(fake.makeBlock()), 'bad-prevblk', 100)
    // The honest version of the block still connects.
    assert.equal(await chain.addBlock(tc.mine([good])), 'connected')
  })

  it('does not remember a malleated block as invalid', async () => {
    const tx = spendTx([tc.coinbaseCoin(3)], [{ amount: 10n ** 8n, script: alice.script }])
    const block = tc.makeBlock([tx])
    // Same header, witness changed in transit: the commitment no longer matches.
    const mangled: Block = { header: block.header, txs: [block.txs[0] as Transaction, badSig(tx)] }
    await rejectsWith(chain.addBlock(mangled), 'bad-witness-merkle-match')
    // A witness broken into a wrong shape is caught by the commitment first: malleated too.
    const short: Transaction = { ...tx, inputs: tx.inputs.map(i => ({ ...i, witness: [new Uint8Array(63)] })) }
    await rejectsWith(chain.addBlock({ header: block.header, txs: [block.txs[0] as Transaction, short] }), 'bad-witness-merkle-match')
    tc.connect(block)
    assert.equal(await chain.addBlock(block), 'connected')
  })

  it('rejects context-free and header-context failures before storing', async () => {
    const late = tc.makeBlock([], { time: 2_000_000_000 + params.maxFutureBlockTime + 1 })
    await rejectsWith(chain.addBlock(late), 'time-too-new', 0)
    assert.equal(await chain.getEntry(hashOf(late)), undefined)
    const old = tc.makeBlock([], { time: chain.tip.medianTimePast })
    await rejectsWith(chain.addBlock(old), 'time-too-old', 100)
    const weak = tc.makeBlock()
    while (checkProofOfWork(hashOf(weak), weak.header.bits, params.powLimit)) weak.header.nonce++
    await rejectsWith(chain.addBlock(weak), 'high-hash', 100)
    await rejectsWith(chain.addBlock(weak), 'duplicate-invalid', 100)
  })

  it('keeps tip, UTXO set and tx index across close and open', async () => {
    const tipHash = chain.tip.hash
    const stats = await chain.utxoStats()
    chain = await t.reopen()
    assert.ok(bytesEqual(chain.tip.hash, tipHash))
    assert.deepEqual(await chain.utxoStats(), stats)
    assert.equal((await chain.getTx(txid(spend)))?.height, 11)
    assert.equal(chain.tip.medianTimePast, tc.mtpAt(tc.height))
    assert.equal(await chain.addBlock(tc.mine()), 'connected')
    assert.deepEqual(await chain.utxoStats(), await chain.rebuildUtxoFromBlocks())
  })

  it('gives locators, headers after a locator, and the next block context', async () => {
    tc.mineEmpty(20)
    await addAll(chain, tc.blocks.slice(chain.tip.height + 1))
    const locator = await chain.getLocator()
    const h = chain.tip.height
    const heights = await Promise.all(locator.map(async x => (await chain.getEntry(x))?.height))
    assert.deepEqual(heights.slice(0, 11), [h, h - 1, h - 2, h - 3, h - 4, h - 5, h - 6, h - 7, h - 8, h - 9, h - 11])
    assert.equal(heights[heights.length - 1], 0)
    const headers = await chain.findHeaders([hashOf(tc.blocks[30] as Block), hashOf(tc.blocks[5] as Block)], undefined, 3)
    assert.deepEqual(headers, tc.blocks.slice(31, 34).map(b => b.header))
    const toStop = await chain.findHeaders([new Uint8Array(32)], hashOf(tc.blocks[2] as Block))
    assert.deepEqual(toStop, [tc.blocks[1]?.header, tc.blocks[2]?.header])
    const ctx = chain.nextBlockContext()
    assert.equal(ctx.height, h + 1)
    assert.ok(bytesEqual(ctx.prevHash, chain.tip.hash))
    assert.equal(ctx.bits, params.powLimitBits)
    assert.equal(ctx.minTime, tc.mtpAt(h) + 1)
    assert.equal((await chain.getEntryByHeight(5))?.hash.length, 32)
    assert.ok(bytesEqual((await chain.getEntryByHeight(5))?.hash ?? new Uint8Array(), hashOf(tc.blocks[5] as Block)))
  })
})
