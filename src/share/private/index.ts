/**
 * Private downloads (`peerd get --private CID`, `node.share.get(cid, { private: true })`): the
 * providers are found by asking random peers through circuits (`provider-finder.ts`, answered by
 * `lookup-server.ts`), and blocks come from each provider through a circuit of its own
 * ({@link privateTransfer}), several at once so the swarm still helps. The node dials no provider,
 * queries the DHT for nothing, and announces nothing it fetched privately (the share service keeps
 * the record's `private` flag and answers NONE to status questions about it).
 *
 * ```ts
 * const hooks = privateTransfer({ host, dialer: node.onion, network: 'regtest', log })
 * new Session({ ...init, findProviders: hooks.findProviders, openStream: hooks.openStream })
 * ```
 * @module
 */
import { randomBytes } from 'node:crypto'
import type { PeerId } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'
import { NotStartedError } from '../../errors.ts'
import type { PeerdHost } from '../../net/host.ts'
import type { Logger } from '../../utils/logger.ts'
import { blocksProtocol } from '../protocol.ts'
import type { BlockStream } from '../session/provider-peer.ts'
import { blockStreamOver } from './block-stream.ts'
import { lookupProtocol } from './lookup-protocol.ts'
import { PrivateProviderFinder } from './provider-finder.ts'
import type { OnionDialer } from './types.ts'

import { ProviderUnreachableError } from './errors.ts'
export { ProviderLookupError, ProviderUnreachableError } from './errors.ts'
export { lookupProtocol, MAX_ANSWER_PROVIDERS } from './lookup-protocol.ts'
export { ProviderLookupServer } from './lookup-server.ts'
export type { ProviderLookupStats } from './lookup-server.ts'
export { PrivateProviderFinder } from './provider-finder.ts'
export type { OnionDialer }

/** How long opening a block stream through a circuit may take (a build is up to 30 s, then BEGIN). */
export const OPEN_TIMEOUT_MS = 50_000
/**
 * Circuits one transfer builds to one provider, at most: a session retries a provider that left
 * every few seconds, each try on a new circuit (another exit may reach it), so this bounds what a
 * provider no exit can reach costs the node's circuit pool.
 */
export const MAX_CIRCUITS_PER_PROVIDER = 3

/** Options of {@link privateTransfer}. */
export interface PrivateTransferInit {
  host: PeerdHost
  dialer: OnionDialer
  network: string
  log: Logger
  /** Helpers asked for providers per round (default 3). */
  helpers?: number
}

/** A private transfer's session hooks. */
export interface PrivateTransfer {
  /** Random, per transfer: the prefix of every circuit's isolation key, so two transfers share none. */
  readonly isolation: string
  readonly finder: PrivateProviderFinder
  findProviders: (root: CID, signal: AbortSignal) => AsyncIterable<PeerId>
  openStream: (peerId: PeerId, signal: AbortSignal) => Promise<BlockStream>
}

/**
 * The hooks that make a download session private: providers from helpers asked through
 * circuits, and one circuit per provider for its block stream. Throws {@link NotStartedError}
 * when the onion service does not run.
 */
export function privateTransfer (init: PrivateTransferInit): PrivateTransfer {
  const { dialer } = init
  if (!dialer.running) throw new NotStartedError('a private get needs onion routing, which is not running on this node')
  const isolation = randomBytes(8).toString('hex')
  const finder = new PrivateProviderFinder({ host: init.host, dialer, protocol: lookupProtocol(init.network), isolation, log: init.log, helpers: init.helpers })
  const protocol = blocksProtocol(init.network)
  const tries = new Map<string, number>()
  let next = 0
  return {
    isolation,
    finder,
    findProviders: (root, signal) => finder.find(root, signal),
    openStream: async (peerId, signal) => {
      const key = peerId.toString()
      const n = tries.get(key) ?? 0
      if (n >= MAX_CIRCUITS_PER_PROVIDER) throw new ProviderUnreachableError(`${MAX_CIRCUITS_PER_PROVIDER} circuits to ${key} were tried in this transfer`)
      tries.set(key, n + 1)
      // a circuit per provider: the relays that carry one provider's blocks see no other's
      const duplex = await dialer.dial(peerId, protocol, { isolation: `${isolation}:provider:${next++}`, signal: AbortSignal.any([signal, AbortSignal.timeout(OPEN_TIMEOUT_MS)]) })
      return blockStreamOver(duplex)
    }
  }
}
