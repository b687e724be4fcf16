/**
 * Worker thread of {@link Miner}: grinds the nonces `[start, end)` of one header with
 * `grind` (SHA-256 midstate) in batches, until one meets the target or the job's generation in
 * the shared flag changes (a new tip). Reports the hashes done after every batch so the miner
 * can show a hash rate.
 */
import { parentPort } from 'node:worker_threads'
import type { ChainParams } from '../consensus/params.ts'
import type { BlockHeader } from '../primitives/header.ts'
import { grind } from './template.ts'

/** A grinding job. */
export interface MineJob {
  gen: number
  header: BlockHeader
  params: ChainParams
  start: number
  end: number
  flag: Int32Array
}

/** A worker's report: a nonce found, its range exhausted, or progress. */
export type MineReport =
  | { gen: number, type: 'found', nonce: number, hashes: number }
  | { gen: number, type: 'exhausted', hashes: number }
  | { gen: number, type: 'progress', hashes: number }

const BATCH = 8192

function run (job: MineJob): void {
  const port = parentPort
  if (port == null) return
  for (let nonce = job.start; nonce < job.end; nonce += BATCH) {
    const count = Math.min(BATCH, job.end - nonce)
    const found = grind(job.header, job.params, nonce, count)
    if (found !== undefined) {
      port.postMessage({ gen: job.gen, type: 'found', nonce: found, hashes: found - nonce + 1 } satisfies MineReport)
      return
    }
    port.postMessage({ gen: job.gen, type: 'progress', hashes: count } satisfies MineReport)
    if (Atomics.load(job.flag, 0) !== job.gen) return
  }
  port.postMessage({ gen: job.gen, type: 'exhausted', hashes: 0 } satisfies MineReport)
}

parentPort?.on('message', (job: MineJob) => { run(job) })
