/**
 * What a private download needs from the onion layer: a peerd protocol on another node, reached
 * through a circuit. `PeerdNode.onion` (`src/onion/service.ts`) is one.
 * @module
 */
import type { Duplex } from 'node:stream'
import type { PeerId } from '@libp2p/interface'

/** Opens a stream to `protocol` on `peer` through a three-hop circuit keyed by `isolation`. */
export interface OnionDialer {
  /** Whether circuits can be built now. */
  readonly running: boolean
  dial: (peer: PeerId | string, protocol: string, options?: { isolation?: string, signal?: AbortSignal }) => Promise<Duplex>
  /** Retires the circuits whose isolation key starts with `prefix` (a transfer's, once it ends). */
  release?: (prefix: string, options?: { prefix?: boolean }) => void
  /** The Ed25519 key an onion address encodes (throws on a malformed address): share stays below the onion layer and asks it. */
  publicKeyOf: (address: string) => Uint8Array
  /** The onion address of a service key. */
  addressOf: (publicKey: Uint8Array) => string
}
