/**
 * Builds the libp2p host: TCP and WebSockets, Noise, Yamux, identify, ping, Kademlia DHT
 * (scoped to the network), gossipsub, mDNS, circuit relay v2 (client, and server unless
 * disabled), peerd's own AutoNAT (reachability) and DCUtR (hole punching) services, UPnP IGD
 * port mapping (when a listen address is not loopback), and when enabled a second Kademlia DHT
 * speaking Amino, the public IPFS DHT (amino.ts).
 */
import { circuitRelayServer, circuitRelayTransport } from '@libp2p/circuit-relay-v2'
import { gossipsub } from '@libp2p/gossipsub'
import type { GossipSub } from '@libp2p/gossipsub'
import { identify, identifyPush } from '@libp2p/identify'
import type { Identify } from '@libp2p/identify'
import { kadDHT, passthroughMapper } from '@libp2p/kad-dht'
import type { KadDHT, Selectors, Validators } from '@libp2p/kad-dht'
import { mdns } from '@libp2p/mdns'
import { ping } from '@libp2p/ping'
import type { Ping } from '@libp2p/ping'
import { tcp } from '@libp2p/tcp'
import { uPnPNAT } from '@libp2p/upnp-nat'
import { webSockets } from '@libp2p/websockets'
import { aminoDHT } from './amino.ts'
import type { AminoDHT } from './amino.ts'
import { createLibp2p } from 'libp2p'
import type { Libp2p, Metrics, PeerDiscovery, PrivateKey } from '@libp2p/interface'
import type { Datastore } from 'interface-datastore'
import { VERSION } from '../version.ts'
import type { Logger } from '../utils/logger.ts'
import type { BandwidthMeter } from './bandwidth.ts'
import type { PeerdGater } from './gater.ts'
import { holePunchService } from './hole-punch.ts'
import type { HolePunchService } from './hole-punch.ts'
import { reachabilityService } from './reachability.ts'
import { relayRateService } from './relay-rate.ts'
import type { RelayRateLimiter } from './relay-rate.ts'
import type { ReachabilityService } from './reachability.ts'
import { isLoopback } from './addresses.ts'
import { networkParams } from './networks.ts'
import type { NetworkName } from './networks.ts'
import { peerdNoise, peerdYamux } from './transport.ts'

/** The services every peerd host runs. */
export type PeerdServices = {
  identify: Identify
  identifyPush: unknown
  ping: Ping
  dht: KadDHT
  pubsub: GossipSub
  reachability: ReachabilityService
  holePunch: HolePunchService
  relay?: unknown
  /** The rate cap on what the relay carries for others, with the relay. */
  relayRate?: RelayRateLimiter
  /** The public IPFS DHT (`/ipfs/kad/1.0.0`), when the host joins it. */
  amino?: AminoDHT
  upnpNAT?: unknown
}

/** A peerd libp2p host. */
export type PeerdHost = Libp2p<PeerdServices>

/** The host's settings (the node maps its own config onto them). */
export interface HostConfig {
  /** Network whose protocol IDs, DHT and mDNS tag the host uses. */
  network: NetworkName
  /** Multiaddrs to listen on. */
  listen: string[]
  /** Discover peers on the local network by mDNS. */
  mdns: boolean
  /** Serve as a circuit relay (v2). */
  relay: boolean
  /** What the relay carries for others, bytes a second (default 1 MB/s). */
  relayRate?: number
  /** Most connections in total. */
  maxConnections: number
  /** Most inbound connections from one IP address (also the per-second inbound threshold's floor). */
  maxConnectionsPerIp: number
  /** Query the DHT without serving it (Kubo's `dhtclient`): other nodes neither store records here nor route through this node. */
  dhtClient?: boolean
  /** Run a second DHT speaking Amino, the public IPFS DHT (`/ipfs/kad/1.0.0`). */
  amino?: boolean
  /** Keep private and loopback addresses in Amino records (private test networks). */
  aminoPrivateAddresses?: boolean
  /** Map the listening ports on a UPnP IGD router and announce its external address (only with a non-loopback listen address). */
  upnp?: boolean
}

/** What {@link createHost} needs. */
export interface HostInit {
  config: HostConfig
  privateKey: PrivateKey
  datastore: Datastore
  gater: PeerdGater
  /** Counts the bytes of every transport connection (the dashboard's bandwidth chart). */
  bandwidth?: BandwidthMeter
  /** libp2p's one metrics implementation (`PeerdMetrics`, which counts for a BandwidthMeter too); wins over `bandwidth`. */
  metrics?: Metrics
  /**
   * DHT record validators by key namespace (`/<namespace>/…`), beside libp2p's own `pk`: a
   * service that stores signed records in the DHT passes its checks here (net knows no services).
   */
  dhtValidators?: Validators
  /** DHT record selectors by key namespace: which of several valid records for a key wins. */
  dhtSelectors?: Selectors
  /** The node's upload cap, which relayed traffic waits for as bulk traffic does. */
  relayUpload?: { waitMs: () => number }
  /** Where the reachability and hole-punching services log what they find. */
  log?: Logger
}

