/**
 * Context-free header and block rules: Bitcoin Core's CheckBlockHeader, IsBlockMutated and
 * CheckBlock (src/validation.cpp), plus the BIP141 witness commitment and the weight limit,
 * which in Cash hold from genesis and so need no context, and BIP54's ban on 64-byte
 * transactions.
 *
 * @example
 * ```ts
 * checkHeader(block.header, params)
 * const txids = checkBlock(block, params) // reuse them for applyBlock(…, { txids })
 * ```
 * @module
 */
import type { Block } from '../primitives/block.ts'
import { blockSize, blockWeight } from '../primitives/block.ts'
import { bytesEqual, HASH_SIZE } from '../primitives/hash.ts'
import { headerHash } from '../primitives/header.ts'
import type { BlockHeader } from '../primitives/header.ts'
import { hasWitness, isCoinbase, txid, WITNESS_SCALE_FACTOR } from '../primitives/tx.ts'
import type { TxInput } from '../primitives/tx.ts'
import { checkTx, FORBIDDEN_TX_SIZE, isForbiddenTxSize } from './check-tx.ts'
import { merkleRoot, witnessCommitment, witnessCommitmentIndex, witnessMerkleRoot, WITNESS_COMMITMENT_HEADER } from './merkle.ts'
import type { ChainParams } from './params.ts'
import { decodeCompact, hashToBigInt } from './pow.ts'
import { VerifyError } from './verify-error.ts'

/**
 * Proof of work (Core's CheckProofOfWork, split into two reasons): `bad-diffbits` when the
 * bits are negative, overflow, zero or easier than `powLimit`; `high-hash` when the header
 * hash exceeds the target. Both score 100.
 *
 * @param hash - the header's hash when the caller has it (computed otherwise)
 * @throws VerifyError of kind 'header'
 */
export function checkHeader (header: BlockHeader, params: ChainParams, hash: Uint8Array = headerHash(header)): void {
  const { target, negative, overflow } = decodeCompact(header.bits)
  if (negative || overflow || target === 0n || target > params.powLimit) {
    throw new VerifyError('header', 'bad-diffbits', 100, `bits 0x${header.bits.toString(16)} are not a valid target within powLimit`)
  }
  if (hashToBigInt(hash) > target) throw new VerifyError('header', 'high-hash', 100, 'proof of work does not meet the bits')
}

/**
 * Checks everything about a block that needs no chain: the header's proof of work
 * ({@link checkHeader}), then whether the transactions could be other than the ones the header
 * commits to ({@link checkBlockMutation}), then `bad-blk-length`, `bad-cb-multiple`,
 * `bad-blk-weight` and every transaction ({@link checkTransaction}'s reasons, here of kind
 * 'block').
 *
 * @returns the txids, in block order, for {@link applyBlock} to reuse
 * @throws VerifyError of kind 'header' (proof of work) or 'block'
 */
export function checkBlock (block: Block, params: ChainParams): Uint8Array[] {
  checkHeader(block.header, params)
  // Before any rule whose failure the chain remembers: a mutated block says nothing of its header.
  const txids = checkBlockMutation(block)
  const fail = (reason: string, message?: string): never => {
    throw new VerifyError('block', reason, 100, message)
  }
  const { txs } = block
  const stripped = blockSize(block, { witness: false }) * WITNESS_SCALE_FACTOR
  if (stripped > params.maxBlockWeight) fail('bad-blk-length', `stripped size × 4 = ${stripped}`)
  for (let i = 1; i < txs.length; i++) {
    if (isCoinbase(txs[i] as Block['txs'][number])) fail('bad-cb-multiple', `tx ${i} is a second coinbase`)
  }
  const weight = blockWeight(block)
  if (weight > params.maxBlockWeight) fail('bad-blk-weight', `weight ${weight}`)

  txs.forEach((tx, i) => {
    try {
      checkTx(tx, params, 'block')
    } catch (err) {
      if (err instanceof VerifyError) throw new VerifyError('block', err.reason, err.score, `tx ${i}`, { cause: err })
      throw err
    }
  })
  return txids
}

