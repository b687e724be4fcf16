/**
 * Typed errors of private downloads (`peerd get --private`), checked by `name` like every peerd error.
 */
import { ProtocolError } from '../../net/frames.ts'

/** A peer broke the provider lookup protocol (a malformed request or answer). */
export class ProviderLookupError extends ProtocolError {
  static override name = 'ProviderLookupError'
}
