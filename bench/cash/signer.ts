/**
 * Signs many BIP340 messages on worker threads (one per core), for preparing the benchmark's
 * blocks: a full block needs about 6,500 signatures, and signing is most of the preparation.
 *
 * ```ts
 * const signer = new Signer(keys.map(k => k.secret))
 * const sigs = await signer.sign(msgs, keyIndexes)   // 64 bytes each, in order
 * await signer.close()
 * ```
 */
import { availableParallelism } from 'node:os'
import { Worker } from 'node:worker_threads'

/** A batch for one worker: `keys.length` messages of 32 bytes, and the key index of each. */
export interface SignRequest { id: number, msgs: Uint8Array, keys: Uint16Array }
/** The signatures of a batch, 64 bytes each, in order. */
export interface SignResponse { id: number, sigs: Uint8Array, error?: string }

const WORKER_URL = new URL('./sign-worker.ts', import.meta.url)

/** A pool of signing threads over a fixed list of secret keys. */
export class Signer {
  private readonly workers: Worker[]
  private readonly pending = new Map<number, { resolve: (sigs: Uint8Array) => void, reject: (err: Error) => void }>()
  private nextId = 1

  constructor (secrets: Uint8Array[], threads = availableParallelism()) {
    this.workers = Array.from({ length: Math.max(1, threads) }, () => {
      const w = new Worker(WORKER_URL, { workerData: secrets })
      w.on('message', (res: SignResponse) => {
        const p = this.pending.get(res.id)
        if (p === undefined) return
        this.pending.delete(res.id)
        if (res.error !== undefined) p.reject(new Error(`signing failed: ${res.error}`))
        else p.resolve(res.sigs)
      })
      w.on('error', (err) => { for (const p of this.pending.values()) p.reject(err) })
      return w
    })
  }

  /** Signs `msgs[i]` with key `keys[i]`; the work is split evenly over the threads. */
  async sign (msgs: readonly Uint8Array[], keys: readonly number[]): Promise<Uint8Array[]> {
    const n = msgs.length
    if (n === 0) return []
    const per = Math.ceil(n / this.workers.length)
    const parts: Array<Promise<Uint8Array>> = []
    for (let start = 0, w = 0; start < n; start += per, w++) {
      const end = Math.min(n, start + per)
      const packed = new Uint8Array((end - start) * 32)
      for (let i = start; i < end; i++) packed.set(msgs[i] as Uint8Array, (i - start) * 32)
      const req: SignRequest = { id: this.nextId++, msgs: packed, keys: Uint16Array.from(keys.slice(start, end)) }
      parts.push(new Promise((resolve, reject) => {
        this.pending.set(req.id, { resolve, reject })
        ;(this.workers[w] as Worker).postMessage(req, [packed.buffer])
      }))
    }
    const out: Uint8Array[] = []
    for (const sigs of await Promise.all(parts)) {
      for (let at = 0; at < sigs.length; at += 64) out.push(sigs.subarray(at, at + 64))
    }
    return out
  }

  async close (): Promise<void> {
    await Promise.all(this.workers.map(async (w) => await w.terminate()))
  }
}
