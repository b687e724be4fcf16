/**
 * `peerd mine` and `peerd chain info|block|tx` against a real regtest daemon process, with the
 * JSON shapes the issue fixes and the errors of bad input.
 */
import assert from 'node:assert/strict'
import { before, describe, it } from 'node:test'
import { encodeAddress } from '../../src/cash/primitives/address.ts'
import { xOnlyPublicKey } from '../utils/schnorr.ts'
import { cliJson, runCli, startDaemonProcess, waitFor } from '../utils/index.ts'
import type { DaemonProcess } from '../utils/index.ts'
import { assertFailed, errorOf } from '../utils/cli.ts'
import { teardown } from '../utils/teardown.ts'

const TEST = { timeout: 60_000 }
const ADDRESS = encodeAddress('pdrt', xOnlyPublicKey(new Uint8Array(32).fill(9)))
const MAIN_ADDRESS = encodeAddress('pd', xOnlyPublicKey(new Uint8Array(32).fill(9)))

interface Info { network: string, height: number, tip: string, difficulty: number, mempool: { size: number } }
interface BlockView { hash: string, height: number, confirmations: number, prevHash: string, txs: string[], nextHash: string | null }
interface TxView { txid: string, coinbase: boolean, height: number, outputs: Array<{ amount: number, address: string | null }> }

describe('peerd chain and mine (CLI)', () => {
  const td = teardown()
  let d: DaemonProcess
  let dd: string[]

  before(async () => {
    const dir = await td.dir('peerd-e2e-chain-')
    d = td.daemon(await startDaemonProcess(dir))
    dd = ['--data-dir', dir]
  })

  it('a new node is at its genesis block', TEST, async () => {
    const info = await cliJson<Info>(['chain', 'info', '--json', ...dd])
    assert.equal(info.network, 'regtest')
    assert.equal(info.height, 0)
    assert.match(info.tip, /^[0-9a-f]{64}$/)
    assert.equal(typeof info.difficulty, 'number')
    assert.equal(info.mempool.size, 0)
  })

  it('mine --blocks N returns N block hashes and moves the tip', TEST, async () => {
    const r = await cliJson<{ blocks: string[] }>(['mine', '--blocks', '3', '--address', ADDRESS, '--json', ...dd])
    assert.equal(r.blocks.length, 3)
    for (const h of r.blocks) assert.match(h, /^[0-9a-f]{64}$/)
    const info = await cliJson<Info>(['chain', 'info', '--json', ...dd])
    assert.equal(info.height, 3)
    assert.equal(info.tip, r.blocks[2])

    const byHeight = await cliJson<BlockView>(['chain', 'block', '2', '--json', ...dd])
    assert.equal(byHeight.hash, r.blocks[1])
    assert.equal(byHeight.prevHash, r.blocks[0])
    assert.equal(byHeight.nextHash, r.blocks[2])
    assert.equal(byHeight.confirmations, 2)
    const byHash = await cliJson<BlockView>(['chain', 'block', r.blocks[2] as string, '--json', ...dd])
    assert.equal(byHash.height, 3)
    assert.equal(byHash.txs.length, 1)

    const tx = await cliJson<TxView>(['chain', 'tx', byHash.txs[0] as string, '--json', ...dd])
    assert.equal(tx.coinbase, true)
    assert.equal(tx.height, 3)
    const paid = tx.outputs.find((o) => o.address === ADDRESS)
    assert.equal(paid?.amount, 5 * 100_000_000)

    const human = await runCli(['chain', 'info', ...dd])
    assert.equal(human.code, 0)
    assert.match(human.stdout, /height:\s+3/)
  })

  it('daemon --mine mines continuously (paced on regtest) and the other node follows', TEST, async () => {
    const minerDir = await td.dir('peerd-e2e-miner-')
    const miner = td.daemon(await startDaemonProcess(minerDir, ['--mine', ADDRESS, '--mine-threads', '1', '--bootstrap', d.addresses[0] as string]))
    const start = (await cliJson<Info>(['chain', 'info', '--json', ...dd])).height
    const info = await cliJson<Info & { miner: { mining: boolean, threads: number } }>(['chain', 'info', '--json', '--data-dir', minerDir])
    assert.equal(info.miner.mining, true)
    assert.equal(info.miner.threads, 1)
    // the first node learns the miner's blocks by gossip and sync
    await waitFor(async () => (await cliJson<Info>(['chain', 'info', '--json', ...dd])).height >= start + 3,
      { timeoutMs: 30_000, intervalMs: 250, what: `three mined blocks past height ${start}` })
    await miner.stop()
  })

  it('bad input gets a clear error and a non-zero exit', TEST, async () => {
    const missing = await runCli(['chain', 'block', '999', '--json', ...dd])
    assertFailed(missing)
    assert.equal(errorOf(missing).name, 'NotFoundError')
    assert.match(errorOf(missing).message, /height 999/)

    const badTx = await runCli(['chain', 'tx', 'zz', '--json', ...dd])
    assertFailed(badTx)
    assert.match(errorOf(badTx).message, /64 hex digits/)

    const unknownTx = await runCli(['chain', 'tx', '00'.repeat(32), '--json', ...dd])
    assertFailed(unknownTx)
    assert.equal(errorOf(unknownTx).name, 'NotFoundError')

    const wrongNet = await runCli(['mine', '--blocks', '1', '--address', MAIN_ADDRESS, '--json', ...dd])
    assertFailed(wrongNet)
    assert.match(errorOf(wrongNet).message, /invalid regtest address/)

    const zero = await runCli(['mine', '--blocks', '0', '--address', ADDRESS, ...dd])
    assert.equal(zero.code, 2)
    // without --address the blocks go to the wallet, and this node has none
    const noWallet = await runCli(['mine', '--blocks', '1', '--json', ...dd])
    assertFailed(noWallet)
    assert.equal(errorOf(noWallet).name, 'WalletNotFoundError')
    assert.match(errorOf(noWallet).message, /wallet create/)
    const sub = await runCli(['chain', 'frob', ...dd])
    assert.equal(sub.code, 2)
    assert.match(sub.stderr, /unknown chain subcommand/)

    // nothing of it changed the chain
    const before = (await cliJson<Info>(['chain', 'info', '--json', ...dd])).height
    await runCli(['mine', '--blocks', 'x', '--address', ADDRESS, ...dd])
    assert.equal((await cliJson<Info>(['chain', 'info', '--json', ...dd])).height, before)
  })
})
