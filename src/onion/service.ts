/**
 * The node's onion service (issue 16): one object that runs every onion piece on the node's
 * libp2p host and is what `PeerdNode.onion` is.
 *
 * - As a relay (default; `onionRelay: false` opts out): the onion keys (`onion-keys.ts`, rotated
 *   weekly), the middle relay (`relay.ts`) with its bandwidth cap on every link (`link.ts`), the
 *   stream edge for circuits that end here (`exit.ts`): peerd protocols always, TCP only with
 *   `onionExit` and under the exit policy, and the signed descriptor spread by the relay
 *   exchange and the DHT (`relay-exchange.ts`).
 * - As a client: the relay view and entry guards on LevelDB (`directory.ts`, `guards.ts`), the
 *   circuits (`circuit-pool.ts`), the SOCKS5 proxy when `socks` is set (`socks.ts`), and
 *   {@link OnionService.dial} for a peerd protocol on another node through a circuit.
 *
 * A node that does not relay still builds circuits over the same links; CREATE2 from others is
 * refused there. The bandwidth cap applies to every cell on this node's links, its own
 * circuits' included (tor's BandwidthRate works the same way).
 *
 * ```ts
 * const node = await createNode({ dataDir, network: 'regtest', socks: '127.0.0.1:9050' })
 * const stream = await node.onion.dial(peerId, '/peerd/regtest/share/…')  // a Duplex through 3 hops
 * ```
 * @module
 */
import { randomInt } from 'node:crypto'
import { join } from 'node:path'
import type { Duplex } from 'node:stream'
import type { Libp2p, PeerId, PrivateKey } from '@libp2p/interface'
import { CellCommand, encodeDestroy } from './cell.ts'
import { CircuitPool } from './circuit-pool.ts'
import type { CircuitPurpose } from './circuit-pool.ts'
import type { OpenTarget } from './circuit.ts'
import { descriptorIps, signDescriptor } from './descriptor.ts'
import { RelayDirectory } from './directory.ts'
import { NoPathError } from './directory-errors.ts'
import { CircuitClosedError } from './errors.ts'
import { ExitEdge } from './exit.ts'
import { DEFAULT_EXIT_POLICY, parseExitPolicy } from './exit-policy.ts'
import type { ExitPolicy } from './exit-policy.ts'
import { GuardSet } from './guards.ts'
import { LinkManager } from './link.ts'
import { OnionKeyRing } from './onion-keys.ts'
import { ReachabilityChecker } from './reachability.ts'
import { DestroyReason, OnionRelay } from './relay.ts'
import { RelayExchange } from './relay-exchange.ts'
import type { DescriptorDht } from './relay-exchange.ts'
import { SocksServer } from './socks.ts'
import { SocksReply, socksReplyFor } from './socks-errors.ts'
import { EndReason, StreamRefusedError, endReasonName } from './stream-errors.ts'
import type { OnionStream } from './stream.ts'
import type { CircuitInfo, OnionControl, OnionStatus } from './types.ts'
import { decodeOnionAddress, encodeOnionAddress, isOnionHost } from './hs/address.ts'
import { HsClient } from './hs/client.ts'
import { HsUnreachableError } from './hs/connect-errors.ts'
import { parseHsClientPublicKey, parseHsClientSecretKey } from './hs/client-auth.ts'
import { HS_DHT_NAMESPACE, hsDescriptorSelector, hsDescriptorValidator, hsdirProtocol } from './hs/dht.ts'
import { DhtProxyServer, dhtProxyGet, dhtProxyPut } from '../net/dht-proxy.ts'
import { HsRelay } from './hs/hs-relay.ts'
import { OnionServices } from './hs/services.ts'
import type { RateBucket } from '../net/bandwidth-limit.ts'

/** How often the onion key ring is checked for rotation (a new key is republished at once). */
const ROTATE_CHECK_MS = 3600_000
/** How often relays whose descriptors expire soon are looked up in the DHT. */
const DHT_REFRESH_MS = 10 * 60_000
/** A descriptor expiring within this is refreshed from the DHT. */
const DHT_REFRESH_BEFORE_MS = 45 * 60_000
/** DHT lookups per round: each is a query of the network. */
const DHT_LOOKUPS_PER_ROUND = 8

