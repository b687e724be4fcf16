/**
 * The gossipsub plumbing a relay needs for its topic: the topic validator and subscription on
 * start, publishing (having no peer subscribed is not an error), and undoing both on stop.
 * What a message must pass is the relay's own `validate`: the block relay's header-first checks
 * and pending bounds, the transaction relay's signature budgets.
 * @module
 */
import type { PeerId } from '@libp2p/interface'
import type { GossipSub, TopicValidatorResult } from '@libp2p/gossipsub'
import type { Logger } from '../../utils/logger.ts'

/** Options of {@link GossipTopic}. */
export interface GossipTopicInit {
  pubsub: GossipSub
  topic: string
  log: Logger
  /** What the topic carries, for the log ('block', 'transaction'). */
  what: string
  /** Judges a peer's message before gossipsub forwards it (Accept), drops it (Ignore) or blames its sender (Reject). */
  validate: (peer: PeerId, data: Uint8Array) => Promise<TopicValidatorResult>
  /** The relay's counters; `published` counts messages handed to gossipsub. */
  stats: { published: number }
}

/** One relay's gossipsub topic. */
export class GossipTopic {
  private readonly init: GossipTopicInit

  constructor (init: GossipTopicInit) {
    this.init = init
  }

  /** Sets the validator, then subscribes, so no message of the topic goes unchecked. */
  start (): void {
    const { pubsub, topic, validate } = this.init
    pubsub.topicValidators.set(topic, async (peer, msg) => await validate(peer, msg.data))
    pubsub.subscribe(topic)
  }

  stop (): void {
    const { pubsub, topic } = this.init
    pubsub.unsubscribe(topic)
    pubsub.topicValidators.delete(topic)
  }

  /** Publishes `bytes`; returns how many peers it went to, 0 when none (or publishing failed). */
  async publish (bytes: Uint8Array): Promise<number> {
    try {
      const res = await this.init.pubsub.publish(this.init.topic, bytes)
      this.init.stats.published++
      return res.recipients.length
    } catch (err) {
      this.init.log.debug(`${this.init.what} not published`, { err })
      return 0
    }
  }
}
