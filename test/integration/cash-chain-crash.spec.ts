/**
 * kill -9 at any moment leaves the chain store consistent. A child process mines blocks and
 * reorganisations into a LevelDB chain in a loop and is SIGKILLed at random moments; after
 * each kill the raw store is checked (tip, height index, undo data, tx index, and the UTXO
 * set against one rebuilt from the stored best-chain blocks), then opened as a Chain (which
 * may connect a stored heavier branch) and checked again. A last run must finish cleanly.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import { describe, it } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { ChainDb, utxoStatsOf } from '../../src/cash/chain/chain-db.ts'
import { Chain, openChainLevel } from '../../src/cash/chain/index.ts'
import { decodeTxIndex, PREFIX, prefixRange } from '../../src/cash/chain/layout.ts'
import { isUnspendable } from '../../src/cash/consensus/check-tx.ts'
import type { Coin } from '../../src/cash/consensus/coins.ts'
import { chainParams } from '../../src/cash/consensus/params.ts'
import { decodeBlock } from '../../src/cash/primitives/block.ts'
import { bytesEqual, hashToHex } from '../../src/cash/primitives/hash.ts'
import { decodeTx, txid } from '../../src/cash/primitives/tx.ts'
import type { OutPoint } from '../../src/cash/primitives/tx.ts'
import { teardown } from '../utils/teardown.ts'

const WRITER = fileURLToPath(new URL('./fixtures/cash-chain-writer.ts', import.meta.url))
const KILLS = 5
const params = chainParams('regtest')

interface Run { signal: NodeJS.Signals | null, tipHeight?: number }

/** Runs the writer for `rounds`; with `killAfterMs`, SIGKILLs it that long after it is ready. */
async function runWriter (path: string, rounds: number, killAfterMs?: number): Promise<Run> {
  const child = spawn(process.execPath, [WRITER, path, String(rounds)], { stdio: ['ignore', 'pipe', 'pipe'] })
  let stderr = ''
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
  const exited = new Promise<[number | null, NodeJS.Signals | null]>(resolve => { child.on('exit', (code, signal) => { resolve([code, signal]) }) })
  let tipHeight: number | undefined
  const ready = new Promise<void>((resolve) => {
    createInterface({ input: child.stdout }).on('line', (line) => {
      if (line === 'ready') resolve()
      if (line.startsWith('done ')) tipHeight = Number(line.slice(5))
    })
  })
  const timer = setTimeout(() => { child.kill('SIGKILL') }, 120_000)
  try {
    if (killAfterMs !== undefined) {
      await Promise.race([ready, exited])
      await sleep(killAfterMs)
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    }
    const [exit, signal] = await exited
    if (signal === null && exit !== 0) throw new Error(`writer exited with ${exit}: ${stderr}`)
    if (killAfterMs !== undefined) assert.equal(signal, 'SIGKILL', 'the writer was still running when killed')
    return { signal, tipHeight }
  } finally {
    clearTimeout(timer)
  }
}

async function count (db: ChainDb, prefix: number): Promise<number> {
  let n = 0
  for await (const _k of db.db.keys(prefixRange(prefix))) n++
  return n
}

/**
 * Checks the store as it is, without the Chain (whose open may repair things); returns the
 * tip height.
 */
