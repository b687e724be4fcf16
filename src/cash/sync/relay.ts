/**
 * Block announcement over gossipsub, one topic per network. A block is fully validated and
 * connected (or stored on a side branch) by the chain inside gossipsub's topic validator, so
 * only valid blocks are forwarded; an invalid one is rejected, costs its sender the rule's
 * misbehaviour score and goes no further.
 * @module
 */
import type { PeerId } from '@libp2p/interface'
import { TopicValidatorResult } from '@libp2p/gossipsub'
import type { GossipSub } from '@libp2p/gossipsub'
import type { Logger } from '../../utils/logger.ts'
import type { Chain } from '../chain/index.ts'
import { VerifyError } from '../consensus/verify-error.ts'
import { verifyErrorVerdict } from './verdict.ts'
import { decodeBlock } from '../primitives/block.ts'
import type { Block } from '../primitives/block.ts'
import { DecodeError } from '../primitives/errors.ts'
import { hashToHex } from '../primitives/hash.ts'
import { headerHash } from '../primitives/header.ts'

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
  /** A block whose parent is unknown arrived from `peer`. */
  onOrphan: (orphan: { hash: Uint8Array, block: Block, bytes: Uint8Array, peer: PeerId }) => void
}

/** Publishes new blocks and validates the ones peers announce. */
export class BlockRelay {
  private readonly init: BlockRelayInit
  /** Counters for status and tests. */
  readonly stats = { received: 0, accepted: 0, rejected: 0, ignored: 0, published: 0 }

  constructor (init: BlockRelayInit) {
    this.init = init
  }

  start (): void {
    const { pubsub, topic } = this.init
    pubsub.topicValidators.set(topic, async (peer, msg) => await this.validate(peer, msg.data))
    pubsub.subscribe(topic)
  }

  stop (): void {
    const { pubsub, topic } = this.init
    pubsub.unsubscribe(topic)
    pubsub.topicValidators.delete(topic)
  }

  /** Announces a block this node made or accepted. Having no peer subscribed is not an error. */
  async publish (bytes: Uint8Array): Promise<number> {
    try {
      const res = await this.init.pubsub.publish(this.init.topic, bytes)
      this.stats.published++
      return res.recipients.length
    } catch (err) {
      this.init.log.debug('block not published', { err })
      return 0
    }
  }

  private async validate (peer: PeerId, data: Uint8Array): Promise<TopicValidatorResult> {
    const { chain, log, penalize } = this.init
    this.stats.received++
    let block: Block
    try {
      block = decodeBlock(data)
    } catch (err) {
      this.stats.rejected++
      if (err instanceof DecodeError) penalize(peer, 100, `gossiped block: ${err.reason}`)
      return TopicValidatorResult.Reject
    }
    const hash = headerHash(block.header)
    try {
      const result = await chain.addBlock(block, { bytes: data, peer: peer.toString() })
      if (result === 'connected' || result === 'reorganized') {
        this.stats.accepted++
        return TopicValidatorResult.Accept
      }
      if (result === 'orphan') this.init.onOrphan({ hash, block, bytes: data, peer })
      this.stats.ignored++
      return TopicValidatorResult.Ignore
    } catch (err) {
      if (err instanceof VerifyError) {
        log.info('rejected a gossiped block', { hash: hashToHex(hash), reason: err.reason, peerId: peer.toString() })
        return verifyErrorVerdict(err, peer, 'block', penalize, this.stats)
      }
      log.warn('block validation failed', { hash: hashToHex(hash), err })
      this.stats.ignored++
      return TopicValidatorResult.Ignore
    }
  }
}
