/**
 * The junk side block of issue 14: well-formed, with a valid header on a real parent, and
 * `count` transactions spending coins that do not exist with random signatures (2,000 of them
 * make ~324 KB). Only connecting it would show it invalid.
 */
import { randomBytes } from 'node:crypto'
import type { ChainParams } from '../../../../src/cash/consensus/params.ts'
import { nextBits } from '../../../../src/cash/consensus/context.ts'
import { assembleBlock } from '../../../../src/cash/miner/template.ts'
import type { Block } from '../../../../src/cash/primitives/block.ts'
import type { BlockHeader } from '../../../../src/cash/primitives/header.ts'
import { headerHash } from '../../../../src/cash/primitives/header.ts'
import type { Transaction } from '../../../../src/cash/primitives/tx.ts'
import { regrind, testKey } from '../../../utils/cash.ts'

/** A junk block on `parent` (at `parentHeight`), `count` junk transactions. */
export function junkBlock (parent: BlockHeader, parentHeight: number, params: ChainParams, count = 2000): Block {
  const txs: Transaction[] = []
  const script = testKey(5).script
  for (let i = 0; i < count; i++) {
    txs.push({
      version: 2,
      inputs: [{ prevout: { txid: randomBytes(32), index: 0 }, scriptSig: new Uint8Array(0), sequence: 0xffffffff, witness: [randomBytes(64)] }],
      outputs: [{ amount: 1000n, script }],
      lockTime: 0
    })
  }
  const block = assembleBlock({
    prevHash: headerHash(parent),
    height: parentHeight + 1,
    time: parent.time + params.targetSpacing,
    bits: nextBits({ height: parentHeight, time: parent.time }, params),
    payoutScript: testKey(6).script,
    txs,
    fees: 0n,
    params
  })
  return regrind(block, params)
}
