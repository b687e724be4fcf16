/**
 * Merkle roots exactly as Bitcoin Core's ComputeMerkleRoot (mainnet roots of genesis and block
 * 100000, from test/vectors/bitcoin-blocks.json), the CVE-2012-2459 mutation flag, and the
 * BIP141 witness root and commitment helpers.
 */
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { describe, it } from 'node:test'
import {
  blockMerkleRoot, findWitnessCommitment, merkleRoot, witnessCommitment, witnessCommitmentIndex, witnessCommitmentScript, witnessMerkleRoot
} from '../../../../src/cash/consensus/merkle.ts'
import { decodeBlock } from '../../../../src/cash/primitives/block.ts'
import type { Block } from '../../../../src/cash/primitives/block.ts'
import { hashToHex, hexToHash, sha256d } from '../../../../src/cash/primitives/hash.ts'
import { decodeTx, txid, wtxid } from '../../../../src/cash/primitives/tx.ts'
import type { Transaction } from '../../../../src/cash/primitives/tx.ts'

interface BlockVector { name: string, hex: string, header: { merkleRoot: string }, txids: string[] }
interface TxVector { name: string, hex: string, witnessCommitment?: string }
interface Vectors { blocks: BlockVector[], transactions: TxVector[] }
const vectors = JSON.parse(await readFile(new URL('../../../vectors/bitcoin-blocks.json', import.meta.url), 'utf8')) as Vectors

const fromHex = (hex: string): Uint8Array => new Uint8Array(Buffer.from(hex, 'hex'))
const toHex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex')
const h = (byte: number): Uint8Array => new Uint8Array(32).fill(byte)
const node = (left: Uint8Array, right: Uint8Array): Uint8Array => sha256d(new Uint8Array([...left, ...right]))

function txVector (name: string): TxVector {
  const v = vectors.transactions.find((t) => t.name.includes(name))
  assert.ok(v, name)
  return v
}

describe('merkle root (Core ComputeMerkleRoot)', () => {
  for (const v of vectors.blocks) {
    it(`${v.name}: root of the published txids is the header's merkle root`, () => {
      const { root, mutated } = merkleRoot(v.txids.map(hexToHash))
      assert.equal(hashToHex(root), v.header.merkleRoot)
      assert.equal(mutated, false)
      const block = decodeBlock(fromHex(v.hex))
      assert.equal(hashToHex(blockMerkleRoot(block).root), v.header.merkleRoot)
    })
  }

  it('empty list → 32 zero bytes; one hash is its own root', () => {
    assert.deepEqual(merkleRoot([]), { root: new Uint8Array(32), mutated: false })
    assert.deepEqual(merkleRoot([h(9)]), { root: h(9), mutated: false })
  })

  it('odd levels pair the last hash with itself', () => {
    const [a, b, c] = [h(1), h(2), h(3)]
    assert.deepEqual(merkleRoot([a, b, c]).root, node(node(a, b), node(c, c)))
    assert.deepEqual(merkleRoot([a, b, c, h(4), h(5)]).root, node(node(node(a, b), node(c, h(4))), node(node(h(5), h(5)), node(h(5), h(5)))))
  })

  it('CVE-2012-2459: [a, b, c, c] has the root of [a, b, c] and is flagged mutated', () => {
    const [a, b, c] = [h(1), h(2), h(3)]
    const honest = merkleRoot([a, b, c])
    const forged = merkleRoot([a, b, c, c])
    assert.deepEqual(forged.root, honest.root)
    assert.equal(honest.mutated, false)
    assert.equal(forged.mutated, true)
    // Identical pairs on a higher level count too: [a, b, a, b] pairs (ab, ab).
    assert.equal(merkleRoot([a, b, a, b]).mutated, true)
    assert.equal(merkleRoot([a, a]).mutated, true)
    assert.equal(merkleRoot([a, b, c, a]).mutated, false)
  })

  it('block 100000\'s first three transactions, then the third repeated: same root, mutated', () => {
    const v = vectors.blocks.find((b) => b.name === 'block 100000')
    assert.ok(v)
    const block = decodeBlock(fromHex(v.hex))
    const [t0, t1, t2] = block.txs as [Transaction, Transaction, Transaction]
    const honest = blockMerkleRoot({ header: block.header, txs: [t0, t1, t2] })
    const forged = blockMerkleRoot({ header: block.header, txs: [t0, t1, t2, t2] })
    assert.deepEqual(forged.root, honest.root)
    assert.deepEqual(honest.root, node(node(txid(t0), txid(t1)), node(txid(t2), txid(t2))))
    assert.equal(honest.mutated, false)
    assert.equal(forged.mutated, true)
  })
})

