/**
 * Network parameters. The network name scopes peerd's own protocol IDs (DHT, node marker, and
 * the share and cash protocols as they land), its gossip topics and its mDNS service name, so
 * nodes of different networks never share a DHT, a topic or a LAN swarm; a node that identifies
 * as peerd on another network is dropped. The generic libp2p protocols (identify, ping, relay,
 * DCUtR, AutoNAT) keep their standard IDs so that other libp2p and IPFS nodes interoperate.
 */

/**
 * The public libp2p bootstrap peers, as Kubo and Helia ship them (Helia 7's
 * `@helia/libp2p` bootstrappers list). `/dnsaddr` names are resolved through DNS TXT records at
 * dial time.
 */
export const PUBLIC_BOOTSTRAP_PEERS: readonly string[] = Object.freeze([
  '/dnsaddr/bootstrap.libp2p.io/p2p/QmNnooDu7bfjPFoTZYxMNLWUQJyrVwtbZg5gBMjTezGAJN',
  '/dnsaddr/bootstrap.libp2p.io/p2p/QmbLHAnMoJPWSCR5Zhtx6BHJX9KiKNN6tpvbUcqanj75Nb',
  '/dnsaddr/bootstrap.libp2p.io/p2p/QmcZf59bWwK5XFi76CZX8cbJ4BhTzzA3gU1ZjYZcYW3dwt',
  '/dnsaddr/va1.bootstrap.libp2p.io/p2p/12D3KooWKnDdG3iXw9eTFijk3EWSunZcFi54Zka4wmtqtt6rPxc8',
  '/ip4/104.131.131.82/tcp/4001/p2p/QmaCpDMGvV2BGHeYERUEnRQAwe3N8SzbUtfsmvsqQLuvuJ'
])

/** The networks peerd knows. */
export const NETWORK_NAMES = ['main', 'regtest'] as const
/** `main` for real use, `regtest` for tests and local experiments. */
export type NetworkName = typeof NETWORK_NAMES[number]

/** Per-network defaults and protocol names. */
export interface NetworkParams {
  name: NetworkName
  /** Prefix of every peerd protocol ID on this network, e.g. `/peerd/main`. */
  protocolPrefix: string
  /** Kademlia DHT protocol ID. */
  dhtProtocol: string
  /** Marker protocol every peerd node of this network handles; used to keep networks apart. */
  nodeProtocol: string
  /** mDNS service tag. */
  mdnsServiceTag: string
  /** Listen addresses when none are configured. */
  defaultListen: string[]
  /** API address when none is configured. */
  defaultApi: string
  /** Inbound connections accepted from one IP address. */
  defaultMaxConnectionsPerIp: number
}

/** Whether `s` names a known network. */
export function isNetworkName (s: string): s is NetworkName {
  return (NETWORK_NAMES as readonly string[]).includes(s)
}

/** The parameters of `name`. */
export function networkParams (name: NetworkName): NetworkParams {
  const prefix = `/peerd/${name}`
  const common = {
    name,
    protocolPrefix: prefix,
    dhtProtocol: `${prefix}/kad/1.0.0`,
    nodeProtocol: `${prefix}/node/1.0.0`,
    mdnsServiceTag: `_peerd-${name}._udp.local`
  }
  if (name === 'main') {
    return {
      ...common,
      // IPv6 beside IPv4; a host without IPv6 listens on IPv4 only (libp2p skips the /ip6 ones then)
      defaultListen: ['/ip4/0.0.0.0/tcp/9470', '/ip4/0.0.0.0/tcp/9471/ws', '/ip6/::/tcp/9470', '/ip6/::/tcp/9471/ws'],
      defaultApi: '127.0.0.1:9480',
      defaultMaxConnectionsPerIp: 8
    }
  }
  // regtest: many local nodes share 127.0.0.1, so the per-IP limit is generous.
  return {
    ...common,
    defaultListen: ['/ip4/127.0.0.1/tcp/0', '/ip4/127.0.0.1/tcp/0/ws'],
    defaultApi: '127.0.0.1:0',
    defaultMaxConnectionsPerIp: 128
  }
}
