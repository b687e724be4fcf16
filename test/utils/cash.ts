/**
 * Cash test helpers: deterministic keys, signing, and an in-memory chain that validates every
 * block with the full consensus pipeline (no LevelDB), for tests that need valid blocks.
 *
 * ```ts
 * const chain = new TestChain(chainParams('regtest'))
 * chain.mineEmpty(chain.params.coinbaseMaturity)             // the block-1 coinbase is now mature
 * const tx = spendTx([chain.coinbaseCoin(1)], [{ amount: 1n, script: testKey(2).script }])
 * chain.mine([tx])                                          // assembled, ground, checked, connected
 * const blocks = buildChain(chainParams('regtest'), 5, testKey(1).script) // just blocks 1..5
 * ```
 */
import assert from 'node:assert/strict'
import { sha256 } from '@noble/hashes/sha2.js'
import { checkBlock } from '../../src/cash/consensus/check-block.ts'
import { MapCoinView, outpointKey } from '../../src/cash/consensus/coins.ts'
import type { Coin } from '../../src/cash/consensus/coins.ts'
import { checkBlockContext, checkHeaderContext, medianTimePast, nextBits } from '../../src/cash/consensus/context.ts'
import { genesisBlock } from '../../src/cash/consensus/genesis.ts'
import { applyBlock } from '../../src/cash/consensus/inputs.ts'
import type { AppliedBlock } from '../../src/cash/consensus/inputs.ts'
import type { ChainParams } from '../../src/cash/consensus/params.ts'
import { VerifyError } from '../../src/cash/consensus/verify-error.ts'
import type { VerifyKind } from '../../src/cash/consensus/verify-error.ts'
import { checkBlockSignatures } from '../../src/cash/consensus/verify.ts'
import { assembleBlock, grind } from '../../src/cash/miner/template.ts'
import { p2trScript } from '../../src/cash/primitives/address.ts'
import type { Block } from '../../src/cash/primitives/block.ts'
import { headerHash } from '../../src/cash/primitives/header.ts'
import { signSchnorr, xOnlyPublicKey } from './schnorr.ts'
import { precomputeSighash, SIGHASH_DEFAULT, taprootSighash } from '../../src/cash/primitives/sighash.ts'
import type { SighashTx } from '../../src/cash/primitives/sighash.ts'
import { txid } from '../../src/cash/primitives/tx.ts'
import type { OutPoint, Transaction, TxOutput } from '../../src/cash/primitives/tx.ts'

/** A deterministic key pair and the P2TR script paying to it. */
export interface TestKey {
  secretKey: Uint8Array
  /** x-only public key, used directly as the P2TR output key (no BIP341 tweak: consensus only checks the key path). */
  outputKey: Uint8Array
  /** `OP_1 <outputKey>`. */
  script: Uint8Array
}

/** Key number `n`: secret = sha256("peerd test key <n>"). */
export function testKey (n: number): TestKey {
  const secretKey = sha256(new TextEncoder().encode(`peerd test key ${n}`))
  const outputKey = xOnlyPublicKey(secretKey)
  return { secretKey, outputKey, script: p2trScript(outputKey) }
}

/** The BIP341 view of a transaction (what a signature commits to). */
export function sighashView (tx: Transaction): SighashTx {
  return {
    version: tx.version,
    lockTime: tx.lockTime,
    inputs: tx.inputs.map((input) => ({ txid: input.prevout.txid, index: input.prevout.index, sequence: input.sequence })),
    outputs: tx.outputs
  }
}

/**
 * Fills every input's witness with a key-path signature (deterministic: zero aux randomness)
 * by the key of the same index; 64 bytes for SIGHASH_DEFAULT, else 65 with the hash type.
 * Mutates and returns `tx`.
 */
