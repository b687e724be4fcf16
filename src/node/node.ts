/**
 * The peerd node: the libp2p host with its services, bound to a data dir. This is what the
 * daemon runs, and what a program embedding peerd gets from {@link createNode}.
 */
import type { Connection, PeerId } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { LevelDatastore } from 'datastore-level'
import type { Level } from 'level'
import { Registry } from 'prom-client'
import { DialError, ListenError, NotStartedError } from '../errors.ts'
import { BandwidthMeter } from '../net/bandwidth.ts'
import { BandwidthLimiter } from '../net/bandwidth-limit.ts'
import { PeerdGater } from '../net/gater.ts'
import { PeerdMetrics } from '../net/metrics.ts'
import { createHost } from '../net/host.ts'
import { isRelayed } from '../net/reachability.ts'
import type { PeerdHost } from '../net/host.ts'
import { networkParams } from '../net/networks.ts'
import { parseMultiaddr } from '../net/multiaddrs.ts'
import { PeerKeeper } from '../net/peer-keeper.ts'
import { PeerListService } from '../net/peer-list.ts'
import { Rendezvous } from '../net/rendezvous.ts'
import { PeerScores } from '../net/scores.ts'
import { CashService } from '../cash/service.ts'
import { ShareService } from '../share/service.ts'
import { OnionService } from '../onion/service.ts'
import { DHT_NAMESPACE, descriptorSelector, descriptorValidator } from '../onion/relay-exchange.ts'
import { HS_DHT_NAMESPACE, hsDescriptorSelector, hsDescriptorValidator } from '../onion/hs/dht.ts'
import { SHARE_HS_NAMESPACE, shareRecordSelector, shareRecordValidator } from '../share/private/onion-record.ts'
import { createLogger } from '../utils/logger.ts'
import type { Logger } from '../utils/logger.ts'
import { VERSION } from '../version.ts'
import { resolveNodeConfig } from './config.ts'
import type { NodeConfig } from './config.ts'
import { dataDirPaths, ensureDataDir, isGroupOrWorldReadable, loadOrCreateKey, openLockedStore } from './data-dir.ts'
import type { DataDirPaths } from './data-dir.ts'
import { registerNodeMetrics } from './metrics.ts'
import type { NatStatus, NodeStatus, PeerSummary } from './types.ts'

export type { NatStatus, NodeStatus, PeerSummary }

/** How long a relay reservation request waits for identify to say whether the peer is a peerd node. */
const RELAY_IDENTIFY_WAIT_MS = 5_000

/** Resolves once identify has run with `peer` (or after `ms`). */
async function identified (host: PeerdHost, peer: PeerId, ms: number): Promise<void> {
  await new Promise<void>(resolve => {
    const done = (): void => { clearTimeout(timer); host.removeEventListener('peer:identify', onIdentify); resolve() }
    const onIdentify = (evt: CustomEvent<{ peerId: PeerId }>): void => { if (evt.detail.peerId.equals(peer)) done() }
    const timer = setTimeout(done, ms)
    host.addEventListener('peer:identify', onIdentify)
  })
}

/** How long `disconnect` keeps a peer away. */
const DISCONNECT_HOLD_MS = 10 * 60_000

/** Options of {@link createNode}: a data dir, and any {@link NodeConfig} field to override. */
export interface NodeOptions extends Partial<NodeConfig> {
  dataDir: string
  /** Logger for the node's lines; by default a stderr logger at `logLevel`. */
  logger?: Logger
  /** Start the node before returning. Default true. */
  start?: boolean
}



