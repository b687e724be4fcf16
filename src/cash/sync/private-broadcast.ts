/**
 * Private broadcast of this node's own payments (issue 17; Bitcoin Core's `-privatebroadcast`,
 * PR #29415): a payment is not announced from the node's own connections, where its first
 * relayers would see whose it is. It is pushed (`tx-push.ts`) to {@link DEFAULT_FANOUT} peers
 * drawn at random, each over a fresh onion circuit of its own (its own isolation key, so no two
 * pushes share a path, and the target is never a hop), and each circuit is let go after its
 * push. Those peers admit it and announce it as their own mempool's; once it comes back to this
 * node from the network (gossip, or a push from someone else) it has been "seen back" and the
 * pushes stop. Until then they are repeated every {@link DEFAULT_RETRY_MS} (Core's
 * `STALE_DURATION`) to peers not tried yet, at most {@link DEFAULT_MAX_ROUNDS} rounds.
 *
 * The payment does enter this node's mempool at once (unlike Core's): the wallet learns its
 * spent coins and change from mempool events, and without them a second payment could spend
 * the same coins. The tx relay is told to hold it (`holds`): no gossip of it leaves this node
 * before it is seen back, and a push of it from someone else is answered as a node that did not
 * have it would answer.
 *
 * If no push has gone through after {@link DEFAULT_FALLBACK_MS} because no circuit could be built,
 * the payment falls back to ordinary gossip, with a warning: private broadcast is on by default,
 * and a payment that silently never leaves would be worse for most users than one that leaves
 * linkably. Core, where the operator opted in, keeps trying instead. A payment that did reach
 * peers never falls back. A node whose view holds fewer than {@link MIN_RELAYS} relays (a devnet
 * of three nodes) cannot build a circuit to a peer at all, and sends the ordinary way at once,
 * with the same warning; only payments sent again as the wallet opens wait for relays.
 *
 * ```ts
 * const pb = new PrivateBroadcast({ protocol, dial, peers, mempool, announce, log })
 * pb.start()
 * await pb.send(tx, async t => await mempool.add(t))   // admitted here, pushed privately
 * pb.status(txidHex)                                      // { sentVia: 3, seenBackAt: 1765… }
 * ```
 * @module
 */
import { randomBytes, randomInt } from 'node:crypto'
import type { Duplex } from 'node:stream'
import type { PeerId } from '@libp2p/interface'
import { LruMap } from '../../net/lru.ts'
import type { Logger } from '../../utils/logger.ts'
import { hashToHex } from '../primitives/hash.ts'
import { encodeTx, txid as computeTxid } from '../primitives/tx.ts'
import type { Transaction } from '../primitives/tx.ts'
import { pushTx } from './tx-push.ts'
import type { PushAnswer } from './tx-push.ts'

/** Peers each round pushes to (Core sends each transaction to a few peers). */
export const DEFAULT_FANOUT = 3
/** A round that reached peers is repeated after this long if the payment was not seen back. */
export const DEFAULT_RETRY_MS = 60_000
/** Rounds per payment at most (each to peers not tried before, while there are some). */
export const DEFAULT_MAX_ROUNDS = 10
/** With no push through after this long, the payment goes out by gossip (module header). */
export const DEFAULT_FALLBACK_MS = 120_000
/** How long one push may take: a circuit build (up to three attempts) and the answer. */
export const DEFAULT_PUSH_TIMEOUT_MS = 45_000
/** A round that reached no peer is tried again after this long. */
const FAILED_ROUND_RETRY_MS = 3_000
/** A round whose peers all refused the payment is tried again after this long. */
const REFUSED_ROUND_RETRY_MS = 10_000
/** How long a used circuit stays in the pool (`MAX_DIRTINESS_MS` of `onion/circuit-pool.ts`). */
const LINGER_MS = 10 * 60_000
/** Pushes per {@link LINGER_MS} when circuits cannot be released: well under the pool's 64 circuits. */
const MAX_LINGERING = 24
/** Relays besides this node a circuit to a peer needs at least: three hops, and a target that may be a relay. */
export const MIN_RELAYS = 4
/** How often a held payment looks again for enough relays. */
const READY_POLL_MS = 1_000
/** Payments being broadcast privately at once; more go out by gossip. */
export const MAX_IN_FLIGHT = 100
/** Payments whose status is remembered (for the wallet's history). */
const MAX_REMEMBERED = 1000
/** Candidate peers looked at per round. */
const MAX_CANDIDATES = 2000

