/**
 * Amino, the public IPFS DHT (`/ipfs/kad/1.0.0`): the second Kademlia DHT a node runs beside
 * peerd's own. Through it a node with no server of ours finds its first peers (the public libp2p
 * bootstrap peers are Amino nodes), other peerd nodes (a rendezvous provider record, see
 * rendezvous.ts), and IPFS nodes that hold content (provider records), and it tells IPFS nodes
 * what it shares.
 */
import { peerDiscoverySymbol } from '@libp2p/interface'
import { kadDHT, passthroughMapper, removePrivateAddressesMapper } from '@libp2p/kad-dht'
import type { KadDHT } from '@libp2p/kad-dht'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import type { NetworkName } from './networks.ts'

/** The public IPFS DHT's protocol ID. */
export const AMINO_PROTOCOL = '/ipfs/kad/1.0.0'

/** Settings of the Amino DHT service. */
export interface AminoInit {
  /** Network whose datastore prefix keeps this node's Amino records apart. */
  network: NetworkName
  /** Never serve Amino (the node's `dhtClient`); otherwise serve once a public address is confirmed. */
  clientOnly: boolean
  /**
   * Keep private and loopback addresses in Amino records (a lab or test network of private
   * addresses). Off on the real network, where such addresses only ever lead to the wrong host.
   */
  privateAddresses: boolean
}

/**
 * The Amino DHT service factory. It serves Amino automatically once libp2p confirms a public
 * address (Kubo's `auto` mode), as a client until then, and drops private addresses from the
 * records it sends and takes unless `privateAddresses` is set.
 */
export function aminoDHT (init: AminoInit): ReturnType<typeof kadDHT> {
  const factory = kadDHT({
    protocol: AMINO_PROTOCOL,
    // undefined: kad-dht switches to server mode when the node has a publicly dialable address
    ...(init.clientOnly ? { clientMode: true } : {}),
    peerInfoMapper: init.privateAddresses ? passthroughMapper : removePrivateAddressesMapper,
    logPrefix: 'peerd:amino',
    datastorePrefix: `/peerd/${init.network}/amino`,
    metricsPrefix: 'peerd_amino'
  })
  return (components) => {
    const dht = factory(components)
    // Not a peer-discovery source: every Amino lookup meets dozens of IPFS nodes, and the peer
    // keeper dials what is discovered, which would fill the node's connections with peers that
    // speak none of peerd's protocols. The DHT dials what its own queries need.
    Object.defineProperty(dht, peerDiscoverySymbol, { value: undefined })
    return dht
  }
}

/** The Amino DHT service, when the host runs one. */
export type AminoDHT = KadDHT

/**
 * The well-known CID peerd nodes of `network` announce themselves as providers of on Amino:
 * the raw CIDv1 of sha256(`peerd/<network>/rendezvous/v1`).
 */
export async function rendezvousCid (network: NetworkName): Promise<CID> {
  const digest = await sha256.digest(new TextEncoder().encode(`peerd/${network}/rendezvous/v1`))
  return CID.createV1(raw.code, digest)
}
