/**
 * What the wallet tells the user is on disk before it is told: the batch that creates a wallet
 * (seed, account key, the first receive address taken), each handed-out address and a payment's
 * change address are written with LevelDB's `sync` (flushed), so a power cut cannot take one
 * back and hand the address out again. Block updates, which a restart redoes from the chain, are
 * not flushed. A sent payment is written before it is broadcast, and broadcast again when the
 * wallet reopens until a block confirms it. A power cut cannot be simulated here: this checks
 * the calls, on a real LevelDB.
 */
import assert from 'node:assert/strict'
import { before, describe, it } from 'node:test'
import { chainParams } from '../../../../src/cash/consensus/params.ts'
import { join } from 'node:path'
import { txid } from '../../../../src/cash/primitives/tx.ts'
import type { Transaction } from '../../../../src/cash/primitives/tx.ts'
import { decodeIndexes, INDEXES_KEY, SECRET_KEY, sentKey } from '../../../../src/cash/wallet/layout.ts'
import type { Wallet } from '../../../../src/cash/wallet/index.ts'
import type { WalletDb } from '../../../../src/cash/wallet/wallet-db.ts'
import { testKey } from '../../../utils/cash.ts'
import { WalletScope, mine } from './wallet-helpers.ts'
import { teardown } from '../../../utils/teardown.ts'

const params = chainParams('regtest')
const PASS = 'durable passphrase'

/** One `batch` call the wallet made: its keys, values, and whether it was flushed. */
interface BatchCall { ops: Array<{ key: Uint8Array, value?: Uint8Array }>, sync: boolean }

function sameBytes (a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a).equals(Buffer.from(b))
}

/** The receive and change indexes a batch writes, or undefined when it writes none. */
function indexesIn (call: BatchCall): { receive: number, change: number } | undefined {
  const op = call.ops.find((o) => sameBytes(o.key, INDEXES_KEY))
  if (op?.value === undefined) return undefined
  const [receive, change] = decodeIndexes(op.value)
  return { receive: receive.next, change: change.next }
}

/** Records every batch of `wallet`'s LevelDB (the instance only). */
function spyOnBatches (wallet: Wallet): BatchCall[] {
  const level = (wallet as unknown as { db: WalletDb }).db.db
  const calls: BatchCall[] = []
  const real = level.batch.bind(level) as (ops: unknown, options?: { sync?: boolean }) => Promise<void>
  ;(level as unknown as { batch: typeof real }).batch = async (ops, options) => {
    calls.push({ ops: ops as BatchCall['ops'], sync: options?.sync === true })
    await real(ops, options)
  }
  return calls
}

describe('wallet: writes the user relies on are flushed to disk', () => {
  const td = teardown()
  let scope: WalletScope
  let wallet: Wallet
  let calls: BatchCall[]
  let location: string
  /** Payments broadcast, with the number of batches written when each went out. */
  const broadcasts: Array<{ tx: Transaction, afterBatches: number }> = []
  const broadcast = async (tx: Transaction): Promise<void> => { broadcasts.push({ tx, afterBatches: calls.length }) }

  before(async () => {
    scope = await WalletScope.create(td, params)
    location = join(await td.dir('peerd-wallet-durable-'), 'wallet')
    wallet = await scope.wallet({ broadcast }, location)
    calls = spyOnBatches(wallet)
  })

  it('creates the wallet, its first address taken, in one flushed batch', async () => {
    await wallet.create(PASS)
    const creating = calls.filter((c) => c.ops.some((o) => sameBytes(o.key, SECRET_KEY)))
    assert.equal(creating.length, 1)
    const [batch] = creating as [BatchCall]
    assert.equal(batch.sync, true, 'the seed and account key are flushed')
    assert.equal(indexesIn(batch)?.receive, 1, 'the first receive address is taken in the same batch')
    assert.equal(calls.at(-1), batch, 'nothing after it is needed to keep the address handed out')
  })

  it('flushes every handed-out address before handing it out', async () => {
    for (let i = 2; i <= 4; i++) {
      calls.length = 0
      await wallet.newAddress()
      const last = calls.at(-1)
      assert.ok(last !== undefined)
      assert.equal(last.sync, true)
      assert.equal(indexesIn(last)?.receive, i)
    }
  })

  it("flushes a payment's change address; block updates are not flushed", async () => {
    calls.length = 0
    await mine(scope.chain, wallet.payoutScript())
    await mine(scope.chain, testKey(5).script, params.coinbaseMaturity)
    await wallet.sync()
    assert.ok(calls.length >= params.coinbaseMaturity)
    assert.ok(calls.every((c) => !c.sync), 'blocks are redone from the chain after a crash')

    const payee = (await (await scope.wallet()).create('payee')).address
    calls.length = 0
    const payment = await wallet.createPayment({ address: payee, amount: 100_000n, feeRate: 1, passphrase: PASS })
    assert.ok(payment.change > 0n)
    const last = calls.at(-1)
    assert.ok(last !== undefined)
    assert.equal(last.sync, true)
    assert.equal(indexesIn(last)?.change, 1)
  })

  it('writes a sent payment, flushed, before broadcasting it; broadcasts it again on open until a block confirms it', async () => {
    const payee = (await (await scope.wallet()).create('payee 2')).address
    calls.length = 0
    broadcasts.length = 0
    const payment = await wallet.send({ address: payee, amount: 200_000n, feeRate: 1, passphrase: PASS })
    const id = txid(payment.tx)
    const recorded = calls.findIndex((c) => c.ops.some((o) => sameBytes(o.key, sentKey(id))))
    assert.ok(recorded >= 0, 'the payment is written')
    assert.equal(calls[recorded]?.sync, true, 'flushed')
    assert.equal(broadcasts.length, 1)
    assert.ok(broadcasts[0]?.afterBatches !== undefined && broadcasts[0].afterBatches > recorded, 'written before it is broadcast')

    // the process died with its mempool: the reopened wallet broadcasts the payment again
    await scope.close(wallet)
    broadcasts.length = 0
    wallet = await scope.wallet({ broadcast }, location)
    assert.deepEqual(broadcasts.map((b) => txid(b.tx)), [id])

    // confirmed: forgotten, not broadcast again
    await mine(scope.chain, testKey(5).script, 1, [payment.tx], payment.fee)
    await wallet.sync()
    await scope.close(wallet)
    broadcasts.length = 0
    wallet = await scope.wallet({ broadcast }, location)
    assert.deepEqual(broadcasts, [])
  })
})