/** A running (or stopped) peerd node. */
export class PeerdNode {
  /** Resolved configuration. */
  readonly config: NodeConfig
  /** The libp2p host, for programs that need more than this class offers. */
  readonly libp2p: PeerdHost
  readonly paths: DataDirPaths
  readonly log: Logger
  /** Content-addressed file sharing. */
  readonly share: ShareService
  /** The ledger: chain, sync, block relay and miner. */
  readonly cash: CashService
  /** Onion routing: this node as a relay (and exit, if enabled), its circuits, the SOCKS5 proxy. */
  readonly onion: OnionService
  /** Misbehaviour scores and bans. */
  readonly scores: PeerScores
  /** Bytes in and out over every transport connection. */
  readonly bandwidth: BandwidthMeter
  /** Upload and download caps and their schedule, changeable while running (net/bandwidth-limit.ts). */
  readonly limits: BandwidthLimiter
  /** Tells peers who this node is connected to, and crawls the network around it. */
  readonly peerList: PeerListService
  /**
   * The node's own Prometheus registry (prom-client): libp2p's metrics and peerd's (`peerd_*`).
   * Never the global default registry, so several nodes in one process keep theirs apart; merge it
   * into another with prom-client's `Registry.merge`.
   */
  readonly metricsRegistry: Registry
  private readonly store: Level<string, Uint8Array>
  private readonly keeper: PeerKeeper
  private readonly gater: PeerdGater
  /** Finds peerd nodes through the Amino rendezvous record (when the node joins Amino). */
  readonly rendezvous?: Rendezvous
  private startedAt: number | null = null
  private state: 'stopped' | 'starting' | 'running' | 'stopping' = 'stopped'
  private knownAddresses = new Set<string>()
  // logs the addresses others may dial as they change (a UPnP mapping, a relay reservation)
  private readonly onSelfUpdate = (): void => {
    const now = this.addresses()
    const added = now.filter(a => !this.knownAddresses.has(a))
    const removed = [...this.knownAddresses].filter(a => !now.includes(a))
    this.knownAddresses = new Set(now)
    if (added.length > 0 || removed.length > 0) this.log.info('addresses changed', { added, removed })
  }

  /** Use {@link createNode}. */
  constructor (init: { config: NodeConfig, libp2p: PeerdHost, paths: DataDirPaths, log: Logger, store: Level<string, Uint8Array>, keeper: PeerKeeper, share: ShareService, cash: CashService, onion: OnionService, scores: PeerScores, gater: PeerdGater, bandwidth: BandwidthMeter, peerList: PeerListService, metrics: PeerdMetrics, rendezvous?: Rendezvous }) {
    this.onion = init.onion
    this.metricsRegistry = init.metrics.registry
    this.rendezvous = init.rendezvous
    this.bandwidth = init.bandwidth
    this.limits = init.bandwidth.limiter ?? new BandwidthLimiter()
    this.peerList = init.peerList
    this.gater = init.gater
    this.cash = init.cash
    this.share = init.share
    this.scores = init.scores
    this.config = init.config
    this.libp2p = init.libp2p
    this.paths = init.paths
    this.log = init.log
    this.store = init.store
    this.keeper = init.keeper
  }

  /** This node's peer id. */
  get peerId (): string { return this.libp2p.peerId.toString() }

  /** Whether the node is running. */
  get running (): boolean { return this.state === 'running' }

  /** Starts listening and joins the network. */
  async start (): Promise<void> {
    if (this.state !== 'stopped') return
    this.state = 'starting'
    try {
      await this.libp2p.start()
    } catch (err) {
      this.state = 'stopped'
      try { await this.libp2p.stop() } catch { /* already failed to start */ }
      await this.store.close().catch(() => {})
      throw listenError(err, this.config.listen)
    }
    // libp2p starts on IPv4 alone when every IPv6 listen address fails (a host without IPv6): say so once
    const ipv6Listen = this.config.listen.filter(a => a.startsWith('/ip6/') && !a.includes('/p2p-circuit'))
    if (ipv6Listen.length > 0 && !this.addresses().some(a => a.startsWith('/ip6/') && !a.includes('/p2p-circuit'))) {
      this.log.warn('IPv6 is not available on this host: listening on IPv4 only', { skipped: ipv6Listen })
    }
    try {
      await this.share.start()
      try {
        await this.cash.start()
      } catch (err) {
        await this.share.stop()
        throw err
      }
      try {
        await this.onion.start()
      } catch (err) {
        await this.onion.stop().catch(() => {})
        await this.cash.stop()
        await this.share.stop()
        throw err
      }
    } catch (err) {
      this.state = 'stopped'
      await this.libp2p.stop()
      await this.store.close().catch(() => {})
      throw err
    }
    await this.peerList.start()
    await this.keeper.start()
    await this.rendezvous?.start()
    this.startedAt = Date.now()
    // announce held content once the node has found peers
    const announce = (): void => {
      this.libp2p.removeEventListener('peer:connect', announce)
      setTimeout(() => { void this.share.announceAll().catch(() => {}) }, 2_000).unref?.()
    }
    this.libp2p.addEventListener('peer:connect', announce)
    // private shares are served through an onion service of their own, which needs onion routing up
    void this.share.servePrivately().catch((err: Error) => { this.log.warn('private shares not served', { error: err.message }) })
    this.state = 'running'
    this.knownAddresses = new Set(this.addresses())
    this.libp2p.addEventListener('self:peer:update', this.onSelfUpdate)
    this.log.info('node started', { peerId: this.peerId, network: this.config.network, addresses: this.addresses() })
  }

