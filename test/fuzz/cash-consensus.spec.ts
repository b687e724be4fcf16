/**
 * Fuzzing the context-free consensus checks that run on every header and block a peer sends
 * (`checkHeader`, `checkBlock`, `checkBlockMutation`): arbitrary headers and well-formed blocks
 * of arbitrary transactions (with a correct merkle root and witness commitment, mined on
 * regtest) pass or throw `VerifyError`, never another error; and any change to a passing
 * block's transactions that keeps its header (reordered, dropped, duplicated, witness altered)
 * is refused as *malleated*, so the header's hash is never remembered as invalid (issue 14, 1).
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { checkBlock, checkBlockMutation, checkHeader } from '../../src/cash/consensus/check-block.ts'
import { blockMerkleRoot, witnessCommitment, witnessCommitmentScript, witnessMerkleRoot } from '../../src/cash/consensus/merkle.ts'
import { chainParams } from '../../src/cash/consensus/params.ts'
import { blockWork, decodeCompact } from '../../src/cash/consensus/pow.ts'
import { VerifyError } from '../../src/cash/consensus/verify-error.ts'
import type { Block } from '../../src/cash/primitives/block.ts'
import { decodeBlock, encodeBlock } from '../../src/cash/primitives/block.ts'
import type { BlockHeader } from '../../src/cash/primitives/header.ts'
import { headerHash } from '../../src/cash/primitives/header.ts'
import type { Transaction, TxOutput } from '../../src/cash/primitives/tx.ts'
import { COINBASE_INDEX, hasWitness } from '../../src/cash/primitives/tx.ts'
import { decodeOrTyped, fuzz } from '../utils/fuzz.ts'

const params = chainParams('regtest')
const TYPED = ['VerifyError']
const u32 = fc.nat({ max: 0xffffffff })
const hash = fc.uint8Array({ minLength: 32, maxLength: 32 })

const p2tr = hash.map(k => Uint8Array.from([0x51, 0x20, ...k]))
const output: fc.Arbitrary<TxOutput> = fc.record({
  amount: fc.oneof(fc.bigInt({ min: 0n, max: params.maxMoney }), fc.constantFrom(0n, params.maxMoney, params.maxMoney + 1n, 2n ** 64n - 1n)),
  script: fc.oneof({ arbitrary: p2tr, weight: 4 }, { arbitrary: fc.uint8Array({ maxLength: 40 }).map(d => Uint8Array.from([0x6a, ...d])), weight: 1 }, { arbitrary: fc.uint8Array({ maxLength: 40 }), weight: 1 })
}, { noNullPrototype: true })

const spend: fc.Arbitrary<Transaction> = fc.record({
  version: fc.constantFrom(1, 2, -1),
  inputs: fc.array(fc.record({
    prevout: fc.record({ txid: hash, index: fc.oneof(fc.nat({ max: 3 }), fc.constant(COINBASE_INDEX)) }, { noNullPrototype: true }),
    scriptSig: fc.oneof({ arbitrary: fc.constant(new Uint8Array(0)), weight: 5 }, { arbitrary: fc.uint8Array({ maxLength: 4 }), weight: 1 }),
    sequence: u32,
    witness: fc.oneof({ arbitrary: fc.uint8Array({ minLength: 64, maxLength: 65 }).map(s => [s]), weight: 5 }, { arbitrary: fc.array(fc.uint8Array({ maxLength: 70 }), { maxLength: 3 }), weight: 1 })
  }, { noNullPrototype: true }), { minLength: 1, maxLength: 3 }),
  outputs: fc.array(output, { minLength: 1, maxLength: 3 }),
  lockTime: fc.oneof(fc.constant(0), u32)
}, { noNullPrototype: true })

/** A block around a coinbase and `spends`, with the right merkle root and witness commitment, mined on regtest. */
function assemble (cbScript: Uint8Array, cbOutputs: TxOutput[], spends: Transaction[], time: number): Block {
  const reserved = new Uint8Array(32)
  const coinbase: Transaction = {
    version: 2,
    inputs: [{ prevout: { txid: new Uint8Array(32), index: COINBASE_INDEX }, scriptSig: cbScript, sequence: 0xffffffff, witness: [] }],
    outputs: cbOutputs,
    lockTime: 0
  }
  const header: BlockHeader = { version: 0x20000000, prevHash: new Uint8Array(32), merkleRoot: new Uint8Array(32), time, bits: params.powLimitBits, nonce: 0 }
  const block: Block = { header, txs: [coinbase, ...spends] }
  if (spends.some(hasWitness)) {
    coinbase.inputs[0]!.witness = [reserved]
    coinbase.outputs = [...cbOutputs, { amount: 0n, script: witnessCommitmentScript(witnessCommitment(witnessMerkleRoot(block).root, reserved)) }]
  }
  header.merkleRoot = blockMerkleRoot(block).root
  while (true) {
    try {
      checkHeader(header, params)
      return block
    } catch {
      header.nonce++
    }
  }
}