async function inspectRaw (path: string): Promise<number> {
  const db = new ChainDb(openChainLevel(path))
  try {
    assert.equal(await db.open(), false, 'genesis was written before ready')
    const records = new Map<string, { height: number, prevHash: Uint8Array, status: string }>()
    for await (const [hash, rec] of db.entries()) records.set(hashToHex(hash), { height: rec.height, prevHash: rec.header.prevHash, status: rec.status })
    const tipHash = await db.tipHash()
    const tip = tipHash === undefined ? undefined : records.get(hashToHex(tipHash))
    assert.ok(tipHash !== undefined && tip !== undefined, 'the tip has an entry')
    // Walking back from the tip gives the height index, exactly, and every block of it is valid.
    const main: Uint8Array[] = []
    let hash = tipHash
    for (let h = tip.height; h >= 0; h--) {
      const rec = records.get(hashToHex(hash))
      assert.ok(rec !== undefined && rec.height === h, `entry at height ${h}`)
      assert.equal(rec.status, 'valid', `best-chain block ${h} is valid`)
      assert.ok(bytesEqual((await db.hashAt(h)) ?? new Uint8Array(), hash), `height index at ${h}`)
      if (h > 0) assert.ok(await db.undo(hash) !== undefined, `undo data of ${h}`)
      main[h] = hash
      hash = rec.prevHash
    }
    assert.ok(bytesEqual(main[0] as Uint8Array, params.genesis.hash))
    assert.equal(await count(db, PREFIX.height), tip.height + 1, 'no height index past the tip')
    assert.equal(await count(db, PREFIX.undo), tip.height, 'undo data only for best-chain blocks')
    // Replay the stored best-chain blocks by the plain rule.
    const coins = new Map<string, [OutPoint, Coin]>()
    let txs = 0
    for (let h = 1; h <= tip.height; h++) {
      const bytes = await db.blockBytes(main[h] as Uint8Array)
      assert.ok(bytes !== undefined)
      for (const [t, tx] of decodeBlock(bytes).txs.entries()) {
        const id = txid(tx)
        txs++
        if (t > 0) for (const input of tx.inputs) coins.delete(`${hashToHex(input.prevout.txid)}:${input.prevout.index}`)
        tx.outputs.forEach((output, index) => {
          if (!isUnspendable(output.script)) coins.set(`${hashToHex(id)}:${index}`, [{ txid: id, index }, { amount: output.amount, script: output.script, height: h, coinbase: t === 0 }])
        })
      }
    }
    assert.deepEqual(await db.utxoStats(), utxoStatsOf(coins.values()), `UTXO set at height ${tip.height} equals the replayed one`)
    // Every tx index record names a best-chain block holding that very transaction, and every
    // best-chain transaction (genesis included) has one.
    const onMain = new Set(main.map(h => hashToHex(h)))
    let indexed = 0
    for await (const [key, value] of db.db.iterator(prefixRange(PREFIX.tx))) {
      const rec = decodeTxIndex(value)
      assert.ok(onMain.has(hashToHex(rec.blockHash)), 'tx index points at the best chain')
      const bytes = await db.blockBytes(rec.blockHash) as Uint8Array
      assert.ok(bytesEqual(txid(decodeTx(bytes.subarray(rec.offset, rec.offset + rec.length))), key.subarray(1)))
      indexed++
    }
    assert.equal(indexed, txs + 1)
    return tip.height
  } finally {
    await db.db.close()
  }
}

describe('chain store under kill -9', () => {
  const td = teardown()

  it(`stays consistent through ${KILLS} SIGKILLs at random moments while mining and reorganising`, async (ctx) => {
    const dir = await td.dir('peerd-chain-crash-')
    const heights: number[] = []
    for (let i = 0; i < KILLS; i++) {
      const delay = 100 + Math.floor(Math.random() * 1500)
      await runWriter(dir, 1_000_000, delay)
      const height = await inspectRaw(dir)
      heights.push(height)
      ctx.diagnostic(`kill ${i + 1} after ${delay} ms: tip height ${height}`)
      const chain = new Chain({ location: dir, params, now: () => 2_000_000_000, workers: 0 })
      await chain.open()
      try {
        assert.ok(chain.tip.height >= height)
        if (chain.tip.height > height) ctx.diagnostic(`  open connected a stored heavier branch: ${height} → ${chain.tip.height}`)
        assert.deepEqual(await chain.utxoStats(), await chain.rebuildUtxoFromBlocks())
      } finally {
        await chain.close()
      }
      await inspectRaw(dir)
    }
    assert.ok(heights.some((h, i) => i > 0 && h > (heights[i - 1] as number)), 'progress across restarts')
    const last = await runWriter(dir, 12)
    assert.equal(last.signal, null)
    assert.equal(await inspectRaw(dir), last.tipHeight)
  })
})
