/**
 * The regtest chain the benchmark validates and syncs, built in memory and kept as encoded
 * blocks: empty blocks until the first coinbase matures, a fan-out of that coinbase into one
 * coin per benchmark transaction, then the benchmark blocks, each filled with 1-input 2-output
 * P2TR key-path transactions up to the weight limit. Every block's time is its parent's + 1 s
 * (regtest does not retarget), so the chain does not depend on the clock, and signatures use
 * zero aux randomness: the same options give the same blocks.
 *
 * ```ts
 * const signer = new Signer(BENCH_KEYS.map(k => k.secret))
 * const chain = await prepareChain(chainParams('regtest'), { blocks: 10, txsPerBlock: fullBlockTxs(params) }, signer, log)
 * // chain.setup: blocks 1..s (encoded), chain.full: the benchmark blocks after them
 * ```
 */
import { sha256 } from '@noble/hashes/sha2.js'
import { xOnlyPointFromScalar } from 'tiny-secp256k1'
import { nextBits } from '../../src/cash/consensus/context.ts'
import { genesisBlock } from '../../src/cash/consensus/genesis.ts'
import type { ChainParams } from '../../src/cash/consensus/params.ts'
import { blockSubsidy } from '../../src/cash/consensus/subsidy.ts'
import { assembleBlock, grind } from '../../src/cash/miner/template.ts'
import { p2trScript } from '../../src/cash/primitives/address.ts'
import { blockWeight, encodeBlock } from '../../src/cash/primitives/block.ts'
import type { Block } from '../../src/cash/primitives/block.ts'
import { headerHash } from '../../src/cash/primitives/header.ts'
import type { BlockHeader } from '../../src/cash/primitives/header.ts'
import { precomputeSighash, SIGHASH_DEFAULT, taprootSighash } from '../../src/cash/primitives/sighash.ts'
import type { SighashTx } from '../../src/cash/primitives/sighash.ts'
import { txid, txWeight } from '../../src/cash/primitives/tx.ts'
import type { OutPoint, Transaction, TxInput, TxOutput } from '../../src/cash/primitives/tx.ts'
import type { Signer } from './signer.ts'

/** A key of the benchmark: secret, x-only key (used directly as the P2TR output key) and script. */
export interface BenchKey { secret: Uint8Array, pubkey: Uint8Array, script: Uint8Array }

/** Keys are reused round-robin: what costs is the number of signatures, not of keys. */
export const BENCH_KEYS: readonly BenchKey[] = Array.from({ length: 16 }, (_, n) => {
  const secret = sha256(new TextEncoder().encode(`peerd bench key ${n}`))
  const pubkey = xOnlyPointFromScalar(secret)
  return { secret, pubkey, script: p2trScript(pubkey) }
})

/** Outputs of one second-level fan-out transaction (≈ 86 kB). */
const FAN_OUT_WIDTH = 2000
/** Weight left for the header, the tx count and the coinbase (with its witness commitment). */
const BLOCK_OVERHEAD_WEIGHT = 4 * (80 + 3) + 1_000

/** What {@link prepareChain} builds. */
export interface PreparedChain {
  /** Blocks 1..setup.length, encoded: empty blocks, then the fan-out. */
  setup: Uint8Array[]
  /** The benchmark blocks, encoded, after the setup blocks. */
  full: Uint8Array[]
  txsPerBlock: number
  /** Bytes and weight of the first benchmark block. */
  blockBytes: number
  blockWeight: number
  /** Seconds the preparation took, and how many signatures it made. */
  seconds: number
  signatures: number
}

/** A coin of the fan-out and the key that spends it. */
export interface BenchCoin { prevout: OutPoint, amount: bigint, key: number }

/** A 1-input transaction spending `coin` to `outputs`, unsigned, and its BIP341 sighash. */
function unsignedSpend (coin: BenchCoin, outputs: TxOutput[]): { tx: Transaction, msg: Uint8Array } {
  const tx: Transaction = {
    version: 2,
    inputs: [{ prevout: coin.prevout, scriptSig: new Uint8Array(0), sequence: 0xffffffff, witness: [] }],
    outputs,
    lockTime: 0
  }
  const view: SighashTx = { version: 2, lockTime: 0, inputs: [{ txid: coin.prevout.txid, index: coin.prevout.index, sequence: 0xffffffff }], outputs }
  const spent = [{ amount: coin.amount, script: (BENCH_KEYS[coin.key] as BenchKey).script }]
  return { tx, msg: taprootSighash(view, 0, spent, SIGHASH_DEFAULT, precomputeSighash(view, spent)) }
}