export function signTx (tx: Transaction, spentCoins: readonly Coin[], keys: ReadonlyArray<TestKey | Uint8Array>, hashType = SIGHASH_DEFAULT): Transaction {
  const view = sighashView(tx)
  const pre = precomputeSighash(view, spentCoins)
  tx.inputs.forEach((input, i) => {
    const key = keys[i]
    if (key === undefined) throw new RangeError(`no key for input ${i}`)
    const msg = taprootSighash(view, i, spentCoins, hashType, pre)
    const sig = signSchnorr(msg, key instanceof Uint8Array ? key : key.secretKey, new Uint8Array(32))
    input.witness = [hashType === SIGHASH_DEFAULT ? sig : Uint8Array.of(...sig, hashType)]
  })
  return tx
}

/** A coin with its outpoint and the key that can spend it. */
export interface Spendable {
  prevout: OutPoint
  coin: Coin
  key: TestKey
}

/**
 * A signed transaction spending `from` to `outputs` (version 2, lock time 0, final sequences
 * unless given). `sequences` may set each input's nSequence (BIP68 tests).
 */
export function spendTx (
  from: readonly Spendable[],
  outputs: TxOutput[],
  options: { version?: number, lockTime?: number, sequences?: number[], hashType?: number } = {}
): Transaction {
  const tx: Transaction = {
    version: options.version ?? 2,
    inputs: from.map((s, i) => ({ prevout: s.prevout, scriptSig: new Uint8Array(0), sequence: options.sequences?.[i] ?? 0xffffffff, witness: [] })),
    outputs,
    lockTime: options.lockTime ?? 0
  }
  return signTx(tx, from.map((s) => s.coin), from.map((s) => s.key), options.hashType)
}

/** Output `index` of `tx`, created at `height`, as a {@link Spendable} for `key`. */
export function outputOf (tx: Transaction, index: number, height: number, key: TestKey, coinbase = false): Spendable {
  const output = tx.outputs[index]
  if (output === undefined) throw new RangeError(`no output ${index}`)
  return { prevout: { txid: txid(tx), index }, coin: { amount: output.amount, script: output.script, height, coinbase }, key }
}

/** Options of {@link TestChain.makeBlock}. */
export interface MakeBlockOptions {
  /** Default: the parent's time + targetSpacing. */
  time?: number
  /** Default: the chain's payout key's script. */
  payoutScript?: Uint8Array
  /** Default: computed from the coins the transactions spend (view or earlier in the block). */
  fees?: bigint
  /** Default: what nextBits requires. Grinding to bits much harder than regtest's is slow: see `grind`. */
  bits?: number
  /** Find a nonce that meets the bits (default true); false leaves nonce 0 (for high-hash tests). */
  grind?: boolean
}

/**
 * An in-memory chain from a network's genesis: blocks, their times, and a UTXO view. Each
 * block is checked as the real chain must (checkBlock, checkHeaderContext,
 * checkBlockContext, applyBlock, signatures) before it is connected.
 */
export class TestChain {
  readonly params: ChainParams
  readonly blocks: Block[]
  readonly view = new MapCoinView()
  /** Receives every coinbase unless a block says otherwise. */
  readonly payout: TestKey

  constructor (params: ChainParams, payout: TestKey = testKey(1)) {
    this.params = params
    this.payout = payout
    this.blocks = [genesisBlock(params.network)]
  }

  /** Height of the tip. */
  get height (): number {
    return this.blocks.length - 1
  }

  /** The tip block. */
  get tip (): Block {
    return this.blocks[this.blocks.length - 1] as Block
  }

  /** Median time past of the block at `height` (BIP113: its own and up to 10 earlier times). */
  mtpAt (height: number): number {
    const from = Math.max(0, height - this.params.medianTimeSpan + 1)
    return medianTimePast(this.blocks.slice(from, height + 1).map((b) => b.header.time))
  }

  /** A ground, unconnected block on the tip with `txs` after the coinbase. */
  makeBlock (txs: Transaction[] = [], options: MakeBlockOptions = {}): Block {
    const prev = this.tip.header
    const block = assembleBlock({
      prevHash: headerHash(prev),
      height: this.height + 1,
      time: options.time ?? prev.time + this.params.targetSpacing,
      bits: options.bits ?? nextBits({ height: this.height, time: prev.time }, this.params),
      payoutScript: options.payoutScript ?? this.payout.script,
      txs,
      fees: options.fees ?? this.feesOf(txs),
      params: this.params
    })
    return options.grind === false ? block : regrind(block, this.params)
  }

