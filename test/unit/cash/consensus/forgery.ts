/**
 * The 64-byte transaction forgery (BIP54's "Merkle tree weaknesses"): an honest block of a
 * coinbase and one payment whose two txids, side by side, parse as a transaction of 64 bytes
 * (one input, no output). A block of that one "transaction" under the honest header has the
 * honest merkle root: sha256d(txid(coinbase) ‖ txid(payment)) is both.
 */
import assert from 'node:assert/strict'
import { merkleRoot } from '../../../../src/cash/consensus/merkle.ts'
import type { Block } from '../../../../src/cash/primitives/block.ts'
import { bytesEqual, sha256d } from '../../../../src/cash/primitives/hash.ts'
import { SIGHASH_NONE } from '../../../../src/cash/primitives/sighash.ts'
import { decodeTx, encodeTx, txid } from '../../../../src/cash/primitives/tx.ts'
import type { Transaction } from '../../../../src/cash/primitives/tx.ts'
import { regrind, spendTx } from '../../../utils/cash.ts'
import type { Spendable, TestChain, TestKey } from '../../../utils/cash.ts'

/** The honest block (not connected to `chain`) and its forgery. */
export interface Forgery {
  honest: Block
  forged: Block
}

/** Fee the payment leaves: the coinbase claims 0..FEE of it while its txid is ground. */
const FEE = 100_000n

/**
 * Builds the honest block on `chain`'s tip spending `coin` to `payee`, and its forgery. The
 * txids are ground so that txid(coinbase) ‖ txid(payment) reads as version, 1 input (the
 * coinbase txid's byte 4 is 0x01), a 13-byte scriptSig (payment txid byte 9 is 0x0d), no
 * output (its byte 27 is 0x00) and a lock time: 2^16 hashes for the payment (signed with
 * SIGHASH_NONE, so its OP_RETURN nonce varies without signing again), ~2^8 coinbases.
 */
export function forge64 (chain: TestChain, coin: Spendable, payee: TestKey): Forgery {
  const nonceScript = new Uint8Array(10)
  nonceScript[0] = 0x6a // OP_RETURN
  nonceScript[1] = 8 // push 8 bytes: the nonce
  let payment = spendTx([coin], [
    { amount: coin.coin.amount - FEE, script: payee.script },
    { amount: 0n, script: nonceScript }
  ], { hashType: SIGHASH_NONE })
  const stripped = encodeTx(payment, { witness: false })
  const at = stripped.length - 4 - 8 // the nonce: before the lock time, at the end of the last output
  const view = new DataView(stripped.buffer, stripped.byteOffset)
  let found = false
  for (let n = 0; n < 0x1000000 && !found; n++) {
    view.setUint32(at, n, true)
    const id = sha256d(stripped)
    found = id[9] === 0x0d && id[27] === 0x00
  }
  assert.ok(found, 'no payment nonce found')
  payment = decodeTx(encodeTx({ ...payment, outputs: [payment.outputs[0]!, { amount: 0n, script: stripped.slice(at - 2, at + 8) }] }, { witness: true }))
  assert.equal(txid(payment)[9], 0x0d)

  for (let fees = 0n; fees <= FEE; fees++) {
    const honest = chain.makeBlock([payment], { fees, grind: false })
    const cbid = txid(honest.txs[0] as Transaction)
    if (cbid[4] !== 0x01) continue
    regrind(honest, chain.params)
    const bytes = new Uint8Array(64)
    bytes.set(cbid, 0)
    bytes.set(txid(payment), 32)
    const fake = decodeTx(bytes)
    const forged: Block = { header: { ...honest.header }, txs: [fake] }
    assert.ok(bytesEqual(merkleRoot(forged.txs.map(txid)).root, honest.header.merkleRoot), 'the forgery has the honest root')
    return { honest, forged }
  }
  throw new Error('no coinbase found')
}
