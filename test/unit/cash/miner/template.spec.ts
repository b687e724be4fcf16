/**
 * Block templates: the coinbase (BIP34 height, padding, extra nonce), assembled blocks that
 * pass checkBlock with and without a witness commitment, and the nonce search.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { checkBlock } from '../../../../src/cash/consensus/check-block.ts'
import { checkTransaction } from '../../../../src/cash/consensus/check-tx.ts'
import { checkBlockContext, coinbaseHeightScript } from '../../../../src/cash/consensus/context.ts'
import { genesisBlock } from '../../../../src/cash/consensus/genesis.ts'
import { findWitnessCommitment, merkleRoot } from '../../../../src/cash/consensus/merkle.ts'
import { chainParams } from '../../../../src/cash/consensus/params.ts'
import { checkProofOfWork } from '../../../../src/cash/consensus/pow.ts'
import { blockSubsidy } from '../../../../src/cash/consensus/subsidy.ts'
import { assembleBlock, coinbaseTx, grind, hashMeetsTarget, targetBytes } from '../../../../src/cash/miner/template.ts'
import { headerHash } from '../../../../src/cash/primitives/header.ts'
import { isCoinbase, txid } from '../../../../src/cash/primitives/tx.ts'
import { spendTx, testKey } from '../../../utils/cash.ts'

const regtest = chainParams('regtest')
const main = chainParams('main')
const key = testKey(1)

describe('coinbaseTx', () => {
  it('starts with the BIP34 height push, pads to 2 bytes, appends the extra nonce', () => {
    for (const height of [0, 1, 16, 17, 1000, 2_100_000]) {
      const cb = coinbaseTx(height, key.script, 5n)
      const scriptSig = cb.inputs[0]!.scriptSig
      assert.ok(isCoinbase(cb))
      assert.deepEqual(scriptSig.subarray(0, coinbaseHeightScript(height).length), coinbaseHeightScript(height))
      assert.ok(scriptSig.length >= 2)
      checkTransaction(cb, regtest)
    }
    const cb = coinbaseTx(300, key.script, 7n, Uint8Array.of(9, 9, 9))
    assert.deepEqual([...cb.inputs[0]!.scriptSig], [0x02, 0x2c, 0x01, 0x03, 9, 9, 9])
    assert.deepEqual(cb.outputs, [{ amount: 7n, script: key.script }])
    assert.throws(() => coinbaseTx(1, key.script, 0n, new Uint8Array(76)), RangeError)
  })
})

describe('assembleBlock', () => {
  const base = { prevHash: new Uint8Array(32).fill(3), height: 151, time: 1_800_000_000, bits: regtest.powLimitBits, payoutScript: key.script, fees: 0n, params: regtest }

  it('a coinbase-only block: subsidy, no commitment, merkle root of the coinbase, nonce 0', () => {
    const block = assembleBlock({ ...base, txs: [] })
    assert.equal(block.txs.length, 1)
    assert.equal(block.txs[0]!.outputs[0]!.amount, blockSubsidy(151, regtest))
    assert.equal(findWitnessCommitment(block.txs[0]!), undefined)
    assert.deepEqual(block.header.merkleRoot, txid(block.txs[0]!))
    assert.equal(block.header.nonce, 0)
    checkBlock({ ...block, header: { ...block.header, nonce: grind(block.header, regtest, 0, 100)! } }, regtest)
    checkBlockContext(block, 151, 0, regtest)
  })

  it('with witness transactions: reserved value, commitment, subsidy + fees; passes checkBlock', () => {
    const from = { prevout: { txid: new Uint8Array(32).fill(1), index: 0 }, coin: { amount: 5_000n, script: key.script, height: 1, coinbase: false }, key }
    const tx = spendTx([from], [{ amount: 4_000n, script: testKey(2).script }])
    const block = assembleBlock({ ...base, txs: [tx], fees: 1_000n })
    const cb = block.txs[0]!
    assert.deepEqual(cb.inputs[0]!.witness, [new Uint8Array(32)])
    assert.ok(findWitnessCommitment(cb))
    assert.equal(cb.outputs[0]!.amount, blockSubsidy(151, regtest) + 1_000n)
    assert.deepEqual(block.header.merkleRoot, merkleRoot(block.txs.map(txid)).root)
    block.header.nonce = grind(block.header, regtest, 0, 100)!
    checkBlock(block, regtest)
  })
})

describe('grind', () => {
  it('finds the genesis nonce of main from just below it, and agrees with checkProofOfWork', () => {
    const g = genesisBlock('main')
    const header = { ...g.header, nonce: 0 }
    assert.equal(grind(header, main, g.header.nonce - 1000, 2000), g.header.nonce)
    assert.equal(header.nonce, 0, 'the header is not modified')
    assert.ok(checkProofOfWork(headerHash(g.header), g.header.bits, main.powLimit))
  })

  it('returns undefined when no nonce in the range meets the target', () => {
    const g = genesisBlock('main')
    assert.equal(grind(g.header, main, g.header.nonce + 1, 50), undefined)
  })

  it('on regtest finds a nonce at once, and never runs past 0xffffffff', () => {
    const header = { ...genesisBlock('regtest').header }
    const nonce = grind(header, regtest, 0, 64)
    assert.ok(nonce !== undefined && checkProofOfWork(headerHash({ ...header, nonce }), header.bits, regtest.powLimit))
    const last = grind(header, regtest, 0xffffffff, 10)
    assert.ok(last === undefined || last === 0xffffffff)
  })

  it('refuses bits that are no valid target within powLimit', () => {
    const header = { ...genesisBlock('regtest').header, bits: 0x207fffff }
    assert.throws(() => grind(header, main, 0, 1), RangeError)
    assert.throws(() => targetBytes(0), RangeError)
  })

  it('hashMeetsTarget compares little-endian 256-bit numbers, equal included', () => {
    const t = targetBytes(0x1e0fffff)
    assert.ok(hashMeetsTarget(t, t))
    const above = t.slice()
    above[0] = 0xff // the target's low bytes are zero, so this is above it
    assert.ok(!hashMeetsTarget(above, t))
    assert.ok(hashMeetsTarget(new Uint8Array(32), t))
  })
})
