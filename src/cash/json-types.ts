/**
 * The JSON shapes of blocks and transactions the API and the CLI show. Types only and no
 * imports: the dashboard's build reads them through `src/api/types.ts`.
 * @module
 */

/** A block as the API shows it. */
export interface BlockJson {
  hash: string
  height: number
  /** Blocks on top of it in the best chain, itself included; 0 when it is not on the best chain. */
  confirmations: number
  version: number
  prevHash: string
  merkleRoot: string
  time: number
  bits: string
  nonce: number
  difficulty: number
  chainwork: string
  size: number
  weight: number
  txCount: number
  txs: string[]
  nextHash: string | null
}

/** A transaction as the API shows it. */
export interface TxJson {
  txid: string
  wtxid: string
  blockHash: string
  height: number
  confirmations: number
  coinbase: boolean
  version: number
  lockTime: number
  size: number
  vsize: number
  weight: number
  inputs: Array<{ txid: string, index: number, sequence: number }>
  outputs: Array<{ amount: number, address: string | null, script: string }>
}
