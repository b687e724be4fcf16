/** A stand-in for the parts of gossipsub the relays use (validators, subscribe, publish), recording what they do. */
import type { GossipSub, TopicValidatorResult } from '@libp2p/gossipsub'
import type { PeerId } from '@libp2p/interface'
import type { PeerdNode } from '../../src/node/node.ts'
import { waitFor } from './index.ts'

/** A topic validator as the relays register it. */
export type Validator = (peer: PeerId, msg: { data: Uint8Array }) => Promise<TopicValidatorResult>

/** The fake, the validators registered on it, what was published and the topics subscribed. */
export interface FakePubsub { pubsub: GossipSub, validators: Map<string, Validator>, published: Uint8Array[], subscribed: Set<string> }

/** A gossipsub stand-in with no network: a test calls the registered validators itself. */
export function fakePubsub (): FakePubsub {
  const validators = new Map<string, Validator>()
  const published: Uint8Array[] = []
  const subscribed = new Set<string>()
  const pubsub = {
    topicValidators: validators,
    subscribe: (t: string) => { subscribed.add(t) },
    unsubscribe: (t: string) => { subscribed.delete(t) },
    publish: async (_t: string, data: Uint8Array) => { published.push(data); return { recipients: [] } }
  }
  return { pubsub: pubsub as unknown as GossipSub, validators, published, subscribed }
}

/** Connects `a` to `b` and waits until each sees the other subscribed to `topic`. */
export async function linkOnTopic (a: PeerdNode, b: PeerdNode, topic: string): Promise<void> {
  await a.connect(b.addresses()[0] as string)
  const sees = (x: PeerdNode, y: PeerdNode): boolean => x.libp2p.services.pubsub.getSubscribers(topic).some((p) => p.equals(y.libp2p.peerId))
  await waitFor(() => sees(a, b) && sees(b, a), { timeoutMs: 15_000, what: `${a.peerId} and ${b.peerId} subscribed to ${topic}` })
}