/** What the wallet's history shows of a payment's private broadcast. */
export interface PrivateBroadcastStatus {
  /** Peers that took the payment through a circuit (accepted, or already had it). */
  sentVia: number
  /** When it came back from the network, Unix seconds. */
  seenBackAt?: number
  /** When it went out by gossip instead (no circuit could be built), Unix seconds. */
  fellBackAt?: number
}

/** Options of {@link PrivateBroadcast}. */
export interface PrivateBroadcastInit {
  /** The push protocol id (`txPushProtocol(network)`). */
  protocol: string
  /** Opens `protocol` on `peer` through a new circuit for `isolation` (`OnionService.dial`). */
  dial: (peer: string, protocol: string, options: { isolation: string, signal: AbortSignal }) => Promise<Duplex>
  /** Closes the circuits of `isolation` once its push is done; without it they expire with the pool's dirtiness. */
  release?: (isolation: string) => void
  /** Peers known to speak `protocol`, this node excluded. */
  peers: () => Promise<string[]>
  /** Verified relays in the onion view besides this node (0 while the onion service is not running). Default: enough. */
  relays?: () => number
  mempool: { has: (txid: Uint8Array) => boolean }
  /** Ordinary broadcast, for the fallback (the tx relay announces it and keeps announcing it). */
  announce: (txid: Uint8Array, txBytes: Uint8Array) => void
  log: Logger
  fanout?: number
  retryMs?: number
  maxRounds?: number
  fallbackMs?: number
  pushTimeoutMs?: number
  now?: () => number
}

interface Entry {
  key: string
  txid: Uint8Array
  bytes: Uint8Array
  startedAt: number
  rounds: number
  pushedTo: Set<string>
  status: PrivateBroadcastStatus
  /** Some push got an answer: circuits work, so this payment never falls back. */
  reached: boolean
  /** No more rounds: seen back, fallen back, out of the mempool, or out of rounds. */
  done: boolean
  timer?: NodeJS.Timeout
}

/** Broadcasts this node's payments through onion circuits; see the module header. */
export class PrivateBroadcast {
  private readonly init: PrivateBroadcastInit
  private readonly active = new Map<string, Entry>()
  private readonly remembered = new LruMap<string, PrivateBroadcastStatus>(MAX_REMEMBERED)
  private stopping = new AbortController()
  private running = false
  /** When recent pushes were made (for {@link circuitsLeft}). */
  private readonly recentPushes: number[] = []
  /** Counters for status and tests. */
  readonly stats = { pushes: 0, delivered: 0, failed: 0, seenBack: 0, fellBack: 0 }

  constructor (init: PrivateBroadcastInit) {
    this.init = init
  }

  private now (): number {
    return this.init.now?.() ?? Date.now()
  }

  start (): void {
    this.stopping = new AbortController()
    this.running = true
    for (const e of this.active.values()) this.schedule(e, 0)
  }

  stop (): void {
    this.running = false
    this.stopping.abort(new Error('node stopping'))
    for (const e of this.active.values()) clearTimeout(e.timer)
  }

