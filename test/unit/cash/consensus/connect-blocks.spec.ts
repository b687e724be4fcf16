/**
 * Valid chains through the whole pipeline (checkBlock, checkHeaderContext, checkBlockContext,
 * applyBlock, signature verification) on regtest from genesis: a matured coinbase spent,
 * spend chains inside one block, BIP68 relative locks and BIP113 lock times at their exact
 * boundaries; and a block of thousands of payments (its speed is `npm run bench:cash` (b)).
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { checkBlock } from '../../../../src/cash/consensus/check-block.ts'
import { MapCoinView } from '../../../../src/cash/consensus/coins.ts'
import { SEQUENCE_LOCKTIME_TYPE_FLAG } from '../../../../src/cash/consensus/context.ts'
import { applyBlock } from '../../../../src/cash/consensus/inputs.ts'
import { chainParams } from '../../../../src/cash/consensus/params.ts'
import { assembleBlock } from '../../../../src/cash/miner/template.ts'
import { bytesEqual } from '../../../../src/cash/primitives/hash.ts'
import { headerHash } from '../../../../src/cash/primitives/header.ts'
import type { Transaction } from '../../../../src/cash/primitives/tx.ts'
import { assertVerifyError, buildChain, outputOf, spendTx, TestChain, testKey } from '../../../utils/cash.ts'

const params = chainParams('regtest')
const alice = testKey(1) // TestChain's default payout key
const bob = testKey(2)
const carol = testKey(3)

describe('a chain from genesis', () => {
  it('buildChain: n linked blocks with rising times that a fresh chain accepts', () => {
    const blocks = buildChain(params, 5, bob.script)
    assert.equal(blocks.length, 5)
    const chain = new TestChain(params)
    for (const block of blocks) {
      assert.ok(bytesEqual(block.header.prevHash, headerHash(chain.tip.header)))
      assert.ok(block.header.time > chain.mtpAt(chain.height))
      chain.connect(block)
    }
    assert.equal(chain.height, 5)
    assert.equal(chain.view.coins.size, 5, 'one coinbase coin per block, none from genesis')
  })

  it('spends a coinbase exactly when mature, then refuses to spend it again', () => {
    const chain = new TestChain(params)
    chain.mineEmpty(params.coinbaseMaturity - 1)
    const spend = spendTx([chain.coinbaseCoin(1)], [{ amount: 1_000_000n, script: bob.script }])
    // the next block has height maturity: one short
    assertVerifyError(() => chain.connect(chain.makeBlock([spend])), 'bad-txns-premature-spend-of-coinbase', 100)
    chain.mine()
    const applied = chain.connect(chain.makeBlock([spend]))
    assert.equal(applied.spent[1]![0]!.coinbase, true)
    assert.equal(chain.view.getCoin(chain.coinbaseCoin(1).prevout), undefined)
    assert.equal(chain.view.getCoin({ txid: outputOf(spend, 0, 0, bob).prevout.txid, index: 0 })?.amount, 1_000_000n)
    const again = spendTx([chain.coinbaseCoin(1)], [{ amount: 1n, script: bob.script }])
    assertVerifyError(() => chain.connect(chain.makeBlock([again])), 'bad-txns-inputs-missingorspent', 100)
  })

  it('connects a block of spend chains and merges (parents before children, several inputs)', () => {
    const chain = new TestChain(params)
    chain.mineEmpty(params.coinbaseMaturity + 2)
    const a = spendTx([chain.coinbaseCoin(1)], [{ amount: 100_000n, script: bob.script }, { amount: 200_000n, script: carol.script }])
    const b = spendTx([outputOf(a, 0, chain.height + 1, bob)], [{ amount: 90_000n, script: carol.script }])
    const c = spendTx([outputOf(a, 1, chain.height + 1, carol), outputOf(b, 0, chain.height + 1, carol), chain.coinbaseCoin(2)],
      [{ amount: 50_000n, script: alice.script }, { amount: 0n, script: Uint8Array.of(0x6a, 0x02, 0xca, 0x5e) }])
    const block = chain.makeBlock([a, b, c])
    const applied = chain.connect(block)
    const cbValue = chain.coinbaseCoin(2).coin.amount
    assert.equal(applied.fees, chain.coinbaseCoin(1).coin.amount - 300_000n + 10_000n + 290_000n + cbValue - 50_000n)
    assert.equal(applied.sigChecks.length, 5)
    // unspent at the end: the new coinbase and c's payment (c's OP_RETURN is not a coin)
    assert.equal(applied.created.length, 2)
  })
})

describe('lock times on a chain', () => {
  it('BIP68 height lock: a coin from block h with sequence 3 is spendable from block h + 3', () => {
    const chain = new TestChain(params)
    chain.mineEmpty(params.coinbaseMaturity)
    const fund = spendTx([chain.coinbaseCoin(1)], [{ amount: 1_000_000n, script: bob.script }])
    chain.mine([fund])
    const h = chain.height
    const locked = spendTx([outputOf(fund, 0, h, bob)], [{ amount: 900_000n, script: carol.script }], { sequences: [3] })
    chain.mine()
    assertVerifyError(() => chain.connect(chain.makeBlock([locked])), 'non-BIP68-final', 100) // block h + 2
    chain.mine()
    chain.mine([locked]) // block h + 3
  })

  it('BIP68 time lock: unlocks once the parent\'s MTP reaches MTP(h - 1) + 512 s', () => {
    const chain = new TestChain(params)
    chain.mineEmpty(params.coinbaseMaturity)
    const fund = spendTx([chain.coinbaseCoin(1)], [{ amount: 1_000_000n, script: bob.script }])
    chain.mine([fund])
    const h = chain.height
    const locked = spendTx([outputOf(fund, 0, h, bob)], [{ amount: 900_000n, script: carol.script }], { sequences: [SEQUENCE_LOCKTIME_TYPE_FLAG | 1] })
    const unlock = chain.mtpAt(h - 1) + 512
    let refused = 0
    while (chain.mtpAt(chain.height) < unlock) {
      assertVerifyError(() => chain.connect(chain.makeBlock([locked])), 'non-BIP68-final', 100)
      refused++
      chain.mine()
    }
    assert.ok(refused >= 8, `${refused} blocks refused`)
    chain.mine([locked])
  })

  it('BIP113 lock time: a height lock below the block height and a time lock below the parent\'s MTP', () => {
    const chain = new TestChain(params)
    chain.mineEmpty(params.coinbaseMaturity + 1)
    const next = chain.height + 1
    const byHeight = (lockTime: number): Transaction => spendTx([chain.coinbaseCoin(1)], [{ amount: 1n, script: bob.script }], { lockTime, sequences: [0xfffffffe] })
    assertVerifyError(() => chain.connect(chain.makeBlock([byHeight(next)])), 'bad-txns-nonfinal', 100)
    chain.mine([byHeight(next - 1)])
    const mtp = chain.mtpAt(chain.height)
    const byTime = (lockTime: number): Transaction => spendTx([chain.coinbaseCoin(2)], [{ amount: 1n, script: bob.script }], { lockTime, sequences: [0xfffffffe] })
    assertVerifyError(() => chain.connect(chain.makeBlock([byTime(mtp)])), 'bad-txns-nonfinal', 100)
    chain.mine([byTime(mtp - 1)])
  })

  it('header time: time-too-old at the MTP, time-too-new past the clock (score 0)', () => {
    const chain = new TestChain(params)
    chain.mineEmpty(3)
    assertVerifyError(() => chain.connect(chain.makeBlock([], { time: chain.mtpAt(chain.height) })), 'time-too-old', 100, { kind: 'header' })
    const block = chain.makeBlock()
    assertVerifyError(() => chain.connect(block, block.header.time - params.maxFutureBlockTime - 1), 'time-too-new', 0, { kind: 'header' })
    chain.connect(block, block.header.time - params.maxFutureBlockTime)
  })
})

describe('a block of thousands of payments', () => {
  it('checkBlock + applyBlock handle 3000 one-input two-output payments', () => {
    const n = 3000
    const view = new MapCoinView()
    const txs: Transaction[] = []
    for (let i = 0; i < n; i++) {
      const prevout = { txid: Uint8Array.from({ length: 32 }, (_, j) => j < 4 ? (i >> (8 * j)) & 0xff : 7), index: 0 }
      view.add(prevout, { amount: 100_000n, script: alice.script, height: 1, coinbase: false })
      txs.push({
        version: 2,
        // applyBlock collects signature checks without verifying them, so a dummy signature does
        inputs: [{ prevout, scriptSig: new Uint8Array(0), sequence: 0xffffffff, witness: [new Uint8Array(64).fill(1)] }],
        outputs: [{ amount: 60_000n, script: bob.script }, { amount: 39_000n, script: alice.script }],
        lockTime: 0
      })
    }
    const block = assembleBlock({ prevHash: new Uint8Array(32), height: 50, time: 2e9, bits: params.powLimitBits, payoutScript: alice.script, txs, fees: BigInt(n) * 1_000n, params })
    const txids = checkBlock(block, params)
    const applied = applyBlock(block, 50, view, params, { prevMedianTimePast: 0, mtpAt: () => 0, txids })
    assert.equal(applied.sigChecks.length, n)
    assert.equal(applied.created.length, 2 * n + 1)
  })
})
