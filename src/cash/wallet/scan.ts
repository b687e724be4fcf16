/**
 * What a block means to the wallet: which of its outputs pay our addresses, which of our coins
 * it spends, and a history record for every transaction that does either. Pure apart from the
 * address book's lookahead, which grows as addresses are found used.
 */
import { outpointKey } from '../consensus/coins.ts'
import type { Block } from '../primitives/block.ts'
import { txid as computeTxid } from '../primitives/tx.ts'
import type { Transaction } from '../primitives/tx.ts'
import type { HistoryRecord, WalletCoin } from './layout.ts'
import type { WalletState } from './state.ts'

/** The wallet's part of one block. */
export interface BlockScan {
  /** Coins the block created for us and did not spend again. */
  created: WalletCoin[]
  /** Coins we had before the block that it spends. */
  spent: WalletCoin[]
  /** One record per transaction that paid us or spent our coins, in block order. */
  history: HistoryRecord[]
  /** Every txid in the block (hex of `outpointKey`'s form, internal order). */
  txids: Uint8Array[]
  /** `outpointKey` of every outpoint the block spends (to find mempool conflicts). */
  spentKeys: Set<string>
}

/**
 * Scans `block` at `height` against the wallet's addresses and coins. When an output uses an
 * address near the end of the lookahead, more addresses are derived and the block is scanned
 * again, so a payment to an address that only became watched halfway through is not missed.
 */
export function scanBlock (state: WalletState, block: Block, height: number): BlockScan {
  const txids = block.txs.map((tx) => computeTxid(tx))
  for (;;) {
    const before = state.book.size
    const result = scanOnce(state, block, height, txids)
    if (state.book.size === before) return result
  }
}

function scanOnce (state: WalletState, block: Block, height: number, txids: Uint8Array[]): BlockScan {
  const local = new Map<string, WalletCoin>()
  const spent: WalletCoin[] = []
  const spentKeys = new Set<string>()
  const history: HistoryRecord[] = []
  block.txs.forEach((tx, position) => {
    const id = txids[position] as Uint8Array
    let debit = 0n
    let allOurs = position > 0
    if (position > 0) {
      for (const input of tx.inputs) {
        const key = outpointKey(input.prevout)
        spentKeys.add(key)
        const mine = local.get(key)
        if (mine !== undefined) {
          // Created and spent in this block: it never becomes a coin, and undo has nothing to restore.
          local.delete(key)
          debit += mine.amount
          continue
        }
        const coin = state.coins.get(key)
        if (coin !== undefined) {
          spent.push(coin)
          debit += coin.amount
        } else {
          allOurs = false
        }
      }
    }
    const credit = creditOutputs(state, tx, id, height, position === 0, (coin) => { local.set(outpointKey(coin.prevout), coin) })
    if (debit === 0n && credit === 0n) return
    const rec: HistoryRecord = { txid: id, height, position, time: block.header.time, amount: credit - debit, coinbase: position === 0 }
    if (allOurs && debit > 0n) rec.fee = debit - tx.outputs.reduce((sum, o) => sum + o.amount, 0n)
    history.push(rec)
  })
  return { created: [...local.values()], spent, history, txids, spentKeys }
}

/**
 * Calls `add` with a coin for every output of `tx` that pays one of our addresses (marking the
 * address used) and returns their sum.
 */
export function creditOutputs (
  state: WalletState, tx: Transaction, id: Uint8Array, height: number, coinbase: boolean, add: (coin: WalletCoin) => void
): bigint {
  let credit = 0n
  tx.outputs.forEach((output, index) => {
    const path = state.book.lookup(output.script)
    if (path === undefined) return
    state.book.markUsed(path)
    credit += output.amount
    add({ prevout: { txid: id, index }, amount: output.amount, script: output.script, height, coinbase, branch: path.branch, index: path.index })
  })
  return credit
}