/** The onion settings of a node (`NodeConfig`'s onion fields). */
export interface OnionConfig {
  network: string
  relay: boolean
  /** Bytes per second on this node's onion links. */
  relayRate: number
  exit: boolean
  exitPolicy?: string[]
  /** Peer ids of the operator's other relays (declared family). */
  family?: string[]
  socks?: string
  socksAllowRemote?: boolean
  /** Client-authorization secret keys by onion address (for services that need one), as `peerd onion client-key` prints them. */
  clientAuth?: Record<string, string>
  /** Onion-service time-period length in minutes (default 1440; test networks use short ones). */
  hsPeriodMinutes?: number
}

/** What the service logs through (the node's logger fits). */
export interface OnionLog {
  info: (msg: string, fields?: Record<string, unknown>) => void
  warn: (msg: string, fields?: Record<string, unknown>) => void
  debug: (msg: string, fields?: Record<string, unknown>) => void
}

/** Options of {@link OnionService}. */
export interface OnionServiceInit {
  host: Libp2p
  /** The node's peer key: signs the relay descriptor. */
  privateKey: PrivateKey
  /** Directory for the relay view, guards and onion keys (`<dataDir>/onion`). */
  dir: string
  config: OnionConfig
  log: OnionLog
  dht?: DescriptorDht
  /** A peer sent a forged or malformed descriptor. */
  onMisbehaviour?: (peer: PeerId, reason: string, score: number) => void
  /** The node's upload cap (net/bandwidth-limit.ts), which relayed cells wait for besides `relayRate`. */
  uploadCap?: RateBucket
}

/** The SOCKS reply for a failed stream: the exit's END reason where there is one. */
export function socksReplyForOnion (err: Error): number {
  if (err instanceof StreamRefusedError) {
    switch (err.reason) {
      case EndReason.EXITPOLICY: return SocksReply.NOT_ALLOWED
      case EndReason.RESOLVEFAILED: return SocksReply.HOST_UNREACHABLE
      case EndReason.NOROUTE: return SocksReply.HOST_UNREACHABLE
      case EndReason.CONNECTREFUSED: return SocksReply.REFUSED
      case EndReason.TIMEOUT: return SocksReply.TTL_EXPIRED
      default: return SocksReply.GENERAL
    }
  }
  if (err instanceof NoPathError) return SocksReply.NOT_ALLOWED
  switch (err.name) {
    case 'OnionAddressError': return SocksReply.HS_BAD_ADDRESS
    case 'HsClientNotAuthorizedError': return SocksReply.HS_MISSING_CLIENT_AUTH
    case 'MalformedHsDescriptorError': case 'ForgedHsDescriptorError': case 'ExpiredHsDescriptorError': case 'HsDescriptorTimeError': return SocksReply.HS_DESC_INVALID
    case 'HsUnreachableError': return err instanceof HsUnreachableError && err.stage === 'descriptor' ? SocksReply.HS_DESC_NOT_FOUND : SocksReply.HS_INTRO_FAILED
  }
  if (err.name === 'TimeoutError') return SocksReply.TTL_EXPIRED
  return socksReplyFor(err)
}

/** The node's onion service; see the module header. */
export class OnionService implements OnionControl {
  readonly config: OnionConfig
  /** The exit policy (parsed again at start, when the node's own addresses are known). */
  policy: ExitPolicy
  private readonly init: OnionServiceInit
  private keys?: OnionKeyRing
  private directory?: RelayDirectory
  private guards?: GuardSet
  private relay?: OnionRelay
  private exitEdge?: ExitEdge
  private links?: LinkManager
  private exchange?: RelayExchange
  private reachability?: ReachabilityChecker
  private pool?: CircuitPool
  private socks?: SocksServer
  private hsRelay?: HsRelay
  private hsdir?: DhtProxyServer
  private hsClient?: HsClient
  private hosted?: OnionServices
  private timer?: NodeJS.Timeout
  private dhtTimer?: NodeJS.Timeout
  private started = false