  /** Validates `block` as the next block and connects it; `now` defaults to its own time. */
  connect (block: Block, now = block.header.time): AppliedBlock {
    const height = this.height + 1
    const prevMedianTimePast = this.mtpAt(this.height)
    const txids = checkBlock(block, this.params)
    checkHeaderContext(block.header, {
      prevHeight: this.height,
      prevMedianTimePast,
      expectedBits: nextBits({ height: this.height, time: this.tip.header.time }, this.params),
      now
    }, this.params)
    checkBlockContext(block, height, prevMedianTimePast, this.params)
    const applied = applyBlock(block, height, this.view, this.params, { prevMedianTimePast, mtpAt: (h) => this.mtpAt(h), txids })
    checkBlockSignatures(applied)
    block.txs.forEach((tx, i) => { for (const input of i === 0 ? [] : tx.inputs) this.view.spend(input.prevout) })
    for (const { prevout, coin } of applied.created) this.view.add(prevout, coin)
    this.blocks.push(block)
    return applied
  }

  /** makeBlock + connect; returns the block. */
  mine (txs: Transaction[] = [], options: MakeBlockOptions = {}): Block {
    const block = this.makeBlock(txs, options)
    this.connect(block)
    return block
  }

  /** Mines `n` blocks with only a coinbase. */
  mineEmpty (n: number): Block[] {
    const out: Block[] = []
    for (let i = 0; i < n; i++) out.push(this.mine())
    return out
  }

  /** The first output of the coinbase at `height`, spendable by the payout key. */
  coinbaseCoin (height: number, key: TestKey = this.payout): Spendable {
    const block = this.blocks[height]
    if (block === undefined) throw new RangeError(`no block at ${height}`)
    return outputOf(block.txs[0] as Transaction, 0, height, key, true)
  }

  private feesOf (txs: readonly Transaction[]): bigint {
    const local = new Map<string, bigint>()
    let fees = 0n
    for (const tx of txs) {
      let valueIn = 0n
      for (const input of tx.inputs) {
        const key = outpointKey(input.prevout)
        valueIn += local.get(key) ?? this.view.getCoin(input.prevout)?.amount ?? 0n
      }
      const id = txid(tx)
      tx.outputs.forEach((o, i) => local.set(outpointKey({ txid: id, index: i }), o.amount))
      for (const o of tx.outputs) valueIn -= o.amount
      fees += valueIn > 0n ? valueIn : 0n
    }
    return fees
  }
}

/** Sets a nonce that meets the block's bits (for blocks edited after assembly); returns the block. */
export function regrind (block: Block, params: ChainParams): Block {
  for (let start = 0; ; start += 1_000_000) {
    if (start > 0xffffffff) throw new Error('no nonce found')
    const nonce = grind(block.header, params, start, 1_000_000)
    if (nonce !== undefined) {
      block.header.nonce = nonce
      return block
    }
  }
}

/** `n` valid empty blocks after genesis (heights 1..n), each `targetSpacing` after its parent. */
export function buildChain (params: ChainParams, n: number, payoutScript: Uint8Array): Block[] {
  const chain = new TestChain(params)
  for (let i = 0; i < n; i++) chain.mine([], { payoutScript })
  return chain.blocks.slice(1)
}

/**
 * Asserts that `fn` throws a VerifyError with exactly this `reason` and `score` (and, when
 * given, `kind` and `malleated`, which otherwise must be false).
 */
export function assertVerifyError (fn: () => unknown, reason: string, score: number, expect: { kind?: VerifyKind, malleated?: boolean } = {}): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof VerifyError, `expected a VerifyError, got ${String(err)}`)
    assert.equal(err.reason, reason, err.message)
    assert.equal(err.score, score, `score of ${reason}`)
    assert.equal(err.malleated, expect.malleated ?? false, `malleated flag of ${reason}`)
    if (expect.kind !== undefined) assert.equal(err.kind, expect.kind, `kind of ${reason}`)
    return true
  })
}