/** The benchmark transaction: `coin` less `fee` (none by default) split in two outputs to the next two keys. */
export function benchSpend (coin: BenchCoin, fee = 0n): { tx: Transaction, msg: Uint8Array } {
  const left = coin.amount - fee
  const half = left / 2n
  return unsignedSpend(coin, [
    { amount: half, script: (BENCH_KEYS[(coin.key + 1) % BENCH_KEYS.length] as BenchKey).script },
    { amount: left - half, script: (BENCH_KEYS[(coin.key + 2) % BENCH_KEYS.length] as BenchKey).script }
  ])
}

/**
 * How many benchmark transactions fit in a block: (max weight − header, count and coinbase)
 * / the weight of one (616: 137 bytes without witness, 68 with).
 */
export function fullBlockTxs (params: ChainParams): number {
  const coin: BenchCoin = { prevout: { txid: new Uint8Array(32), index: 0 }, amount: 10_000n, key: 0 }
  const { tx } = benchSpend(coin)
  ;(tx.inputs[0] as TxInput).witness = [new Uint8Array(64)]
  return Math.floor((params.maxBlockWeight - BLOCK_OVERHEAD_WEIGHT) / txWeight(tx))
}

/** Appends blocks to a chain kept as encoded blocks, each 1 s after its parent. */
export class ChainBuilder {
  readonly params: ChainParams
  readonly blocks: Uint8Array[] = []
  readonly weights: number[] = []
  private prev: BlockHeader
  private height = 0

  constructor (params: ChainParams) {
    this.params = params
    this.prev = genesisBlock(params.network).header
  }

  /** Assembles, grinds (a couple of tries on regtest) and appends the next block. */
  append (txs: Transaction[]): Block {
    const height = this.height + 1
    const block = assembleBlock({
      prevHash: headerHash(this.prev),
      height,
      time: this.prev.time + 1,
      bits: nextBits({ height: this.height, time: this.prev.time }, this.params),
      payoutScript: (BENCH_KEYS[0] as BenchKey).script,
      txs,
      fees: 0n, // the coinbase may claim less than allowed; leftovers are burnt
      params: this.params
    })
    for (let start = 0; ; start += 1_000_000) {
      const nonce = grind(block.header, this.params, start, 1_000_000)
      if (nonce !== undefined) { block.header.nonce = nonce; break }
    }
    const weight = blockWeight(block)
    if (weight > this.params.maxBlockWeight) throw new Error(`prepared block ${height} weighs ${weight}, over the limit`)
    this.blocks.push(encodeBlock(block))
    this.weights.push(weight)
    this.prev = block.header
    this.height = height
    return block
  }
}

/** Signs the 1-input transactions `txs` (messages `msgs`, spending coins of keys `keys`). */
export async function signAll (signer: Signer, txs: Transaction[], msgs: Uint8Array[], keys: number[]): Promise<void> {
  const sigs = await signer.sign(msgs, keys)
  txs.forEach((tx, i) => { (tx.inputs[0] as TxInput).witness = [sigs[i] as Uint8Array] })
}

/** The setup blocks {@link prepareFanOut} appended, and the coins they fund. */
export interface FanOut {
  /** Holds the setup blocks; more blocks can be appended. */
  builder: ChainBuilder
  /** One coin of equal amount per benchmark transaction, keys round-robin. */
  coins: BenchCoin[]
  setupCount: number
  signatures: number
}

/**
 * The setup blocks: `coinbaseMaturity` empty blocks, then the fan-out of block 1's coinbase
 * into `coinsNeeded` coins (one transaction to ≤ 2,000 outputs per 2,000 coins, as many per
 * block as the weight allows).
 */
