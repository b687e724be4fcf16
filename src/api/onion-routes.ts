/**
 * Onion routes of the API: this node's onion status (relay, exit, SOCKS, guards), its circuits,
 * and "new circuits for new streams" (Tor's NEWNYM). They read the node's onion service through
 * its {@link OnionControl}; a node without one answers 503.
 * @module
 */
import { NotStartedError } from '../errors.ts'
import type { PeerdNode } from '../node/node.ts'
import type { CircuitInfo, OnionControl, OnionStatus } from '../onion/types.ts'
import type { Route } from './router.ts'

/** The node's onion control, or a 503 saying it is not running. */
function control (node: PeerdNode): OnionControl {
  const onion: OnionControl | undefined = node.onion
  if (onion?.running !== true) throw new NotStartedError('the onion service is not running on this node')
  return onion
}

/** The onion routes. */
export function onionRoutes (node: PeerdNode): Route[] {
  return [
    {
      method: 'GET',
      path: '/api/v1/onion/status',
      handler: () => control(node).status() satisfies OnionStatus
    },
    {
      method: 'GET',
      path: '/api/v1/onion/circuits',
      handler: () => ({ circuits: control(node).circuits() satisfies CircuitInfo[] })
    },
    {
      method: 'POST',
      path: '/api/v1/onion/new-circuits',
      handler: () => ({ retired: control(node).newCircuits() })
    }
  ]
}
