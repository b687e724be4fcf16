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
}
