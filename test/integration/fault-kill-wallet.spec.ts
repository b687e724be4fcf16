/**
 * `kill -9` of a real daemon process at random moments while clients run `wallet create`,
 * hand out addresses and send payments. After each restart the wallet opens; a create that
 * answered is still there; no address is handed out twice across every kill; and at the end the
 * wallet the daemon kept equals one restored from the mnemonic by a full rescan of the same chain
 * (same balance, same history): nothing lost, nothing counted twice.
 *
 * A kill cannot lose what LevelDB has written (the page cache survives it): that is a power
 * cut's doing, covered by the flushed-write checks of wallet-durability.spec.ts.
 * Runs in about 10 s (five daemon starts).
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { Chain } from '../../src/cash/chain/index.ts'
import { chainParams } from '../../src/cash/consensus/params.ts'
import { encodeAddress } from '../../src/cash/primitives/address.ts'
import { xOnlyPublicKey } from '../utils/schnorr.ts'
import { Wallet } from '../../src/cash/wallet/index.ts'
import type { Balance } from '../../src/cash/wallet/index.ts'
import { ApiClient } from '../../src/cli/client.ts'
import { startDaemonProcess, waitFor } from '../utils/index.ts'
import type { DaemonProcess } from '../utils/index.ts'
import { teardown } from '../utils/teardown.ts'
import { FAST_KDF } from '../unit/cash/wallet/wallet-helpers.ts'

const TEST = { timeout: 60_000 }
const params = chainParams('regtest')
const PASS = 'kill me softly'
const PAYEE = encodeAddress('pdrt', xOnlyPublicKey(new Uint8Array(32).fill(7)))

/** A delay in [lo, hi) ms, printed so a failing run can be retried with the same kill points. */
function killPoint (what: string, lo: number, hi: number): number {
  const ms = Math.floor(lo + Math.random() * (hi - lo))
  console.log(`# kill -9 during ${what} after ${ms} ms`)
  return ms
}

/** Calls `request` back to back until it throws (the daemon died); `got` fills as it answers. */
function untilKilled<T> (request: () => Promise<T>): { got: T[], done: Promise<void> } {
  const got: T[] = []
  const done = (async () => {
    for (;;) {
      try {
        got.push(await request())
      } catch {
        return
      }
    }
  })()
  return { got, done }
}

describe('fault injection: kill -9 during wallet create, address generation and send', () => {
  const td = teardown()
  const start = async (dataDir: string): Promise<{ d: DaemonProcess, api: ApiClient }> => {
    const d = td.daemon(await startDaemonProcess(dataDir))
    return { d, api: new ApiClient(dataDir) } // a client per run: the API's port changes
  }

  it('a create that answered survives the kill; one that did not can be made again', TEST, async () => {
    const dir = await td.dir('peerd-kill-create-')
    const first = await start(dir)
    const creating = first.api.post<{ mnemonic: string, address: string }>('/api/v1/wallet/create', { passphrase: PASS }).catch(() => undefined)
    await sleep(killPoint('wallet create', 0, 1200)) // create takes ~0.6 s (scrypt): both outcomes happen
    await first.d.kill()
    const answered = await creating

    const { d, api } = await start(dir)
    const exists = await api.get('/api/v1/wallet/balance').then(() => true, (err: { name?: string }) => {
      assert.equal(err.name, 'WalletNotFoundError')
      return false
    })
    if (answered !== undefined) assert.ok(exists, 'a wallet whose mnemonic was shown is never lost')
    if (exists) {
      // created, whether or not the answer got out: its first address is never handed out again
      const next = await api.post<{ address: string }>('/api/v1/wallet/address')
      if (answered !== undefined) assert.notEqual(next.address, answered.address)
    } else {
      const created = await api.post<{ mnemonic: string }>('/api/v1/wallet/create', { passphrase: PASS })
      assert.equal(created.mnemonic.split(' ').length, 24)
    }
    await d.stop()
  })

  it('addresses and payments killed mid-way: no address twice, and the wallet equals a full rescan', TEST, async () => {
    const dir = await td.dir('peerd-kill-wallet-')
    let { d, api } = await start(dir)
    const { mnemonic, address } = await api.post<{ mnemonic: string, address: string }>('/api/v1/wallet/create', { passphrase: PASS })
    const handed = [address]
    // mined to an address in use, so that a restore's gap limit finds every coinbase however
    // many addresses the rounds below hand out unused
    await api.post('/api/v1/mine', { blocks: params.coinbaseMaturity + 3, address })

    for (const what of ['address generation', 'send'] as const) {
      // addresses are handed out back to back (a few ms each); a payment takes ~0.6 s (scrypt),
      // so the kill comes after the first one was answered, while the next is being made
      const addresses = untilKilled(async () => (await api.post<{ address: string }>('/api/v1/wallet/address')).address)
      const sends = what === 'send'
        ? untilKilled(async () => (await api.post<{ txid: string }>('/api/v1/send', { address: PAYEE, amount: '0.1', passphrase: PASS })).txid)
        : { got: [], done: Promise.resolve() }
      if (what === 'send') await waitFor(() => sends.got.length > 0, { timeoutMs: 20_000, intervalMs: 10, what: 'a payment answered' })
      await sleep(killPoint(what, 20, what === 'send' ? 600 : 300))
      await d.kill()
      await Promise.all([addresses.done, sends.done])
      handed.push(...addresses.got)
      const answered = sends.got
      console.log(`# ${handed.length} addresses handed out so far, ${answered.length} payments answered before the kill`)
      ;({ d, api } = await start(dir))
      handed.push((await api.post<{ address: string }>('/api/v1/wallet/address')).address)
      assert.equal(new Set(handed).size, handed.length, `an address was handed out twice (after the kill during ${what}, ${handed.length} handed out)`)
      // the mempool died with the daemon, not the payments the user was told about; one made now goes through too
      const sent = await api.post<{ txid: string }>('/api/v1/send', { address: PAYEE, amount: '0.1', passphrase: PASS })
      await api.post('/api/v1/mine', { blocks: 1, address })
      const history = await api.get<Array<{ txid: string, confirmations: number }>>('/api/v1/wallet/history')
      for (const txid of [...answered, sent.txid]) assert.equal(history.find((h) => h.txid === txid)?.confirmations, 1, `payment ${txid} confirmed`)
    }
    const shown = await api.get<{ confirmed: number, unconfirmed: number, immature: number }>('/api/v1/wallet/balance')
    await d.stop()

    // the wallet as the daemon kept it, and as a rescan of the same chain rebuilds it
    const chain = new Chain({ location: join(dir, 'chain'), params })
    await chain.open()
    const kept = new Wallet({ location: join(dir, 'wallet'), params, chain })
    const rescanned = new Wallet({ location: join(dir, 'restored'), params, chain, kdf: FAST_KDF })
    try {
      await kept.open()
      await rescanned.open()
      await rescanned.restore(mnemonic, PASS)
      const plain = (b: Balance): Record<string, string> => ({ confirmed: String(b.confirmed), unconfirmed: String(b.unconfirmed), immature: String(b.immature) })
      assert.deepEqual(plain(kept.balance()), plain(rescanned.balance()))
      assert.deepEqual(plain(kept.balance()), { confirmed: String(shown.confirmed), unconfirmed: String(shown.unconfirmed), immature: String(shown.immature) })
      assert.deepEqual(kept.history().map((h) => h.txid).sort(), rescanned.history().map((h) => h.txid).sort())
    } finally {
      await kept.close()
      await rescanned.close()
      await chain.close()
    }
  })
})
