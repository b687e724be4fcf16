/**
 * A bare libp2p host listening on loopback TCP (Noise, Yamux, no services): what the onion tests
 * run relays and clients on when they do not need a whole peerd node.
 */
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import type { Libp2p } from '@libp2p/interface'
import { tcp } from '@libp2p/tcp'
import { createLibp2p } from 'libp2p'

/** A started libp2p host on 127.0.0.1 with a free port. */
export async function loopbackHost (): Promise<Libp2p> {
  return await createLibp2p({
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()]
  })
}
