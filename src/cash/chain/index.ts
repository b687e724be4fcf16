/**
 * Chain state on LevelDB: the block index, the best chain, the UTXO set with undo data, a
 * transaction index, and reorganisations to the branch with the most work.
 *
 * @example
 * ```ts
 * import { Chain } from './cash/chain/index.ts'
 * import { chainParams } from './cash/consensus/index.ts'
 *
 * const chain = new Chain({ location: join(dataDir, 'chain'), params: chainParams('regtest'), logger })
 * await chain.open()                       // genesis on first open, otherwise the stored tip
 * chain.on('block', (entry, block) => mempool.removeConfirmed(block))
 * chain.on('disconnect', (entry, block) => mempool.readd(block))
 * try {
 *   const result = await chain.addBlock(block, { bytes, peer, unsolicited: true }) // a block a peer pushed
 *   // 'connected' | 'reorganized' | 'side' | 'orphan' (not stored: ask its sender for headers) | 'duplicate'
 *   // | 'ignored' (unsolicited with less work than the tip: not stored)
 * } catch (err) {
 *   if (err instanceof VerifyError) scores.penalize(peer, err.score, err.reason)
 * }
 * const branch = chain.headerBranch(headers[0].prevHash)  // a peer's headers, checked in context
 * branch?.extend(headers)                                 // before any block of them is asked for
 * const { prevHash, height, bits, minTime } = chain.nextBlockContext()   // for a miner
 * const found = await chain.getTx(txid)   // { tx, blockHash, height, position } on the best chain
 * const coin = await chain.getCoin({ txid, index: 0 })
 * await chain.close()
 * ```
 * @module
 */
export { Chain } from './chain.ts'
export type { AddBlockOptions, AddResult, BlockContext, ChainEvents, ChainOptions, TxLookup } from './types.ts'
export type { ChainEntry } from './block-index.ts'
export { HeaderBranch } from './header-branch.ts'
export type { BranchRoot, HeaderBranchInit } from './header-branch.ts'
export { openChainLevel, utxoStatsOf } from './chain-db.ts'
export type { ChainLevel, UtxoStats } from './chain-db.ts'
export { ChainClosedError, ChainDbError } from './errors.ts'
export { CHAIN_DB_VERSION } from './layout.ts'
export type { EntryStatus } from './layout.ts'
export { SigPool } from './sig-pool.ts'
export type { SigPoolOptions } from './sig-pool.ts'