export async function prepareFanOut (params: ChainParams, coinsNeeded: number, signer: Signer, log: (s: string) => void): Promise<FanOut> {
  const t0 = performance.now()
  const b = new ChainBuilder(params)
  let signatures = 0
  const first: BenchCoin = { prevout: { txid: new Uint8Array(32), index: 0 }, amount: 0n, key: 0 }
  for (let i = 0; i < params.coinbaseMaturity; i++) {
    const block = b.append([])
    if (i === 0) first.prevout = { txid: txid(block.txs[0] as Transaction), index: 0 }
  }
  first.amount = blockSubsidy(1, params)
  const amount = first.amount / BigInt(coinsNeeded + 1)
  if (amount < 2n) throw new Error(`${coinsNeeded} coins are more than one coinbase can fund`)

  // Level 1: the coinbase to one output per second-level transaction.
  const groups = Math.ceil(coinsNeeded / FAN_OUT_WIDTH)
  if (groups > 20_000) throw new Error(`${coinsNeeded} coins need a fan-out wider than this benchmark builds`)
  const level1 = unsignedSpend(first, Array.from({ length: groups }, (_, g) => ({
    amount: amount * BigInt(Math.min(FAN_OUT_WIDTH, coinsNeeded - g * FAN_OUT_WIDTH)),
    script: (BENCH_KEYS[g % BENCH_KEYS.length] as BenchKey).script
  })))
  // Level 2: each of those to ≤ 2,000 coins of `amount`.
  const level1Id = txid(level1.tx)
  const level2 = Array.from({ length: groups }, (_, g) => {
    const width = Math.min(FAN_OUT_WIDTH, coinsNeeded - g * FAN_OUT_WIDTH)
    return unsignedSpend({ prevout: { txid: level1Id, index: g }, amount: amount * BigInt(width), key: g % BENCH_KEYS.length },
      Array.from({ length: width }, (_, i) => ({ amount, script: (BENCH_KEYS[(g * FAN_OUT_WIDTH + i) % BENCH_KEYS.length] as BenchKey).script })))
  })
  const fanOut = [level1, ...level2]
  await signAll(signer, fanOut.map(s => s.tx), fanOut.map(s => s.msg), fanOut.map((_, i) => i === 0 ? 0 : (i - 1) % BENCH_KEYS.length))
  signatures += fanOut.length
  const coins: BenchCoin[] = []
  level2.forEach(({ tx }) => {
    const id = txid(tx)
    tx.outputs.forEach((o, index) => { coins.push({ prevout: { txid: id, index }, amount: o.amount, key: coins.length % BENCH_KEYS.length }) })
  })
  let pack: Transaction[] = []
  let weight = 0
  for (const { tx } of fanOut) {
    const w = txWeight(tx)
    if (weight + w > params.maxBlockWeight - BLOCK_OVERHEAD_WEIGHT) { b.append(pack); pack = []; weight = 0 }
    pack.push(tx)
    weight += w
  }
  b.append(pack)
  const setupCount = b.blocks.length
  log(`  setup: ${params.coinbaseMaturity} empty blocks and ${setupCount - params.coinbaseMaturity} fan-out blocks (${coinsNeeded.toLocaleString('en-US')} coins), ${((performance.now() - t0) / 1000).toFixed(1)} s`)
  return { builder: b, coins, setupCount, signatures }
}

/**
 * Builds the chain: `coinbaseMaturity` empty blocks, the fan-out of block 1's coinbase into
 * `blocks × txsPerBlock` coins (one transaction to ≤ 2,000 outputs per 2,000 coins, as many
 * per block as the weight allows), then `blocks` benchmark blocks. Signing runs on the
 * signer's threads while this thread builds the next block's transactions.
 */
export async function prepareChain (params: ChainParams, size: { blocks: number, txsPerBlock: number }, signer: Signer, log: (s: string) => void): Promise<PreparedChain> {
  const t0 = performance.now()
  const { blocks, txsPerBlock } = size
  const { builder: b, coins, setupCount, signatures: fanOutSignatures } = await prepareFanOut(params, blocks * txsPerBlock, signer, log)
  let signatures = fanOutSignatures

  // The benchmark blocks: block k+1's transactions are built and hashed while block k's are signed.
  type Pending = Promise<{ txs: Transaction[] }>
  const queue: Pending[] = []
  let appended = 0
  const appendNext = async (): Promise<void> => {
    const { txs } = await (queue.shift() as Pending)
    b.append(txs)
    appended++
    if (appended % 10 === 0 || appended === blocks) log(`  ${appended}/${blocks} blocks of ${txsPerBlock} txs, ${((performance.now() - t0) / 1000).toFixed(1)} s`)
  }
  for (let k = 0; k < blocks; k++) {
    const mine = coins.slice(k * txsPerBlock, (k + 1) * txsPerBlock)
    const spends = mine.map(c => benchSpend(c))
    const txs = spends.map(s => s.tx)
    queue.push(signAll(signer, txs, spends.map(s => s.msg), mine.map(c => c.key)).then(() => ({ txs })))
    signatures += txs.length
    if (queue.length >= 2) await appendNext()
  }
  while (queue.length > 0) await appendNext()

  const full = b.blocks.slice(setupCount)
  return {
    setup: b.blocks.slice(0, setupCount),
    full,
    txsPerBlock,
    blockBytes: full[0]?.length ?? 0,
    blockWeight: b.weights[setupCount] ?? 0,
    seconds: (performance.now() - t0) / 1000,
    signatures
  }
}
