/**
 * The miner: builds a block on the current tip and grinds its nonce on worker threads (one per
 * core by default), switching to a new template at once when the tip changes. Found blocks go
 * to the chain and then to `onBlock` (the node publishes them).
 *
 * ```ts
 * const miner = new Miner({ chain, params, log, onBlock: async (block, bytes) => relay.publish(bytes) })
 * miner.start(payoutScript)            // continuous, all cores
 * await miner.mineBlocks(10, script)   // regtest: ten blocks now
 * await miner.stop()
 * ```
 * @module
 */
import { availableParallelism } from 'node:os'
import { Worker } from 'node:worker_threads'
import type { Logger } from '../../utils/logger.ts'
import type { Chain } from '../chain/index.ts'
import type { ChainParams } from '../consensus/params.ts'
import { encodeBlock } from '../primitives/block.ts'
import type { Block } from '../primitives/block.ts'
import type { Transaction } from '../primitives/tx.ts'
import { headerHash } from '../primitives/header.ts'
import { assembleBlock, grind } from './template.ts'
import type { MineJob, MineReport } from './mine-worker.ts'

// From sources the module is miner.ts, from dist/ miner.js; the worker sits beside it.
const WORKER_URL = new URL(import.meta.url.endsWith('.ts') ? './mine-worker.ts' : './mine-worker.js', import.meta.url)

/** How often a running template is rebuilt with a fresh time, even without a new tip (ms). */
const REFRESH_MS = 15_000

/** Options of {@link Miner}. */
export interface MinerInit {
  chain: Chain
  params: ChainParams
  log: Logger
  /** Called with each block this miner found once the chain has accepted it. */
  onBlock?: (block: Block, bytes: Uint8Array) => Promise<void> | void
  /** Worker threads for continuous mining; default one per core. */
  threads?: number
  /**
   * Least time between two blocks of continuous mining (ms). Default 1000 on networks without
   * retargeting (regtest, where any hash wins and blocks would otherwise flood), else 0.
   */
  minIntervalMs?: number
  /** Supplies each template's transactions and their fees (the mempool); none without it. */
  mempool?: { selectForBlock (maxWeight: number): { txs: Transaction[], fees: bigint } }
}

/** What the miner is doing. */
export interface MinerStatus {
  mining: boolean
  threads: number
  /** Hashes per second over the last few seconds. */
  hashRate: number
  blocksFound: number
}

/** Builds blocks on the tip and finds their proof of work. */
export class Miner {
  private readonly init: MinerInit
  private workers: Worker[] = []
  private readonly flag = new Int32Array(new SharedArrayBuffer(4))
  private gen = 0
  private payout: Uint8Array | undefined
  private template: Block | undefined
  private refresh: ReturnType<typeof setInterval> | undefined
  private hashes: Array<{ at: number, n: number }> = []
  private found = 0
  private submitting = Promise.resolve()
  private lastFound = 0
  private paced: ReturnType<typeof setTimeout> | undefined

  constructor (init: MinerInit) {
    this.init = init
  }

  private readonly onTip = (): void => { if (this.payout != null) this.newJob() }

  /** Whether continuous mining runs. */
  get mining (): boolean { return this.payout != null }

  status (): MinerStatus {
    const now = Date.now()
    this.hashes = this.hashes.filter((h) => now - h.at < 10_000)
    const n = this.hashes.reduce((s, h) => s + h.n, 0)
    const span = this.hashes.length === 0 ? 1 : Math.max(1, (now - (this.hashes[0] as { at: number }).at) / 1000)
    return { mining: this.mining, threads: this.workers.length, hashRate: Math.round(n / span), blocksFound: this.found }
  }

  /** Starts mining to `payoutScript` on every thread; a running miner switches payout. */
  start (payoutScript: Uint8Array): void {
    const first = this.payout == null
    this.payout = payoutScript
    if (first) {
      const threads = this.init.threads ?? availableParallelism()
      for (let i = 0; i < threads; i++) {
        const w = new Worker(WORKER_URL)
        w.on('message', (r: MineReport) => { this.onReport(r) })
        w.on('error', (err) => { this.init.log.warn('mining worker failed', { err }) })
        w.unref()
        this.workers.push(w)
      }
      this.init.chain.on('tip', this.onTip)
      this.refresh = setInterval(() => { this.newJob() }, REFRESH_MS)
      this.refresh.unref?.()
      this.init.log.info('mining started', { threads })
    }
    this.newJob()
  }

