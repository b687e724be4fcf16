/**
 * The share service: imports, holds, serves, fetches and exports content-addressed data.
 *
 * Every download is a {@link Session} that fills the block store from all providers at once;
 * a reader (export to a file, `cat`, the gateway) reads through a {@link WaitingBlockstore},
 * so output starts before the download completes. Completed downloads are announced, so every
 * downloader becomes a server (unless `reshare` is off). Private gets and private shares
 * (`share/private/`) go through onion circuits and the node's onion service instead, and what
 * they touch is never announced. A node with `serve` off downloads only: it gives no block to
 * any peer (no block protocol, no block for a Bitswap want) and announces nothing.
 */
import { join } from 'node:path'
import type { PeerId } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import { exporter } from 'ipfs-unixfs-exporter'
import type { UnixFSEntry } from 'ipfs-unixfs-exporter'
import { CID } from 'multiformats/cid'
import { InvalidArgumentError, NotFoundError, NotStartedError } from '../errors.ts'
import { ByteBudget } from '../net/byte-budget.ts'
import type { BandwidthLimiter } from '../net/bandwidth-limit.ts'
import type { PeerdHost } from '../net/host.ts'
import type { Logger } from '../utils/logger.ts'
import { blockKey, childLinks, identityBlock, parseCid } from './block.ts'
import { DownloadCancelledError } from './errors.ts'
import { FsBlockstore } from './blockstore.ts'
import { Bitswap } from './bitswap/index.ts'
import { checkHints, withHints } from './hints.ts'
import { formatLink, isLinkName, linkProviders } from './link.ts'
import type { LinkStyle } from './link.ts'
import { OutputWriter } from './output.ts'
import { PartialHeld } from './partial-held.ts'
import { privateTransfer, PrivateSharing, ProviderLookupServer } from './private/index.ts'
import type { OnionHost, OnionServerStats, ProviderLookupStats } from './private/index.ts'
import { importPath, importStream } from './importer.ts'
import type { ImportedRoot } from './importer.ts'
import { ShareDb } from './layout.ts'
import type { RootRecord } from './layout.ts'
import { blocksProtocol, ROOT_STATUS } from './protocol.ts'
import type { RootStatus } from './protocol.ts'
import { Providers } from './providers.ts'
import { BlockServer, MAX_STREAMS_PER_PEER, SEND_BUDGET } from './server.ts'
import type { RootListener, RootWatch } from './server.ts'
import { Session } from './session.ts'
import { RAW_CODE } from './session/item.ts'
import { StreamSlots } from './session/swarm.ts'
import type { FallbackFetcher, SessionResult } from './session.ts'
import type { SessionProgress, Transfer } from './types.ts'
import { WaitingBlockstore } from './waiting-store.ts'
import { parseSelection, selectionKey, SelectionNotFoundError, Selector, InvalidSelectionError } from './session/selection.ts'
import type { EntryFilter } from './session/selection.ts'
import { readTree, TREE_DEPTH, TREE_ENTRIES, TreeFilter } from './tree.ts'
import type { Tree } from './tree.ts'

export type { Transfer }

/** Options of the share service. */
export interface ShareInit {
  host: PeerdHost
  dataDir: string
  network: string
  log: Logger
  /** Called when a peer misbehaves; `points` as in Bitcoin Core's misbehaviour scores. */
  penalize: (peerId: PeerId, points: number, reason: string) => void
  /** Announce and serve what this node downloads. Default true. */
  reshare?: boolean
  /**
   * Serve blocks to peers at all. false: download only (a metered link): the block protocol is not
   * handled, Bitswap wants get no block, no root is announced, no private share is hosted. Default true.
   */
  serve?: boolean
  /** Bitswap (or another source) used when no peerd peer has a block. */
  fallback?: FallbackFetcher
  /** Onion circuits for private gets and the onion service of private shares (`PeerdNode.onion`); also settable later with {@link ShareService.attachOnion}. */
  onion?: OnionHost
  /** Where the onion service keeps its keys. Default `<dataDir>/onion`. */
  onionDir?: string
  /** The node's upload and download caps (net/bandwidth-limit.ts): block transfers wait for them. Default none. */
  bandwidth?: BandwidthLimiter
}

/** Options of {@link ShareService.share}. */
export interface ShareOptions {
  /** Include files and folders whose names start with a dot. */
  hidden?: boolean
  /**
   * Serve it only through this node's onion service, announced by the service's onion address
   * (a share record) instead of a provider record naming this node; libp2p peers are told this
   * node does not have it. Needs onion routing running. Default false.
   */
  private?: boolean
}


