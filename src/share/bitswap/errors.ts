/**
 * Typed errors of the Bitswap protocol, checked by `name` like every peerd error.
 */
import type { CID } from 'multiformats/cid'
import { PeerdError } from '../../errors.ts'

/** A Bitswap message (or a block in it) is malformed, oversized or over a list limit. */
export class InvalidBitswapMessageError extends PeerdError {
  static override name = 'InvalidBitswapMessageError'
}

/** A received block does not hash to the CID it was wanted as. */
export class BlockMismatchError extends PeerdError {
  static override name = 'BlockMismatchError'

  constructor (wanted: CID, got: CID) {
    super(`received block hashes to ${got.toString()}, not the wanted ${wanted.toString()}`)
  }
}

/**
 * A `want()` was aborted by its signal (or by `stop()`) before the block arrived. Named
 * `AbortError`, the name Helia and libp2p callers test for an abort.
 */
export class WantAbortedError extends PeerdError {
  static override name = 'AbortError'

  constructor (cid: CID, options?: ErrorOptions) {
    super(`want for ${cid.toString()} was aborted`, options)
  }
}
