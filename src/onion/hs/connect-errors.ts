/**
 * Why an onion service could not be reached or hosted (issue 17). Mapped to HTTP and SOCKS replies
 * only at the edges.
 * @module
 */
import { PeerdError } from '../../errors.ts'

/** The service's descriptor is not in the DHT (`stage` 'descriptor'), or none of its introduction points led to a rendezvous ('introduction'). */
export class HsUnreachableError extends PeerdError {
  static override name = 'HsUnreachableError'
  readonly stage: 'descriptor' | 'introduction'

  constructor (message: string, options?: ErrorOptions & { stage?: 'descriptor' | 'introduction' }) {
    super(message, options)
    this.stage = options?.stage ?? 'introduction'
  }
}

/** A hosted service's settings are wrong (target, name, client key); the message says which. */
export class HsConfigError extends PeerdError {
  static override name = 'HsConfigError'
}

/** No hosted service has that name. */
export class HsNotFoundError extends PeerdError {
  static override name = 'HsNotFoundError'
}
