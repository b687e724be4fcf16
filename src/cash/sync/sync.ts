/**
 * Headers-first sync. When a peer reports more cumulative work than this node's tip (on
 * connect, on a periodic poll, or when it announces a block whose parent is unknown), the node
 * asks it for headers after its locator and checks them in context (proof of work, ASERT bits
 * given the parent, median time past, clock), summing their work. Only once that computed work
 * beats the tip (and the network's minimum) does it download the blocks, in parallel from that
 * peer and those whose announced tip is on the branch (batches of {@link MAX_GET_BLOCKS}, a bounded window ahead of the
 * chain), and hand them to the chain in order. Repeats until the peer has no more headers.
 * @module
 */
import type { PeerId } from '@libp2p/interface'
import { ProtocolError } from '../../net/frames.ts'
import type { PeerdHost } from '../../net/host.ts'
import type { Logger } from '../../utils/logger.ts'
import type { Chain } from '../chain/index.ts'
import type { HeaderBranch } from '../chain/index.ts'
import type { ChainParams } from '../consensus/params.ts'
import type { ChainServerStats } from './server.ts'
import { VerifyError } from '../consensus/verify-error.ts'
import { decodeBlock } from '../primitives/block.ts'
import { DecodeError } from '../primitives/errors.ts'
import { bytesEqual, hashToHex } from '../primitives/hash.ts'
import { headerHash } from '../primitives/header.ts'
import { ChainClient } from './client.ts'
import type { PeerTip } from './client.ts'
import { ChainProtocolError, MAX_GET_BLOCKS, MAX_HEADERS, MAX_LOCATOR, chainProtocol } from './protocol.ts'
import { ChainServer } from './server.ts'

/**
 * Headers a peer may show, beyond what it already made us download, before its branch must
 * out-work our tip (50 rounds, 1.6 MB of hashes held): a branch of more cheap headers is an attack.
 */
export const MAX_LOW_WORK_HEADERS = 50 * MAX_HEADERS
/** Penalty for a header chain that does not have the work its peer claimed (two of them ban). */
export const LOW_WORK_PENALTY = 50
/** Most peers waiting for a sync; past it the oldest request is dropped (the 20 s poll asks again). */
const MAX_SYNC_QUEUE = 64
/** Times one sync may start over when the peer's answers move to another branch. */
const MAX_BRANCH_RESTARTS = 3

/** Options of {@link ChainSync}. */
export interface ChainSyncInit {
  host: PeerdHost
  chain: Chain
  params: ChainParams
  log: Logger
  penalize: (peer: PeerId, points: number, reason: string) => void
  /** How often to ask a peer for its tip (ms). Default 20 s. */
  pollIntervalMs?: number
  /** Batches of blocks requested ahead of the chain. Default 8 (128 blocks). */
  window?: number
}

/** Progress of the running sync, if any. */
export interface SyncState {
  syncing: boolean
  peer: string | null
  /** Height of the best header a peer has shown. */
  bestHeight: number
  peers: number
}

/** A wake-up for waiters on download progress. */
class Pulse {
  private resolve: () => void = () => {}
  private promise: Promise<void> = this.next()
  private next (): Promise<void> {
    return new Promise((resolve) => { this.resolve = resolve })
  }

  wait (): Promise<void> { return this.promise }
  notify (): void {
    const r = this.resolve
    this.promise = this.next()
    r()
  }
}

/** Keeps the local chain caught up with the peers'. */
export class ChainSync {
  private readonly init: ChainSyncInit
  private readonly client: ChainClient
  private readonly server: ChainServer
  private readonly protocol: string
  private readonly peers = new Map<string, { id: PeerId, tip?: PeerTip }>()
  /** Peers to sync from next, in request order (one place each, at most {@link MAX_SYNC_QUEUE}). */
  private readonly candidates = new Map<string, PeerId>()
  private current: PeerId | undefined
  private loop: Promise<void> | undefined
  private abort = new AbortController()
  private timer: ReturnType<typeof setInterval> | undefined
  private bestHeight = 0