  constructor (init: OnionServiceInit) {
    this.init = init
    this.config = init.config
    this.policy = parseExitPolicy(init.config.exitPolicy ?? DEFAULT_EXIT_POLICY, { ownAddresses: this.ownAddresses() })
  }

  private ownAddresses (): string[] {
    const ips: string[] = []
    for (const ma of this.init.host.getMultiaddrs()) {
      const ip = ma.getComponents().find(c => c.name === 'ip4' || c.name === 'ip6')?.value
      if (ip != null && ip !== '0.0.0.0' && ip !== '::') ips.push(ip)
    }
    return ips
  }

  async start (): Promise<void> {
    const { host, config } = this.init
    this.policy = parseExitPolicy(config.exitPolicy ?? DEFAULT_EXIT_POLICY, { ownAddresses: this.ownAddresses() })
    // a relay's declared addresses count only once a dial to them reached its key (reachability.ts)
    this.directory = await RelayDirectory.open(join(this.init.dir, 'relays'), { network: config.network, verifyAddresses: true, self: host.peerId })
    this.guards = await GuardSet.open(this.directory, { network: config.network, self: host.peerId })
    const rate = { bytesPerSec: config.relayRate, shared: this.init.uploadCap }
    if (config.relay) {
      this.keys = await OnionKeyRing.open(this.init.dir)
      const log = this.init.log
      this.relay = new OnionRelay({
        host,
        network: config.network,
        onionKeys: this.keys,
        // debug only: which peers a relay saw for a circuit is what an observer of this node could learn anyway, and no more
        onCircuitClosed: (peers, reason) => { log.debug('relayed circuit ended', { peers, reason }) },
        onLinkError: (peer, err) => { log.debug('onion link closed on an error', { peer: peer.toString(), error: err.message }) },
        isRelay: peer => this.directory?.get(peer)?.verified === true
      })
      this.relay.links.setRate(rate)
      this.exitEdge = new ExitEdge({
        relay: this.relay,
        network: config.network,
        policy: this.policy,
        exitEnabled: config.exit,
        onRefused: (reason, port) => { log.debug('exit refused a stream', { reason: endReasonName(reason), port }) }
      })
      this.links = this.relay.links
      // every relay may be an introduction or rendezvous point (tor: any relay with the Stable/Fast flags)
      this.hsRelay = new HsRelay({ relay: this.relay })
      await this.relay.start()
    } else {
      // a client only: its links refuse to be anyone's hop
      this.links = new LinkManager({
        host,
        network: config.network,
        rate,
        onCreate: (link, cell) => { link.send({ circId: cell.circId, command: CellCommand.DESTROY, body: encodeDestroy(DestroyReason.PROTOCOL) }) }
      })
      await this.links.start()
    }
    this.reachability = new ReachabilityChecker({
      host,
      directory: this.directory,
      network: config.network,
      first: () => this.guards?.sampled().map(g => g.peerId) ?? [],
      onResult: e => { if (e.status !== 'verified') this.init.log.debug('relay reachability check', { peer: e.peerId, status: e.status, error: e.error }) }
    })
    this.reachability.start()
    this.exchange = new RelayExchange({
      host,
      network: config.network,
      directory: this.directory,
      descriptor: config.relay ? async () => await this.signOwnDescriptor() : undefined,
      dht: this.init.dht,
      peerStore: host.peerStore,
      onMisbehaviour: this.init.onMisbehaviour
    })
    await this.exchange.start()
    this.pool = new CircuitPool({
      links: this.links,
      directory: this.directory,
      guards: this.guards,
      network: config.network,
      self: host.peerId,
      checking: () => (this.reachability?.pending ?? 0) + (this.reachability?.running ?? 0),
      addressOf: peer => host.getConnections(peer)[0]?.remoteAddr.toString(),
      onBuild: e => {
        if (e.ok) this.init.log.debug('circuit built', { ms: Math.round(e.ms), hops: e.hops })
        else this.init.log.info('circuit build failed', { ms: Math.round(e.ms), hops: e.hops, error: e.error?.message })
      }
    })
    this.pool.start()
    await this.startOnionServices()
    this.timer = setInterval(() => { void this.maintain().catch(() => {}) }, ROTATE_CHECK_MS)
    this.timer.unref()
    if (this.init.dht != null) {
      this.dhtTimer = setInterval(() => { void this.refreshFromDht().catch(() => {}) }, DHT_REFRESH_MS)
      this.dhtTimer.unref()
    }
    if (config.socks != null) {
      this.socks = new SocksServer({
        listen: config.socks,
        allowRemote: config.socksAllowRemote === true,
        connect: async req => await this.openStream({ host: req.host, port: req.port }, { purpose: 'socks', isolation: req.isolation, signal: req.signal }),
        replyFor: socksReplyForOnion
      })
      await this.socks.start()
      this.init.log.info('SOCKS5 proxy listening', { address: this.socks.address })
    }
    this.started = true
  }

