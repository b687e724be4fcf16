/**
 * Bitswap 1.2.0 (https://specs.ipfs.tech/bitswap-protocol/): the block exchange of IPFS, so an
 * unmodified Kubo or Helia node can fetch blocks from peerd and peerd from it. peerd nodes
 * prefer their own block protocol among themselves; this is the interop path.
 *
 * @example
 * ```ts
 * const bitswap = new Bitswap({ host: node.libp2p, blockstore, log: log.child('bitswap') })
 * await bitswap.start()
 * const bytes = await bitswap.want(cid, { signal: AbortSignal.timeout(30_000) })
 * await bitswap.stop()
 * ```
 */
export { Bitswap } from './bitswap.ts'
export type { BitswapInit, BitswapStats, WantOptions } from './bitswap.ts'
export { BITSWAP_100, BITSWAP_110, BITSWAP_120 } from './constants.ts'
export { BlockMismatchError, InvalidBitswapMessageError, WantAbortedError } from './errors.ts'
export { MAX_MESSAGE_BYTES, MESSAGE_LIMITS, PresenceType, WantType, checkBlockMatches, decodeMessage, encodeMessage } from './message.ts'
export type { BitswapMessage, BlockPresence, DecodedMessage, MessageBlock, MessageLimits, Wantlist, WantlistEntry } from './message.ts'