/** Creates (but does not start) the libp2p host. */
export async function createHost (init: HostInit): Promise<PeerdHost> {
  const { config } = init
  const params = networkParams(config.network)
  const peerDiscovery: Array<(components: any) => PeerDiscovery> = [] // eslint-disable-line @typescript-eslint/no-explicit-any
  if (config.mdns) {
    peerDiscovery.push(mdns({ serviceTag: params.mdnsServiceTag, interval: 5_000 }))
  }

  const services: Record<string, (components: any) => unknown> = { // eslint-disable-line @typescript-eslint/no-explicit-any
    identify: identify(),
    identifyPush: identifyPush(),
    // the connection monitor pings every 10 s; under load a ping may still run when the next
    // (or the keeper's latency ping) starts, and a refused stream aborts the connection
    ping: ping({ maxOutboundStreams: 4, maxInboundStreams: 8 }),
    dht: kadDHT({
      protocol: params.dhtProtocol,
      // every node serves the DHT unless its operator opts out: peers are both clients and servers
      clientMode: config.dhtClient === true,
      // keep LAN and loopback addresses: local networks and devnets are first-class
      peerInfoMapper: passthroughMapper,
      logPrefix: 'peerd:dht',
      datastorePrefix: `/peerd/${config.network}/dht`,
      metricsPrefix: 'peerd_dht',
      validators: init.dhtValidators,
      selectors: init.dhtSelectors
    }),
    pubsub: gossipsub({
      allowPublishToZeroTopicPeers: true,
      emitSelf: false,
      // Many nodes on one machine (devnets, tests) share 127.0.0.1: without this, gossipsub's
      // IP-colocation penalty scores them all negative past ten and empties every mesh.
      scoreParams: { IPColocationFactorWhitelist: new Set(['127.0.0.1', '::1']) }
    }),
    reachability: reachabilityService({ log: init.log?.child('reachability') }),
    holePunch: holePunchService({ log: init.log?.child('hole-punch') })
  }
  if (config.amino === true) {
    services.amino = aminoDHT({ network: config.network, clientOnly: config.dhtClient === true, privateAddresses: config.aminoPrivateAddresses === true })
  }
  if (config.upnp === true && config.listen.some(a => !listensOnLoopback(a))) {
    services.upnpNAT = uPnPNAT({
      // the router itself reports the mapping and its external address: announce it at once,
      // as Kubo does, rather than wait for AutoNAT peers to confirm it
      autoConfirmAddress: true,
      // one search at start, then one a minute while no router answered (the default is every 5 s)
      initialGatewaySearchInterval: 60_000
    })
  }
  if (config.relay) {
    services.relay = circuitRelayServer({
      // no per-connection data or time limit: libp2p's defaults (128 KiB, 2 min) would cut every
      // share or chain download between peerd nodes; the gater admits peerd nodes only, and
      // reservations and hop streams are capped
      reservations: { maxReservations: 128, applyDefaultLimit: false },
      maxInboundHopStreams: 64,
      maxOutboundStopStreams: 64
    })
    // after the relay server, whose HOP handler it wraps
    services.relayRate = relayRateService(config.relayRate ?? 1_000_000, init.relayUpload)
  }

  return await createLibp2p<PeerdServices>({
    start: false,
    privateKey: init.privateKey,
    datastore: init.datastore,
    nodeInfo: { name: 'peerd', version: VERSION, userAgent: `peerd/${VERSION} (${config.network})` },
    addresses: { listen: config.listen },
    transports: [tcp(), webSockets(), circuitRelayTransport({ maxInboundStopStreams: 64 })],
    connectionEncrypters: [peerdNoise()],
    streamMuxers: [peerdYamux()],
    connectionGater: init.gater,
    connectionManager: {
      maxConnections: config.maxConnections,
      // connections per second from one host; devnets open many from 127.0.0.1 at once
      inboundConnectionThreshold: Math.max(5, config.maxConnectionsPerIp),
      dialTimeout: 10_000
    },
    // Pings measure latency; they do not judge liveness: a ping queued behind seconds of block
    // data on a slow uplink times out although the peer is fine, and aborting the connection
    // then throws away every block in flight. Dead connections are found by yamux's keep-alive
    // and TCP.
    connectionMonitor: { pingInterval: 10_000, abortConnectionOnPingFailure: false },
    peerDiscovery,
    ...(init.metrics != null ? { metrics: () => init.metrics as Metrics } : init.bandwidth != null ? { metrics: () => init.bandwidth as BandwidthMeter } : {}),
    services: services as any // eslint-disable-line @typescript-eslint/no-explicit-any
  })
}

/** Whether the listen multiaddr `addr` is on a loopback address (nothing a router could forward to). */
function listensOnLoopback (addr: string): boolean {
  const ip = /^\/ip[46]\/([^/]+)\//.exec(addr)?.[1]
  return ip != null && isLoopback(ip)
}
