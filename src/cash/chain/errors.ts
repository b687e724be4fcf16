/**
 * Errors of the chain store itself (not rule violations: those are `VerifyError`).
 */
import { PeerdError } from '../../errors.ts'

/**
 * The chain database cannot be used: another format version, another network's genesis, or
 * records that contradict each other. Never repaired silently.
 */
export class ChainDbError extends PeerdError {
  constructor (message: string, options?: ErrorOptions) { super(message, 'ChainDbError', 500, options) }
}

/** The chain is not open (never opened, or closed). */
export class ChainClosedError extends PeerdError {
  constructor (message = 'the chain is not open') { super(message, 'ChainClosedError', 503) }
}