  /** Closes every connection and flushes the stores. Safe to call more than once. */
  async stop (): Promise<void> {
    if (this.state === 'stopped' || this.state === 'stopping') return
    this.state = 'stopping'
    this.libp2p.removeEventListener('self:peer:update', this.onSelfUpdate)
    await this.rendezvous?.stop()
    await this.keeper.stop()
    await this.peerList.stop()
    await this.onion.stop()
    await this.cash.stop()
    await this.share.stop()
    await this.libp2p.stop()
    await this.store.close()
    this.state = 'stopped'
    this.startedAt = null
    this.log.info('node stopped')
  }

  /** Full multiaddrs (ending in `/p2p/<peerId>`) other peers can dial. */
  addresses (): string[] {
    return this.libp2p.getMultiaddrs().map(ma => ma.toString())
  }

  /** Connected peers. */
  peers (): PeerSummary[] {
    const byPeer = new Map<string, Connection[]>()
    for (const conn of this.libp2p.getConnections()) {
      if (conn.status !== 'open') continue
      const id = conn.remotePeer.toString()
      byPeer.set(id, [...(byPeer.get(id) ?? []), conn])
    }
    return [...byPeer.entries()].map(([peerId, conns]) => toSummary(peerId, conns, this.keeper.latencyOf(peerId)))
  }

  /** Dials `address` (a multiaddr, ideally ending in `/p2p/<peerId>`) and returns the peer. */
  async connect (address: string, options: { signal?: AbortSignal } = {}): Promise<PeerSummary> {
    this.assertRunning()
    const ma = parseMultiaddr(address)
    const target = ma.getComponents().findLast(c => c.name === 'p2p')?.value
    if (target != null) this.gater.unban(target) // asked for explicitly: lift a disconnect's hold
    let conn: Connection
    try {
      conn = await this.libp2p.dial(ma, { signal: options.signal ?? AbortSignal.timeout(15_000) })
    } catch (err) {
      throw new DialError(`could not connect to ${address}: ${(err as Error).message}`, { cause: err })
    }
    const id = conn.remotePeer.toString()
    const foreign = await this.keeper.foreignNetworkOf(conn)
    if (foreign != null) {
      throw new DialError(`${address} is a peerd node of network "${foreign}", not "${this.config.network}"; nodes of different networks do not connect`)
    }
    const rtt = await this.keeper.measureLatency(conn.remotePeer)
    return this.peers().find(p => p.peerId === id) ?? toSummary(id, [conn], rtt)
  }

  /**
   * Closes every connection to `peerId` and refuses the peer, both ways, for ten minutes (or
   * until {@link connect} is asked for it). Returns whether there was a connection.
   */
  async disconnect (peerId: string): Promise<boolean> {
    this.assertRunning()
    const conns = this.libp2p.getConnections().filter(c => c.remotePeer.toString() === peerId)
    // refused even when not connected now: a dial already queued (the DHT's, a keeper's) must not bring it back
    let id = conns[0]?.remotePeer
    try { id ??= peerIdFromString(peerId) } catch { /* not a peer id: nothing to refuse */ }
    if (id != null) this.gater.ban(id, DISCONNECT_HOLD_MS)
    this.keeper.holdOff(peerId, DISCONNECT_HOLD_MS)
    await Promise.all(conns.map(async c => {
      try {
        await c.close({ signal: AbortSignal.timeout(5_000) })
      } catch {
        c.abort(new Error('disconnected by the user'))
      }
    }))
    return conns.length > 0
  }

  /**
   * Lifts a ban on `peerId` (from {@link disconnect} or from misbehaviour), so it may connect
   * and be dialled again. Returns whether there was one.
   */
  unban (peerId: string): boolean {
    const banned = this.gater.isBanned(peerId)
    this.gater.unban(peerId)
    this.keeper.holdOff(peerId, 0)
    return banned
  }

  /** libp2p's and peerd's metrics now, in the Prometheus text format (what `--metrics` serves at `/metrics`). */
  async metrics (): Promise<string> {
    return await this.metricsRegistry.metrics()
  }

