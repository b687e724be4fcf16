/**
 * Context-free header and block rules: Bitcoin Core's CheckBlockHeader and CheckBlock
 * (src/validation.cpp), plus the BIP141 witness commitment and the weight limit, which in
 * Cash hold from genesis and so need no context.
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
import { checkTx } from './check-tx.ts'
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
 * ({@link checkHeader}), `bad-blk-weight`, the merkle root (`bad-txnmrklroot`) and
 * CVE-2012-2459 (`bad-txns-duplicate`), the coinbase first and only first (`bad-cb-missing`,
 * `bad-cb-multiple`), every transaction ({@link checkTransaction}'s reasons, here of kind
 * 'block'), and the BIP141 witness commitment (`bad-witness-nonce-size`,
 * `bad-witness-merkle-match`, or `unexpected-witness` without a commitment). The merkle and
 * witness reasons are `malleated`: the header may still name a valid block.
 *
 * @returns the txids, in block order, for {@link applyBlock} to reuse
 * @throws VerifyError of kind 'header' (proof of work) or 'block'
 */
export function checkBlock (block: Block, params: ChainParams): Uint8Array[] {
  checkHeader(block.header, params)
  const fail = (reason: string, message?: string, malleated = false): never => {
    throw new VerifyError('block', reason, 100, message, { malleated })
  }
  const { txs } = block
  // Without witnesses a block cannot be malleated: bound its size first (Core's bad-blk-length).
  const stripped = blockSize(block, { witness: false }) * WITNESS_SCALE_FACTOR
  if (stripped > params.maxBlockWeight) fail('bad-blk-length', `stripped size × 4 = ${stripped}`)

  const txids = txs.map(txid)
  const merkle = merkleRoot(txids)
  if (!bytesEqual(merkle.root, block.header.merkleRoot)) fail('bad-txnmrklroot', 'merkle root mismatch', true)
  // CVE-2012-2459: a duplicated tail gives the same root as the honest block it mimics.
  if (merkle.mutated) fail('bad-txns-duplicate', 'duplicate transaction (mutated merkle tree)', true)

  if (txs.length === 0 || !isCoinbase(txs[0] as Block['txs'][number])) fail('bad-cb-missing', 'first tx is not a coinbase')
  for (let i = 1; i < txs.length; i++) {
    if (isCoinbase(txs[i] as Block['txs'][number])) fail('bad-cb-multiple', `tx ${i} is a second coinbase`)
  }

  // The witness commitment before anything that reads witnesses: a block whose witnesses were
  // tampered with in transit must fail as malleated, never as invalid (its hash stays usable).
  checkWitnessCommitment(block)
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
