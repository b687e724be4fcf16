/**
 * AutoNAT v1 as `@libp2p/autonat` 3 serves it, with its dial-back on a connection of its own. The
 * server checks a peer's address by `openConnection(address)`, which hands back the connection
 * the request came over (the connection manager reuses any open connection to the peer), finds
 * its remote address differs from the one asked about, and closes it in a `finally`: every peer
 * with a public address that asked this node to check it was disconnected. Here the server's
 * single-address dials are forced to open a new connection, which it then closes as it should.
 * The client's dials (an array of a random peer's addresses) are left as they are.
 */
import { autoNAT } from '@libp2p/autonat'
import type { AutoNATServiceInit } from '@libp2p/autonat'
import { isMultiaddr } from '@multiformats/multiaddr'

type Factory = (components: any) => unknown // eslint-disable-line @typescript-eslint/no-explicit-any

/** `autoNAT(init)` whose dial-backs never reuse (and so never close) the requesting connection. */
export function autoNATWithOwnDialBack (init: AutoNATServiceInit): Factory {
  const factory = autoNAT(init) as Factory
  return (components) => factory(new Proxy(components, {
    get (target, prop, receiver) {
      const value: unknown = Reflect.get(target, prop, receiver)
      if (prop !== 'connectionManager' || value == null) return value
      const manager = value as { openConnection: (peer: unknown, options?: Record<string, unknown>) => Promise<unknown> }
      return new Proxy(manager, {
        get (m, p) {
          if (p === 'openConnection') {
            return async (peer: unknown, options: Record<string, unknown> = {}) =>
              await m.openConnection(peer, isMultiaddr(peer) ? { ...options, force: true } : options)
          }
          const v: unknown = Reflect.get(m, p, m)
          return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(m) : v
        }
      })
    }
  }))
}
