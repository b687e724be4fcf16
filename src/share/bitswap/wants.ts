/**
 * The asking side of Bitswap, as go-bitswap's sessions and Helia do it: for each wanted block,
 * one peer is sent want-block and every other peer want-have, all with sendDontHave. A peer that
 * answers Have is asked for the block once the current one says DontHave, leaves, or has not
 * delivered within {@link BLOCK_TIMEOUT_MS}. Peers that connect later are asked too. When the
 * block is stored every peer asked gets a cancel.
 */
import type { PeerId } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'
import { blockKey } from '../block.ts'
import { BLOCK_TIMEOUT_MS } from './constants.ts'
import { WantAbortedError } from './errors.ts'
import { PresenceType, WantType } from './message.ts'
import type { BlockPresence } from './message.ts'
import type { Outbox } from './outbox.ts'

/** Where a peer stands for one want. */
type PeerState = 'asked-have' | 'asked-block' | 'has' | 'lacks'

interface Waiter {
  resolve: (bytes: Uint8Array) => void
  reject: (err: Error) => void
}

/** One block we are waiting for. */
export interface PendingWant {
  readonly cid: CID
  readonly key: string
  waiters: Set<Waiter>
  /** Peers to ask, by id string; undefined means every Bitswap peer. */
  targets: Set<string> | undefined
  peers: Map<string, { id: PeerId, state: PeerState }>
  /** The peer currently asked for the block itself. */
  blockPeer: string | undefined
  timer: ReturnType<typeof setTimeout> | undefined
}

/** What {@link WantManager} needs. */
export interface WantManagerInit {
  outbox: (peerId: PeerId) => Outbox
  /** Connected peers that speak Bitswap. */
  bitswapPeers: () => PeerId[]
}

/** Our pending wants. */
export class WantManager {
  private readonly init: WantManagerInit
  private readonly wants = new Map<string, PendingWant>()

  constructor (init: WantManagerInit) {
    this.init = init
  }

  /** Number of blocks wanted. */
  get size (): number { return this.wants.size }

  /** The pending want for a block key, if any. */
  get (key: string): PendingWant | undefined { return this.wants.get(key) }

  /**
   * Wants `cid` from `peers` (every Bitswap peer when undefined) until it is {@link stored} or
   * `signal` aborts. Registers the want before returning the promise.
   */
  add (cid: CID, peers: PeerId[] | undefined, signal: AbortSignal | undefined): Promise<Uint8Array> {
    const key = blockKey(cid)
    let want = this.wants.get(key)
    if (want == null) {
      want = { cid, key, waiters: new Set(), targets: new Set(), peers: new Map(), blockPeer: undefined, timer: undefined }
      if (peers == null) want.targets = undefined
      this.wants.set(key, want)
    } else if (peers == null) {
      want.targets = undefined
    }
    if (peers != null && want.targets != null) for (const p of peers) want.targets.add(p.toString())

    const w = want
    const promise = new Promise<Uint8Array>((resolve, reject) => {
      const onAbort = (): void => {
        w.waiters.delete(waiter)
        reject(new WantAbortedError(cid, { cause: signal?.reason }))
        if (w.waiters.size === 0 && this.wants.get(key) === w) this.finish(w)
      }
      const waiter: Waiter = {
        resolve: (bytes) => { signal?.removeEventListener('abort', onAbort); resolve(bytes) },
        reject: (err) => { signal?.removeEventListener('abort', onAbort); reject(err) }
      }
      w.waiters.add(waiter)
      signal?.addEventListener('abort', onAbort, { once: true })
    })
    for (const p of peers ?? this.init.bitswapPeers()) this.ask(w, p)
    return promise
  }

  /** The block is in the store: resolve its waiters and cancel it everywhere. */
  stored (cid: CID, bytes: Uint8Array | (() => Uint8Array)): void {
    const want = this.wants.get(blockKey(cid))
    if (want == null) return
    this.finish(want)
    const data = typeof bytes === 'function' ? bytes() : bytes
    for (const w of want.waiters) w.resolve(data)
  }

  /** A peer answered Have or DontHave. */
  presence (peerId: PeerId, p: BlockPresence): void {
    const want = this.wants.get(blockKey(p.cid))
    if (want == null) return
    const k = peerId.toString()
    let peer = want.peers.get(k)
    if (peer == null) {
      peer = { id: peerId, state: 'asked-have' }
      want.peers.set(k, peer)
    }
    if (p.type === PresenceType.Have) {
      // a peer asked for the block keeps that state: the block is on its way
      if (peer.state !== 'asked-block') peer.state = 'has'
      if (want.blockPeer == null) this.askBlock(want, peer.id)
    } else {
      peer.state = 'lacks'
      if (want.blockPeer === k) this.nextBlockPeer(want)
    }
  }

  /** A Bitswap peer connected: ask it for every want it is a target of. */
  peerConnected (peerId: PeerId): void {
    const k = peerId.toString()
    for (const want of this.wants.values()) {
      if (want.targets != null && !want.targets.has(k)) continue
      // a reconnected peer lost our earlier wants with its old connection
      want.peers.delete(k)
      if (want.blockPeer === k) want.blockPeer = undefined
      this.ask(want, peerId)
    }
  }

  /** A peer disconnected: stop counting on it. */
  peerGone (peerId: PeerId): void {
    const k = peerId.toString()
    for (const want of this.wants.values()) {
      want.peers.delete(k)
      if (want.blockPeer === k) this.nextBlockPeer(want)
    }
  }

  /** Rejects every waiter with `cause` (the service is stopping). */
  abortAll (cause: Error): void {
    for (const want of this.wants.values()) {
      clearTimeout(want.timer)
      for (const w of want.waiters) w.reject(new WantAbortedError(want.cid, { cause }))
    }
    this.wants.clear()
  }

  private ask (want: PendingWant, peerId: PeerId): void {
    const k = peerId.toString()
    if (want.peers.has(k)) return
    if (want.blockPeer == null) {
      this.askBlock(want, peerId)
    } else {
      want.peers.set(k, { id: peerId, state: 'asked-have' })
      this.send(peerId, want.cid, WantType.Have, false)
    }
  }

  private askBlock (want: PendingWant, peerId: PeerId): void {
    const k = peerId.toString()
    want.peers.set(k, { id: peerId, state: 'asked-block' })
    want.blockPeer = k
    this.send(peerId, want.cid, WantType.Block, false)
    clearTimeout(want.timer)
    want.timer = setTimeout(() => {
      want.timer = undefined
      const peer = want.peers.get(k)
      // slow, not wrong: its want-block stands, but others may be asked now
      if (peer != null && want.blockPeer === k) {
        peer.state = 'lacks'
        this.nextBlockPeer(want)
      }
    }, BLOCK_TIMEOUT_MS)
    want.timer.unref()
  }

  private nextBlockPeer (want: PendingWant): void {
    clearTimeout(want.timer)
    want.timer = undefined
    want.blockPeer = undefined
    for (const peer of want.peers.values()) {
      if (peer.state === 'has') {
        this.askBlock(want, peer.id)
        return
      }
    }
  }

  /** Drops the want and sends every peer asked a cancel. */
  private finish (want: PendingWant): void {
    this.wants.delete(want.key)
    clearTimeout(want.timer)
    for (const peer of want.peers.values()) this.send(peer.id, want.cid, WantType.Block, true)
  }

  private send (peerId: PeerId, cid: CID, wantType: WantType, cancel: boolean): void {
    this.init.outbox(peerId).want({ cid, priority: 1, cancel, wantType, sendDontHave: !cancel })
  }
}
