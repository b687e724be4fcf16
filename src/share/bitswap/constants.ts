/**
 * Bitswap protocol ids and the defaults peerd uses for them.
 */

/** Bitswap 1.2.0: want-have, block presences, sendDontHave. */
export const BITSWAP_120 = '/ipfs/bitswap/1.2.0'
/** Bitswap 1.1.0: CIDv1 and block prefixes. */
export const BITSWAP_110 = '/ipfs/bitswap/1.1.0'
/** Bitswap 1.0.0: CIDv0 only, bare blocks. Answered inbound, never opened. */
export const BITSWAP_100 = '/ipfs/bitswap/1.0.0'

/** Protocols handled for streams peers open to us. */
export const INBOUND_PROTOCOLS = [BITSWAP_120, BITSWAP_110, BITSWAP_100]
/** Protocols offered, best first, on streams peerd opens. */
export const OUTBOUND_PROTOCOLS = [BITSWAP_120, BITSWAP_110]

/** Default cap on the wants a peer may leave with us for blocks we do not have yet. */
export const DEFAULT_MAX_WANTS_PER_PEER = 1024
/**
 * Concurrent streams a peer may have open to us. Kubo keeps one; Helia opens one per message but
 * sends one message at a time. Each may buffer a Yamux window (up to 16 MiB) while paused.
 */
export const MAX_INBOUND_STREAMS = 8
/** Concurrent streams we open to one peer: one sender per peer, plus slack for races. */
export const MAX_OUTBOUND_STREAMS = 4
/** Opening a stream and writing one message to a peer must finish within this. */
export const SEND_TIMEOUT_MS = 30_000
/** A peer asked for a block that has not sent it by then is passed over for the next one that has it. */
export const BLOCK_TIMEOUT_MS = 10_000
/** Items (blocks, presences, wants) queued for one peer beyond which new ones are dropped. */
export const MAX_QUEUED_PER_PEER = 8192
/** Bytes of block data held in memory on their way out, per peer and in total, unless the owner shares its own budget. */
export const DEFAULT_SEND_BUDGET = { perPeer: 8 * 1024 * 1024, total: 32 * 1024 * 1024 }
