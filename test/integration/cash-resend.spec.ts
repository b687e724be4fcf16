/**
 * A payment the wallet wrote (flushed) but the process died before broadcasting, across a
 * restart of a real regtest node on loopback: the reopened wallet puts it back in the mempool,
 * and the node announces it to its peers like any payment of its own.
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { ClassicLevel } from 'classic-level'
import { encodeAddress } from '../../src/cash/primitives/address.ts'
import { encodeTx, txid } from '../../src/cash/primitives/tx.ts'
import { txsTopic } from '../../src/cash/sync/tx-relay.ts'
import { sentKey } from '../../src/cash/wallet/layout.ts'
import { startTestNode, waitFor } from '../utils/index.ts'
import { linkOnTopic } from '../utils/gossip.ts'
import { xOnlyPublicKey } from '../utils/schnorr.ts'
import { teardown } from '../utils/teardown.ts'

const TEST = { timeout: 60_000 }
const PASS = 'resend-pass'
const PAYEE = encodeAddress('pdrt', xOnlyPublicKey(new Uint8Array(32).fill(9)))

describe('cash: a payment sent just before a crash', () => {
  const td = teardown()

  it('is broadcast again by the restarted node and reaches its peers', TEST, async () => {
    const dataDir = await td.dir()
    const first = await startTestNode({ dataDir })
    td.add(async () => { await first.stop() }, 'stop the first run') // a no-op once stopped
    const { address } = await first.cash.walletCreate(PASS)
    await first.cash.mine(first.cash.params.coinbaseMaturity + 1, address)
    await first.cash.wallet.sync()
    // what Wallet.send leaves when the process dies between its flushed write and the broadcast
    const payment = await first.cash.wallet.createPayment({ address: PAYEE, amount: 100_000n, feeRate: 1, passphrase: PASS })
    const id = txid(payment.tx)
    await first.stop()
    const db = new ClassicLevel<Uint8Array, Uint8Array>(join(dataDir, 'wallet'), { keyEncoding: 'view', valueEncoding: 'view' })
    await db.put(sentKey(id), encodeTx(payment.tx, { witness: true }), { sync: true })
    await db.close()

    // the gossip re-send path: private broadcast would wait for relays this two-node network lacks
    const node = td.node(await startTestNode({ dataDir, privateBroadcast: false }))
    assert.ok(node.cash.mempool.has(id), 'the reopened wallet put it back in the mempool')
    const peer = await td.testNode()
    await linkOnTopic(node, peer, txsTopic('regtest'))
    await waitFor(() => peer.cash.chain.tip.height === node.cash.chain.tip.height, { timeoutMs: 20_000, what: 'the peer synced' })
    // the relay's rebroadcast timer (every 15 s), one tick now
    ;(node.cash.txRelay as unknown as { rebroadcast: () => void }).rebroadcast()
    await waitFor(() => peer.cash.mempool.has(id), { timeoutMs: 10_000, what: 'the payment in the peer\'s mempool' })
  })
})