/** Options of {@link ShareService.get}. */
export interface GetOptions {
  /** Where to write the content; omitted: fetch into the store only. */
  output?: string
  /** Fail when no data arrives for this many seconds. Default 60. */
  timeoutSeconds?: number
  signal?: AbortSignal
  /**
   * Through onion circuits: providers found by random peers asked through circuits, blocks from
   * each provider through a circuit of its own; no provider is dialled, the DHT is not asked, and
   * the content is not announced afterwards (see `share/private/index.ts`). Default false.
   */
  private?: boolean
  /** This download's own cap, bytes per second, beside the node's (`get --max-rate`); 0 or unset: none. */
  maxRate?: number
  /**
   * Provider hints (a share link's providers, `share/link.ts`): multiaddrs ending in `/p2p/<peer id>`,
   * at most 16, dialled at once and asked before, and alongside, the DHT search; one that cannot
   * be reached is skipped. Not with `private` (dialling them would tell who fetches).
   */
  providers?: Multiaddr[]
  /**
   * Fetch only this entry of the directory (`docs/a.pdf`, `docs`): the directory nodes on the
   * way and the entry's whole subtree. With `output`, the entry itself is written there.
   */
  path?: string
  /**
   * Fetch only the entries matching these globs (relative to `path` when given; `**` matches
   * across levels; see session/selection.ts). A partial get leaves the root `complete: false`
   * and unannounced; a later whole get completes it.
   */
  only?: string[]
}

/** The result of a get. */
export interface GetResult {
  cid: string
  path: string | null
  size: number
  peers: number
  seconds: number
  private: boolean
  /** A partial get: what it selected (`PATH`, `only GLOB, …` or `PATH only GLOB, …`). */
  selection?: string
}


interface Running {
  cid: string
  session: Session
  promise: Promise<SessionResult>
  startedAt: number
  users: number
  abort: AbortController
  private: boolean
}

/** How long a private get holds its first wants while the circuits to the providers found open (`SessionInit.spread`). */
const PRIVATE_GATHER_MS = 2_000

/** Most selections a partial root's record keeps (a later one past it replaces the oldest). */
const MAX_RECORDED_SELECTIONS = 32

/** Misbehaviour points. */
const POINTS = { badBlock: 100, protocol: 50 }

/** See the module comment. */
export class ShareService {
  readonly blockstore: FsBlockstore
  readonly protocol: string
  private readonly init: ShareInit
  private readonly db: ShareDb
  private readonly server: BlockServer
  /** Block streams open to each provider over all downloads, within what its server admits. */
  private readonly streamSlots = new StreamSlots(MAX_STREAMS_PER_PEER)
  private readonly providers: Providers
  private readonly lookupServer: ProviderLookupServer
  private onion?: OnionHost
  /** Private shares: served only through the onion service, their blocks withheld from peers. */
  private readonly sharing: PrivateSharing
  /** Bitswap 1.2, for IPFS nodes (Helia, Kubo), and as the fallback when no peerd peer serves a block. */
  readonly bitswap: Bitswap
  /** Bytes of block data on their way out to peers, over both protocols. */
  readonly sendBudget = new ByteBudget(SEND_BUDGET)
  private readonly running = new Map<string, Running>()
  /** Downloads (`get`) that ended, by outcome, for {@link transferCounts}. */
  private readonly ended = { completed: 0, failed: 0 }
  private busy = 0
  private readonly unannounced = new Set<string>()
  /** Every session not yet settled, cancelled or not. */
  private readonly sessions = new Set<Promise<void>>()
  private retryTimer?: ReturnType<typeof setTimeout>
  private gcRunning: Promise<unknown> | undefined
  private started = false
  /** The blocks held of roots fetched in part, announced to their downloaders. */
  private readonly partial: PartialHeld