  /** Onion services: the hsdir answerer, the client side, and the services this node hosts. */
  private async startOnionServices (): Promise<void> {
    const { host, config } = this.init
    const dht = this.init.dht
    if (dht != null) {
      const validate = hsDescriptorValidator(config.network)
      this.hsdir = new DhtProxyServer({
        host,
        protocol: hsdirProtocol(config.network),
        dht,
        validate,
        select: hsDescriptorSelector,
        namespace: HS_DHT_NAMESPACE
      })
      await this.hsdir.start()
    }
    const canonical = (address: string): string => encodeOnionAddress(decodeOnionAddress(address))
    const clientAuth = new Map(Object.entries(config.clientAuth ?? {}).map(([address, secret]) => [canonical(address), parseHsClientSecretKey(secret)]))
    this.hsClient = new HsClient({
      network: config.network,
      pool: this.pool as CircuitPool,
      directory: this.directory as RelayDirectory,
      self: host.peerId,
      periodMinutes: config.hsPeriodMinutes,
      clientAuth: address => clientAuth.get(canonical(address)),
      fetchRecord: async (key, signal) => await this.viaHsdir('hsdir-get', async d => await dhtProxyGet(d, key, signal), signal)
    })
    this.hsClient.start()
    this.hosted = new OnionServices(join(this.init.dir, 'services'), () => ({
      network: config.network,
      pool: this.pool as CircuitPool,
      directory: this.directory as RelayDirectory,
      self: host.peerId,
      periodMinutes: config.hsPeriodMinutes,
      // two peers store it: one that lies about storing cannot hide the service until the next upload
      storeRecord: async (key, value) => (await this.viaHsdir('hsdir-put', async d => await dhtProxyPut(d, key, value) ? true : undefined, undefined, 2)) === true,
      onLog: message => { this.init.log.info(message) }
    }), parseHsClientPublicKey)
    await this.hosted.start()
  }

  /**
   * Runs one hsdir request on random connected peers, each through a circuit of its own (isolated
   * by `isolation`), until `want` of them answered with something (trying `want + 2` at most);
   * returns the first answer.
   */
  private async viaHsdir<T> (isolation: string, request: (duplex: Duplex) => Promise<T | undefined>, signal?: AbortSignal, want = 1): Promise<T | undefined> {
    const self = this.init.host.peerId.toString()
    const peers = [...new Set(this.init.host.getConnections().filter(c => c.status === 'open').map(c => c.remotePeer.toString()))].filter(p => p !== self)
    for (let i = peers.length - 1; i > 0; i--) { const j = randomInt(i + 1); [peers[i], peers[j]] = [peers[j] as string, peers[i] as string] }
    let lastError: unknown
    let first: T | undefined
    let answered = 0
    for (const peer of peers.slice(0, want + 2)) {
      // a circuit of its own per request, closed after: two requests are not linkable by their exit
      const iso = `${isolation}:${randomInt(2 ** 47)}`
      try {
        const duplex = await this.dial(peer, hsdirProtocol(this.init.config.network), { isolation: iso, signal })
        const answer = await request(duplex)
        if (answer !== undefined) {
          first ??= answer
          if (++answered >= want) return first
        }
      } catch (err) {
        lastError = err
        if (signal?.aborted === true) throw err
      } finally {
        this.pool?.release(iso)
      }
    }
    if (lastError != null) this.init.log.debug('hsdir request failed', { error: (lastError as Error).message })
    return first
  }

