/**
 * (b) Block validation throughput: the prepared blocks through the real {@link Chain}
 * (LevelDB in a temporary directory, the signature pool on every core), timing only
 * `chain.addBlock` of the benchmark blocks. Decoding the bytes happens before the clock starts,
 * and the bytes are passed along as a syncing node does (so the chain does not re-encode them).
 */
import { availableParallelism } from 'node:os'
import { join } from 'node:path'
import { signSchnorr } from 'tiny-secp256k1'
import { Chain, SigPool } from '../../src/cash/chain/index.ts'
import type { SigCheck } from '../../src/cash/consensus/coins.ts'
import type { ChainParams } from '../../src/cash/consensus/params.ts'
import { decodeBlock } from '../../src/cash/primitives/block.ts'
import { backgroundCores, cpuSnapshot, ownCpu } from '../share/cpu.ts'
import { BENCH_KEYS } from './blocks.ts'
import type { BenchKey, PreparedChain } from './blocks.ts'
import { median } from './stats.ts'

/** What (b) measured. */
export interface ValidationResult {
  blocks: number
  txsPerBlock: number
  /** Non-coinbase transactions (= signatures) in the timed blocks. */
  txs: number
  seconds: number
  txPerSecond: number
  /** Each block's `addBlock`, its median and the slowest. */
  blockMs: number[]
  medianBlockMs: number
  maxBlockMs: number
  /** Time spent in the signature pool (workers busy, this thread waiting), of `seconds`. */
  verifySeconds: number
  workers: number
  /** CPU-seconds of this process during the timed calls (all threads), and others' cores. */
  cpuSeconds?: number
  background?: number
}

/** A {@link SigPool} that adds up the time its `verify` calls take. */
class TimedSigPool extends SigPool {
  seconds = 0
  override async verify (checks: readonly SigCheck[]): Promise<number> {
    const t0 = performance.now()
    try {
      return await super.verify(checks)
    } finally {
      this.seconds += (performance.now() - t0) / 1000
    }
  }
}

/** Starts the pool's workers with a batch of valid checks, so the first timed block does not pay for it. */
async function warmUp (pool: SigPool): Promise<void> {
  const key = BENCH_KEYS[0] as BenchKey
  const checks: SigCheck[] = Array.from({ length: 64 * pool.size }, (_, i) => {
    const msg = new Uint8Array(32)
    msg[0] = i & 0xff
    msg[1] = i >> 8
    return { sig: signSchnorr(msg, key.secret, new Uint8Array(32)), msg, pubkey: key.pubkey }
  })
  if (await pool.verify(checks) !== -1) throw new Error('warm-up signatures did not verify')
}

/** Adds `bytes` to `chain` and insists it becomes the tip. */
export async function connectBlock (chain: Chain, bytes: Uint8Array, what: string): Promise<void> {
  const result = await chain.addBlock(decodeBlock(bytes), { bytes })
  if (result !== 'connected') throw new Error(`${what}: addBlock returned '${result}', not 'connected'`)
}

/** Connects the setup blocks, then times `blocks` benchmark blocks one `addBlock` at a time. */
export async function measureValidation (prepared: PreparedChain, blocks: number, params: ChainParams, dir: string, log: (s: string) => void): Promise<ValidationResult> {
  const pool = new TimedSigPool({ size: availableParallelism() })
  const chain = new Chain({ location: join(dir, 'chain'), params, workers: pool })
  await chain.open()
  try {
    await warmUp(pool)
    for (const [i, bytes] of prepared.setup.entries()) await connectBlock(chain, bytes, `setup block ${i + 1}`)
    pool.seconds = 0
    const times: number[] = []
    const cpu0 = cpuSnapshot([])
    for (let k = 0; k < blocks; k++) {
      const bytes = prepared.full[k] as Uint8Array
      const block = decodeBlock(bytes)
      const t0 = performance.now()
      const result = await chain.addBlock(block, { bytes })
      times.push(performance.now() - t0)
      if (result !== 'connected') throw new Error(`benchmark block ${k + 1}: addBlock returned '${result}', not 'connected'`)
      log(`  block ${k + 1}/${blocks}: ${(times[k] as number).toFixed(0)} ms`)
    }
    const cpu1 = cpuSnapshot([])
    const seconds = times.reduce((s, t) => s + t, 0) / 1000
    const txs = blocks * prepared.txsPerBlock
    const r: ValidationResult = {
      blocks,
      txsPerBlock: prepared.txsPerBlock,
      txs,
      seconds,
      txPerSecond: txs / seconds,
      blockMs: times,
      medianBlockMs: median(times),
      maxBlockMs: Math.max(...times),
      verifySeconds: pool.seconds,
      workers: pool.size
    }
    if (cpu0 !== undefined && cpu1 !== undefined) {
      r.cpuSeconds = ownCpu(cpu0, cpu1).total
      r.background = backgroundCores(cpu0, cpu1)
    }
    return r
  } finally {
    await chain.close()
  }
}