const block: fc.Arbitrary<Block> = fc.tuple(
  fc.oneof({ arbitrary: fc.uint8Array({ minLength: 2, maxLength: 100 }), weight: 5 }, { arbitrary: fc.uint8Array({ maxLength: 110 }), weight: 1 }),
  fc.array(output, { minLength: 1, maxLength: 2 }),
  fc.array(spend, { maxLength: 4 }),
  u32
).map(([s, outs, spends, time]) => assemble(s, outs, spends, time))

/** Changes to a block's transactions that leave its header as it is. */
type Change = 'swap' | 'drop-first' | 'drop-last' | 'duplicate-last' | 'witness' | 'strip-witness' | 'amount'
const change: fc.Arbitrary<[Change, number]> = fc.tuple(fc.constantFrom<Change>('swap', 'drop-first', 'drop-last', 'duplicate-last', 'witness', 'strip-witness', 'amount'), fc.nat())

function applyChange (b: Block, [what, n]: [Change, number]): Block | undefined {
  const txs = structuredClone(b.txs)
  const pick = txs.length > 1 ? 1 + n % (txs.length - 1) : 0
  switch (what) {
    case 'swap': if (txs.length < 3) return undefined; [txs[1], txs[2]] = [txs[2]!, txs[1]!]; if (encodeBlock({ ...b, txs }).every((x, i) => x === encodeBlock(b)[i])) return undefined; break
    case 'drop-first': txs.shift(); break
    case 'drop-last': if (txs.length < 2) return undefined; txs.pop(); break
    case 'duplicate-last': txs.push(structuredClone(txs.at(-1)!)); break
    case 'witness': if (pick === 0) return undefined; txs[pick]!.inputs[0]!.witness = [Uint8Array.from([n & 0xff, 1, 2])]; break
    case 'strip-witness': if (pick === 0 || !hasWitness(txs[pick]!)) return undefined; for (const i of txs[pick]!.inputs) i.witness = []; break
    case 'amount': txs[pick]!.outputs[0]!.amount ^= 1n; break
  }
  return { header: b.header, txs }
}

describe('fuzz: context-free consensus checks', () => {
  it('checkHeader and the compact-bits helpers take any header: pass, or VerifyError', () => {
    const header = fc.record({ version: fc.integer({ min: -0x80000000, max: 0x7fffffff }), prevHash: hash, merkleRoot: hash, time: u32, bits: fc.oneof(u32, fc.constant(params.powLimitBits)), nonce: u32 })
    fuzz(header, (h) => {
      decodeOrTyped(() => { checkHeader(h, params) }, TYPED)
      assert.ok(blockWork(h.bits) >= 0n)
      assert.ok(decodeCompact(h.bits).target >= 0n)
    })
  })

  it('checkBlock takes any well-formed block: its txids, or VerifyError; a passing block passes again after a round trip', () => {
    let passed = 0
    fuzz(block, (b) => {
      const txids = decodeOrTyped(() => checkBlock(b, params), TYPED)
      if (txids == null) return
      passed++
      assert.equal(txids.length, b.txs.length)
      const again = decodeBlock(encodeBlock(b))
      assert.deepStrictEqual(checkBlock(again, params), txids)
      assert.deepStrictEqual(headerHash(again.header), headerHash(b.header))
    }, 0.5)
    // the generator reaches past the first rules
    assert.ok(passed > 0, 'no generated block passed checkBlock')
  })

  it('any change to the transactions under a header is refused as malleated, never as invalid', () => {
    const passing = block.filter(b => { try { checkBlockMutation(b); return true } catch { return false } })
    let tried = 0
    fuzz(fc.tuple(passing, change), ([b, c]) => {
      const changed = applyChange(b, c)
      if (changed == null) return
      tried++
      assert.throws(() => checkBlock(changed, params), (err: Error) => {
        assert.ok(err instanceof VerifyError, `${c[0]}: ${err.name}: ${err.message}`)
        assert.equal(err.malleated, true, `${c[0]} gave ${err.reason}, not malleated`)
        return true
      })
    }, 0.5)
    assert.ok(tried > 0, 'no change applied')
  })
})