  constructor (init: ChainSyncInit) {
    this.init = init
    this.protocol = chainProtocol(init.params.network)
    this.client = new ChainClient({ host: init.host, protocol: this.protocol })
    this.server = new ChainServer({ host: init.host, chain: init.chain, protocol: this.protocol, log: init.log, penalize: init.penalize })
  }

  private readonly onIdentify = (evt: CustomEvent<{ peerId: PeerId, protocols: string[] }>): void => {
    if (!evt.detail.protocols.includes(this.protocol)) return
    this.peers.set(evt.detail.peerId.toString(), { id: evt.detail.peerId })
    void this.checkPeer(evt.detail.peerId)
  }

  private readonly onDisconnect = (evt: CustomEvent<PeerId>): void => {
    this.peers.delete(evt.detail.toString())
  }

  async start (): Promise<void> {
    this.abort = new AbortController()
    await this.server.start()
    this.init.host.addEventListener('peer:identify', this.onIdentify)
    this.init.host.addEventListener('peer:disconnect', this.onDisconnect)
    this.timer = setInterval(() => { void this.poll() }, this.init.pollIntervalMs ?? 20_000)
    this.timer.unref?.()
    // peers connected before the service started
    for (const conn of this.init.host.getConnections()) {
      void this.init.host.peerStore.get(conn.remotePeer).then((peer) => {
        if (peer.protocols.includes(this.protocol)) {
          this.peers.set(conn.remotePeer.toString(), { id: conn.remotePeer })
          void this.checkPeer(conn.remotePeer)
        }
      }).catch(() => {})
    }
  }

  async stop (): Promise<void> {
    this.abort.abort(new Error('node stopping'))
    if (this.timer != null) clearInterval(this.timer)
    this.candidates.clear()
    this.init.host.removeEventListener('peer:identify', this.onIdentify)
    this.init.host.removeEventListener('peer:disconnect', this.onDisconnect)
    await this.server.stop()
    await this.loop?.catch(() => {})
  }

  /** Where sync stands. */
  state (): SyncState {
    return {
      syncing: this.loop != null,
      peer: this.current?.toString() ?? null,
      bestHeight: Math.max(this.bestHeight, this.init.chain.tip.height),
      peers: this.peers.size
    }
  }

  /** What this node served to peers over the chain protocol. */
  serverStats (): ChainServerStats {
    return { ...this.server.stats }
  }

  /** Asks `peer` for its tip and syncs from it when it has more work. */
  async checkPeer (peer: PeerId): Promise<void> {
    try {
      const tip = await this.client.status(peer, this.abort.signal)
      const known = this.peers.get(peer.toString())
      if (known != null) known.tip = tip
      if (tip.chainwork > this.init.chain.tip.chainwork) {
        this.bestHeight = Math.max(this.bestHeight, tip.height)
        this.requestSync(peer)
      }
    } catch (err) {
      // the chain protocol's errors and the frame reader's (a frame over the limit) alike
      if (err instanceof ProtocolError) this.init.penalize(peer, 20, `chain protocol: ${err.message}`)
      else this.init.log.debug('chain status failed', { peerId: peer.toString(), err })
    }
  }

  /** The periodic round (public for tests): connect a branch a failed write left stored, then ask a random peer for its tip. */
  async poll (): Promise<void> {
    try {
      // a block stored but left unconnected by a failed write is connected once the disk takes it
      if (await this.init.chain.activateBestChain()) this.init.log.info('connected a stored branch after a failed write', { height: this.init.chain.tip.height })
    } catch (err) {
      this.init.log.warn('the chain still cannot connect its best stored branch', { err: (err as Error).message })
    }
    const all = [...this.peers.values()]
    const pick = all[Math.floor(Math.random() * all.length)]
    if (pick != null) await this.checkPeer(pick.id)
  }