  constructor (init: ShareInit) {
    this.init = init
    this.onion = init.onion
    this.protocol = blocksProtocol(init.network)
    this.db = new ShareDb(join(init.dataDir, 'share'))
    this.blockstore = new FsBlockstore(join(init.dataDir, 'blocks'), { refs: this.db.refs() })
    this.partial = new PartialHeld(this.blockstore)
    this.providers = new Providers({ host: init.host, protocol: this.protocol, log: init.log })
    this.bitswap = new Bitswap({
      host: init.host,
      blockstore: this.blockstore,
      log: init.log.child('bitswap'),
      budget: this.sendBudget,
      uploadCap: init.bandwidth?.upload,
      downloadCap: init.bandwidth?.download,
      // download only: Bitswap still runs, for the blocks this node fetches through it
      withhold: cid => init.serve === false || this.sharing.withholds(cid),
      onMisbehaviour: (peer, reason) => { init.penalize(peer, /match/i.test(reason) ? POINTS.badBlock : POINTS.protocol, `bitswap: ${reason}`) }
    })
    this.server = new BlockServer({
      host: init.host,
      blockstore: this.blockstore,
      protocol: this.protocol,
      log: init.log,
      rootStatus: async (cid) => await this.rootStatus(cid),
      watch: (root, listener) => this.watchDownload(root, listener),
      budget: this.sendBudget,
      uploadCap: init.bandwidth?.upload,
      withhold: cid => this.sharing.withholds(cid),
      // a peer this node downloads from may have nothing it lacks yet: it gets a slot on trial
      offers: peer => { for (const r of this.running.values()) if (r.session.hasProvider(peer)) return true; return false },
      onMisbehaviour: (peer, reason, points) => { init.penalize(peer, points ?? POINTS.protocol, reason) }
    })
    this.sharing = new PrivateSharing({
      host: init.host,
      network: init.network,
      log: init.log,
      blockstore: this.blockstore,
      budget: this.sendBudget,
      onionDir: init.onionDir ?? join(init.dataDir, 'onion'),
      roots: async () => await this.privateRoots(),
      complete: async cid => (await this.db.get(cid.toString()))?.complete === true
    })
    if (init.onion != null) this.sharing.attach(init.onion)
    this.lookupServer = new ProviderLookupServer({ host: init.host, network: init.network, log: init.log, serves: async cid => await this.servesPublicly(cid) })
  }

  async start (): Promise<void> {
    await this.blockstore.open()
    await this.db.open()
    if (this.serves) await this.server.start()
    await this.bitswap.start()
    await this.lookupServer.start()
    await this.sharing.start()
    this.init.host.addEventListener('peer:connect', this.onPeerConnect)
    this.started = true
  }

  async stop (): Promise<void> {
    if (!this.started) return
    this.started = false
    this.init.host.removeEventListener('peer:connect', this.onPeerConnect)
    if (this.retryTimer != null) clearTimeout(this.retryTimer)
    for (const r of this.running.values()) r.abort.abort()
    // cancelled sessions leave `running` at once but may still be walking: wait for all of them
    await Promise.allSettled([...this.sessions])
    await this.sharing.stop()
    await this.lookupServer.stop()
    await this.bitswap.stop()
    if (this.serves) await this.server.stop()
    await this.db.close()
  }

  /** The onion circuits private gets go through, and the onion service of private shares (the node sets it once its onion service exists). */
  attachOnion (onion: OnionHost): void {
    this.onion = onion
    this.sharing.attach(onion)
  }

  /**
   * Hosts the onion service of private shares and publishes their records (the node calls it once
   * onion routing runs; nothing happens without a private share).
   */
  async servePrivately (): Promise<void> {
    if (this.serves) await this.sharing.serve()
  }

  /** The onion address private shares are served at, once the service runs. */
  get onionAddress (): string | undefined {
    return this.sharing.address
  }

  /** When `cid`'s share record was last stored (ms since the epoch), if it was. */
  privatePublishedAt (cid: string): number | undefined {
    return this.sharing.publishedAt(cid)
  }

  /** Counters of what the onion service of private shares served. */
  onionServerStats (): OnionServerStats {
    return this.sharing.stats
  }

  /** The privately shared roots held. */
  private async privateRoots (): Promise<CID[]> {
    return (await this.db.all()).filter(r => r.pinned && r.private === true && r.source === 'share').map(r => CID.parse(r.cid))
  }

  /** Counters of the provider lookups this node answered for others. */
  lookupStats (): ProviderLookupStats {
    return this.lookupServer.stats
  }

  /** Whether this node gives blocks to peers (`serve`, default true). */
  get serves (): boolean {
    return this.init.serve !== false
  }

  /** Whether this node holds `cid` whole and may say so (not fetched privately). */
  private async servesPublicly (cid: CID): Promise<boolean> {
    if (!this.serves) return false
    const rec = await this.db.get(cid.toString())
    return rec?.pinned === true && rec.complete && rec.private !== true
  }

  /** Announces `cid` now, or, without peers, as soon as one connects. */
  private announce (cid: CID): void {
    if (identityBlock(cid) != null) return // every node reads it from the CID: nothing to provide
    if (!this.serves) return // a provider record would send peers to a node that gives them nothing
    void this.providers.provide(cid).then(ok => { if (!ok && this.started) this.unannounced.add(cid.toString()) })
  }

