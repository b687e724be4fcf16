/**
 * Finding a root's providers without this node's own DHT queries naming it: a few peers, picked
 * at random among those that speak the provider lookup protocol, are each asked through a circuit
 * of their own to look the root up for us (`lookup-protocol.ts`), and their answers are merged.
 *
 * What each party learns: a helper learns the CID and that someone asked, not who (the request
 * comes from a circuit's last relay); the last relay learns the CID and the helper, not who asked;
 * the guard learns that this node built a circuit. Two helpers at least, so one that lies (leaves
 * providers out, or names only its friends) does not decide alone where the blocks come from;
 * the blocks are checked against their CIDs whoever sends them.
 * @module
 */
import { randomInt } from 'node:crypto'
import type { PeerId } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'
import type { PeerdHost } from '../../net/host.ts'
import type { Logger } from '../../utils/logger.ts'
import { decodeLookupAnswer, encodeLookupRequest, MAX_ANSWER_FRAME, readOneFrame } from './lookup-protocol.ts'
import type { OnionDialer } from './types.ts'

/** Helpers asked per round. */
export const HELPERS = 3
/** How long one helper has to answer, circuit build included. */
export const ASK_TIMEOUT_MS = 40_000
/** A session asks again (for providers that appeared since) at most this often. */
export const REASK_MS = 30_000
/** Peers the peer store is searched for helpers among, at most (a bound on a round's work). */
const MAX_CANDIDATES = 1024
/** Providers one transfer keeps, at most: helpers' answers cannot grow it past this. */
export const MAX_PROVIDERS = 128

/** Options of a {@link PrivateProviderFinder}. */
export interface ProviderFinderInit {
  host: PeerdHost
  dialer: OnionDialer
  /** The lookup protocol's id on this network. */
  protocol: string
  /** The transfer's isolation key: every circuit it builds is keyed by it and a suffix. */
  isolation: string
  log: Logger
  /** Helpers per round. Default {@link HELPERS}. */
  helpers?: number
}

/** One private download's provider search; see the module header. */
export class PrivateProviderFinder {
  /** Helpers that answered, over the finder's life. */
  answers = 0
  private readonly init: ProviderFinderInit
  private readonly found = new Map<string, PeerId>()
  private askedAt = -Infinity

  constructor (init: ProviderFinderInit) {
    this.init = init
  }

  /** Providers of `root`: what helpers answer (as their answers come), or the last round's within {@link REASK_MS}. */
  async * find (root: CID, signal: AbortSignal): AsyncGenerator<PeerId> {
    if (Date.now() - this.askedAt < REASK_MS) {
      yield * [...this.found.values()]
      return
    }
    this.askedAt = Date.now()
    const helpers = await this.pickHelpers()
    if (helpers.length === 0) {
      this.init.log.debug('private get: no peer to ask for providers yet')
      this.askedAt = -Infinity
      return
    }
    const self = this.init.host.peerId.toString()
    const pending = new Map<number, Promise<{ i: number, ids: PeerId[] }>>()
    helpers.forEach((helper, i) => {
      pending.set(i, this.ask(helper, root, i, signal).then(ids => ({ i, ids }), (err: Error) => {
        this.init.log.debug('private get: a helper did not answer', { err: err.message })
        return { i, ids: [] }
      }))
    })
    while (pending.size > 0) {
      const { i, ids } = await Promise.race(pending.values())
      pending.delete(i)
      for (const id of ids) {
        const key = id.toString()
        if (key === self || this.found.has(key) || this.found.size >= MAX_PROVIDERS) continue
        this.found.set(key, id)
        yield id
      }
    }
  }

  /** Up to `helpers` peers, at random, among those known to speak the lookup protocol. */
  private async pickHelpers (): Promise<PeerId[]> {
    const { host, protocol } = this.init
    const self = host.peerId.toString()
    const peers = await host.peerStore.all({ filters: [p => p.protocols.includes(protocol)], limit: MAX_CANDIDATES }).catch(() => [])
    const ids = peers.map(p => p.id).filter(id => id.toString() !== self)
    // Fisher–Yates with a CSPRNG: the choice of helpers must not be predictable from outside
    for (let i = ids.length - 1; i > 0; i--) {
      const j = randomInt(i + 1)
      const t = ids[i] as PeerId
      ids[i] = ids[j] as PeerId
      ids[j] = t
    }
    return ids.slice(0, this.init.helpers ?? HELPERS)
  }

  /** Asks `helper` through a circuit of its own for the providers of `root`. */
  private async ask (helper: PeerId, root: CID, index: number, outer: AbortSignal): Promise<PeerId[]> {
    const signal = AbortSignal.any([outer, AbortSignal.timeout(ASK_TIMEOUT_MS)])
    const stream = await this.init.dialer.dial(helper, this.init.protocol, { isolation: `${this.init.isolation}:lookup:${index}`, signal })
    stream.on('error', () => {}) // surfaces through the read below
    const onAbort = (): void => { stream.destroy(new Error('provider lookup timed out')) }
    signal.addEventListener('abort', onAbort, { once: true })
    try {
      stream.write(encodeLookupRequest(root))
      const ids = decodeLookupAnswer(await readOneFrame(stream, MAX_ANSWER_FRAME))
      this.answers++
      return ids
    } finally {
      signal.removeEventListener('abort', onAbort)
      stream.destroy()
    }
  }
}
