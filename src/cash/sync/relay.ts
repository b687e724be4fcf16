/**
 * Block announcement over gossipsub, one topic per network. A block is fully validated and
 * connected (or stored on a side branch) by the chain inside gossipsub's topic validator, so
 * only valid blocks are forwarded; an invalid one is rejected, costs its sender the rule's
 * misbehaviour score and goes no further. The 80-byte header is judged before the rest is
 * decoded (size, proof of work against its own bits, known invalid, already known), and the
 * blocks waiting for the chain are bounded in number and bytes, per peer and in all. A block
 * whose parent is unknown is neither decoded nor kept: as Bitcoin Core does, the node asks its
 * sender for headers (at most once per peer per {@link BlockRelayInit.unknownParentIntervalMs})
 * and headers-first sync decides whether its branch is worth downloading.
 * @module
 */
import type { PeerId } from '@libp2p/interface'
import { TopicValidatorResult } from '@libp2p/gossipsub'
import type { GossipSub } from '@libp2p/gossipsub'
import { LruMap } from '../../net/lru.ts'
import type { Logger } from '../../utils/logger.ts'
import type { Chain } from '../chain/index.ts'
import { checkHeader } from '../consensus/check-block.ts'
import { VerifyError } from '../consensus/verify-error.ts'
import { verifyErrorVerdict } from './verdict.ts'
import { GossipTopic } from './gossip-topic.ts'
import { decodeBlock, DEFAULT_MAX_BLOCK_SIZE } from '../primitives/block.ts'
import type { Block } from '../primitives/block.ts'
import { DecodeError } from '../primitives/errors.ts'
import { hashToHex, sha256d } from '../primitives/hash.ts'
import { decodeHeader, HEADER_SIZE } from '../primitives/header.ts'

/** The gossipsub topic of new blocks on `network`. */
export function blocksTopic (network: string): string {
  return `/peerd/${network}/blocks/1`
}

/** Options of {@link BlockRelay}. */
export interface BlockRelayInit {
  pubsub: GossipSub
  topic: string
  chain: Chain
  log: Logger
  penalize: (peer: PeerId, points: number, reason: string) => void
  /** A block whose parent is unknown arrived from `peer`: catch up with its headers. */
  onUnknownParent: (peer: PeerId) => void
  /** Least time between two header requests one peer's unknown-parent blocks cause (ms). Default 5 s. */
  unknownParentIntervalMs?: number
  /** Most peers whose last such request is remembered; the oldest is forgotten. Default 1,024. */
  maxUnknownParentPeers?: number
  /** Most gossiped blocks decoded and waiting for the chain at once; more are dropped. Default 64. */
  maxPending?: number
  /** Most bytes of such blocks at once. Default 64 MiB (16 blocks of the largest size). */
  maxPendingBytes?: number
  /** One peer's share of both bounds, so one flooding peer leaves room for the others. Default 1/4. */
  peerShare?: number
}

/** Why a gossiped block was dropped unchecked (ignored, its sender not penalised). */
export type BlockDropReason = 'pending-full' | 'peer-pending-full'

/** What one peer (or all) has waiting for the chain. */
interface Pending { count: number, bytes: number }

/** Publishes new blocks and validates the ones peers announce. */
export class BlockRelay {
  private readonly init: BlockRelayInit
  /** Counters for status and tests. */
  readonly stats = { received: 0, accepted: 0, rejected: 0, ignored: 0, published: 0, dropped: 0, decoded: 0, unknownParent: 0, headerRequests: 0 }
  /** The last drop's reason, for status and tests. */
  lastDrop: BlockDropReason | undefined
  private readonly pending: Pending = { count: 0, bytes: 0 }
  /** Per peer id; an entry lives while that peer has a block waiting, so at most maxPending. */
  private readonly pendingByPeer = new Map<string, Pending>()
  /** Hashes of the blocks waiting for the chain, with how many copies (at most maxPending): a child may follow its parent in. */
  private readonly pendingHashes = new Map<string, number>()
  private readonly maxPending: number
  private readonly maxPendingBytes: number
  private readonly peerShare: number
  private readonly gossip: GossipTopic
  /** When each peer last made us ask for headers (ms), oldest forgotten past maxUnknownParentPeers. */
  private readonly headerRequests: LruMap<string, number>

  constructor (init: BlockRelayInit) {
    this.init = init
    this.gossip = new GossipTopic({
      pubsub: init.pubsub,
      topic: init.topic,
      log: init.log,
      what: 'block',
      validate: async (peer, data) => await this.validate(peer, data),
      stats: this.stats
    })
    this.maxPending = init.maxPending ?? 64
    this.maxPendingBytes = init.maxPendingBytes ?? 64 * 1024 * 1024
    this.peerShare = init.peerShare ?? 0.25
    this.headerRequests = new LruMap(init.maxUnknownParentPeers ?? 1024)
  }

  /** Blocks (and their bytes) decoded and waiting for the chain now, and the peers that sent them. */
  pendingStatus (): { blocks: number, bytes: number, peers: number } {
    return { blocks: this.pending.count, bytes: this.pending.bytes, peers: this.pendingByPeer.size }
  }

  start (): void {
    this.gossip.start()
  }

  stop (): void {
    this.gossip.stop()
  }

  /** Announces a block this node made or accepted. Having no peer subscribed is not an error. */
  async publish (bytes: Uint8Array): Promise<number> {
    return await this.gossip.publish(bytes)
  }