describe('BIP141 witness root and commitment', () => {
  const segwitTx = decodeTx(fromHex(txVector('P2WPKH').hex))
  const coinbase = decodeTx(fromHex(txVector('coinbase with witness commitment').hex))

  it('the witness root uses 32 zero bytes for the coinbase and wtxids for the rest', () => {
    const block: Block = { header: decodeBlock(fromHex(vectors.blocks[0]?.hex ?? '')).header, txs: [coinbase, segwitTx] }
    const { root, mutated } = witnessMerkleRoot(block)
    assert.deepEqual(root, node(new Uint8Array(32), wtxid(segwitTx)))
    assert.equal(mutated, false)
    // The txid root differs: it hashes the coinbase's txid and the stripped segwit tx.
    assert.deepEqual(blockMerkleRoot(block).root, node(txid(coinbase), txid(segwitTx)))
  })

  it('commitment = sha256d(witness root || reserved value)', () => {
    const root = h(0xab)
    const reserved = new Uint8Array(32)
    assert.deepEqual(witnessCommitment(root, reserved), sha256d(new Uint8Array([...root, ...reserved])))
    assert.throws(() => witnessCommitment(root, new Uint8Array(31)), RangeError)
  })

  it('finds the commitment in a published segwit coinbase', () => {
    assert.equal(witnessCommitmentIndex(coinbase), 1)
    assert.equal(toHex(findWitnessCommitment(coinbase) ?? new Uint8Array(0)), txVector('coinbase with witness commitment').witnessCommitment)
  })

  it('takes the LAST matching output, and ignores short or other scripts', () => {
    const c1 = h(1)
    const c2 = h(2)
    const tx: Transaction = {
      ...coinbase,
      outputs: [
        { amount: 0n, script: witnessCommitmentScript(c1) },
        { amount: 0n, script: witnessCommitmentScript(c2) },
        { amount: 0n, script: witnessCommitmentScript(h(3)).subarray(0, 37) }, // too short
        { amount: 0n, script: Uint8Array.of(0x6a, 0x24, 0xaa, 0x21, 0xa9, 0xee, ...h(4)) } // wrong tag
      ]
    }
    assert.equal(witnessCommitmentIndex(tx), 1)
    assert.deepEqual(findWitnessCommitment(tx), c2)
    // Extra bytes after the 38 still count (Core only requires size >= 38).
    tx.outputs.push({ amount: 0n, script: new Uint8Array([...witnessCommitmentScript(h(5)), 0x01]) })
    assert.deepEqual(findWitnessCommitment(tx), h(5))
    assert.equal(findWitnessCommitment({ ...tx, outputs: tx.outputs.slice(2, 4) }), undefined)
  })

  it('a coinbase built with the helpers commits to its block', () => {
    const reserved = new Uint8Array(32)
    const draft: Block = { header: decodeBlock(fromHex(vectors.blocks[0]?.hex ?? '')).header, txs: [coinbase, segwitTx] }
    const commitment = witnessCommitment(witnessMerkleRoot(draft).root, reserved)
    const withCommitment: Transaction = { ...coinbase, outputs: [coinbase.outputs[0] as Transaction['outputs'][number], { amount: 0n, script: witnessCommitmentScript(commitment) }] }
    const block: Block = { ...draft, txs: [withCommitment, segwitTx] }
    // Replacing the commitment output does not change the witness root (the coinbase counts as zero).
    assert.deepEqual(findWitnessCommitment(withCommitment), witnessCommitment(witnessMerkleRoot(block).root, reserved))
  })
})
