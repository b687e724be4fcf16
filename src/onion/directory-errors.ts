/**
 * Typed errors of relay descriptors, the relay view and path selection. A descriptor refusal
 * carries a stable `reason` and the misbehaviour `score` the peer that sent it earns (as
 * `VerifyError` does for cash): a forged signature is proof of malice, an expired descriptor may
 * be an honest peer's clock.
 */
import { PeerdError } from '../errors.ts'

/** A relay descriptor was refused; `reason` is stable, `score` is the sender's penalty. */
export class DescriptorError extends PeerdError {
  static override name = 'DescriptorError'
  readonly reason: string
  readonly score: number

  constructor (message: string, reason: string, score: number, options?: ErrorOptions) {
    super(message, options)
    this.reason = reason
    this.score = score
  }
}

/** A descriptor is larger than {@link MAX_DESCRIPTOR_BYTES} (refused before decoding). */
export class DescriptorTooLargeError extends DescriptorError {
  static override name = 'DescriptorTooLargeError'
  constructor (message: string) { super(message, 'descriptor-too-large', 20) }
}

/** A descriptor's bytes break the codec: a bad length, a list over its bound, trailing bytes. */
export class MalformedDescriptorError extends DescriptorError {
  static override name = 'MalformedDescriptorError'
  constructor (message: string, options?: ErrorOptions) { super(message, 'descriptor-malformed', 20, options) }
}

/** A descriptor's signature does not verify under the peer key it names. */
export class ForgedDescriptorError extends DescriptorError {
  static override name = 'ForgedDescriptorError'
  constructor (message: string) { super(message, 'descriptor-forged', 100) }
}

/** A descriptor has expired (no penalty: it may be an honest peer's stale copy). */
export class ExpiredDescriptorError extends DescriptorError {
  static override name = 'ExpiredDescriptorError'
  constructor (message: string) { super(message, 'descriptor-expired', 0) }
}

/** A descriptor is published too far in the future or lives longer than allowed. */
export class DescriptorTimeError extends DescriptorError {
  static override name = 'DescriptorTimeError'
  constructor (message: string) { super(message, 'descriptor-bad-time', 5) }
}

/** A descriptor is for another network. */
export class DescriptorNetworkError extends DescriptorError {
  static override name = 'DescriptorNetworkError'
  constructor (message: string) { super(message, 'descriptor-wrong-network', 10) }
}

/** The relay directory's database is of another format or network, or corrupt. */
export class RelayDirectoryError extends PeerdError {
  static override name = 'RelayDirectoryError'
}

/** No path fits the relay view, the guards and the target; the message says what is missing. */
export class NoPathError extends PeerdError {
  static override name = 'NoPathError'
}