  /**
   * Admits `tx` with `admit` (the mempool's add) while the tx relay holds it, then starts its
   * private broadcast. A transaction `admit` refuses is forgotten and the error thrown.
   *
   * With fewer than {@link MIN_RELAYS} relays known no circuit to a peer can be built: a
   * payment then goes out by gossip at once (a network that small gives no anonymity anyway),
   * unless `patient` (a payment sent again as the wallet opens, before the node has met any
   * relay), which waits for relays up to the fallback time.
   */
  async send (tx: Transaction, admit: (tx: Transaction) => Promise<unknown>, options: { patient?: boolean } = {}): Promise<void> {
    const txid = computeTxid(tx)
    const key = hashToHex(txid)
    const bytes = encodeTx(tx, { witness: true })
    if (this.active.has(key)) {
      await admit(tx)
      return
    }
    const relays = this.relays()
    const full = this.active.size >= MAX_IN_FLIGHT
    if (full || (relays < MIN_RELAYS && options.patient !== true)) {
      await admit(tx)
      this.init.log.warn(full
        ? 'private broadcast: too many payments in flight; this one goes out over the node\'s own connections'
        : 'private broadcast: too few onion relays known to build a circuit; the payment goes out over the node\'s own connections', { txid: key, inFlight: this.active.size, relays })
      this.stats.fellBack++
      this.remembered.set(key, { sentVia: 0, fellBackAt: Math.floor(this.now() / 1000) })
      this.init.announce(txid, bytes)
      return
    }
    const entry: Entry = { key, txid, bytes, startedAt: this.now(), rounds: 0, pushedTo: new Set(), status: { sentVia: 0 }, reached: false, done: false }
    // held before the mempool's 'tx' event, which is when the tx relay would announce it
    this.active.set(key, entry)
    this.remembered.set(key, entry.status)
    try {
      await admit(tx)
    } catch (err) {
      this.active.delete(key)
      this.remembered.delete(key)
      throw err
    }
    if (this.running) this.schedule(entry, 0)
  }

  /** Whether the tx relay must keep `txid` to itself: a payment being broadcast privately, not seen back yet. */
  holds (txid: Uint8Array): boolean {
    const e = this.active.get(hashToHex(txid))
    return e != null && e.status.seenBackAt == null && e.status.fellBackAt == null
  }

  /** `txid` arrived from `peer` (gossip, or a push from someone else): the network has it. */
  seen (peer: PeerId | string, txid: Uint8Array): void {
    const e = this.active.get(hashToHex(txid))
    if (e == null || e.status.seenBackAt != null) return
    e.status.seenBackAt = Math.floor(this.now() / 1000)
    this.stats.seenBack++
    this.finish(e)
    this.init.log.info('private broadcast: payment seen back from the network', { txid: e.key, sentVia: e.status.sentVia, ms: this.now() - e.startedAt, from: peer.toString() })
  }

  /** The private broadcast of `txid` (hex, display order), if this node sent it privately. */
  status (txid: string): PrivateBroadcastStatus | undefined {
    const s = this.remembered.peek(txid)
    return s == null ? undefined : { ...s }
  }

  /** Payments still being pushed. */
  get inFlight (): number {
    let n = 0
    for (const e of this.active.values()) if (!e.done) n++
    return n
  }

  private relays (): number {
    return this.init.relays?.() ?? MIN_RELAYS
  }

  private finish (e: Entry): void {
    e.done = true
    clearTimeout(e.timer)
    this.active.delete(e.key)
  }

  private schedule (e: Entry, ms: number): void {
    clearTimeout(e.timer)
    if (e.done || !this.running) return
    e.timer = setTimeout(() => { void this.round(e).catch(err => { this.init.log.warn('private broadcast round failed', { txid: e.key, err: err as Error }) }) }, ms)
    e.timer.unref()
  }

  private async round (e: Entry): Promise<void> {
    if (e.done || !this.running) return
    if (!this.init.mempool.has(e.txid)) {
      // confirmed, replaced or evicted: nothing left to broadcast
      this.finish(e)
      return
    }
    const fallbackAt = e.startedAt + (this.init.fallbackMs ?? DEFAULT_FALLBACK_MS)
    if (!e.reached && this.relays() < MIN_RELAYS) {
      if (this.now() >= fallbackAt) this.fallBack(e, 0)
      else this.schedule(e, Math.min(READY_POLL_MS, fallbackAt - this.now()))
      return
    }
    if (e.rounds >= (this.init.maxRounds ?? DEFAULT_MAX_ROUNDS)) {
      this.finish(e)
      this.init.log.warn('private broadcast: payment not seen back after the last round; it stays in the mempool and is pushed again when the wallet next opens', { txid: e.key, sentVia: e.status.sentVia })
      return
    }
    const circuits = this.circuitsLeft()
    if (circuits === 0) {
      this.schedule(e, FAILED_ROUND_RETRY_MS * 10)
      return
    }
    const targets = (await this.pickTargets(e)).slice(0, circuits)
    const answers = await Promise.all(targets.map(async peer => await this.push(e, peer)))
    if (e.done) return
    const answered = answers.filter(a => a != null).length
    const delivered = answers.filter(a => a != null && a.status !== 'rejected' && a.status !== 'busy').length
    if (answered > 0) e.reached = true
    if (e.reached) {
      // a round that reached peers counts, whatever they answered
      e.rounds++
      const retry = this.init.retryMs ?? DEFAULT_RETRY_MS
      this.schedule(e, delivered > 0 ? retry : Math.min(REFUSED_ROUND_RETRY_MS, retry))
      return
    }
    const left = fallbackAt - this.now()
    if (left <= 0) {
      this.fallBack(e, targets.length)
      return
    }
    this.schedule(e, Math.min(FAILED_ROUND_RETRY_MS, left))
  }