  /** The onion services this node hosts (`peerd onion serve|services|stop`). */
  get services (): OnionServices {
    if (this.hosted == null) throw new CircuitClosedError('the onion service is not running')
    return this.hosted
  }

  /**
   * Opens a stream to `port` on the onion service at `address` (`<56 chars>.peerd`), through a
   * rendezvous circuit (made on first use, then reused for ten minutes).
   */
  async connect (address: string, port: number, options: { isolation?: string, signal?: AbortSignal } = {}): Promise<OnionStream> {
    const client = this.hsClient
    if (client == null) throw new CircuitClosedError('the onion service is not running')
    await this.guards?.refresh()
    return await client.openStream(address, port, options)
  }

  /** Between start and stop. */
  get running (): boolean {
    return this.started
  }

  async stop (): Promise<void> {
    this.started = false
    clearInterval(this.timer)
    clearInterval(this.dhtTimer)
    await this.socks?.stop()
    await this.hosted?.stopAll()
    this.hsClient?.stop()
    await this.hsdir?.stop()
    this.pool?.stop()
    await this.exchange?.stop()
    this.reachability?.stop()
    if (this.relay != null) await this.relay.stop()
    else await this.links?.stop()
    await this.directory?.close()
    this.socks = undefined
  }

  /** Rotates the onion key when due and republishes; refreshes the guard set. */
  private async maintain (): Promise<void> {
    if (this.keys != null && await this.keys.rotateIfDue()) await this.exchange?.republish()
    await this.guards?.refresh()
  }

  /**
   * Looks up, in the DHT, the relays whose descriptors expire soon, guards first: a relay
   * republishes hourly, but only to the peers it is connected to, so a client that is not one of
   * them finds the new descriptor (a rotated onion key, a changed policy) here.
   */
  async refreshFromDht (now = Date.now()): Promise<number> {
    const directory = this.directory
    const exchange = this.exchange
    if (directory == null || exchange == null) return 0
    const guards = new Set(this.guards?.usable() ?? [])
    const due = directory.relays()
      .filter(e => e.descriptor.expires - now < DHT_REFRESH_BEFORE_MS && !e.descriptor.peerId.equals(this.init.host.peerId))
      .sort((a, b) => Number(guards.has(b.descriptor.peerId.toString())) - Number(guards.has(a.descriptor.peerId.toString())) || a.descriptor.expires - b.descriptor.expires)
      .slice(0, DHT_LOOKUPS_PER_ROUND)
    let refreshed = 0
    for (const e of due) {
      const r = await exchange.lookup(e.descriptor.peerId).catch(() => undefined)
      if (r?.status === 'added') refreshed++
    }
    return refreshed
  }

  private async signOwnDescriptor (): Promise<Uint8Array> {
    const { host, config } = this.init
    const addresses = descriptorAddresses(host.getMultiaddrs().map(m => m.toString()), config.network)
    return await signDescriptor({
      network: config.network,
      onionKey: (this.keys as OnionKeyRing).current().publicKey,
      bandwidth: config.relayRate,
      exit: config.exit,
      exitPolicy: config.exit ? [...this.policy.rules] : [],
      family: config.family ?? [],
      addresses
    }, this.init.privateKey)
  }

  /**
   * Opens a stream to `target` through a circuit: a TCP destination through an exit, or a peerd
   * protocol on another node (the last hop opens the libp2p stream; the target is never a hop).
   */
  async openStream (target: OpenTarget, options: { purpose?: CircuitPurpose, isolation?: string, signal?: AbortSignal } = {}): Promise<OnionStream> {
    const pool = this.pool
    if (pool == null) throw new CircuitClosedError('the onion service is not running')
    if ('host' in target && isOnionHost(target.host)) return await this.connect(target.host, target.port, options)
    await this.guards?.refresh()
    return await pool.openStream(target, { purpose: options.purpose ?? 'peerd', isolation: options.isolation, signal: options.signal })
  }