  private readonly onPeerConnect = (): void => {
    if (this.unannounced.size === 0 || this.retryTimer != null) return
    // a moment for identify and the DHT's routing table to take the new peer in
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined
      const cids = [...this.unannounced]
      this.unannounced.clear()
      for (const c of cids) this.announce(CID.parse(c))
    }, 1_000)
    this.retryTimer.unref?.()
  }

  /** Announces every complete, pinned root (after start, once the node has peers). */
  async announceAll (): Promise<void> {
    if (!this.serves) return
    for (const rec of await this.db.all()) {
      if (!this.started) return
      const cid = CID.parse(rec.cid)
      if (rec.pinned && rec.complete && rec.private !== true && identityBlock(cid) == null) await this.providers.provide(cid)
    }
  }

  /** Counters of what this node served. */
  serverStats (): BlockServer['stats'] {
    return this.server.stats
  }

  private async rootStatus (cid: CID): Promise<RootStatus> {
    const rec = await this.db.get(cid.toString())
    // fetched privately: telling anyone who asks would tell them who fetched it
    if (rec?.private === true) return ROOT_STATUS.NONE
    if (rec?.pinned === true && rec.complete) return ROOT_STATUS.COMPLETE
    // fetched in part: which blocks are held is read once, then announced (see watchDownload)
    if (rec?.pinned === true && rec.selection != null) await this.partial.ensure(cid)
    if (rec?.pinned === true) return ROOT_STATUS.PARTIAL
    if (this.sharing.withholds(cid)) return ROOT_STATUS.NONE
    // not a root of ours, but we may hold it inside one (a file of a shared folder)
    return await this.blockstore.has(cid) ? ROOT_STATUS.PARTIAL : ROOT_STATUS.NONE
  }

  /** Follows this node's running download of `root`, if any (its server announces the blocks). */
  private watchDownload (root: CID, listener: RootListener): RootWatch | undefined {
    const key = root.toString()
    for (const r of this.running.values()) {
      if (r.cid === key && !r.private && !r.abort.signal.aborted) return r.session.watch(listener)
    }
    // a root fetched in part, at rest: its blocks as read, and never complete
    const held = this.partial.held(root)
    return held != null ? { held, stop: () => {} } : undefined
  }

  private async whileBusy<T> (fn: () => Promise<T>): Promise<T> {
    while (this.gcRunning != null) await this.gcRunning.catch(() => {})
    this.busy++
    try {
      return await fn()
    } finally {
      this.busy--
    }
  }

  private async record (imported: ImportedRoot, privately = false): Promise<RootRecord> {
    const rec: RootRecord = {
      cid: imported.cid.toString(),
      name: imported.name,
      size: imported.size,
      type: imported.type,
      complete: true,
      source: 'share',
      pinned: true,
      ...(privately ? { private: true } : {}),
      addedAt: new Date().toISOString()
    }
    await this.db.put(rec)
    if (!privately) this.announce(imported.cid)
    this.init.log.info('shared', { cid: rec.cid, name: rec.name, size: rec.size, private: privately })
    return rec
  }

  /**
   * Imports a file or folder, pins it and announces it; with `private`, serves it through the
   * onion service only and announces it by the service's address (`onion` in the result).
   */
  async share (path: string, options: ShareOptions = {}): Promise<RootRecord & { skipped: string[] }> {
    const privately = options.private === true
    if (privately && !this.serves) throw new InvalidArgumentError('this node serves nothing (serve off, download only): a private share would never be served')
    // before anything is stored: no onion service, no private share
    const onion = privately ? await this.sharing.ensure() : undefined
    return await this.whileBusy(async () => {
      // a private share's blocks are withheld from the moment they are stored, before any peer could ask
      const imported = await importPath(path, this.blockstore, { hidden: options.hidden, beforePut: privately ? cid => { this.sharing.marking(cid) } : undefined })
      const existing = await this.db.get(imported.cid.toString())
      if (existing?.pinned === true && existing.private !== true && privately) {
        // already shared in the open: making it private now would not unsay the provider records
        await this.sharing.refresh()
        throw new InvalidArgumentError(`${imported.cid.toString()} is already shared publicly by this node; unshare it first`)
      }
      const rec = await this.record(imported, privately)
      // a private share shared again in the open becomes an ordinary root
      if (!privately && existing?.private === true) await this.sharing.refresh()
      if (privately) await this.sharing.added(imported.cid)
      return { ...rec, ...(onion != null ? { onion } : {}), skipped: imported.skipped }
    })
  }

  /** Imports a stream of bytes as one file named `name`. */
  async add (name: string, content: AsyncIterable<Uint8Array>): Promise<RootRecord> {
    if (name === '' || name.includes('/') || name.includes('\0')) throw new InvalidArgumentError(`invalid file name ${JSON.stringify(name)}`)
    return await this.whileBusy(async () => await this.record(await importStream(name, content, this.blockstore)))
  }

  /** Starts (or joins) the session for `cid` (one per output: each writes its own file). */
  private fetch (cid: CID, timeoutSeconds: number, writer?: OutputWriter, order?: 'sequential', privately = false, maxRate?: number, hints: ReturnType<typeof checkHints> = [], filter?: { of: EntryFilter, key: string }): Running {
    // a private session is joined by private gets only: any other reader would reveal it; a
    // selective one only by the same selection
    const key = (writer == null ? cid.toString() : `${cid.toString()} > ${writer.target}`) + (privately ? ' (private)' : '') + (filter != null ? ` [${filter.key}]` : '')
    const existing = this.running.get(key)
    if (existing != null) {
      // one writer per output: a second get to the same path would finish a file it never wrote
      if (writer != null) throw new InvalidArgumentError(`a download of ${cid.toString()} to ${writer.target} is already running`)
      existing.users++
      return existing
    }
    const hooks = privately
      ? privateTransfer({ host: this.init.host, dialer: this.onionDialer(), network: this.init.network, log: this.init.log, onionProviders: async (root, signal) => await this.sharing.lookup(root, signal) })
      : undefined
    const abort = new AbortController()
    const find = (root: CID, signal: AbortSignal): AsyncIterable<PeerId> => this.providers.find(root, signal)
    const session = new Session({
      root: cid,
      host: this.init.host,
      blockstore: this.blockstore,
      protocol: this.protocol,
      log: this.init.log,
      findProviders: hooks?.findProviders ?? (hints.length > 0 ? withHints({ host: this.init.host, hints, find, log: this.init.log }) : find),
      openStream: hooks?.openStream,
      streamSlots: this.streamSlots,
      onMisbehaviour: (peer, reason) => {
        this.init.penalize(peer, /match/.test(reason) ? POINTS.badBlock : POINTS.protocol, reason)
      },
      // Bitswap asks every connected peer for each block: not for a private get
      fallback: privately ? undefined : this.init.fallback ?? this.bitswap,
      writer,
      order,
      stallTimeoutMs: timeoutSeconds * 1000,
      downloadCap: this.init.bandwidth?.download,
      maxRate,
      filter: filter?.of,
      spread: privately ? { gatherMs: PRIVATE_GATHER_MS } : undefined,
      // what a provider gives counts toward its upload slot here; not in a private get, whose providers never learn who fetched
      onReceived: privately ? undefined : (peer, bytes) => { this.server.received(peer, bytes) },
      signal: abort.signal
    })
    const running: Running = { cid: cid.toString(), session, promise: session.run(), startedAt: Date.now(), users: 1, abort, private: privately }
    this.running.set(key, running)
    const settled = running.promise.then(() => {}, () => {})
    // a private transfer's circuits are its own: retired when it ends rather than left for the pool's sweep
    if (hooks != null) void settled.finally(() => { this.onionDialer().release?.(`${hooks.isolation}:`, { prefix: true }) })
    this.sessions.add(settled)
    void settled.finally(() => { this.sessions.delete(settled) })
    // forgotten once cancelled, not when its walk ends: a caller arriving in between must not join it
    const forget = (): void => { if (this.running.get(key) === running) this.running.delete(key) }
    abort.signal.addEventListener('abort', forget, { once: true })
    void running.promise.catch(() => {}).finally(forget)
    return running
  }

  private onionDialer (): OnionHost {
    const onion = this.onion
    if (onion == null) throw new NotStartedError('a private get needs onion routing, and this node has none attached')
    return onion
  }

  private release (r: Running): void {
    r.users--
    if (r.users <= 0) r.abort.abort()
  }

  /**
   * Fetches `cid` from the network (resuming from blocks already held) and, with `output`,
   * writes it there atomically. Progress is readable through {@link transfers} meanwhile.
   */
  async get (cidString: string, options: GetOptions = {}): Promise<GetResult> {
    const cid = parseCid(cidString)
    const selection = parseSelection(options.path, options.only)
    const selected = selection != null ? selectionKey(selection) : undefined
    const privately = options.private === true
    const hints = checkHints(options.providers ?? [])
    if (privately && hints.length > 0) throw new InvalidArgumentError('a private get dials no provider: drop the provider hints (the link\'s providers) or the private option')
    // before any record is written: no onion, no private get (and no trace of one)
    if (privately && !this.onionDialer().running) throw new NotStartedError('a private get needs onion routing, which is not running on this node')
    return await this.whileBusy(async () => {
      const key = cid.toString()
      const prior = await this.db.get(key)
      if (prior == null) {
        await this.db.put({ cid: key, name: '', size: 0, type: 'unknown', complete: false, source: 'get', pinned: true, addedAt: new Date().toISOString(), ...(privately ? { private: true } : {}) })
      } else if (!prior.pinned) {
        await this.db.put({ ...prior, pinned: true, private: privately })
      } else if (prior.private === true && !privately && prior.source !== 'share') {
        // fetched privately before, now asked for in the open: it becomes an ordinary root
        await this.db.put({ ...prior, private: false })
      }
      const writer = options.output != null ? new OutputWriter(options.output, cid, { base: selection?.base.join('/') }) : undefined
      await writer?.prepare()
      const filter = selection != null && selected != null ? { of: new Selector(selection, key), key: selected } : undefined
      const running = this.fetch(cid, options.timeoutSeconds ?? 60, writer, undefined, privately, options.maxRate, hints, filter)
      const onAbort = (): void => { this.release(running) }
      options.signal?.addEventListener('abort', onAbort, { once: true })
      if (options.signal?.aborted === true) onAbort() // the caller left while we were setting up
      try {
        let exported: { path: string, size?: number } | undefined
        let result: SessionResult
        try {
          result = await running.promise
        } catch (err) {
          this.ended.failed++
          // keep the partial output, and the references into it: the next get resumes into it
          await this.blockstore.flushRefs().catch(() => {})
          await writer?.finish(false)
          // a PATH or glob that selects nothing: the root was never this node's to hold
          if (err instanceof SelectionNotFoundError && prior == null) await this.db.delete(key).catch(() => {})
          throw err
        }
        if (writer != null) {
          const done = await writer.finish(true)
          await this.db.moveRefs(writer.temp, writer.target)
          if (done != null) exported = { path: done.path }
        }
        const entry = await exporter(cid, this.blockstore)
        const current = await this.db.get(key)
        // unshared while it downloaded: the file is the user's, but this node does not hold it
        if (current == null) throw new NotFoundError(`${key} was unshared during the download; the output is at ${exported?.path ?? '(none)'}`)
        if (selected != null) {
          // part of the root: served block by block, never announced as held (unless it already was whole)
          const size = result.bytes
          if (!current.complete) {
            const selections = [...(current.selection ?? []).filter(s => s !== selected), selected].slice(-MAX_RECORDED_SELECTIONS)
            await this.db.put({ ...current, size: Math.max(current.size, size), type: typeOf(entry), pinned: true, selection: selections })
            if (current.private !== true) await this.partial.load(cid)
          }
          this.ended.completed++
          this.init.log.info('downloaded part', { cid: key, selection: selected, bytes: size, peers: result.peers, seconds: result.seconds })
          return { cid: key, path: exported?.path ?? null, size, peers: result.peers, seconds: (Date.now() - running.startedAt) / 1000, private: privately, selection: selected }
        }
        const size = entry.type === 'directory' ? await this.treeSize(entry) : Number((entry as { size?: bigint }).size ?? 0n)
        const { selection: _partial, ...whole } = current
        this.partial.forget(cid)
        await this.db.put({
          ...whole,
          size,
          type: typeOf(entry),
          complete: true,
          pinned: true
        })
        if (this.init.reshare !== false && current.private !== true) this.announce(cid)
        this.ended.completed++
        this.init.log.info('downloaded', { cid: key, size, peers: result.peers, seconds: result.seconds, onion: privately })
        return { cid: key, path: exported?.path ?? null, size, peers: result.peers, seconds: (Date.now() - running.startedAt) / 1000, private: privately }
      } finally {
        options.signal?.removeEventListener('abort', onAbort)
        if (!options.signal?.aborted) this.release(running)
      }
    })
  }

  /**
   * Streams a file's bytes (from `offset`, `length` of them), fetching what is missing while
   * it streams. `path` selects an entry inside a directory (`a/b.txt`).
   */
  async * cat (cidString: string, options: { path?: string, offset?: number, length?: number, signal?: AbortSignal, timeoutSeconds?: number } = {}): AsyncGenerator<Uint8Array> {
    const entry = await this.resolve(cidString, options)
    if (entry.type === 'directory') throw new InvalidArgumentError(`${cidString}${options.path != null ? '/' + options.path : ''} is a directory: use \`peerd get\` or the gateway`)
    if (entry.type === 'object') throw new InvalidArgumentError(`${cidString} is not a UnixFS file`)
    const { view, done } = await this.openView(entry.cid, options)
    try {
      const file = await exporter(entry.cid, view, { signal: options.signal })
      if (file.type === 'directory' || file.type === 'object') throw new InvalidArgumentError(`${cidString} is not a file`)
      // checked here: the exporter's own InvalidParametersError would cross the API as a 500
      const { offset = 0, length } = options
      if (!(offset >= 0 && offset <= Number(file.size)) || (length != null && !(length >= 0))) {
        throw new InvalidArgumentError(`offset ${offset}${length != null ? ` and length ${length}` : ''} are outside ${cidString} (${file.size} bytes)`)
      }
      yield * file.content({ offset: options.offset, length: options.length, signal: options.signal })
    } finally {
      done()
    }
  }

  /**
   * Resolves `cid[/path]` to its UnixFS entry, fetching the blocks on the way.
   */
  async resolve (cidString: string, options: { path?: string, signal?: AbortSignal, timeoutSeconds?: number } = {}): Promise<UnixFSEntry> {
    const cid = parseCid(cidString)
    const { view, done } = await this.openView(cid, options)
    try {
      let entry = await exporter(cid, view, { signal: options.signal })
      for (const part of (options.path ?? '').split('/').filter(p => p !== '')) {
        if (entry.type !== 'directory') throw new NotFoundError(`${cidString}/${options.path ?? ''}: ${part} is inside a file`)
        let next: CID | undefined
        for await (const child of entry.entries({ signal: options.signal })) {
          if (child.name === part) { next = child.cid; break }
        }
        if (next == null) throw new NotFoundError(`${cidString}/${options.path ?? ''}: no entry named ${part}`)
        entry = await exporter(next, view, { signal: options.signal })
      }
      return entry
    } finally {
      done()
    }
  }

  /**
   * Lists a directory's entries (paths, types, sizes) for a file picker, fetching only the
   * directory nodes and the entries' top nodes, down to `depth` levels and `entries` entries.
   */
  async tree (cidString: string, options: { depth?: number, entries?: number, signal?: AbortSignal, timeoutSeconds?: number } = {}): Promise<Tree> {
    const cid = parseCid(cidString)
    const depth = options.depth ?? TREE_DEPTH.default
    const entries = options.entries ?? TREE_ENTRIES.default
    if (!(Number.isInteger(depth) && depth >= 1 && depth <= TREE_DEPTH.max)) throw new InvalidSelectionError(`depth must be from 1 to ${TREE_DEPTH.max}`)
    if (!(Number.isInteger(entries) && entries >= 1 && entries <= TREE_ENTRIES.max)) throw new InvalidSelectionError(`entries must be from 1 to ${TREE_ENTRIES.max}`)
    const limits = { depth, entries }
    return await this.whileBusy(async () => {
      const running = this.fetch(cid, options.timeoutSeconds ?? 60, undefined, undefined, false, undefined, [], { of: new TreeFilter(cid.toString(), limits), key: `tree ${depth} ${entries}` })
      const onAbort = (): void => { this.release(running) }
      options.signal?.addEventListener('abort', onAbort, { once: true })
      try {
        await running.promise
        return await readTree(this.blockstore, cid, limits)
      } finally {
        options.signal?.removeEventListener('abort', onAbort)
        if (options.signal?.aborted !== true) this.release(running)
      }
    })
  }

  /** A waiting view of the store backed by a session for `cid` when anything is missing. */
  private async openView (cid: CID, options: { signal?: AbortSignal, timeoutSeconds?: number }): Promise<{ view: WaitingBlockstore, done: () => void }> {
    const view = new WaitingBlockstore(this.blockstore)
    // even for content held complete: the session walks the local blocks (cheap) and fetches
    // any that went missing (a moved download, gc) instead of leaving a reader waiting forever
    const running = this.fetch(cid, options.timeoutSeconds ?? 60, undefined, 'sequential')
    running.promise.then(() => { view.settle() }, (err: Error) => { view.fail(err) })
    const onAbort = (): void => { view.fail(new DownloadCancelledError('read cancelled')) }
    options.signal?.addEventListener('abort', onAbort, { once: true })
    return {
      view,
      done: () => {
        options.signal?.removeEventListener('abort', onAbort)
        view.close()
        this.release(running)
      }
    }
  }

  /** Bytes of file data under a directory (from the UnixFS sizes, reading directory blocks only). */
  private async treeSize (entry: UnixFSEntry): Promise<number> {
    if (entry.type !== 'directory') return Number((entry as { size?: bigint }).size ?? 0n)
    let n = 0
    for await (const child of entry.entries()) n += await this.treeSize(await exporter(child.cid, this.blockstore))
    return n
  }

  /** Downloads in progress. */
  transfers (): Transfer[] {
    return [...this.running.values()].map(r => ({ cid: r.cid, startedAt: new Date(r.startedAt).toISOString(), private: r.private, progress: r.session.progress() }))
  }

  /** Downloads (`get`) that completed, and that failed or were cancelled, since the service was made. */
  transferCounts (): { completed: number, failed: number } {
    return { ...this.ended }
  }

  /** Progress of a download of `cid`, if one runs. */
  progressOf (cid: string): SessionProgress | undefined {
    const key = parseCid(cid).toString()
    for (const r of this.running.values()) if (r.cid === key) return r.session.progress()
    return undefined
  }

  /** The roots this node holds (a private share with the onion address that serves it). */
  async ls (): Promise<RootRecord[]> {
    const onion = this.sharing.address
    return (await this.db.all()).filter(r => r.pinned).sort((a, b) => a.addedAt < b.addedAt ? -1 : 1)
      .map(r => r.private === true && r.source === 'share' && onion != null ? { ...r, onion } : r)
  }

  /**
   * A share link to a root this node holds, naming this node's public addresses as providers
   * (its loopback and private ones when it has no other: `localOnly`), and the root's name
   * unless `name` is given.
   */
  async link (cidString: string, options: { name?: string, style?: LinkStyle } = {}): Promise<{ cid: string, link: string, providers: string[], localOnly: boolean }> {
    const cid = parseCid(cidString)
    const rec = await this.db.get(cid.toString())
    if (rec == null || !rec.pinned) throw new NotFoundError(`${cid.toString()} is not held by this node (see \`peerd ls\`): share it first, a link names this node as its provider`)
    if (rec.private === true) throw new InvalidArgumentError(`${cid.toString()} is ${rec.source === 'share' ? 'shared' : 'fetched'} privately: a link would name this node; others fetch it with \`peerd get --private\``)
    if (options.name != null && !isLinkName(options.name)) throw new InvalidArgumentError(`the name ${JSON.stringify(options.name)} cannot go in a link: no slashes, control characters, "." or ".."`)
    const name = options.name ?? (isLinkName(rec.name) ? rec.name : undefined)
    const { providers, localOnly } = linkProviders(this.init.host.getMultiaddrs())
    return { cid: cid.toString(), link: formatLink({ cid, name, providers }, options.style), providers: providers.map(p => p.toString()), localOnly }
  }

  /** Stops holding and announcing `cid`; `gc` frees its blocks. */
  async unshare (cidString: string): Promise<RootRecord> {
    const cid = parseCid(cidString)
    const rec = await this.db.get(cid.toString())
    if (rec == null || !rec.pinned) throw new NotFoundError(`${cid.toString()} is not held by this node (see \`peerd ls\`)`)
    for (const r of this.running.values()) if (r.cid === cid.toString()) r.abort.abort()
    await this.db.delete(cid.toString())
    this.partial.forget(cid)
    await this.providers.unprovide(cid)
    if (rec.private === true && rec.source === 'share') {
      // its blocks stay withheld from peers until gc deletes them: held, they would still tell who had it
      this.sharing.dropped(cid)
    }
    return { ...rec, pinned: false }
  }

  /** Deletes every block no held root reaches. */
  async gc (): Promise<{ removedBlocks: number, freedBytes: number }> {
    while (this.busy > 0 || this.gcRunning != null) {
      await (this.gcRunning ?? new Promise(resolve => setTimeout(resolve, 50)))
    }
    const run = this.collect()
    this.gcRunning = run
    try {
      return await run
    } finally {
      this.gcRunning = undefined
    }
  }

  private async collect (): Promise<{ removedBlocks: number, freedBytes: number }> {
    const live = new Set<string>()
    const mark = async (cid: CID): Promise<void> => {
      const key = blockKey(cid)
      if (live.has(key)) return
      live.add(key)
      if (cid.code === RAW_CODE || !await this.blockstore.has(cid)) return
      const bytes = await this.blockstore.getBytes(cid).catch(() => undefined)
      if (bytes == null) return
      for (const child of childLinks(cid, bytes)) await mark(child)
    }
    for (const rec of await this.db.all()) if (rec.pinned) await mark(CID.parse(rec.cid))
    let removedBlocks = 0
    let freedBytes = 0
    const refs = this.db.refs()
    for await (const key of this.blockstore.refKeys()) {
      if (!live.has(key)) await refs.delete(key) // the file itself is the user's: only forget it
    }
    for await (const cid of this.blockstore.keys()) {
      if (live.has(blockKey(cid))) continue
      freedBytes += await this.blockstore.sizeOf(cid).catch(() => 0)
      await this.blockstore.delete(cid)
      removedBlocks++
    }
    await this.sharing.refresh()
    this.init.log.info('garbage collected', { removedBlocks, freedBytes })
    return { removedBlocks, freedBytes }
  }
}

function typeOf (entry: UnixFSEntry): RootRecord['type'] {
  if (entry.type === 'directory') return 'directory'
  if (entry.type === 'file') return 'file'
  if (entry.type === 'raw' || entry.type === 'identity') return 'raw'
  return 'unknown'
}
