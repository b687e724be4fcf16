/**
 * The mempool: unconfirmed transactions checked against the chain's UTXO set and each other,
 * first seen wins on a conflict, a memory cap that evicts the lowest fee rates, an orphan
 * pool bounded per peer, and block templates by ancestor fee rate.
 *
 * @example
 * ```ts
 * import { Mempool } from './cash/mempool/index.ts'
 *
 * const mempool = new Mempool({ chain, params, log })   // maxBytes 64 MiB, minFeeRate 1 per vbyte
 * mempool.start()                                       // after chain.open(): follows 'block', 'disconnect', 'tip'
 * mempool.on('tx', (entry, origin) => wallet.seen(entry))
 * mempool.on('removed', (entry, reason) => log.debug('left the mempool', { reason }))
 * try {
 *   const result = await mempool.add(tx, { peer: peerId.toString() }) // 'accepted' | 'duplicate' | 'orphan'
 * } catch (err) {
 *   if (err instanceof VerifyError) scores.penalize(peer, err.score, err.reason)
 * }
 * const { txs, fees } = mempool.selectForBlock(params.maxBlockWeight) // for the miner
 * const feeRate = mempool.estimateFeeRate()                         // for the wallet
 * mempool.info()                                                    // size, bytes, histogram
 * await mempool.stop()                                              // before chain.close()
 * ```
 * @module
 */
export { Mempool } from './mempool.ts'
export type { AddTxOptions, AddTxResult, MempoolChain, MempoolEvents, MempoolInfo, MempoolInit } from './types.ts'
export { COINBASE_RESERVE, DEFAULT_EXPIRY, DEFAULT_MAX_BYTES, DEFAULT_MAX_CHAIN, DEFAULT_MAX_TX_WEIGHT, DEFAULT_MIN_FEE_RATE, entryMemory, FEE_RATE_BUCKETS, feeRateHistogram, minFee } from './policy.ts'
export type { FeeRateBucket, MempoolEntry, RemovalReason, TxOrigin } from './policy.ts'
export { TxOrphanPool } from './orphans.ts'
export type { OrphanLimits, OrphanTx } from './orphans.ts'
