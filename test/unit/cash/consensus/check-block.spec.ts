/**
 * checkHeader and checkBlock: one minimal invalid block per rejection reason with its exact
 * reason, score and malleated flag (CVE-2012-2459 mutated merkle trees, BIP141 witness
 * commitments), and acceptance of valid blocks.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { checkBlock, checkHeader } from '../../../../src/cash/consensus/check-block.ts'
import { merkleRoot, witnessCommitmentIndex } from '../../../../src/cash/consensus/merkle.ts'
import { chainParams } from '../../../../src/cash/consensus/params.ts'
import { checkProofOfWork } from '../../../../src/cash/consensus/pow.ts'
import { coinbaseTx } from '../../../../src/cash/miner/template.ts'
import { blockWeight } from '../../../../src/cash/primitives/block.ts'
import type { Block } from '../../../../src/cash/primitives/block.ts'
import { headerHash } from '../../../../src/cash/primitives/header.ts'
import { txid } from '../../../../src/cash/primitives/tx.ts'
import type { Transaction } from '../../../../src/cash/primitives/tx.ts'
import { assertVerifyError, regrind, spendTx, TestChain, testKey } from '../../../utils/cash.ts'

const params = chainParams('regtest')
const chain = new TestChain(params)
chain.mineEmpty(params.coinbaseMaturity + 2)
const payee = testKey(2)

const spend = (height: number): Transaction => spendTx([chain.coinbaseCoin(height)], [{ amount: 1_000n, script: payee.script }])
/** A valid block on the tip: coinbase with witness commitment, one payment. */
const base = (): Block => chain.makeBlock([spend(1)])
/** Recomputes the merkle root over the (edited) transactions and grinds again. */
const finish = (block: Block): Block => {
  block.header.merkleRoot = merkleRoot(block.txs.map(txid)).root
  return regrind(block, params)
}
const reject = (block: Block, reason: string, options: { malleated?: boolean, kind?: 'header' | 'block' } = {}, p = params): void => {
  assertVerifyError(() => checkBlock(block, p), reason, 100, { kind: options.kind ?? 'block', malleated: options.malleated ?? false })
}

describe('checkBlock accepts', () => {
  it('a block with payments and a witness commitment, and returns its txids', () => {
    const block = chain.makeBlock([spend(1), spend(2)])
    const txids = checkBlock(block, params)
    assert.deepEqual(txids, block.txs.map(txid))
  })

  it('a coinbase-only block without commitment', () => {
    const block = chain.makeBlock()
    assert.equal(witnessCommitmentIndex(block.txs[0]!), -1)
    checkBlock(block, params)
  })
})

describe('checkHeader / checkBlock reject', () => {
  it('high-hash: a hash above the target', () => {
    const block = base()
    while (checkProofOfWork(headerHash(block.header), block.header.bits, params.powLimit)) block.header.nonce++
    assertVerifyError(() => checkHeader(block.header, params), 'high-hash', 100, { kind: 'header' })
    reject(block, 'high-hash', { kind: 'header' })
  })

  it('bad-diffbits: bits easier than powLimit, negative, zero or overflowing', () => {
    for (const bits of [0x2100ffff, 0x1e8fffff, 0x00000000, 0xff123456]) {
      const block = base()
      block.header.bits = bits
      assertVerifyError(() => checkHeader(block.header, params), 'bad-diffbits', 100, { kind: 'header' })
    }
    // main: regtest's bits are above main's powLimit
    const header = { ...base().header, bits: 0x207fffff }
    assertVerifyError(() => checkHeader(header, chainParams('main')), 'bad-diffbits', 100, { kind: 'header' })
  })

  it('bad-blk-weight', () => {
    const block = base()
    reject(block, 'bad-blk-weight', {}, { ...params, maxBlockWeight: blockWeight(block) - 1 })
    checkBlock(block, { ...params, maxBlockWeight: blockWeight(block) })
  })

  it('bad-txnmrklroot (malleated)', () => {
    const block = base()
    block.header.merkleRoot = new Uint8Array(32).fill(1)
    regrind(block, params)
    reject(block, 'bad-txnmrklroot', { malleated: true })
  })

  it('bad-txns-duplicate: CVE-2012-2459, a repeated tail with the honest root (malleated)', () => {
    const block = chain.makeBlock([spend(1), spend(2)]) // 3 txs: the last pairs with itself
    const root = block.header.merkleRoot
    block.txs.push(block.txs[2]!)
    assert.deepEqual(merkleRoot(block.txs.map(txid)).root, root)
    reject(block, 'bad-txns-duplicate', { malleated: true })
  })

  it('bad-cb-missing: no transactions, or a first transaction that is not a coinbase (malleated)', () => {
    const empty = base()
    empty.txs = []
    reject(finish(empty), 'bad-cb-missing', { malleated: true })
    const noCoinbase = base()
    noCoinbase.txs = noCoinbase.txs.slice(1)
    reject(finish(noCoinbase), 'bad-cb-missing', { malleated: true })
  })

  it('bad-cb-multiple', () => {
    const block = chain.makeBlock()
    block.txs.push(coinbaseTx(99, payee.script, 0n))
    reject(finish(block), 'bad-cb-multiple')
  })

  it('a transaction rule broken inside a block is reported with kind block', () => {
    const tx = spend(1)
    tx.outputs[0]!.amount = params.maxMoney + 1n // (a negative amount has no serialization, so no txid)
    reject(chain.makeBlock([tx], { fees: 0n }), 'bad-txns-vout-toolarge')
    reject(finish(Object.assign(chain.makeBlock(), { txs: [coinbaseTx(13, Uint8Array.of(0x51), 0n)] })), 'bad-txns-output-script')
  })

  it('bad-witness-nonce-size: a commitment but no single 32-byte reserved value (malleated)', () => {
    for (const witness of [[], [new Uint8Array(33)], [new Uint8Array(32), new Uint8Array(32)]]) {
      const block = base()
      block.txs[0]!.inputs[0]!.witness = witness
      reject(block, 'bad-witness-nonce-size', { malleated: true })
    }
  })

  it('bad-witness-merkle-match: a witness changed after the commitment (malleated)', () => {
    const block = base()
    const sig = block.txs[1]!.inputs[0]!.witness[0]!
    sig[0] = sig[0]! ^ 1
    reject(block, 'bad-witness-merkle-match', { malleated: true })
    const other = base()
    other.txs[0]!.inputs[0]!.witness = [new Uint8Array(32).fill(9)] // another reserved value
    reject(other, 'bad-witness-merkle-match', { malleated: true })
  })

  it('unexpected-witness: witness data without a commitment (malleated)', () => {
    const block = base()
    const cb = block.txs[0]!
    cb.outputs = cb.outputs.slice(0, witnessCommitmentIndex(cb))
    cb.inputs[0]!.witness = []
    reject(finish(block), 'unexpected-witness', { malleated: true })
    const cbOnly = chain.makeBlock()
    cbOnly.txs[0]!.inputs[0]!.witness = [new Uint8Array(32)]
    reject(cbOnly, 'unexpected-witness', { malleated: true })
  })
})
