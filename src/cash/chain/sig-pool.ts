/**
 * A pool of worker threads that verify Schnorr signature checks in parallel, so a block's
 * signatures (the bulk of its validation cost) use every core. Small batches stay on the
 * calling thread, where posting them to a worker would cost more than it saves.
 *
 * ```ts
 * const pool = new SigPool()              // size = os.availableParallelism()
 * const bad = await pool.verify(checks)   // index of the first invalid check, or -1
 * await pool.close()                      // terminates the workers
 * ```
 *
 * Checks travel packed, 128 bytes each (signature 64 | message 32 | key 32), in one transferred
 * buffer per batch. Workers start on first use (or `start()`) and do not keep the process alive
 * while idle.
 * If a worker cannot start or dies, its batch is verified inline and the pool stays inline
 * from then on (logged once): a missing worker file must not stop the chain.
 */
import { availableParallelism } from 'node:os'
import { Worker } from 'node:worker_threads'
import type { SigCheck } from '../consensus/coins.ts'
import { verifySigChecks } from '../consensus/verify.ts'
import type { Logger } from '../../utils/logger.ts'

/** Bytes of one packed check: signature, message, x-only key. */
export const PACKED_CHECK_SIZE = 128

/** Below this many checks a batch is verified on the calling thread. */
export const DEFAULT_INLINE_THRESHOLD = 64

// From sources (type stripping) this module is sig-pool.ts, from dist/ it is sig-pool.js;
// the worker file sits beside it with the same extension.
const WORKER_URL = new URL(import.meta.url.endsWith('.ts') ? './sig-worker.ts' : './sig-worker.js', import.meta.url)

/** A request to a worker: verify `count` packed checks. */
export interface SigJobRequest { id: number, packed: Uint8Array, count: number }
/** A worker's answer: index of the first invalid check within the batch, or -1. */
export interface SigJobResponse { id: number, index: number, error?: string }

/** Options of {@link SigPool}. */
export interface SigPoolOptions {
  /** Worker threads; default `os.availableParallelism()`. 0 verifies everything inline. */
  size?: number
  /** Batches smaller than this are verified inline (default {@link DEFAULT_INLINE_THRESHOLD}). */
  inlineThreshold?: number
  logger?: Logger
  /** The worker script (default: `sig-worker` beside this module); tests point it elsewhere. */
  workerUrl?: URL
}

/** Packs checks start..end-1 (all of well-formed lengths) into one buffer. */
export function packSigChecks (checks: readonly SigCheck[], start: number, end: number): Uint8Array {
  const out = new Uint8Array((end - start) * PACKED_CHECK_SIZE)
  for (let i = start; i < end; i++) {
    const c = checks[i] as SigCheck
    const at = (i - start) * PACKED_CHECK_SIZE
    out.set(c.sig, at)
    out.set(c.msg, at + 64)
    out.set(c.pubkey, at + 96)
  }
  return out
}

/** The checks in a packed buffer, as views into it. */
export function unpackSigChecks (packed: Uint8Array, count: number): SigCheck[] {
  const checks: SigCheck[] = []
  for (let i = 0; i < count; i++) {
    const at = i * PACKED_CHECK_SIZE
    checks.push({ sig: packed.subarray(at, at + 64), msg: packed.subarray(at + 64, at + 96), pubkey: packed.subarray(at + 96, at + 128) })
  }
  return checks
}

function wellFormed (c: SigCheck): boolean {
  return c.sig instanceof Uint8Array && c.sig.length === 64 && c.msg instanceof Uint8Array && c.msg.length === 32 &&
    c.pubkey instanceof Uint8Array && c.pubkey.length === 32
}

interface Job { packed: Uint8Array, count: number, resolve: (index: number) => void, reject: (err: Error) => void }
interface Slot { worker: Worker, job?: Job, jobId: number }

/** Worker-thread pool running `verifySigChecks`. */
export class SigPool {
  /** Number of worker threads (0: inline only). */
  readonly size: number
  readonly inlineThreshold: number
  private readonly log: Logger | undefined
  private readonly workerUrl: URL
  private slots: Slot[] = []
  private queue: Job[] = []
  private nextId = 1
  private broken = false
  private closed = false

  constructor (options: SigPoolOptions = {}) {
    this.size = Math.max(0, options.size ?? availableParallelism())
    this.inlineThreshold = options.inlineThreshold ?? DEFAULT_INLINE_THRESHOLD
    this.log = options.logger
    this.workerUrl = options.workerUrl ?? WORKER_URL
  }