  /**
   * Starts (or queues) a sync from `peer`. Each peer waits in its own place, so one peer's
   * requests (its unknown-parent blocks) cannot replace another's.
   */
  requestSync (peer: PeerId): void {
    const key = peer.toString()
    if (!this.candidates.has(key)) {
      this.candidates.set(key, peer)
      for (const k of this.candidates.keys()) {
        if (this.candidates.size <= MAX_SYNC_QUEUE) break
        this.candidates.delete(k)
      }
    }
    if (this.loop != null) return
    this.loop = (async () => {
      for (;;) {
        const first = this.candidates.entries().next()
        if (first.done === true || this.abort.signal.aborted) break
        const [k, next] = first.value
        this.candidates.delete(k)
        this.current = next
        try {
          await this.syncFrom(next)
        } catch (err) {
          if (!this.abort.signal.aborted) this.init.log.info('sync from a peer stopped', { peerId: next.toString(), err: (err as Error).message })
        }
      }
    })().finally(() => {
      this.loop = undefined
      this.current = undefined
    })
  }

  /**
   * Headers-first from `peer`: its headers are checked in context and their work summed (a
   * {@link HeaderBranch}) round after round, and no block is asked for until the branch has more
   * work than the tip and at least `params.minimumChainWork`; from then on each round's blocks
   * are downloaded. A peer whose branch ends with less work than it claimed, or grows past
   * {@link MAX_LOW_WORK_HEADERS} without out-working the tip, is penalised.
   */
  private async syncFrom (peer: PeerId): Promise<void> {
    const { chain, params, penalize, log } = this.init
    const signal = this.abort.signal
    const claimed = await this.client.status(peer, signal)
    const known = this.peers.get(peer.toString())
    if (known != null) known.tip = claimed
    if (claimed.chainwork <= chain.tip.chainwork) return
    let branch: HeaderBranch | undefined
    let restarts = 0
    for (;;) {
      const locator = await chain.getLocator()
      // continue after the branch's last header (a peer answers from the first hash on its best chain)
      if (branch !== undefined && branch.height > branch.root.height) locator.unshift(branch.tipHash)
      const headers = await this.client.headers(peer, locator.slice(0, MAX_LOCATOR), signal)
      const first = headers[0]
      if (first !== undefined && (branch === undefined || !bytesEqual(first.prevHash, branch.tipHash))) {
        // a first round, or the peer moved to another branch: start from its first header's parent
        if (branch !== undefined && ++restarts > MAX_BRANCH_RESTARTS) return
        try {
          branch = chain.headerBranch(first.prevHash)
        } catch (err) {
          if (!(err instanceof VerifyError)) throw err
          if (err.score > 0) penalize(peer, err.score, `headers: ${err.reason}`)
          return
        }
        if (branch === undefined) {
          penalize(peer, 20, 'headers that do not connect to our chain')
          return
        }
      }
      if (branch === undefined) return // no headers at all: nothing after our locator
      try {
        branch.extend(headers)
      } catch (err) {
        if (!(err instanceof VerifyError)) throw err
        if (err.score > 0) penalize(peer, err.score, `invalid header: ${err.reason}`)
        return
      }
      this.bestHeight = Math.max(this.bestHeight, branch.height)
      const enough = branch.chainwork > chain.tip.chainwork && branch.chainwork >= params.minimumChainWork
      if (enough) {
        const missing: Uint8Array[] = []
        for (const hash of branch.take()) if (await chain.getEntry(hash) == null) missing.push(hash)
        if (missing.length > 0) await this.download(missing, peer)
        log.debug('synced headers batch', { peerId: peer.toString(), headers: headers.length, height: chain.tip.height })
      }
      if (headers.length < MAX_HEADERS) {
        // The branch ends at the peer's tip: less work than its STATUS claimed is a lie.
        if (!enough && branch.chainwork < claimed.chainwork) penalize(peer, LOW_WORK_PENALTY, 'a header chain with less work than it claimed')
        return
      }
      if (!enough && branch.pendingCount >= MAX_LOW_WORK_HEADERS) {
        penalize(peer, LOW_WORK_PENALTY, `${branch.pendingCount} headers that do not out-work our tip`)
        return
      }
    }
  }

