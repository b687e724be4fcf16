/**
 * A bare libp2p host listening on loopback TCP (Noise, Yamux, no services): what the onion tests
 * run relays and clients on when they do not need a whole peerd node.
 */
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import type { Libp2p } from '@libp2p/interface'
import { tcp } from '@libp2p/tcp'
import { createLibp2p } from 'libp2p'
import { RelayCommand } from '../../src/onion/cell.ts'
import { OnionKeyRing } from '../../src/onion/onion-keys.ts'
import { OnionRelay } from '../../src/onion/relay.ts'
import type { Teardown } from './teardown.ts'

/** A started libp2p host on 127.0.0.1 with a free port. */
export async function loopbackHost (): Promise<Libp2p> {
  return await createLibp2p({
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()]
  })
}

/**
 * A started relay on `host` with a fresh onion key ring, whose last hop echoes DATA back; stopped
 * by `td`.
 */
export async function echoRelay (td: Teardown, host: Libp2p, network: string): Promise<{ relay: OnionRelay, ring: OnionKeyRing }> {
  const ring = await OnionKeyRing.open(await td.dir())
  const relay = new OnionRelay({
    host,
    network,
    onionKeys: ring,
    onMessage: (circuit, msg) => { if (msg.command === RelayCommand.DATA) circuit.reply(RelayCommand.DATA, msg.streamId, msg.data) }
  })
  await relay.start()
  td.add(async () => { await relay.stop() }, 'stop a relay')
  return { relay, ring }
}
