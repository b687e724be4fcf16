/**
 * The private-sharing side of the share service (`peerd share --private`), in one place: the
 * blocks withheld from libp2p peers (`private-blocks.ts`), the block protocol over the onion
 * service's streams (`onion-server.ts`), the service and its share records (`onion-share.ts`),
 * and the share-hs answerer every node runs for others (`record-directory.ts`).
 *
 * ```ts
 * const sharing = new PrivateSharing({ host, network, log, blockstore, budget, onionDir, roots, complete })
 * await sharing.start()      // with the share service
 * sharing.attach(node.onion) // before onion routing starts
 * await sharing.serve()      // once it runs: hosts the service if a private root exists
 * ```
 * @module
 */
import type { CID } from 'multiformats/cid'
import type { ByteBudget } from '../../net/byte-budget.ts'
import type { PeerdHost } from '../../net/host.ts'
import type { DhtProxyServer } from '../../net/dht-proxy.ts'
import type { Logger } from '../../utils/logger.ts'
import type { FsBlockstore } from '../blockstore.ts'
import { ROOT_STATUS } from '../protocol.ts'
import { OnionBlockServer } from './onion-server.ts'
import type { OnionServerStats } from './onion-server.ts'
import { OnionShare } from './onion-share.ts'
import type { OnionHost } from './onion-share.ts'
import { PrivateBlocks } from './private-blocks.ts'
import { shareRecordServer } from './record-directory.ts'

/** Options of {@link PrivateSharing}. */
export interface PrivateSharingInit {
  host: PeerdHost
  network: string
  log: Logger
  blockstore: FsBlockstore
  /** Bytes of block data on their way out, shared with the libp2p senders. */
  budget: ByteBudget
  /** `<dataDir>/onion`: where the onion service keeps its key. */
  onionDir: string
  /** The privately shared roots held. */
  roots: () => Promise<CID[]>
  /** Whether a root is held whole. */
  complete: (root: CID) => Promise<boolean>
}

/** See the module header. */
export class PrivateSharing {
  private readonly init: PrivateSharingInit
  private readonly blocks: PrivateBlocks
  private readonly server: OnionBlockServer
  private readonly onion: OnionShare
  private readonly records: DhtProxyServer

  constructor (init: PrivateSharingInit) {
    this.init = init
    this.blocks = new PrivateBlocks(init.blockstore)
    this.server = new OnionBlockServer({
      blockstore: init.blockstore,
      serves: cid => this.blocks.has(cid),
      rootStatus: async cid => this.blocks.isRoot(cid) && await init.complete(cid) ? ROOT_STATUS.COMPLETE : ROOT_STATUS.NONE,
      budget: init.budget,
      log: init.log.child('onion-share')
    })
    this.onion = new OnionShare({
      host: init.host,
      network: init.network,
      log: init.log,
      onionDir: init.onionDir,
      onStream: stream => { this.server.serve(stream) },
      roots: init.roots
    })
    this.records = shareRecordServer(init.host, init.network, init.host.services.dht)
  }

  async start (): Promise<void> {
    await this.records.start()
    await this.refresh()
  }

  async stop (): Promise<void> {
    this.onion.stop()
    this.server.close()
    await this.records.stop()
  }

  /** The node's onion service (before it starts). */
  attach (onion: OnionHost): void {
    this.onion.attach(onion)
  }

  /** Hosts the onion service and publishes every private root's record (a no-op without one). */
  async serve (): Promise<void> {
    await this.onion.start()
  }

  /** Hosts the onion service if need be; its address. Throws `NotStartedError` without onion routing. */
  async ensure (): Promise<string> {
    return await this.onion.ensure()
  }

  /** The onion address private shares are served at, once the service runs. */
  get address (): string | undefined {
    return this.onion.address
  }

  /** Whether `cid` is withheld from libp2p peers (a block of a private share). */
  withholds (cid: CID): boolean {
    return this.blocks.has(cid)
  }

  /** Withholds a block of a private import before it is stored. */
  marking (cid: CID): void {
    this.blocks.mark(cid)
  }

  /** A private share was imported: withhold all of it and publish its record. */
  async added (root: CID): Promise<void> {
    await this.blocks.add(root)
    void this.onion.publish(root)
  }

  /** A private share was unshared: its record lapses; its blocks stay withheld until gc (then {@link refresh}). */
  dropped (root: CID): void {
    this.onion.forget(root)
    this.blocks.dropRoot(root)
  }

  /** Recomputes what is withheld from the private roots held. */
  async refresh (): Promise<void> {
    await this.blocks.rebuild(await this.init.roots())
  }

  /** The onion addresses a share record lists for `root`. */
  async lookup (root: CID, signal?: AbortSignal): Promise<string[]> {
    return await this.onion.lookup(root, signal)
  }

  /** When `cid`'s share record was last stored (ms since the epoch). */
  publishedAt (cid: string): number | undefined {
    return this.onion.publishedAt.get(cid)
  }

  /** What the onion service served. */
  get stats (): OnionServerStats {
    return this.server.stats
  }
}