  /**
   * Verifies every check.
   *
   * @param inlineThreshold - fewer checks than this are verified on the calling thread (default:
   *   the pool's)
   * @returns the index of the first invalid check (malformed lengths count as invalid), or -1
   */
  async verify (checks: readonly SigCheck[], inlineThreshold = this.inlineThreshold): Promise<number> {
    // Malformed checks cannot be packed: verify only those before the first one, which is
    // otherwise the answer.
    let end = checks.findIndex(c => !wellFormed(c))
    const malformed = end
    if (end < 0) end = checks.length
    const first = await this.verifyWellFormed(checks, end, Math.max(1, inlineThreshold))
    return first >= 0 ? first : malformed
  }

  /**
   * Starts the workers now rather than on first use, so the first large block does not wait
   * for threads to boot; also reopens a closed pool. Idle workers do not keep the process alive.
   */
  start (): void {
    this.closed = false
    if (this.broken) return
    while (this.slots.length < this.size) this.spawn()
  }

  /** True once a worker failed and the pool verifies on the calling thread. */
  get degraded (): boolean { return this.broken }

  /** Worker threads running now (they start on first use). */
  get running (): number { return this.slots.length }

  private async verifyWellFormed (checks: readonly SigCheck[], count: number, inlineThreshold: number): Promise<number> {
    if (count === 0) return -1
    if (this.closed || this.broken || this.size === 0 || count < inlineThreshold) {
      return verifySigChecks(checks.slice(0, count))
    }
    const parts = Math.min(this.size, Math.ceil(count / inlineThreshold))
    const per = Math.ceil(count / parts)
    const runs: Array<Promise<number>> = []
    for (let start = 0; start < count; start += per) {
      const stop = Math.min(count, start + per)
      runs.push(this.run(checks, start, stop).then(i => i < 0 ? -1 : start + i))
    }
    const results = await Promise.all(runs)
    const bad = results.filter(i => i >= 0)
    return bad.length === 0 ? -1 : Math.min(...bad)
  }

  /** Verifies checks start..stop-1 on a worker; inline if the workers fail (the packed copy went to the worker). */
  private async run (checks: readonly SigCheck[], start: number, stop: number): Promise<number> {
    try {
      const packed = packSigChecks(checks, start, stop)
      return await new Promise<number>((resolve, reject) => {
        this.queue.push({ packed, count: stop - start, resolve, reject })
        this.pump()
      })
    } catch (err) {
      if (!this.broken && !this.closed) {
        this.broken = true
        this.log?.warn('signature workers failed, verifying on the main thread from now on', { err: err as Error })
        this.terminateAll()
      }
      return verifySigChecks(checks.slice(start, stop))
    }
  }

  private pump (): void {
    while (this.queue.length > 0) {
      if (this.broken || this.closed) {
        const err = new Error(this.closed ? 'signature pool closed' : 'signature pool broken')
        for (const job of this.queue.splice(0)) job.reject(err)
        return
      }
      let slot = this.slots.find(s => s.job === undefined)
      if (slot === undefined) {
        if (this.slots.length >= this.size) return
        slot = this.spawn()
      }
      const job = this.queue.shift() as Job
      slot.job = job
      slot.jobId = this.nextId++
      slot.worker.ref()
      const msg: SigJobRequest = { id: slot.jobId, packed: job.packed, count: job.count }
      slot.worker.postMessage(msg, [job.packed.buffer as ArrayBuffer])
    }
  }

  private spawn (): Slot {
    const worker = new Worker(this.workerUrl)
    worker.unref()
    const slot: Slot = { worker, jobId: 0 }
    const fail = (err: Error): void => {
      this.slots = this.slots.filter(s => s !== slot)
      const job = slot.job
      slot.job = undefined
      job?.reject(err)
    }
    worker.on('message', (res: SigJobResponse) => {
      const job = slot.job
      if (job === undefined || res.id !== slot.jobId) return
      slot.job = undefined
      worker.unref()
      if (res.error !== undefined) job.reject(new Error(res.error))
      else job.resolve(res.index)
      this.pump()
    })
    worker.on('error', fail)
    worker.on('exit', (code) => { fail(new Error(`signature worker exited with code ${code}`)) })
    this.slots.push(slot)
    return slot
  }

  private terminateAll (): void {
    const slots = this.slots
    this.slots = []
    for (const job of this.queue.splice(0)) job.reject(new Error('signature pool broken'))
    for (const s of slots) {
      s.worker.removeAllListeners('exit')
      void s.worker.terminate()
      s.job?.reject(new Error('signature pool closed'))
    }
  }

  /** Terminates the workers; later calls verify inline until `start()`. */
  async close (): Promise<void> {
    this.closed = true
    const slots = this.slots
    this.slots = []
    for (const job of this.queue.splice(0)) job.reject(new Error('signature pool closed'))
    await Promise.all(slots.map(async s => {
      s.worker.removeAllListeners('exit')
      s.job?.reject(new Error('signature pool closed'))
      await s.worker.terminate()
    }))
  }
}
