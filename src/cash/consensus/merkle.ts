/**
 * Merkle roots as Bitcoin computes them, and the BIP141 witness commitment.
 *
 * `merkleRoot` follows Bitcoin Core's ComputeMerkleRoot (consensus/merkle.cpp): pair hashes
 * level by level with sha256d(left || right), duplicating the last hash of an odd level. That
 * duplication lets two different transaction lists share a root ([a, b, c] and [a, b, c, c]),
 * CVE-2012-2459; `mutated` reports the telltale identical adjacent pair so a block can be
 * rejected as mutated instead of marked invalid for good.
 */
import { bytesEqual, HASH_SIZE, sha256d } from '../primitives/hash.ts'
import type { Block } from '../primitives/block.ts'
import type { Transaction } from '../primitives/tx.ts'
import { txid, wtxid } from '../primitives/tx.ts'

/** The root, and whether some level paired two identical hashes (CVE-2012-2459). */
export interface MerkleResult {
  root: Uint8Array
  mutated: boolean
}

/** Script prefix of a witness commitment output: OP_RETURN, push 36, then 0xaa21a9ed (BIP141). */
export const WITNESS_COMMITMENT_HEADER = Uint8Array.of(0x6a, 0x24, 0xaa, 0x21, 0xa9, 0xed)
/** Bitcoin Core's MINIMUM_WITNESS_COMMITMENT: header (6) + commitment (32). */
export const MINIMUM_WITNESS_COMMITMENT = 38

/**
 * Merkle root of `hashes` (internal byte order), exactly as Bitcoin Core's ComputeMerkleRoot:
 * an empty list gives 32 zero bytes, a single hash is its own root.
 */
export function merkleRoot (hashes: readonly Uint8Array[]): MerkleResult {
  let level = hashes.slice()
  let mutated = false
  const pair = new Uint8Array(2 * HASH_SIZE)
  while (level.length > 1) {
    // Core checks pairs before duplicating, so an odd level's self-paired last hash is not a mutation.
    for (let i = 0; i + 1 < level.length; i += 2) {
      if (bytesEqual(level[i] as Uint8Array, level[i + 1] as Uint8Array)) mutated = true
    }
    if (level.length % 2 === 1) level.push(level[level.length - 1] as Uint8Array)
    const next: Uint8Array[] = []
    for (let i = 0; i < level.length; i += 2) {
      pair.set(level[i] as Uint8Array, 0)
      pair.set(level[i + 1] as Uint8Array, HASH_SIZE)
      next.push(sha256d(pair))
    }
    level = next
  }
  return { root: level[0] ?? new Uint8Array(HASH_SIZE), mutated }
}

/** The block's merkle root over its txids (what the header commits to), with the mutation flag. */
export function blockMerkleRoot (block: Block): MerkleResult {
  return merkleRoot(block.txs.map(txid))
}

/** BIP141 witness root: merkle root of the wtxids with the coinbase's replaced by 32 zero bytes. */
export function witnessMerkleRoot (block: Block): MerkleResult {
  return merkleRoot(block.txs.map((tx, i) => i === 0 ? new Uint8Array(HASH_SIZE) : wtxid(tx)))
}

/** BIP141 commitment: sha256d(witness root || witness reserved value). */
export function witnessCommitment (witnessRoot: Uint8Array, reservedValue: Uint8Array): Uint8Array {
  if (witnessRoot.length !== HASH_SIZE) throw new RangeError(`witness root must be ${HASH_SIZE} bytes, got ${witnessRoot.length}`)
  if (reservedValue.length !== HASH_SIZE) throw new RangeError(`witness reserved value must be ${HASH_SIZE} bytes, got ${reservedValue.length}`)
  const buf = new Uint8Array(2 * HASH_SIZE)
  buf.set(witnessRoot, 0)
  buf.set(reservedValue, HASH_SIZE)
  return sha256d(buf)
}

/** The output script carrying `commitment`: the 6-byte header then the 32 bytes (38 in all). */
export function witnessCommitmentScript (commitment: Uint8Array): Uint8Array {
  if (commitment.length !== HASH_SIZE) throw new RangeError(`commitment must be ${HASH_SIZE} bytes, got ${commitment.length}`)
  const script = new Uint8Array(MINIMUM_WITNESS_COMMITMENT)
  script.set(WITNESS_COMMITMENT_HEADER, 0)
  script.set(commitment, WITNESS_COMMITMENT_HEADER.length)
  return script
}

/**
 * Index of the coinbase output holding the witness commitment, or -1: the LAST output whose
 * script is at least 38 bytes and starts with 0x6a24aa21a9ed (Core's GetWitnessCommitmentIndex).
 */
export function witnessCommitmentIndex (coinbase: Transaction): number {
  let found = -1
  coinbase.outputs.forEach((output, i) => {
    const script = output.script
    if (script.length >= MINIMUM_WITNESS_COMMITMENT && WITNESS_COMMITMENT_HEADER.every((b, j) => script[j] === b)) found = i
  })
  return found
}

/** The 32-byte commitment from the coinbase's commitment output, or undefined when there is none. */
export function findWitnessCommitment (coinbase: Transaction): Uint8Array | undefined {
  const index = witnessCommitmentIndex(coinbase)
  if (index < 0) return undefined
  const script = (coinbase.outputs[index] as Transaction['outputs'][number]).script
  return Uint8Array.from(script.subarray(WITNESS_COMMITMENT_HEADER.length, MINIMUM_WITNESS_COMMITMENT))
}
