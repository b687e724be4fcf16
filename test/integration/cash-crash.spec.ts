/**
 * `kill -9` of a daemon process while it mines and while it syncs: on restart the chain opens,
 * its UTXO set equals the one rebuilt from the stored best-chain blocks, and the node carries on
 * (the syncing one reaches its peer's tip).
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { Chain } from '../../src/cash/chain/index.ts'
import { chainParams } from '../../src/cash/consensus/params.ts'
import { encodeAddress } from '../../src/cash/primitives/address.ts'
import { xOnlyPublicKey } from '../utils/schnorr.ts'
import type { ChainInfo } from '../../src/cash/service.ts'
import { ApiClient } from '../../src/cli/client.ts'
import { startDaemonProcess, waitFor } from '../utils/index.ts'
import type { DaemonProcess } from '../utils/index.ts'
import { teardown } from '../utils/teardown.ts'

const TEST = { timeout: 180_000 }
const ADDRESS = encodeAddress('pdrt', xOnlyPublicKey(new Uint8Array(32).fill(3)))

async function info (d: DaemonProcess): Promise<ChainInfo> {
  return await new ApiClient(d.dataDir).get<ChainInfo>('/api/v1/chain/info')
}

/** Opens the chain a killed daemon left and checks it is consistent; returns its height. */
async function checkConsistent (dataDir: string): Promise<number> {
  const chain = new Chain({ location: join(dataDir, 'chain'), params: chainParams('regtest') })
  await chain.open()
  try {
    const stored = await chain.utxoStats()
    const rebuilt = await chain.rebuildUtxoFromBlocks()
    assert.deepEqual(stored, rebuilt, 'the UTXO set differs from the one rebuilt from the blocks')
    const top = await chain.getEntryByHeight(chain.tip.height)
    assert.ok(top != null && Buffer.from(top.hash).equals(Buffer.from(chain.tip.hash)), 'the height index disagrees with the tip')
    return chain.tip.height
  } finally {
    await chain.close()
  }
}

describe('cash: kill -9 during mining and sync', () => {
  const td = teardown()
  const start = async (dataDir: string, extra: string[] = []): Promise<DaemonProcess> => td.daemon(await startDaemonProcess(dataDir, extra))

  it('a miner killed mid-run restarts consistent; a node killed mid-sync restarts and catches up', TEST, async () => {
    const dirA = await td.dir('peerd-crash-a-')
    const dirB = await td.dir('peerd-crash-b-')

    // 1. kill -9 while mining
    let a = await start(dirA)
    const mining = new ApiClient(dirA).post('/api/v1/mine', { blocks: 5000, address: ADDRESS }).catch(() => {})
    await waitFor(async () => (await info(a)).height >= 200, { timeoutMs: 60_000, what: 'mining under way' })
    await a.kill()
    await mining
    const minedHeight = await checkConsistent(dirA)
    assert.ok(minedHeight >= 200 && minedHeight < 5000, `height ${minedHeight}`)

    a = await start(dirA)
    assert.equal((await info(a)).height, minedHeight, 'the restarted miner lost blocks')
    await new ApiClient(dirA).post('/api/v1/mine', { blocks: 3000 - minedHeight, address: ADDRESS })
    const tipA = await info(a)
    assert.equal(tipA.height, 3000)

    // 2. kill -9 while syncing
    const bootstrap = ['--bootstrap', a.addresses.find((x) => !x.includes('/ws')) as string]
    let b = await start(dirB, bootstrap)
    await waitFor(async () => (await info(b)).height > 0, { timeoutMs: 60_000, intervalMs: 20, what: 'sync under way' })
    await b.kill()
    const partial = await checkConsistent(dirB)
    assert.ok(partial <= 3000)
    console.log(`# killed mid-sync at height ${partial} of 3000, mid-mining at ${minedHeight}`)

    b = await start(dirB, bootstrap)
    await waitFor(async () => (await info(b)).tip === tipA.tip, { timeoutMs: 90_000, what: `B at A's tip (${tipA.height})` })
    await b.stop()
    assert.equal(await checkConsistent(dirB), 3000)
  })
})
