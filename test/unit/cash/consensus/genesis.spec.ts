/**
 * The genesis blocks: their hashes are the hard-coded ones, they meet their network's
 * powLimit, pass the context-free block rules, and ChainParams.genesis describes them.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { checkBlock } from '../../../../src/cash/consensus/check-block.ts'
import { MapCoinView } from '../../../../src/cash/consensus/coins.ts'
import { checkBlockContext, coinbaseHeightScript } from '../../../../src/cash/consensus/context.ts'
import { GENESIS_HASH_HEX, genesisBlock, genesisInfo } from '../../../../src/cash/consensus/genesis.ts'
import { applyBlock } from '../../../../src/cash/consensus/inputs.ts'
import { chainParams } from '../../../../src/cash/consensus/params.ts'
import type { Network } from '../../../../src/cash/consensus/params.ts'
import { checkProofOfWork } from '../../../../src/cash/consensus/pow.ts'
import { decodeBlock, encodeBlock } from '../../../../src/cash/primitives/block.ts'
import { bytesEqual, hashToHex } from '../../../../src/cash/primitives/hash.ts'
import { headerHash } from '../../../../src/cash/primitives/header.ts'
import { isCoinbase } from '../../../../src/cash/primitives/tx.ts'

const EXPECTED: Record<Network, string> = {
  main: '0000002d430a8375ab9987d1880682103c3dbd4742c51b701a9777f1097394e4',
  regtest: '54a5c1dded3942352ef55020bd4ed6e9fe060833990f88aa34a84f0478d7ff7b'
}

describe('genesis blocks', () => {
  for (const network of ['main', 'regtest'] as const) {
    const params = chainParams(network)

    it(`${network}: hash is the hard-coded one and meets powLimitBits`, () => {
      const block = genesisBlock(network)
      const hash = headerHash(block.header)
      assert.equal(hashToHex(hash), EXPECTED[network])
      assert.equal(GENESIS_HASH_HEX[network], EXPECTED[network])
      assert.equal(block.header.bits, params.powLimitBits)
      assert.ok(checkProofOfWork(hash, block.header.bits, params.powLimit))
    })

    it(`${network}: ChainParams.genesis describes the block`, () => {
      const block = genesisBlock(network)
      assert.ok(bytesEqual(params.genesis.hash, headerHash(block.header)))
      assert.equal(params.genesis.time, block.header.time)
      assert.equal(params.genesis.bits, block.header.bits)
      assert.deepEqual(genesisInfo(network), params.genesis)
    })

    it(`${network}: is a coinbase-only block with a BIP34 height-0 push, a 2026 time, no prev`, () => {
      const block = genesisBlock(network)
      assert.equal(block.txs.length, 1)
      const cb = block.txs[0]!
      assert.ok(isCoinbase(cb))
      assert.deepEqual(cb.inputs[0]!.scriptSig.subarray(0, 1), coinbaseHeightScript(0))
      assert.ok(bytesEqual(block.header.prevHash, new Uint8Array(32)))
      assert.equal(new Date(block.header.time * 1000).getUTCFullYear(), 2026)
      assert.equal(cb.outputs.length, 1)
      assert.equal(cb.outputs[0]!.script[0], 0x6a, 'an unspendable OP_RETURN output')
    })

    it(`${network}: passes checkBlock and checkBlockContext at height 0, and round-trips`, () => {
      const block = genesisBlock(network)
      checkBlock(block, params)
      checkBlockContext(block, 0, block.header.time - 1, params)
      assert.deepEqual(decodeBlock(encodeBlock(block)), block)
    })

    it(`${network}: creates no coins`, () => {
      const applied = applyBlock(genesisBlock(network), 0, new MapCoinView(), params, { prevMedianTimePast: 0, mtpAt: () => 0 })
      assert.deepEqual(applied.created, [])
      assert.equal(applied.fees, 0n)
    })
  }

  it('returns a fresh object per call and the networks differ', () => {
    const a = genesisBlock('main')
    a.header.nonce = 1
    assert.notEqual(genesisBlock('main').header.nonce, 1)
    assert.notEqual(GENESIS_HASH_HEX.main, GENESIS_HASH_HEX.regtest)
  })
})
