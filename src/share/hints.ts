/**
 * Provider hints: the providers a share link names (`GetOptions.providers`), dialled at once and
 * handed to the download before, and alongside, the usual search (connected peers, then the
 * DHT). A link thus starts a download without a DHT lookup, and still works when the DHT knows
 * no provider; a hint that cannot be reached within {@link HINT_DIAL_MS} is skipped.
 * @module
 */
import type { PeerId } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { CID } from 'multiformats/cid'
import { InvalidArgumentError } from '../errors.ts'
import type { PeerdHost } from '../net/host.ts'
import type { Logger } from '../utils/logger.ts'

/** Provider hints one get accepts (as many as one link carries). */
export const MAX_HINTS = 16
/** How long one hinted provider is dialled before it is skipped. */
export const HINT_DIAL_MS = 10_000

/** A provider search: what the session asks for peers that may hold the root. */
export type FindProviders = (root: CID, signal: AbortSignal) => AsyncIterable<PeerId>

/** A hint: its address and the peer it names. */
interface Hint {
  addr: Multiaddr
  peerId: PeerId
}

/** Checks hints given to a get: at most {@link MAX_HINTS}, each ending in `/p2p/<peer id>`. */
export function checkHints (hints: readonly Multiaddr[]): Hint[] {
  if (hints.length > MAX_HINTS) throw new InvalidArgumentError(`${hints.length} provider hints given, more than the ${MAX_HINTS} a get accepts`)
  return hints.map(addr => {
    const last = addr.getComponents().at(-1)
    let peerId: PeerId | undefined
    try {
      if (last?.name === 'p2p' && last.value != null) peerId = peerIdFromString(last.value)
    } catch { /* refused below */ }
    if (peerId == null) throw new InvalidArgumentError(`provider hint ${addr.toString()} does not end in /p2p/<peer id>`)
    return { addr, peerId }
  })
}

/**
 * Wraps `find` so that the hinted providers come first: each is added to the peer store and
 * dialled, and yielded once connected, while `find` runs beside them (peers it yields that a
 * hint already named are left out).
 */
export function withHints (init: { host: PeerdHost, hints: Hint[], find: FindProviders, log: Logger }): FindProviders {
  const { host, hints, find, log } = init
  return async function * (root, signal) {
    const self = host.peerId.toString()
    const dialled = hints.filter(h => h.peerId.toString() !== self).map(h => dialHint(host, h, signal, log))
    const seen = new Set<string>()
    for await (const peerId of merge([...dialled, find(root, signal)])) {
      const id = peerId.toString()
      if (seen.has(id)) continue
      seen.add(id)
      yield peerId
    }
  }
}

/** Dials one hint within {@link HINT_DIAL_MS}; yields its peer once connected, nothing if not. */
async function * dialHint (host: PeerdHost, hint: Hint, signal: AbortSignal, log: Logger): AsyncGenerator<PeerId> {
  // the transport address alone, as the peer store keeps them (a relayed one ends in /p2p-circuit)
  const transport = hint.addr.decapsulateCode(hint.addr.getComponents().at(-1)?.code ?? 0)
  if (transport.getComponents().length > 0) await host.peerStore.merge(hint.peerId, { multiaddrs: [transport] }).catch(() => {})
  try {
    await host.dial(hint.addr, { signal: AbortSignal.any([signal, AbortSignal.timeout(HINT_DIAL_MS)]) })
  } catch (err) {
    if (!signal.aborted) log.debug('provider hint unreachable: skipped', { addr: hint.addr.toString(), err })
    return
  }
  yield hint.peerId
}

/** Yields what every source yields, as it comes; ending early returns every source still running. */
async function * merge<T> (sources: Array<AsyncIterable<T>>): AsyncGenerator<T> {
  const iterators = sources.map(s => s[Symbol.asyncIterator]())
  const next = (i: number): Promise<{ i: number, r: IteratorResult<T> }> => (iterators[i] as AsyncIterator<T>).next().then(r => ({ i, r }))
  const pending = new Map(iterators.map((_, i) => [i, next(i)]))
  try {
    while (pending.size > 0) {
      const { i, r } = await Promise.race(pending.values())
      if (r.done === true) {
        pending.delete(i)
        continue
      }
      pending.set(i, next(i))
      yield r.value
    }
  } finally {
    for (const i of pending.keys()) {
      // a pending next() keeps running: its rejection must not go unhandled
      void (pending.get(i) as Promise<unknown>).catch(() => {})
      void iterators[i]?.return?.()?.catch(() => {})
    }
  }
}