  /** A snapshot of the node's state. */
  status (): NodeStatus {
    return {
      peerId: this.peerId,
      network: this.config.network,
      version: VERSION,
      running: this.running,
      startedAt: this.startedAt == null ? null : new Date(this.startedAt).toISOString(),
      uptimeSeconds: this.startedAt == null ? 0 : Math.floor((Date.now() - this.startedAt) / 1000),
      addresses: this.addresses(),
      peers: this.libp2p.getPeers().length,
      connections: this.libp2p.getConnections().length,
      dataDir: this.paths.root,
      served: { blocks: this.share.serverStats().blocksSent, bytes: this.share.serverStats().bytesSent },
      reachability: this.natStatus()
    }
  }

  /** Reachability, relay reservations and hole punching (part of {@link status}). */
  natStatus (): NatStatus {
    const r = this.libp2p.services.reachability.status()
    return {
      state: r.reachability,
      observedIps: r.observedIps,
      relayedAddresses: this.addresses().filter(a => a.includes('/p2p-circuit')),
      holePunch: this.libp2p.services.holePunch.stats(),
      relayService: this.libp2p.services.relayRate == null ? null : { rate: this.config.relayRate, bytes: this.libp2p.services.relayRate.stats().bytes }
    }
  }

  private assertRunning (): void {
    if (this.state !== 'running') throw new NotStartedError()
  }
}

function toSummary (peerId: string, conns: Connection[], pinged: number | undefined): PeerSummary {
  const first = conns[0]
  // the connection monitor's latest ping wins; the ping made on connect fills in before it
  const rtts = conns.map(c => c.rtt).filter((r): r is number => typeof r === 'number')
  if (rtts.length === 0 && pinged != null) rtts.push(pinged)
  return {
    peerId,
    addresses: conns.map(c => c.remoteAddr.toString()),
    direction: first?.direction === 'inbound' ? 'inbound' : 'outbound',
    relayed: conns.length > 0 && conns.every(isRelayed),
    latencyMs: rtts.length === 0 ? null : Math.round(Math.min(...rtts) * 100) / 100
  }
}

function listenError (err: unknown, listen: string[]): Error {
  const text = `${(err as Error).message} ${String((err as { cause?: Error }).cause?.message ?? '')}`
  if (/EADDRINUSE|address already in use/i.test(text)) {
    return new ListenError(`cannot listen on ${listen.join(', ')}: address already in use. Stop what uses the port, pick another with --listen, or use port 0 for a free one`, { cause: err })
  }
  if (/EADDRNOTAVAIL|EACCES|no valid addresses|NoValidAddresses/i.test(text)) {
    return new ListenError(`cannot listen on ${listen.join(', ')}: ${(err as Error).message}. Use addresses of this machine (0.0.0.0 for all) and ports above 1023`, { cause: err })
  }
  return err as Error
}

/**
 * Creates a node on `options.dataDir`: takes the data dir's lock, loads (or on first run makes)
 * the Ed25519 identity, builds the libp2p host, and starts it unless `start: false`.
 *
 * @example
 * ```ts
 * import { createNode } from 'peerd'
 * const node = await createNode({ dataDir: './my-node', network: 'regtest', mdns: false })
 * console.log(node.peerId, node.addresses())
 * await node.connect('/ip4/127.0.0.1/tcp/4001/p2p/12D3Koo…')
 * await node.stop()
 * ```
 */
