/**
 * Block codec against the genesis block and mainnet block 100000 (raw bytes, hashes and txids
 * from test/vectors/bitcoin-blocks.json, which names their sources), and its rejections.
 */
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { describe, it } from 'node:test'
import { DEFAULT_MAX_BLOCK_SIZE, MIN_TX_SIZE, blockSize, blockWeight, decodeBlock, encodeBlock } from '../../../../src/cash/primitives/block.ts'
import { DecodeError } from '../../../../src/cash/primitives/errors.ts'
import { hashToHex } from '../../../../src/cash/primitives/hash.ts'
import { headerHash } from '../../../../src/cash/primitives/header.ts'
import { decodeTx, encodeTx, isCoinbase, txid } from '../../../../src/cash/primitives/tx.ts'

interface BlockVector { name: string, hex: string, size: number, hash: string, txids: string[], prevouts?: string[] }
interface Vectors { blocks: BlockVector[], transactions: Array<{ name: string, hex: string }> }
const vectors = JSON.parse(await readFile(new URL('../../../vectors/bitcoin-blocks.json', import.meta.url), 'utf8')) as Vectors

const fromHex = (hex: string): Uint8Array => new Uint8Array(Buffer.from(hex, 'hex'))
const concat = (...parts: Uint8Array[]): Uint8Array => new Uint8Array(Buffer.concat(parts))

function rejects (reason: string) {
  return (err: unknown) => err instanceof DecodeError && err.name === 'DecodeError' && err.reason === reason
}

const genesis = vectors.blocks.find((b) => b.name === 'genesis')
const block100k = vectors.blocks.find((b) => b.name === 'block 100000')
assert.ok(genesis && block100k)

describe('block codec: mainnet blocks', () => {
  for (const v of vectors.blocks) {
    it(`${v.name}: ${v.size} bytes decode, re-encode identically, hash and txids match`, () => {
      const bytes = fromHex(v.hex)
      assert.equal(bytes.length, v.size)
      const block = decodeBlock(bytes)
      assert.deepEqual(encodeBlock(block), bytes)
      assert.equal(hashToHex(headerHash(block.header)), v.hash)
      assert.deepEqual(block.txs.map((tx) => hashToHex(txid(tx))), v.txids)
      if (v.prevouts !== undefined) assert.deepEqual(block.txs.map((tx) => `${hashToHex(tx.inputs[0]?.prevout.txid ?? new Uint8Array(32))}:${tx.inputs[0]?.prevout.index}`), v.prevouts)
      assert.deepEqual(block.txs.map(isCoinbase), block.txs.map((_, i) => i === 0))
      // Pre-segwit blocks: no witness bytes, so weight is four times the size.
      assert.equal(blockSize(block, { witness: true }), bytes.length)
      assert.equal(blockWeight(block), 4 * bytes.length)
    })
  }

  it('a block with a segwit transaction round-trips with the witness bytes and BIP141 weight', () => {
    const base = decodeBlock(fromHex(block100k.hex))
    const segwitTx = decodeTx(fromHex(vectors.transactions.find((t) => t.name.includes('P2WPKH'))?.hex ?? ''))
    const block = { header: base.header, txs: [...base.txs, segwitTx] }
    const bytes = encodeBlock(block)
    assert.deepEqual(decodeBlock(bytes), block)
    const stripped = blockSize(block, { witness: false })
    assert.equal(stripped, bytes.length - (encodeTx(segwitTx, { witness: true }).length - encodeTx(segwitTx, { witness: false }).length))
    assert.equal(blockWeight(block), stripped * 3 + bytes.length)
  })
})

describe('block codec: rejections', () => {
  const bytes = fromHex(block100k.hex)

  it('the size limit is checked before anything is read', () => {
    assert.throws(() => decodeBlock(bytes, { maxSize: bytes.length - 1 }), rejects('block-oversize'))
    assert.equal(decodeBlock(bytes, { maxSize: bytes.length }).txs.length, 4)
    assert.throws(() => decodeBlock(new Uint8Array(DEFAULT_MAX_BLOCK_SIZE + 1)), rejects('block-oversize'))
  })

  it('trailing bytes are refused', () => {
    assert.throws(() => decodeBlock(concat(bytes, Uint8Array.of(0))), rejects('block-trailing-bytes'))
  })

  it('truncated blocks are refused: header, count, or inside a transaction', () => {
    assert.throws(() => decodeBlock(bytes.subarray(0, 79)), rejects('block-truncated'))
    assert.throws(() => decodeBlock(bytes.subarray(0, 80)), rejects('block-truncated'))
    assert.throws(() => decodeBlock(bytes.subarray(0, 200)), rejects('tx-truncated'))
    assert.throws(() => decodeBlock(bytes.subarray(0, bytes.length - 1)), rejects('tx-truncated'))
    // Count says 5 transactions, 4 follow.
    const five = bytes.slice()
    five[80] = 5
    assert.throws(() => decodeBlock(five), rejects('tx-truncated'))
  })

  it('the transaction count is bounded by maxSize / 60 and by the bytes present', () => {
    const maxSize = 10_000
    const limit = Math.floor(maxSize / MIN_TX_SIZE)
    const withCount = (count: Uint8Array): Uint8Array => concat(bytes.subarray(0, 80), count, bytes.subarray(81))
    assert.equal(limit, 166)
    const overLimit = withCount(Uint8Array.of(limit + 1))
    assert.throws(() => decodeBlock(overLimit, { maxSize }), rejects('block-too-many-txs'))
    // Within the limit but more than the 876 bytes after the count could hold (10 bytes per
    // transaction at least).
    const tooMany = withCount(Uint8Array.of(160))
    assert.throws(() => decodeBlock(tooMany, { maxSize }), rejects('block-too-many-txs'))
    // A forged 2^32-1 count is refused without reading further.
    assert.throws(() => decodeBlock(withCount(Uint8Array.of(0xfe, 0xff, 0xff, 0xff, 0xff))), rejects('block-too-many-txs'))
  })

  it('a non-canonical transaction count is refused', () => {
    const bad = concat(bytes.subarray(0, 80), Uint8Array.of(0xfd, 0x04, 0x00), bytes.subarray(81))
    assert.throws(() => decodeBlock(bad), rejects('tx-noncanonical-compactsize'))
  })
})
