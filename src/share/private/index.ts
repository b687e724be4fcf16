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
import { publicKeyFromRaw } from '@libp2p/crypto/keys'
import type { PeerId } from '@libp2p/interface'
import { peerIdFromPublicKey } from '@libp2p/peer-id'
import type { CID } from 'multiformats/cid'
import { NotStartedError } from '../../errors.ts'
import type { PeerdHost } from '../../net/host.ts'
import type { Logger } from '../../utils/logger.ts'
import { blocksProtocol } from '../protocol.ts'
import type { BlockStream } from '../session/provider-peer.ts'
import { blockStreamOver } from './block-stream.ts'
import { lookupProtocol } from './lookup-protocol.ts'
import { SHARE_SERVICE_PORT } from './onion-share.ts'
import type { OnionHost } from './onion-share.ts'
import { PrivateProviderFinder, REASK_MS } from './provider-finder.ts'
import type { OnionDialer } from './types.ts'

import { ProviderUnreachableError } from './errors.ts'
export { ProviderLookupError, ProviderUnreachableError } from './errors.ts'
export { lookupProtocol, MAX_ANSWER_PROVIDERS } from './lookup-protocol.ts'
export { ProviderLookupServer } from './lookup-server.ts'
export type { ProviderLookupStats } from './lookup-server.ts'
export { PrivateProviderFinder } from './provider-finder.ts'
export type { OnionDialer, OnionHost }
export { OnionShare, SHARE_SERVICE_NAME, SHARE_SERVICE_PORT } from './onion-share.ts'
export { OnionBlockServer } from './onion-server.ts'
export type { OnionServerStats } from './onion-server.ts'
export { PrivateSharing } from './sharing.ts'
export { PrivateBlocks } from './private-blocks.ts'
export { shareRecordServer, shareHsProtocol } from './record-directory.ts'
export { SHARE_HS_NAMESPACE, shareRecordSelector, shareRecordValidator, ShareRecordError } from './onion-record.ts'

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
  dialer: OnionHost
  network: string
  log: Logger
  /** Helpers asked for providers per round (default 3). */
  helpers?: number
  /** The onion services a share record lists for a root (`OnionShare.lookup`); each is a provider too. */
  onionProviders?: (root: CID, signal: AbortSignal) => Promise<string[]>
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
  // an onion service stands in the session under the peer id of its Ed25519 key (not any node's)
  const onionIds = new Map<string, { id: PeerId, address: string }>()
  let next = 0
  let onionLookedAt = -Infinity
  const onionFind = async function * (root: CID, signal: AbortSignal): AsyncGenerator<PeerId> {
    if (init.onionProviders == null) return
    // each look is a circuit and a DHT get: at most as often as helpers are asked again, and not once one answered
    if (onionIds.size === 0 && Date.now() - onionLookedAt >= REASK_MS) {
      onionLookedAt = Date.now()
      const addresses = await init.onionProviders(root, signal).catch((err: Error) => {
        init.log.debug('private get: no share record read', { err: err.message })
        return []
      })
      for (const address of addresses) {
        const id = peerIdFromPublicKey(publicKeyFromRaw(dialer.publicKeyOf(address)) as Parameters<typeof peerIdFromPublicKey>[0])
        onionIds.set(id.toString(), { id, address })
      }
    }
    // offered again each round: a service whose stream stalled or broke is tried again (up to its circuit limit)
    for (const { id } of onionIds.values()) yield id
  }
  return {
    isolation,
    finder,
    findProviders: (root, signal) => merge([onionFind(root, signal), finder.find(root, signal)]),
    openStream: async (peerId, signal) => {
      const key = peerId.toString()
      const n = tries.get(key) ?? 0
      if (n >= MAX_CIRCUITS_PER_PROVIDER) throw new ProviderUnreachableError(`${MAX_CIRCUITS_PER_PROVIDER} circuits to ${key} were tried in this transfer`)
      tries.set(key, n + 1)
      const address = onionIds.get(key)?.address
      if (address != null) {
        if (dialer.connect == null) throw new ProviderUnreachableError('this node cannot reach onion services')
        const stream = await dialer.connect(address, SHARE_SERVICE_PORT, { isolation: `${isolation}:onion:${next++}`, signal: AbortSignal.any([signal, AbortSignal.timeout(OPEN_TIMEOUT_MS)]) })
        return blockStreamOver(stream)
      }
      // a circuit per provider: the relays that carry one provider's blocks see no other's
      const duplex = await dialer.dial(peerId, protocol, { isolation: `${isolation}:provider:${next++}`, signal: AbortSignal.any([signal, AbortSignal.timeout(OPEN_TIMEOUT_MS)]) })
      return blockStreamOver(duplex)
    }
  }
}

/** Yields from every source as their items come. */
async function * merge<T> (sources: Array<AsyncIterable<T>>): AsyncGenerator<T> {
  const its = sources.map(s => s[Symbol.asyncIterator]())
  const pending = new Map<number, Promise<{ i: number, r: IteratorResult<T> }>>()
  const pull = (i: number): void => { pending.set(i, (its[i] as AsyncIterator<T>).next().then(r => ({ i, r }))) }
  its.forEach((_, i) => { pull(i) })
  try {
    while (pending.size > 0) {
      const { i, r } = await Promise.race(pending.values())
      if (r.done === true) { pending.delete(i); continue }
      pull(i)
      yield r.value
    }
  } finally {
    for (const [i] of pending) void its[i]?.return?.(undefined)
  }
}
