/**
 * (c) Sync speed: a node catching up a chain of full blocks from one peer. Two in-process
 * regtest nodes on loopback; the source's chain is filled by handing it the prepared blocks
 * (`node.cash.chain.addBlock`, fully validated, not timed as sync), then a fresh node connects
 * to it (see `dial` in scope.ts) and the clock runs from the dial until its tip is the source's
 * tip: headers-first sync, block download and full validation of every block, all as the node
 * does it. Both nodes share this process, so the source's serving shares its main thread.
 */
import { hashToHex } from '../../src/cash/primitives/hash.ts'
import { decodeBlock } from '../../src/cash/primitives/block.ts'
import { backgroundCores, cpuSnapshot, ownCpu } from '../share/cpu.ts'
import type { PreparedChain } from './blocks.ts'
import { countCloses, dial } from './scope.ts'
import type { Scope } from './scope.ts'
import { connectBlock } from './validate.ts'

/** What (c) measured. */
export interface SyncResult {
  /** Benchmark blocks of `txsPerBlock` transactions, after `setupBlocks` small ones. */
  fullBlocks: number
  txsPerBlock: number
  setupBlocks: number
  /** All blocks and non-coinbase transactions synced, and their bytes. */
  blocks: number
  txs: number
  bytes: number
  /** From the dial to the synced tip. */
  seconds: number
  blocksPerSecond: number
  txPerSecond: number
  /** The source node validating the same full blocks handed to it one by one (a check of (b) inside a running node). */
  fill: { seconds: number, txPerSecond: number }
  /** Connections the syncing node lost meanwhile (0 expected). */
  connectionsClosed: number
  cpuSeconds?: number
  background?: number
}

/** Fills a source node with the setup blocks and `fullBlocks` benchmark blocks, then times a second node's sync from it. */
export async function measureSync (scope: Scope, prepared: PreparedChain, fullBlocks: number, log: (s: string) => void): Promise<SyncResult> {
  const source = await scope.node('source')
  const chain = source.cash.chain
  const blocks = [...prepared.setup, ...prepared.full.slice(0, fullBlocks)]
  let txs = 0
  let bytes = 0
  let fillMs = 0
  for (const [i, b] of blocks.entries()) {
    txs += decodeBlock(b).txs.length - 1
    bytes += b.length
    const t0 = performance.now()
    await connectBlock(chain, b, `block ${i + 1} on the source node`)
    if (i >= prepared.setup.length) fillMs += performance.now() - t0
  }
  const fullTxs = fullBlocks * prepared.txsPerBlock
  log(`  source node holds ${blocks.length} blocks (filled at ${Math.round(fullTxs / (fillMs / 1000))} tx/s)`)

  const target = hashToHex(chain.tip.hash)
  const height = chain.tip.height
  const sink = await scope.node('sink')
  const timeoutMs = 120_000 + txs * 3
  let t0 = 0
  let step = Math.max(1, Math.ceil(height / 10))
  const reached = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      sink.cash.chain.off('tip', onTip)
      reject(new Error(`the syncing node reached height ${sink.cash.chain.tip.height} of ${height} in ${timeoutMs / 1000} s`))
    }, timeoutMs)
    const onTip = (entry: { hash: Uint8Array, height: number }): void => {
      if (entry.height >= step) {
        log(`  synced ${entry.height}/${height} blocks, ${((performance.now() - t0) / 1000).toFixed(1)} s`)
        step += Math.max(1, Math.ceil(height / 10))
      }
      if (entry.height === height && hashToHex(entry.hash) === target) {
        clearTimeout(timer)
        sink.cash.chain.off('tip', onTip)
        resolve()
      }
    }
    sink.cash.chain.on('tip', onTip)
  })
  const closes = countCloses(sink)
  const cpu0 = cpuSnapshot([])
  t0 = performance.now()
  await dial(sink, source)
  await reached
  const seconds = (performance.now() - t0) / 1000
  const cpu1 = cpuSnapshot([])
  closes.stop()
  await scope.stop(sink)
  await scope.stop(source)
  const r: SyncResult = {
    fullBlocks,
    txsPerBlock: prepared.txsPerBlock,
    setupBlocks: prepared.setup.length,
    blocks: blocks.length,
    txs,
    bytes,
    seconds,
    blocksPerSecond: blocks.length / seconds,
    txPerSecond: txs / seconds,
    fill: { seconds: fillMs / 1000, txPerSecond: fullTxs / (fillMs / 1000) },
    connectionsClosed: closes.count()
  }
  if (cpu0 !== undefined && cpu1 !== undefined) {
    r.cpuSeconds = ownCpu(cpu0, cpu1).total
    r.background = backgroundCores(cpu0, cpu1)
  }
  return r
}
