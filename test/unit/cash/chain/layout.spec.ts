import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { utxoStatsOf } from '../../../../src/cash/chain/chain-db.ts'
import {
  coinKey, decodeCoin, decodeEntry, decodeTxIndex, decodeUndo, encodeCoin, encodeEntry, encodeTxIndex, encodeUndo,
  heightKey, outpointFromCoinKey, PREFIX, prefixRange
} from '../../../../src/cash/chain/layout.ts'
import type { Coin } from '../../../../src/cash/consensus/coins.ts'
import { genesisBlock } from '../../../../src/cash/consensus/genesis.ts'

const coin = (amount: bigint, height: number, coinbase: boolean, len = 34): Coin =>
  ({ amount, height, coinbase, script: Uint8Array.from({ length: len }, (_v, i) => (i * 7 + Number(amount % 251n)) & 0xff) })

function compare (a: Uint8Array, b: Uint8Array): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b))
}

describe('chain layout', () => {
  it('round-trips index entries, chainwork up to 2^256 - 1 and every status', () => {
    const header = genesisBlock('regtest').header
    for (const status of ['stored', 'valid', 'invalid'] as const) {
      for (const chainwork of [0n, 2n, 123456789n << 100n, (1n << 256n) - 1n]) {
        const rec = { header, height: 4_000_000, chainwork, status }
        assert.deepEqual(decodeEntry(encodeEntry(rec)), rec)
      }
    }
    assert.throws(() => decodeEntry(new Uint8Array(10)), RangeError)
    const bad = encodeEntry({ header, height: 1, chainwork: 1n, status: 'valid' })
    bad[bad.length - 1] = 9
    assert.throws(() => decodeEntry(bad), RangeError)
  })

  it('round-trips coins, including the largest amount and an empty script', () => {
    for (const c of [coin(0n, 0, false, 0), coin(2_100_000_000_000_000n, 0xffffffff, true), coin(12345n, 7, false, 83)]) {
      assert.deepEqual(decodeCoin(encodeCoin(c)), c)
    }
  })

  it('round-trips undo data and refuses truncated or padded records', () => {
    const coins = [coin(1n, 1, true), coin(2n, 2, false, 0), coin(3n, 3, false, 200)]
    assert.deepEqual(decodeUndo(encodeUndo(coins)), coins)
    assert.deepEqual(decodeUndo(encodeUndo([])), [])
    const bytes = encodeUndo(coins)
    assert.throws(() => decodeUndo(bytes.subarray(0, bytes.length - 1)))
    assert.throws(() => decodeUndo(Uint8Array.of(...bytes, 0)))
  })

  it('round-trips tx index records', () => {
    const rec = { blockHash: new Uint8Array(32).fill(9), position: 3, offset: 1234, length: 222 }
    assert.deepEqual(decodeTxIndex(encodeTxIndex(rec)), rec)
  })

  it('orders height keys numerically and coin keys by txid then index', () => {
    const heights = [0, 1, 255, 256, 65_536, 4_000_000].map(heightKey)
    assert.deepEqual([...heights].sort(compare), heights)
    const txid = new Uint8Array(32).fill(1)
    const keys = [0, 1, 256, 70_000].map(index => coinKey({ txid, index }))
    assert.deepEqual([...keys].sort(compare), keys)
    assert.deepEqual(outpointFromCoinKey(coinKey({ txid, index: 70_000 })), { txid, index: 70_000 })
    const { gte, lt } = prefixRange(PREFIX.coin)
    for (const k of keys) assert.ok(compare(k, gte) >= 0 && compare(k, lt) < 0)
  })

  it('digests a UTXO set independently of insertion order', () => {
    const a = { txid: new Uint8Array(32).fill(1), index: 0 }
    const b = { txid: new Uint8Array(32).fill(1), index: 1 }
    const c = { txid: new Uint8Array(32).fill(0), index: 5 }
    const x = utxoStatsOf([[a, coin(1n, 1, true)], [b, coin(2n, 1, false)], [c, coin(3n, 2, false)]])
    const y = utxoStatsOf([[c, coin(3n, 2, false)], [a, coin(1n, 1, true)], [b, coin(2n, 1, false)]])
    assert.deepEqual(x, y)
    assert.equal(x.count, 3)
    assert.equal(x.total, 6n)
    assert.notEqual(utxoStatsOf([[a, coin(1n, 1, false)]]).digest, utxoStatsOf([[a, coin(1n, 1, true)]]).digest)
  })
})
