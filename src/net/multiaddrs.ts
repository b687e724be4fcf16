/**
 * Multiaddrs as users write them (config, CLI flags, `peerd connect`): parsed with a typed error
 * that names what the address was for.
 * @module
 */
import { multiaddr } from '@multiformats/multiaddr'
import type { Multiaddr } from '@multiformats/multiaddr'
import { InvalidArgumentError } from '../errors.ts'

/** Parses a multiaddr, turning a parse failure into an {@link InvalidArgumentError}. */
export function parseMultiaddr (s: string, what = 'multiaddr'): Multiaddr {
  try {
    return multiaddr(s)
  } catch (err) {
    throw new InvalidArgumentError(`invalid ${what} "${s}": ${(err as Error).message}`, { cause: err })
  }
}
