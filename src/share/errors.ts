/**
 * Typed errors of a download (`ShareService.get`, `cat`, the gateway), checked by `name` like every
 * peerd error. The API and the gateway choose their HTTP statuses from these classes.
 */
import { PeerdError } from '../errors.ts'

/** Content could not be found or fetched in time: no provider sent its data before the timeout. */
export class ContentNotFoundError extends PeerdError {
  static override name = 'ContentNotFoundError'
}

/** The download was cancelled (its caller's signal, or the node stopping); what was fetched is kept. */
export class DownloadCancelledError extends PeerdError {
  static override name = 'DownloadCancelledError'

  constructor (message = 'download cancelled', options?: ErrorOptions) { super(message, options) }
}

/** A block of the content is not a dag-pb node peerd can follow (malformed, or too many links). */
export class InvalidDagError extends PeerdError {
  static override name = 'InvalidDagError'
}

/** The share database is in a format this peerd does not read (written by another version). */
export class ShareDbError extends PeerdError {
  static override name = 'ShareDbError'
}

/** A verified block could not be stored or placed in the output (an error without a class of its own). */
export class StoreFailedError extends PeerdError {
  static override name = 'StoreFailedError'
}

/**
 * A share link (`peerd://…`, `web+peerd:…` or `CID?provider=…`) is malformed, too long, or names
 * a provider that cannot be dialled; the message says which part and how to fix it.
 */
export class InvalidLinkError extends PeerdError {
  static override name = 'InvalidLinkError'
}