  /**
   * Peers to fetch `hashes` from: the one that showed their headers, then those whose announced
   * tip is one of them (its chain holds the blocks before it), as Core asks only peers whose best
   * known header descends from a block. A peer that never announced the branch is not asked,
   * so it is never blamed for one of its blocks.
   */
  private sources (primary: PeerId, hashes: Uint8Array[]): PeerId[] {
    const out = [primary]
    const wanted = new Set(hashes.map(hashToHex))
    for (const p of this.peers.values()) {
      if (p.id.equals(primary)) continue
      if (p.tip != null && wanted.has(hashToHex(p.tip.hash))) out.push(p.id)
    }
    return out
  }

  /** Downloads `hashes` (consecutive blocks) from all sources in parallel, connecting them in order. */
  private async download (hashes: Uint8Array[], primary: PeerId): Promise<void> {
    const { chain, penalize } = this.init
    const batches: Uint8Array[][] = []
    for (let i = 0; i < hashes.length; i += MAX_GET_BLOCKS) batches.push(hashes.slice(i, i + MAX_GET_BLOCKS))
    const results: Array<{ bytes: Uint8Array[], from: PeerId } | undefined> = []
    const retry: number[] = []
    const pulse = new Pulse()
    const window = this.init.window ?? 8
    let next = 0
    let fed = 0
    let done = false
    let workers = 0

    const take = async (): Promise<number | undefined> => {
      for (;;) {
        if (done) return undefined
        const r = retry.shift()
        if (r !== undefined) return r
        if (next < batches.length && next < fed + window) return next++
        if (next >= batches.length && retry.length === 0) return undefined
        await pulse.wait()
      }
    }

    const worker = async (peer: PeerId): Promise<void> => {
      workers++
      try {
        for (;;) {
          const i = await take()
          if (i === undefined) return
          const batch = batches[i] as Uint8Array[]
          let got: Array<Uint8Array | undefined>
          try {
            got = await this.client.blocks(peer, batch, this.abort.signal)
          } catch (err) {
            retry.push(i)
            if (err instanceof ProtocolError) penalize(peer, 20, `chain protocol: ${err.message}`)
            return
          }
          if (got.some((b) => b == null)) {
            retry.push(i) // this peer lacks some: let another one try
            return
          }
          results[i] = { bytes: got as Uint8Array[], from: peer }
          pulse.notify()
        }
      } finally {
        workers--
        pulse.notify()
      }
    }

    const sources = this.sources(primary, hashes)
    // two requests in flight per peer keep its pipe full while one batch is being connected
    const running = sources.flatMap((peer) => [worker(peer), worker(peer)])
    try {
      while (fed < batches.length) {
        const got = results[fed]
        if (got == null) {
          if (workers === 0) throw new Error(`no peer could serve blocks from ${hashToHex((batches[fed] as Uint8Array[])[0] as Uint8Array)}`)
          await pulse.wait()
          continue
        }
        const batch = batches[fed] as Uint8Array[]
        for (let j = 0; j < got.bytes.length; j++) {
          const bytes = got.bytes[j] as Uint8Array
          let block
          try {
            block = decodeBlock(bytes)
          } catch (err) {
            if (err instanceof DecodeError) penalize(got.from, 100, `malformed block: ${err.reason}`)
            throw err
          }
          if (!bytesEqual(headerHash(block.header), batch[j] as Uint8Array)) {
            penalize(got.from, 50, 'sent a block other than the one asked for')
            throw new ChainProtocolError('wrong block')
          }
          try {
            await chain.addBlock(block, { bytes, peer: got.from.toString() })
          } catch (err) {
            if (err instanceof VerifyError && err.score > 0) penalize(got.from, err.score, `invalid block: ${err.reason}`)
            throw err
          }
        }
        results[fed] = undefined // free the bytes
        fed++
        pulse.notify()
      }
    } finally {
      done = true
      pulse.notify()
      await Promise.allSettled(running)
    }
  }
}
