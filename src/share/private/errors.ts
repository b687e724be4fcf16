/**
 * Typed errors of private downloads (`peerd get --private`), checked by `name` like every peerd error.
 */
import { PeerdError } from '../../errors.ts'
import { ProtocolError } from '../../net/frames.ts'

/** A peer broke the provider lookup protocol (a malformed request or answer). */
export class ProviderLookupError extends ProtocolError {
  static override name = 'ProviderLookupError'
}

/** A private transfer gave up on a provider: the circuits it built to it all failed. */
export class ProviderUnreachableError extends PeerdError {
  static override name = 'ProviderUnreachableError'
}