export async function createNode (options: NodeOptions): Promise<PeerdNode> {
  const config = resolveNodeConfig(options)
  const log = options.logger ?? createLogger({ level: config.logLevel })
  const paths = dataDirPaths(config.dataDir)
  await ensureDataDir(paths.root)
  const store = await openLockedStore(paths)
  let node: PeerdNode
  try {
    const { key, created } = await loadOrCreateKey(paths)
    if (created) log.info('created a new identity', { keyFile: paths.key })
    else if (await isGroupOrWorldReadable(paths.key)) log.warn('identity key file is readable by other users: run chmod 600 on it', { keyFile: paths.key })
    const datastore = new LevelDatastore(store)
    await datastore.open()
    const ref: { host?: PeerdHost } = {}
    const gater = new PeerdGater({
      maxConnectionsPerIp: config.maxConnectionsPerIp,
      maxConnections: config.maxConnections,
      connections: () => ref.host?.getConnections() ?? [],
      onDeny: (reason, detail) => { log.debug('refused inbound connection', { reason, ...detail }) },
      // peerd nodes speak the network's own protocols; a reservation can come before identify has said so
      relayClient: async (peer) => {
        const speaksPeerd = async (): Promise<boolean> => {
          const protocols = await ref.host?.peerStore.get(peer).then(p => p.protocols, () => [] as string[]) ?? []
          return protocols.some(p => p.startsWith(`/peerd/${config.network}/`))
        }
        if (await speaksPeerd()) return true
        if (ref.host != null) await identified(ref.host, peer, RELAY_IDENTIFY_WAIT_MS)
        return await speaksPeerd()
      }
    })
    const limits = new BandwidthLimiter({ maxUpload: config.maxUpload, maxDownload: config.maxDownload, schedule: config.bandwidthSchedule })
    const bandwidth = new BandwidthMeter(limits)
    const metrics = new PeerdMetrics({ registry: new Registry(), bandwidth })
    const { network, listen, mdns, relay, relayRate, maxConnections, maxConnectionsPerIp, dhtClient, amino, aminoPrivateAddresses, upnp } = config
    const hostConfig = { network, listen, mdns, relay, relayRate, maxConnections, maxConnectionsPerIp, dhtClient, amino, aminoPrivateAddresses, upnp }
    const host = await createHost({
      config: hostConfig,
      privateKey: key,
      datastore,
      gater,
      metrics,
      dhtValidators: { [DHT_NAMESPACE]: descriptorValidator(config.network), [HS_DHT_NAMESPACE]: hsDescriptorValidator(config.network), [SHARE_HS_NAMESPACE]: shareRecordValidator(config.network) },
      dhtSelectors: { [DHT_NAMESPACE]: descriptorSelector, [HS_DHT_NAMESPACE]: hsDescriptorSelector, [SHARE_HS_NAMESPACE]: shareRecordSelector },
      relayUpload: limits.upload,
      log
    })
    ref.host = host
    const keeper = new PeerKeeper({
      host,
      gater,
      network: networkParams(config.network),
      bootstrap: config.bootstrap,
      minConnections: config.minConnections,
      log: log.child('net')
    })
    const scores = new PeerScores({ host: () => ref.host, gater, log: log.child('net') })
    const share = new ShareService({
      host,
      dataDir: paths.root,
      network: config.network,
      log: log.child('share'),
      penalize: (peer, points, reason) => { scores.penalize(peer, points, reason) },
      bandwidth: limits,
      reshare: config.reshare,
      serve: config.serve,
      onionDir: paths.onion
    })
    const cash = new CashService({
      host,
      dataDir: paths.root,
      network: config.network,
      log: log.child('cash'),
      penalize: (peer, points, reason) => { scores.penalize(peer, points, reason) },
      mine: config.mine,
      mineThreads: config.mineThreads,
      mempoolMaxBytes: config.mempoolMaxBytes,
      // `onion` is made below; a payment is pushed only once the node runs
      ...(config.privateBroadcast
        ? {
            privateBroadcast: {
              dial: async (peer: string, protocol: string, o: { isolation: string, signal: AbortSignal }) => await onion.dial(peer, protocol, o),
              release: (isolation: string) => { onion.release(isolation) },
              // a relay's own descriptor is in its view
              relays: () => onion.running ? onion.status().relaysKnown - (config.onionRelay ? 1 : 0) : 0
            }
          }
        : {})
    })
    const onion = new OnionService({
      host,
      privateKey: key,
      dir: paths.onion,
      config: {
        network: config.network,
        relay: config.onionRelay,
        relayRate: config.onionRelayRate,
        exit: config.onionExit,
        exitPolicy: config.onionExitPolicy,
        family: config.onionFamily,
        socks: config.socks,
        socksAllowRemote: config.socksAllowRemote,
        clientAuth: config.onionClientAuth
      },
      log: log.child('onion'),
      dht: host.services.dht,
      uploadCap: limits.upload,
      onMisbehaviour: (peer, reason, score) => { scores.penalize(peer, score, reason) }
    })
    // private gets open their provider streams through onion circuits
    share.attachOnion(onion)
    const peerList = new PeerListService({ host, network: config.network, log: log.child('net') })
    const rendezvous = host.services.amino == null
      ? undefined
      : new Rendezvous({ host, amino: host.services.amino, network: networkParams(config.network), wanted: config.minConnections, log: log.child('net') })
    node = new PeerdNode({ config, libp2p: host, paths, log, store, keeper, share, cash, onion, scores, gater, bandwidth, peerList, metrics, rendezvous })
    registerNodeMetrics(metrics.registry, node, metrics)
  } catch (err) {
    await store.close().catch(() => {})
    throw err
  }
  if (options.start !== false) await node.start()
  return node
}
