/**
 * Typed errors of onion services (issue 17): addresses, descriptors and the hs-ntor handshake.
 * A descriptor refusal carries a stable `reason` and the misbehaviour `score` the peer that
 * passed it on earns, as relay descriptors' `DescriptorError` does: a forged signature is proof
 * of malice, an expired descriptor may be an honest peer's stale copy, and a descriptor this
 * client may not read says nothing against anyone.
 */
import { PeerdError } from '../../errors.ts'

/** A `.peerd` address is not one: wrong length, characters, checksum, version or key. */
export class OnionAddressError extends PeerdError {
  static override name = 'OnionAddressError'
}

/** An onion-service descriptor was refused; `reason` is stable, `score` is the sender's penalty. */
export class HsDescriptorError extends PeerdError {
  static override name = 'HsDescriptorError'
  readonly reason: string
  readonly score: number

  constructor (message: string, reason: string, score: number, options?: ErrorOptions) {
    super(message, options)
    this.reason = reason
    this.score = score
  }
}

/** A descriptor's bytes break the codec, or it is larger than allowed (checked before decoding). */
export class MalformedHsDescriptorError extends HsDescriptorError {
  static override name = 'MalformedHsDescriptorError'
  constructor (message: string, options?: ErrorOptions) { super(message, 'hs-descriptor-malformed', 20, options) }
}

/** A descriptor's signature does not verify under the blinded key it names, or it is stored under another key. */
export class ForgedHsDescriptorError extends HsDescriptorError {
  static override name = 'ForgedHsDescriptorError'
  constructor (message: string) { super(message, 'hs-descriptor-forged', 100) }
}

/** A descriptor has expired (no penalty: it may be an honest peer's stale copy). */
export class ExpiredHsDescriptorError extends HsDescriptorError {
  static override name = 'ExpiredHsDescriptorError'
  constructor (message: string) { super(message, 'hs-descriptor-expired', 0) }
}

/** A descriptor is issued too far in the future or claims a lifetime over the limit. */
export class HsDescriptorTimeError extends HsDescriptorError {
  static override name = 'HsDescriptorTimeError'
  constructor (message: string) { super(message, 'hs-descriptor-bad-time', 5) }
}

/**
 * A descriptor cannot be read with this address: it belongs to another service or period, or its
 * encrypted layers are corrupt (only someone holding the blinded key could have signed those).
 */
export class UnreadableHsDescriptorError extends HsDescriptorError {
  static override name = 'UnreadableHsDescriptorError'
  constructor (message: string, options?: ErrorOptions) { super(message, 'hs-descriptor-unreadable', 0, options) }
}

/** The service restricts its descriptor to authorized clients and this client's key is not one of them (or none was given). */
export class HsClientNotAuthorizedError extends HsDescriptorError {
  static override name = 'HsClientNotAuthorizedError'
  constructor (message: string) { super(message, 'hs-client-not-authorized', 0) }
}

/**
 * An hs-ntor handshake failed: a message of the wrong length, a MAC or AUTH that does not verify
 * (wrong service keys or subcredential, or tampering), a low-order key, or a replayed
 * introduction. Nothing derived from it may be used.
 */
export class HsHandshakeError extends PeerdError {
  static override name = 'HsHandshakeError'
}
