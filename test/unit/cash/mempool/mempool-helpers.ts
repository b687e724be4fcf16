/**
 * Helpers for the mempool tests: a real Chain on a temp LevelDB (regtest, inline signature
 * checks) kept in step with a TestChain that builds the blocks, and a Mempool following it.
 */
import type { Chain } from '../../../../src/cash/chain/index.ts'
import { chainParams } from '../../../../src/cash/consensus/params.ts'
import { entryMemory, Mempool } from '../../../../src/cash/mempool/index.ts'
import type { MempoolEntry, MempoolInit, RemovalReason, TxOrigin } from '../../../../src/cash/mempool/index.ts'
import type { Block } from '../../../../src/cash/primitives/block.ts'
import { hashToHex } from '../../../../src/cash/primitives/hash.ts'
import { txid } from '../../../../src/cash/primitives/tx.ts'
import type { Transaction } from '../../../../src/cash/primitives/tx.ts'
import { createLogger } from '../../../../src/utils/logger.ts'
import { signSchnorr } from 'tiny-secp256k1'
import { precomputeSighash, SIGHASH_DEFAULT, taprootSighash } from '../../../../src/cash/primitives/sighash.ts'
import { outputOf, sighashView, spendTx, TestChain, testKey } from '../../../utils/cash.ts'
import type { Spendable, TestKey } from '../../../utils/cash.ts'
import { openTempChain } from '../chain/chain-helpers.ts'
import type { TempChain } from '../chain/chain-helpers.ts'

export const params = chainParams('regtest')
export const log = createLogger({ level: 'silent' })
/** Receives the test payments. */
export const alice = testKey(2)

/** Memory estimate of a one-input, one-output payment: the unit of the size-cap tests. */
export const PAYMENT_BYTES = entryMemory(spendTx(
  [{ prevout: { txid: new Uint8Array(32), index: 0 }, coin: { amount: 1000n, script: alice.script, height: 1, coinbase: false }, key: alice }],
  [{ amount: 900n, script: alice.script }]))

/** A chain, the TestChain that made its blocks, a started mempool and what it announced. */
export interface Harness {
  chain: Chain
  tc: TestChain
  mempool: Mempool
  events: { added: Array<[string, TxOrigin]>, removed: Array<[string, RemovalReason]> }
  cleanup: () => Promise<void>
}

/** Display txid of a transaction or entry. */
export function idOf (tx: Transaction | MempoolEntry): string {
  return hashToHex('txid' in tx ? tx.txid : txid(tx))
}

/**
 * A chain with `blocks` empty blocks (default: maturity + 10, so the coinbases of heights
 * 1..11 are spendable) and a started mempool on it.
 */
export async function openHarness (init: Partial<MempoolInit> = {}, blocks = params.coinbaseMaturity + 10): Promise<Harness> {
  const t: TempChain = await openTempChain(params)
  const tc = new TestChain(params)
  for (let i = 0; i < blocks; i++) await t.chain.addBlock(tc.mine())
  const mempool = new Mempool({ chain: t.chain, params, log, ...init })
  mempool.start()
  const events: Harness['events'] = { added: [], removed: [] }
  mempool.on('tx', (e, origin) => { events.added.push([idOf(e), origin]) })
  mempool.on('removed', (e, reason) => { events.removed.push([idOf(e), reason]) })
  return {
    chain: t.chain,
    tc,
    mempool,
    events,
    cleanup: async () => {
      await mempool.stop()
      await t.cleanup()
    }
  }
}

/** Mines `txs` on the TestChain and feeds the block to the real chain. */
export async function mine (h: Harness, txs: Transaction[] = []): Promise<Block> {
  const block = h.tc.mine(txs)
  const result = await h.chain.addBlock(block)
  if (result !== 'connected') throw new Error(`block not connected: ${result}`)
  return block
}

/**
 * A signed payment spending `from` to `outputs` outputs of equal value for `to`, leaving `fee`.
 * `options` go to spendTx (version, lock time, sequences).
 */
export function pay (from: Spendable | Spendable[], fee: bigint, outputs = 1, to: TestKey = alice, options: Parameters<typeof spendTx>[2] = {}): Transaction {
  const list = Array.isArray(from) ? from : [from]
  const total = list.reduce((s, c) => s + c.coin.amount, 0n) - fee
  const each = total / BigInt(outputs)
  const outs = Array.from({ length: outputs }, (_v, i) => ({ amount: i === 0 ? total - each * BigInt(outputs - 1) : each, script: to.script }))
  return spendTx(list, outs, options)
}

/** Output `index` of an unconfirmed `tx` paying `to` (height: the next block's). */
export function unconfirmed (h: Harness, tx: Transaction, index = 0, to: TestKey = alice): Spendable {
  return outputOf(tx, index, h.chain.tip.height + 1, to)
}

/**
 * Spends `from` to one output to `to`, signed with libsecp256k1 (10× faster than the noble
 * signer of test/utils, for transactions of thousands of inputs), every signature valid but the last.
 */
export function lastSigBad (from: readonly Spendable[], flip = 0, to: TestKey = alice): Transaction {
  const total = from.reduce((s, c) => s + c.coin.amount, 0n)
  const tx: Transaction = {
    version: 2,
    inputs: from.map((s) => ({ prevout: s.prevout, scriptSig: new Uint8Array(0), sequence: 0xffffffff, witness: [] })),
    outputs: [{ amount: total - 1_000_000n, script: to.script }],
    lockTime: 0
  }
  const view = sighashView(tx)
  const coins = from.map((s) => s.coin)
  const pre = precomputeSighash(view, coins)
  tx.inputs.forEach((input, i) => {
    const sig = signSchnorr(taprootSighash(view, i, coins, SIGHASH_DEFAULT, pre), (from[i] as Spendable).key.secretKey, new Uint8Array(32))
    input.witness = [i === tx.inputs.length - 1 ? sig.map((b, at) => at === 32 + (flip % 32) ? b ^ 1 : b) : sig]
  })
  return tx
}

/**
 * Event-loop lag: the longest stretch between ticks of a 5 ms timer, as wall time and as CPU
 * time of this thread. The CPU time is what this process's own work held the loop for; wall
 * time also counts the time the OS gave other processes, unbounded on a shared machine.
 */
export function lagProbe (): { stop: () => { wallMs: number, cpuMs: number } } {
  const cpu = (): number => { const u = process.threadCpuUsage(); return (u.user + u.system) / 1000 }
  let lastWall = performance.now()
  let lastCpu = cpu()
  let wallMs = 0
  let cpuMs = 0
  const tick = (): void => {
    const w = performance.now()
    const c = cpu()
    wallMs = Math.max(wallMs, w - lastWall)
    cpuMs = Math.max(cpuMs, c - lastCpu)
    lastWall = w
    lastCpu = c
  }
  const timer = setInterval(tick, 5)
  return { stop: () => { tick(); clearInterval(timer); return { wallMs, cpuMs } } }
}
