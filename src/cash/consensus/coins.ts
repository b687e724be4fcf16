/**
 * Unspent outputs as consensus code sees them: plain data, read through a synchronous view.
 * Storage (the chain's LevelDB, the mempool) loads the coins a block or transaction spends
 * into a view first, then calls the pure rule functions with it.
 * @module
 */
import { bytesToHex } from '@noble/hashes/utils.js'
import type { OutPoint } from '../primitives/tx.ts'

/** An unspent transaction output and where it was created. */
export interface Coin {
  /** Value in base units. */
  amount: bigint
  /** scriptPubKey (a P2TR script for every spendable coin). */
  script: Uint8Array
  /** Height of the block that created it. */
  height: number
  /** True when created by a coinbase (subject to coinbase maturity). */
  coinbase: boolean
}

/** Read-only lookup of unspent outputs. */
export interface CoinView {
  /** The unspent output at `prevout`, or undefined when it does not exist or is spent. */
  getCoin (prevout: OutPoint): Coin | undefined
}

/** One Schnorr signature check a transaction input requires (BIP340 over a BIP341 sighash). */
export interface SigCheck {
  /** 64-byte signature (hash-type byte removed). */
  sig: Uint8Array
  /** 32-byte message: the BIP341 signature hash. */
  msg: Uint8Array
  /** 32-byte x-only output key of the spent P2TR coin. */
  pubkey: Uint8Array
}

/** Key of an outpoint in maps: txid hex (internal order) + ':' + index. */
export function outpointKey (prevout: OutPoint): string {
  return `${bytesToHex(prevout.txid)}:${prevout.index}`
}

/** A CoinView over a Map keyed by {@link outpointKey}; handy for tests and block connection. */
export class MapCoinView implements CoinView {
  readonly coins: Map<string, Coin>
  constructor (coins: Map<string, Coin> = new Map()) {
    this.coins = coins
  }

  getCoin (prevout: OutPoint): Coin | undefined {
    return this.coins.get(outpointKey(prevout))
  }

  /** Adds (or replaces) the coin at `prevout`. */
  add (prevout: OutPoint, coin: Coin): void {
    this.coins.set(outpointKey(prevout), coin)
  }

  /** Removes the coin at `prevout`; returns it when it was there. */
  spend (prevout: OutPoint): Coin | undefined {
    const key = outpointKey(prevout)
    const coin = this.coins.get(key)
    if (coin !== undefined) this.coins.delete(key)
    return coin
  }
}