  /** A peerd protocol of `peer`, reached through a three-hop circuit (a node.js Duplex). */
  async dial (peer: PeerId | string, protocol: string, options: { isolation?: string, signal?: AbortSignal } = {}): Promise<Duplex> {
    return await this.openStream({ peer, protocol }, { purpose: 'peerd', ...options })
  }

  /**
   * Builds a circuit now and returns it (tests, and the bench's build-time figure). The default
   * target is a name on port 443, so any exit whose policy accepts port 443 may end it.
   */
  async buildCircuit (target: OpenTarget = { host: 'exit.invalid', port: 443 }, purpose: CircuitPurpose = 'test'): Promise<CircuitInfo> {
    const pool = this.pool
    if (pool == null) throw new CircuitClosedError('the onion service is not running')
    await this.guards?.refresh()
    return await pool.prebuild(target, purpose)
  }

  /** The relay view's descriptors are what the exchange fetched; this asks a peer now (tests, `connect`). */
  async askRelays (peer: PeerId): Promise<void> {
    await this.exchange?.ask(peer)
  }

  /** The signed descriptor this node publishes (relays only). */
  get ownDescriptor (): Uint8Array | undefined {
    return this.exchange?.ownDescriptor
  }

  /** Peers each circuit this node relays exchanged cells with (at most two: its neighbours). */
  relayedCircuitPeers (): string[][] {
    return this.relay?.circuitPeers() ?? []
  }

  status (): OnionStatus {
    const relayed = this.relay?.stats.cellsRelayed ?? 0
    return {
      relay: {
        enabled: this.config.relay,
        rateBytesPerSec: this.config.relayRate,
        circuits: this.relay?.circuitCount ?? 0,
        cellsRelayed: relayed,
        bytesRelayed: relayed * 514,
        exit: this.config.exit,
        exitPolicy: this.config.exit ? [...this.policy.rules] : []
      },
      socks: this.socks?.address ?? null,
      relaysKnown: this.directory?.verifiedCount ?? 0,
      guards: (this.guards?.sampled() ?? []).slice(0, 3).map(g => ({ peerId: g.peerId, addedAt: new Date(g.addedAt).toISOString(), reachable: g.failures === 0 })),
      circuitsOpen: this.pool?.open ?? 0
    }
  }

  circuits (): CircuitInfo[] {
    return this.pool?.list() ?? []
  }

  /** The Ed25519 key a `.peerd` address encodes (throws `OnionAddressError` on a malformed one). */
  publicKeyOf (address: string): Uint8Array {
    return decodeOnionAddress(address)
  }

  /** The `.peerd` address of a service key. */
  addressOf (publicKey: Uint8Array): string {
    return encodeOnionAddress(publicKey)
  }

  /** Retires the circuits of one isolation key (or, with `prefix`, of every key that starts with it), closing those without streams. */
  release (isolation: string, options: { prefix?: boolean } = {}): void {
    this.pool?.release(isolation, options)
  }

  newCircuits (): number {
    this.hsClient?.retireAll()
    return this.pool?.retireAll() ?? 0
  }
}

/**
 * The (at most 8) addresses a relay declares: off `regtest` the public ones first, since only
 * those count there, and a dual-stack host (loopback, LAN, ULA and global IPv6, each on TCP and
 * WebSocket) or a UPnP-mapped address would otherwise fall past the cut behind loopback ones.
 */
export function descriptorAddresses (addresses: string[], network: string): string[] {
  const fit = addresses.filter(a => a.length <= 128)
  if (network === 'regtest') return fit.slice(0, 8)
  const isPublic = (a: string): boolean => descriptorIps({ addresses: [a] }).length > 0
  return [...fit.filter(isPublic), ...fit.filter(a => !isPublic(a))].slice(0, 8)
}
