/**
 * Errors of the chain store itself (not rule violations: those are `VerifyError`).
 */
import { PeerdError } from '../../errors.ts'

/**
 * The chain database cannot be used: another format version, another network's genesis, or
 * records that contradict each other. Never repaired silently.
 */
export class ChainDbError extends PeerdError {
  static override name = 'ChainDbError'
}

/** The chain is not open (never opened, or closed). */
export class ChainClosedError extends PeerdError {
  static override name = 'ChainClosedError'

  constructor (message = 'the chain is not open') { super(message) }
}
