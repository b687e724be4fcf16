/**
 * A large block through the chain with the signature pool on two workers: 2,000 one-input
 * two-output payments (2,000 Schnorr signatures) connect, and one bad signature among them is
 * found. How fast is `npm run bench:cash` (b), printed as a ratio to one core's verifications.
 */
import assert from 'node:assert/strict'
import { before, describe, it } from 'node:test'
import { signSchnorr } from 'tiny-secp256k1'
import { chainParams } from '../../../../src/cash/consensus/params.ts'
import type { Block } from '../../../../src/cash/primitives/block.ts'
import { precomputeSighash, SIGHASH_DEFAULT, taprootSighash } from '../../../../src/cash/primitives/sighash.ts'
import type { Transaction } from '../../../../src/cash/primitives/tx.ts'
import { outputOf, sighashView, spendTx, testKey, TestChain } from '../../../utils/cash.ts'
import type { Spendable } from '../../../utils/cash.ts'
import { addAll, openTempChain, rejectsWith } from './chain-helpers.ts'
import type { TempChain } from './chain-helpers.ts'
import { teardown } from '../../../utils/teardown.ts'

const TXS = 2000
const params = chainParams('regtest')
const alice = testKey(2)
const bob = testKey(3)

/** spendTx for one input, signed with libsecp256k1 (WASM): the test helper's signer is much slower. */
function fastSpend (from: Spendable, outputs: Transaction['outputs']): Transaction {
  const tx: Transaction = {
    version: 2,
    inputs: [{ prevout: from.prevout, scriptSig: new Uint8Array(0), sequence: 0xffffffff, witness: [] }],
    outputs,
    lockTime: 0
  }
  const view = sighashView(tx)
  const msg = taprootSighash(view, 0, [from.coin], SIGHASH_DEFAULT, precomputeSighash(view, [from.coin]))
  ;(tx.inputs[0] as Transaction['inputs'][number]).witness = [signSchnorr(msg, from.key.secretKey, new Uint8Array(32))]
  return tx
}

describe('Chain: connecting a large block', () => {
  const td = teardown()
  let t: TempChain
  let big: Block
  let badBig: Block

  before(async () => {
    t = await openTempChain(params, { workers: 2 })
    td.add(t.cleanup, 'close the chain')
    const tc = new TestChain(params)
    tc.mineEmpty(params.coinbaseMaturity)
    const each = (params.initialSubsidy - 100_000n) / BigInt(TXS)
    const fan = spendTx([tc.coinbaseCoin(1)], Array.from({ length: TXS }, () => ({ amount: each, script: alice.script })))
    tc.mine([fan])
    await addAll(t.chain, tc.blocks.slice(1))
    const txs = Array.from({ length: TXS }, (_v, i) => fastSpend(outputOf(fan, i, tc.height, alice),
      [{ amount: each / 2n, script: bob.script }, { amount: each / 2n - 200n, script: alice.script }]))
    big = tc.makeBlock(txs)
    const corrupt = txs.slice()
    const victim = corrupt[TXS - 300] as Transaction
    const sig = Uint8Array.from(victim.inputs[0]?.witness[0] as Uint8Array)
    sig[1] = (sig[1] as number) ^ 0x80
    corrupt[TXS - 300] = { ...victim, inputs: [{ ...(victim.inputs[0] as Transaction['inputs'][number]), witness: [sig] }] }
    badBig = tc.makeBlock(corrupt)
  })

  it('finds one bad signature among thousands on the workers', async () => {
    const tip = t.chain.tip
    await rejectsWith(t.chain.addBlock(badBig), 'bad-txns-signature', 100)
    assert.equal(t.chain.tip, tip)
  })

  it(`connects ${TXS} one-input two-output transactions`, async () => {
    const before = (await t.chain.utxoStats()).count
    assert.equal(await t.chain.addBlock(big), 'connected')
    assert.equal((await t.chain.utxoStats()).count, before - TXS + 2 * TXS + 1)
  })
})