  /**
   * Circuits a round may open: without `release` each lingers in the pool until its dirtiness
   * expires, so pushes in that window are capped below the pool's own limit.
   */
  private circuitsLeft (): number {
    if (this.init.release != null) return Number.POSITIVE_INFINITY
    const since = this.now() - LINGER_MS
    while ((this.recentPushes[0] ?? Infinity) < since) this.recentPushes.shift()
    return Math.max(0, MAX_LINGERING - this.recentPushes.length)
  }

  private fallBack (e: Entry, lastTargets: number): void {
    e.status.fellBackAt = Math.floor(this.now() / 1000)
    this.stats.fellBack++
    this.finish(e)
    this.init.log.warn('private broadcast: no push went through a circuit in time; the payment goes out over this node\'s own connections, where its first relayers can tell it came from this node', {
      txid: e.key,
      waitedMs: this.now() - e.startedAt,
      peersTried: e.pushedTo.size,
      lastRoundPeers: lastTargets
    })
    this.init.announce(e.txid, e.bytes)
  }

  /** Up to `fanout` random peers that speak the protocol, those not tried for this payment first. */
  private async pickTargets (e: Entry): Promise<string[]> {
    const all = (await this.init.peers().catch(() => [])).slice(0, MAX_CANDIDATES)
    const fresh = shuffle(all.filter(p => !e.pushedTo.has(p)))
    const tried = shuffle(all.filter(p => e.pushedTo.has(p)))
    return [...fresh, ...tried].slice(0, this.init.fanout ?? DEFAULT_FANOUT)
  }

  /** One push over its own circuit; undefined when no answer came (no circuit, a timeout). */
  private async push (e: Entry, peer: string): Promise<PushAnswer | undefined> {
    e.pushedTo.add(peer)
    this.stats.pushes++
    if (this.init.release == null) this.recentPushes.push(this.now())
    const isolation = `private-broadcast:${randomBytes(12).toString('hex')}`
    const signal = AbortSignal.any([AbortSignal.timeout(this.init.pushTimeoutMs ?? DEFAULT_PUSH_TIMEOUT_MS), this.stopping.signal])
    let stream: Duplex | undefined
    try {
      stream = await this.init.dial(peer, this.init.protocol, { isolation, signal })
      stream.on('error', () => {}) // the push's own await reports failures
      const answer = await pushTx(stream, e.bytes, signal)
      if (answer.status === 'rejected' || answer.status === 'busy') {
        this.init.log.info('private broadcast: a peer did not take the payment', { txid: e.key, answer: answer.status, reason: 'reason' in answer ? answer.reason : undefined })
      } else {
        // counted as it comes: the payment may be seen back before the round's other pushes end
        this.stats.delivered++
        e.status.sentVia++
      }
      return answer
    } catch (err) {
      this.stats.failed++
      this.init.log.debug('private broadcast: push failed', { txid: e.key, err: err as Error })
      return undefined
    } finally {
      stream?.destroy()
      try { this.init.release?.(isolation) } catch { /* a circuit already gone */ }
    }
  }
}

/** A uniformly shuffled copy (Fisher–Yates with node:crypto's randomInt). */
function shuffle (items: string[]): string[] {
  const copy = [...items]
  for (let i = copy.length - 1; i > 0; i--) {
    const j = randomInt(i + 1)
    ;[copy[i], copy[j]] = [copy[j] as string, copy[i] as string]
  }
  return copy
}