/**
 * Throws when the block's transactions may not be the ones its header commits to, as Bitcoin
 * Core's IsBlockMutated (validation.cpp) and more: `bad-txnmrklroot` (root mismatch),
 * `bad-txns-duplicate` (CVE-2012-2459, a repeated tail), `bad-txns-64byte` (a transaction of
 * 64 bytes without witnesses, which hashes like an inner merkle node: two real transactions'
 * txids side by side make one, BIP54), `bad-cb-missing` (no transactions or a first one that is
 * not a coinbase: a forgery's usual shape, and no valid block's), and the BIP141 witness
 * commitment (`bad-witness-nonce-size`, `bad-witness-merkle-match`, `unexpected-witness`). All
 * are `malleated`, score 100: the sender is to blame, but the header may still name a valid
 * block, so its hash must never be remembered as invalid.
 *
 * @returns the txids, in block order
 * @throws VerifyError of kind 'block', `malleated` true
 */
export function checkBlockMutation (block: Block): Uint8Array[] {
  const fail = (reason: string, message: string): never => {
    throw new VerifyError('block', reason, 100, message, { malleated: true })
  }
  const { txs } = block
  const txids = txs.map(txid)
  const merkle = merkleRoot(txids)
  if (!bytesEqual(merkle.root, block.header.merkleRoot)) fail('bad-txnmrklroot', 'merkle root mismatch')
  // CVE-2012-2459: a duplicated tail gives the same root as the honest block it mimics.
  if (merkle.mutated) fail('bad-txns-duplicate', 'duplicate transaction (mutated merkle tree)')
  // Core looks for these only when the coinbase is missing; BIP54 makes them invalid anywhere,
  // and a block holding one cannot be valid, so not remembering it costs nothing.
  const forged = txs.findIndex(isForbiddenTxSize)
  if (forged >= 0) fail('bad-txns-64byte', `tx ${forged} is ${FORBIDDEN_TX_SIZE} bytes without witnesses: it may be an inner merkle node`)
  if (txs.length === 0 || !isCoinbase(txs[0] as Block['txs'][number])) fail('bad-cb-missing', 'first tx is not a coinbase')
  // The witness commitment before anything that reads witnesses: a block whose witnesses were
  // tampered with in transit must fail as malleated, never as invalid (its hash stays usable).
  checkWitnessCommitment(block)
  return txids
}

/** BIP141 witness commitment, as Core's ContextualCheckBlock (witness always active here). */
function checkWitnessCommitment (block: Block): void {
  const coinbase = block.txs[0] as Block['txs'][number]
  const index = witnessCommitmentIndex(coinbase)
  if (index >= 0) {
    const witness = (coinbase.inputs[0] as TxInput).witness
    if (witness.length !== 1 || (witness[0] as Uint8Array).length !== HASH_SIZE) {
      throw new VerifyError('block', 'bad-witness-nonce-size', 100, 'coinbase witness is not one 32-byte reserved value', { malleated: true })
    }
    const script = (coinbase.outputs[index] as Block['txs'][number]['outputs'][number]).script
    const committed = script.subarray(WITNESS_COMMITMENT_HEADER.length, WITNESS_COMMITMENT_HEADER.length + HASH_SIZE)
    // Core ignores the witness tree's mutation flag: the txid tree already caught duplicates.
    const expected = witnessCommitment(witnessMerkleRoot(block).root, witness[0] as Uint8Array)
    if (!bytesEqual(committed, expected)) {
      throw new VerifyError('block', 'bad-witness-merkle-match', 100, 'witness commitment mismatch', { malleated: true })
    }
    return
  }
  block.txs.forEach((tx, i) => {
    if (hasWitness(tx)) throw new VerifyError('block', 'unexpected-witness', 100, `tx ${i} has a witness but the block no commitment`, { malleated: true })
  })
}
