/**
 * Helpers for the wallet tests: a real Chain on a temporary LevelDB, blocks mined on any of its
 * entries (for forks), wallets with a cheap KDF, and a fake mempool with the real one's events.
 */
import { EventEmitter } from 'node:events'
import { join } from 'node:path'
import type { Chain, ChainEntry } from '../../../../src/cash/chain/index.ts'
import type { ChainParams } from '../../../../src/cash/consensus/params.ts'
import { assembleBlock } from '../../../../src/cash/miner/template.ts'
import type { Block } from '../../../../src/cash/primitives/block.ts'
import { bytesEqual } from '../../../../src/cash/primitives/hash.ts'
import { txid } from '../../../../src/cash/primitives/tx.ts'
import type { Transaction } from '../../../../src/cash/primitives/tx.ts'
import { Wallet } from '../../../../src/cash/wallet/index.ts'
import type { WalletOptions } from '../../../../src/cash/wallet/index.ts'
import { regrind } from '../../../utils/cash.ts'
import type { Teardown } from '../../../utils/teardown.ts'
import { openTempChain } from '../chain/chain-helpers.ts'

/** A KDF cost that keeps tests fast (the default is measured in secret-box.spec.ts). */
export const FAST_KDF = { logN: 10, r: 8, p: 1 }

/** A block on `parent` paying its coinbase to `script`, with `txs` and their `fees`. */
export function blockOn (chain: Chain, parent: ChainEntry, script: Uint8Array, txs: Transaction[] = [], fees = 0n, timeSalt = 0): Block {
  const params = chain.params
  const block = assembleBlock({
    prevHash: parent.hash,
    height: parent.height + 1,
    time: parent.header.time + params.targetSpacing + timeSalt,
    bits: params.powLimitBits,
    payoutScript: script,
    txs,
    fees,
    params
  })
  return regrind(block, params)
}

/** Mines `n` blocks on the tip, the first carrying `txs` (with `fees`); returns them. */
export async function mine (chain: Chain, script: Uint8Array, n = 1, txs: Transaction[] = [], fees = 0n): Promise<Block[]> {
  const out: Block[] = []
  for (let i = 0; i < n; i++) {
    const block = blockOn(chain, chain.tip, script, i === 0 ? txs : [], i === 0 ? fees : 0n)
    const result = await chain.addBlock(block)
    if (result !== 'connected') throw new Error(`block not connected: ${result}`)
    out.push(block)
  }
  return out
}

/** Wallets on one chain in temp dirs, each reopenable; `td` closes them and removes their dirs. */
export class WalletScope {
  readonly chain: Chain
  readonly params: ChainParams
  private readonly td: Teardown
  private readonly open = new Set<Wallet>()

  constructor (chain: Chain, td: Teardown) {
    this.chain = chain
    this.params = chain.params
    this.td = td
  }

  /** A scope on a new temp chain, which `td` closes after the wallets. */
  static async create (td: Teardown, params: ChainParams): Promise<WalletScope> {
    const t = await openTempChain(params)
    td.add(t.cleanup, 'close the chain')
    return new WalletScope(t.chain, td)
  }

  /** A new wallet in a new directory (or `location`), opened. */
  async wallet (options: Partial<WalletOptions> = {}, location?: string): Promise<Wallet> {
    const path = location ?? join(await this.td.dir('peerd-wallet-'), 'wallet')
    const wallet = new Wallet({ location: path, params: this.params, chain: this.chain, kdf: FAST_KDF, ...options })
    await wallet.open()
    this.open.add(wallet)
    this.td.add(async () => { if (this.open.delete(wallet)) await wallet.close() }, 'close a wallet')
    return wallet
  }

  /** Closes `wallet` (it stays on disk). */
  async close (wallet: Wallet): Promise<void> {
    this.open.delete(wallet)
    await wallet.close()
  }
}

/** The mempool's entry shape (the fields the wallet reads, plus a few). */
export interface FakeEntry { tx: Transaction, txid: Uint8Array, fee: bigint, time: number }

/** A mempool stand-in: `add` / `remove` emit the events the real one emits. */
export class FakeMempool extends EventEmitter<{ tx: [FakeEntry], removed: [FakeEntry, string] }> {
  readonly txs: FakeEntry[] = []

  has (id: Uint8Array): boolean { return this.txs.some((e) => bytesEqual(e.txid, id)) }
  entries (): Iterable<FakeEntry> { return this.txs }

  add (tx: Transaction, fee = 0n, time = 1_900_000_000): FakeEntry {
    const entry = { tx, txid: txid(tx), fee, time }
    this.txs.push(entry)
    this.emit('tx', entry)
    return entry
  }

  remove (tx: Transaction, reason = 'block'): void {
    const id = txid(tx)
    const i = this.txs.findIndex((e) => bytesEqual(e.txid, id))
    if (i === -1) return
    const [entry] = this.txs.splice(i, 1)
    this.emit('removed', entry as FakeEntry, reason)
  }
}