  /** Stops continuous mining and its threads. */
  async stop (): Promise<void> {
    if (this.payout == null) return
    this.payout = undefined
    this.template = undefined
    Atomics.store(this.flag, 0, ++this.gen)
    this.init.chain.off('tip', this.onTip)
    if (this.refresh != null) clearInterval(this.refresh)
    if (this.paced != null) clearTimeout(this.paced)
    this.paced = undefined
    const workers = this.workers
    this.workers = []
    await Promise.all(workers.map(async (w) => await w.terminate()))
    await this.submitting
    this.init.log.info('mining stopped')
  }

  private minInterval (): number {
    return this.init.minIntervalMs ?? (this.init.params.noRetargeting ? 1000 : 0)
  }

  /** A new block template on the current tip, with the mempool's best transactions when there is one. */
  private build (payoutScript: Uint8Array): Block {
    const { chain, params, mempool } = this.init
    const ctx = chain.nextBlockContext()
    const time = Math.max(Math.floor(Date.now() / 1000), ctx.minTime)
    const { txs, fees } = mempool?.selectForBlock(params.maxBlockWeight) ?? { txs: [], fees: 0n }
    return assembleBlock({ prevHash: ctx.prevHash, height: ctx.height, time, bits: ctx.bits, payoutScript, txs, fees, params })
  }

  private newJob (): void {
    if (this.payout == null) return
    const wait = this.lastFound + this.minInterval() - Date.now()
    if (wait > 0) {
      // pace: hold every thread until the interval has passed, then start on the then tip
      Atomics.store(this.flag, 0, ++this.gen)
      this.template = undefined
      if (this.paced == null) this.paced = setTimeout(() => { this.paced = undefined; this.newJob() }, wait)
      return
    }
    const gen = ++this.gen
    Atomics.store(this.flag, 0, gen)
    const template = this.build(this.payout)
    this.template = template
    const share = Math.ceil(0x100000000 / this.workers.length)
    this.workers.forEach((w, i) => {
      const start = i * share
      const end = Math.min(0x100000000, start + share)
      w.postMessage({ gen, header: template.header, params: this.init.params, start, end, flag: this.flag } satisfies MineJob)
    })
  }

  private onReport (r: MineReport): void {
    this.hashes.push({ at: Date.now(), n: r.hashes })
    if (r.gen !== this.gen || this.template == null) return
    if (r.type === 'exhausted') {
      this.newJob() // the time moves on, so the next template differs
      return
    }
    if (r.type !== 'found') return
    const block: Block = { header: { ...this.template.header, nonce: r.nonce }, txs: this.template.txs }
    // stop the other threads on this template; a new job follows the tip change
    Atomics.store(this.flag, 0, ++this.gen)
    this.template = undefined
    this.lastFound = Date.now() // before the chain's tip event asks for the next job
    this.submitting = this.submitting.then(async () => { await this.submit(block) })
  }

  private async submit (block: Block): Promise<void> {
    try {
      const bytes = encodeBlock(block)
      const result = await this.init.chain.addBlock(block, { bytes })
      this.found++
      this.init.log.info('mined a block', { result, height: this.init.chain.tip.height })
      await this.init.onBlock?.(block, bytes)
    } catch (err) {
      this.init.log.warn('a mined block was refused', { err })
    } finally {
      if (this.payout != null && this.template == null) this.newJob()
    }
  }

  /**
   * Mines `count` blocks on this thread, one after another, each on the new tip, and returns
   * their hashes. Meant for regtest, where a block takes a couple of hashes; on a real target
   * it would take as long as mining does.
   */
  async mineBlocks (count: number, payoutScript: Uint8Array, signal?: AbortSignal): Promise<Uint8Array[]> {
    const hashes: Uint8Array[] = []
    for (let i = 0; i < count; i++) {
      signal?.throwIfAborted()
      const block = this.build(payoutScript)
      let nonce: number | undefined
      for (let start = 0; nonce === undefined; start += 1_000_000) {
        if (start > 0xffffffff) {
          block.header.time++
          start = 0
        }
        nonce = grind(block.header, this.init.params, start, 1_000_000)
        if (nonce === undefined) await new Promise((resolve) => setImmediate(resolve))
      }
      block.header.nonce = nonce
      const bytes = encodeBlock(block)
      await this.init.chain.addBlock(block, { bytes })
      hashes.push(headerHash(block.header))
      await this.init.onBlock?.(block, bytes)
    }
    return hashes
  }
}