  private async validate (peer: PeerId, data: Uint8Array): Promise<TopicValidatorResult> {
    const { chain, log, penalize } = this.init
    this.stats.received++
    // The header first: a block whose own proof of work fails, or whose hash is known, costs one
    // hash, not a decode (Core checks a block's header before its body the same way).
    if (data.length > DEFAULT_MAX_BLOCK_SIZE || data.length < HEADER_SIZE + 1) {
      const reason = data.length > DEFAULT_MAX_BLOCK_SIZE ? 'block-oversize' : 'block-truncated'
      this.stats.rejected++
      penalize(peer, 100, `gossiped block: ${reason}`)
      return TopicValidatorResult.Reject
    }
    const headerBytes = data.subarray(0, HEADER_SIZE)
    const hash = sha256d(headerBytes)
    const header = decodeHeader(headerBytes)
    try {
      checkHeader(header, chain.params, hash)
      if (chain.isKnownInvalid(hash)) throw new VerifyError('block', 'duplicate-invalid', 100, `block ${hashToHex(hash)} is known to be invalid`)
    } catch (err) {
      if (!(err instanceof VerifyError)) throw err
      log.info('rejected a gossiped block header', { hash: hashToHex(hash), reason: err.reason, peerId: peer.toString() })
      return verifyErrorVerdict(err, peer, 'block', penalize, this.stats)
    }
    if (await chain.getEntry(hash) !== undefined) {
      this.stats.ignored++
      return TopicValidatorResult.Ignore
    }
    // Gossipsub hands every message to the validator at once and blocks queue on the chain's
    // lock: bound that queue (a flood is shed, not buffered).
    const key = peer.toString()
    const mine = this.pendingByPeer.get(key) ?? { count: 0, bytes: 0 }
    const drop = this.dropReason(mine, data.length)
    if (drop !== undefined) {
      this.stats.dropped++
      this.lastDrop = drop
      log.debug('dropped a gossiped block', { hash: hashToHex(hash), reason: drop, peerId: key })
      return TopicValidatorResult.Ignore
    }
    this.pendingByPeer.set(key, mine)
    const hex = hashToHex(hash)
    this.pendingHashes.set(hex, (this.pendingHashes.get(hex) ?? 0) + 1)
    for (const p of [this.pending, mine]) {
      p.count++
      p.bytes += data.length
    }
    try {
      // An unknown parent: anyone can make such blocks at the cost of their own bits, so they are
      // not decoded or kept; their sender's headers show whether a branch with more work exists.
      // A parent still waiting for the chain here is known enough: the child queues behind it.
      if (await chain.getEntry(header.prevHash) === undefined && !this.pendingHashes.has(hashToHex(header.prevHash))) {
        this.unknownParent(peer)
        return TopicValidatorResult.Ignore
      }
      return await this.check(peer, data, hash)
    } finally {
      for (const p of [this.pending, mine]) {
        p.count--
        p.bytes -= data.length
      }
      if (mine.count === 0) this.pendingByPeer.delete(key)
      const copies = (this.pendingHashes.get(hex) ?? 1) - 1
      if (copies > 0) this.pendingHashes.set(hex, copies)
      else this.pendingHashes.delete(hex)
    }
  }

  /** Counts an unknown-parent block from `peer` and asks it for headers, unless it did so lately. */
  private unknownParent (peer: PeerId): void {
    this.stats.unknownParent++
    this.stats.ignored++
    const key = peer.toString()
    const now = Date.now()
    const last = this.headerRequests.peek(key) // a throttled block leaves the order as it is
    if (last !== undefined && now - last < (this.init.unknownParentIntervalMs ?? 5_000)) return
    this.headerRequests.set(key, now)
    this.stats.headerRequests++
    this.init.onUnknownParent(peer)
  }

  /** Why a block of `size` bytes from a peer with `mine` waiting would overflow a bound, if it would. */
  private dropReason (mine: Pending, size: number): BlockDropReason | undefined {
    if (this.pending.count >= this.maxPending || this.pending.bytes + size > this.maxPendingBytes) return 'pending-full'
    // A peer may always have one block waiting: the bounds limit floods, not one large block.
    if (mine.count > 0 && (mine.count >= Math.max(1, Math.floor(this.maxPending * this.peerShare)) ||
      mine.bytes + size > this.maxPendingBytes * this.peerShare)) return 'peer-pending-full'
    return undefined
  }

  private async check (peer: PeerId, data: Uint8Array, hash: Uint8Array): Promise<TopicValidatorResult> {
    const { chain, log, penalize } = this.init
    let block: Block
    try {
      block = decodeBlock(data)
      this.stats.decoded++
    } catch (err) {
      this.stats.rejected++
      if (err instanceof DecodeError) penalize(peer, 100, `gossiped block: ${err.reason}`)
      return TopicValidatorResult.Reject
    }
    try {
      const result = await chain.addBlock(block, { bytes: data, peer: peer.toString(), unsolicited: true })
      if (result === 'connected' || result === 'reorganized') {
        this.stats.accepted++
        return TopicValidatorResult.Accept
      }
      if (result === 'orphan') {
        this.unknownParent(peer) // its parent went between the check above and now
        return TopicValidatorResult.Ignore
      }
      this.stats.ignored++
      return TopicValidatorResult.Ignore
    } catch (err) {
      if (err instanceof VerifyError) {
        log.info('rejected a gossiped block', { hash: hashToHex(hash), reason: err.reason, malleated: err.malleated, peerId: peer.toString() })
        return verifyErrorVerdict(err, peer, 'block', penalize, this.stats)
      }
      log.warn('block validation failed', { hash: hashToHex(hash), err })
      this.stats.ignored++
      return TopicValidatorResult.Ignore
    }
  }
}
