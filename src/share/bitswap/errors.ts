/**
 * Typed errors of the Bitswap protocol, checked by `name` like every peerd error.
 */
import type { CID } from 'multiformats/cid'
import { PeerdError } from '../../errors.ts'

/** A Bitswap message (or a block in it) is malformed, oversized or over a list limit. */
export class InvalidBitswapMessageError extends PeerdError {
  constructor (message: string, options?: ErrorOptions) { super(message, 'InvalidBitswapMessageError', 400, options) }
}

/** A received block does not hash to the CID it was wanted as. */
export class BlockMismatchError extends PeerdError {
  constructor (wanted: CID, got: CID) {
    super(`received block hashes to ${got.toString()}, not the wanted ${wanted.toString()}`, 'BlockMismatchError', 400)
  }
}

/** A `want()` was aborted by its signal (or by `stop()`) before the block arrived. */
export class WantAbortedError extends PeerdError {
  constructor (cid: CID, options?: ErrorOptions) {
    super(`want for ${cid.toString()} was aborted`, 'AbortError', 408, options)
  }
}
