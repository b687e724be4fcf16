/**
 * Mutated blocks (Bitcoin Core's IsBlockMutated, BIP54): every way a block's transactions can
 * differ from the ones its header commits to is refused as `malleated`, before any rule whose
 * failure the chain remembers, so the honest block under the same header still connects. The
 * 64-byte transaction forgery is run against a real Chain on LevelDB.
 */
import assert from 'node:assert/strict'
import { before, describe, it } from 'node:test'
import type { Chain } from '../../../../src/cash/chain/index.ts'
import { checkBlock, checkBlockMutation } from '../../../../src/cash/consensus/check-block.ts'
import { checkTransaction, FORBIDDEN_TX_SIZE } from '../../../../src/cash/consensus/check-tx.ts'
import { merkleRoot, witnessCommitmentIndex } from '../../../../src/cash/consensus/merkle.ts'
import { chainParams } from '../../../../src/cash/consensus/params.ts'
import type { Block } from '../../../../src/cash/primitives/block.ts'
import { blockSize } from '../../../../src/cash/primitives/block.ts'
import { txid, txSize } from '../../../../src/cash/primitives/tx.ts'
import type { Transaction } from '../../../../src/cash/primitives/tx.ts'
import { assertVerifyError, regrind, spendTx, TestChain, testKey } from '../../../utils/cash.ts'
import { hashOf, openTempChain, rejectsWith } from '../chain/chain-helpers.ts'
import type { TempChain } from '../chain/chain-helpers.ts'
import { forge64 } from './forgery.ts'
import { teardown } from '../../../utils/teardown.ts'

const params = chainParams('regtest')
const payee = testKey(2)

/** Recomputes the merkle root over the (edited) transactions and grinds again. */
const finish = (block: Block): Block => {
  block.header.merkleRoot = merkleRoot(block.txs.map(txid)).root
  return regrind(block, params)
}
const mutated = (block: Block, reason: string, p = params): void => {
  assertVerifyError(() => checkBlock(block, p), reason, 100, { kind: 'block', malleated: true })
}

/** A payment of 64 bytes without witnesses: one input, one 4-byte OP_RETURN output of 0. */
function tx64 (chain: TestChain, height: number): Transaction {
  const tx = spendTx([chain.coinbaseCoin(height)], [{ amount: 0n, script: Uint8Array.of(0x6a, 0x02, 0xbe, 0xef) }])
  assert.equal(txSize(tx, { witness: false }), FORBIDDEN_TX_SIZE)
  return tx
}

describe('block mutation (IsBlockMutated, BIP54)', () => {
  const tc = new TestChain(params)
  tc.mineEmpty(params.coinbaseMaturity + 4)
  const spend = (height: number): Transaction => spendTx([tc.coinbaseCoin(height)], [{ amount: 1_000n, script: payee.script }])

  it('the 64-byte forgery: the honest header over txid(coinbase) ‖ txid(tx1) as one transaction', () => {
    const { honest, forged } = forge64(tc, tc.coinbaseCoin(1), payee)
    assert.deepEqual(forged.header, honest.header)
    assert.equal(forged.txs.length, 1)
    assert.equal(forged.txs[0]!.inputs.length, 1)
    assert.equal(forged.txs[0]!.outputs.length, 0)
    mutated(forged, 'bad-txns-64byte')
    assert.equal(checkBlock(honest, params).length, 2)
  })

  it('a 64-byte transaction after the coinbase is a mutation too, and invalid on its own (bad-txns-64byte)', () => {
    const tx = tx64(tc, 2)
    assertVerifyError(() => checkTransaction(tx, params), 'bad-txns-64byte', 100, { kind: 'tx' })
    mutated(tc.makeBlock([tx], { fees: 0n }), 'bad-txns-64byte')
    mutated(tc.makeBlock([spend(3), tx], { fees: 0n }), 'bad-txns-64byte')
  })

  it('a first transaction that is not a coinbase, or none at all (bad-cb-missing)', () => {
    const block = tc.makeBlock([spend(1)])
    block.txs = block.txs.slice(1)
    mutated(finish(block), 'bad-cb-missing')
    const empty = tc.makeBlock()
    empty.txs = []
    mutated(finish(empty), 'bad-cb-missing')
  })

  it('a duplicated tail (CVE-2012-2459) and a root mismatch', () => {
    const block = tc.makeBlock([spend(1), spend(2)])
    block.txs.push(block.txs[2]!)
    mutated(block, 'bad-txns-duplicate')
    const other = tc.makeBlock([spend(1)])
    other.txs.push(spend(2))
    mutated(other, 'bad-txnmrklroot')
  })

  it('witnesses that do not match the commitment, or with no commitment', () => {
    const block = tc.makeBlock([spend(1)])
    const sig = block.txs[1]!.inputs[0]!.witness[0]!
    sig[3] = sig[3]! ^ 1
    mutated(block, 'bad-witness-merkle-match')
    const bare = tc.makeBlock([spend(1)])
    const cb = bare.txs[0]!
    cb.outputs = cb.outputs.slice(0, witnessCommitmentIndex(cb))
    cb.inputs[0]!.witness = []
    mutated(finish(bare), 'unexpected-witness')
    const nonce = tc.makeBlock([spend(1)])
    nonce.txs[0]!.inputs[0]!.witness = []
    mutated(nonce, 'bad-witness-nonce-size')
  })

  it('is detected before the size, weight and transaction rules', () => {
    // Too long and duplicated: the duplication names the block's real fault.
    const block = tc.makeBlock([spend(1), spend(2)])
    block.txs.push(block.txs[2]!)
    const small = { ...params, maxBlockWeight: blockSize(block, { witness: false }) * 4 - 4 }
    mutated(block, 'bad-txns-duplicate', small)
    // A second coinbase in a forgery: reported as the forgery.
    const forged = tc.makeBlock([spend(1), tx64(tc, 2)], { fees: 0n })
    forged.txs.push({ ...forged.txs[0]!, lockTime: 1 })
    mutated(finish(forged), 'bad-txns-64byte')
  })

  it('checkBlockMutation returns the txids of an honest block', () => {
    const block = tc.makeBlock([spend(1), spend(2)])
    assert.deepEqual(checkBlockMutation(block), block.txs.map(txid))
  })
})

describe('Chain: the 64-byte forgery does not poison the honest block', () => {
  const td = teardown()
  let t: TempChain
  let chain: Chain
  const tc = new TestChain(params)

  before(async () => {
    t = await openTempChain(params)
    td.add(t.cleanup, 'close the chain')
    chain = t.chain
    for (const block of tc.mineEmpty(params.coinbaseMaturity + 1)) assert.equal(await chain.addBlock(block), 'connected')
  })

  it('refuses the forgery as malleated, remembers nothing, then connects the honest block', async () => {
    const { honest, forged } = forge64(tc, tc.coinbaseCoin(1), payee)
    const tip = chain.tip
    for (let i = 0; i < 2; i++) {
      const err = await rejectsWith(chain.addBlock(forged), 'bad-txns-64byte', 100)
      assert.equal(err.malleated, true)
    }
    assert.equal(chain.tip, tip)
    assert.equal(chain.isKnownInvalid(hashOf(honest)), false)
    assert.equal(await chain.getEntry(honest.header.prevHash), tip)
    assert.equal(await chain.addBlock(honest), 'connected')
    assert.equal(chain.tip.height, tip.height + 1)
    assert.equal((await chain.getBlock(chain.tip.hash))?.txs.length, 2)
  })
})
