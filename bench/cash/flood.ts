/**
 * (e) Mempool acceptance under a transaction flood: `peers` in-process regtest nodes (the
 * senders) each publish pre-signed, valid 1-input 2-output P2TR transactions on the tx gossip
 * topic as fast as they can, all to one target node, which validates every one with
 * `mempool.add` inside gossipsub's topic validator (src/cash/sync/tx-relay.ts). Three rounds,
 * each on a fresh target node (an empty mempool and fresh scores; the senders stay):
 *
 * - clean: every sender's transactions, into the target's own mempool (the node's 64 MiB cap);
 * - capped: the same transactions into a {@link Mempool} the benchmark builds on the target's
 *   chain with a small `maxBytes`, put in place of the node's with a {@link TxRelay} of its own
 *   (the node takes no mempool options: `CashService` builds its mempool with the defaults).
 *   The fee rates are spread from 1 to {@link MAX_FEE_RATE} units/vB, so a full mempool evicts
 *   the cheapest entries for better ones and refuses the rest ('mempool full');
 * - mixed: into the target's own mempool again, with 10 % duplicates (another sender's
 *   transaction sent again) from the honest senders and invalid signatures from the last
 *   sender, {@link INVALID_SHARE} of the round's messages. One invalid signature scores 100,
 *   the ban score (src/net/scores.ts), so that sender is banned and cut at its first.
 *
 * The senders do not subscribe to the topic (their own tx relay is stopped) and publish to the
 * target as a fanout peer, so the target forwards what it accepts to nobody and the process's
 * CPU goes to the target's validation and the senders' publishing, all on this one thread.
 * Every node has the setup blocks (the fan-out of mature coins), handed to `chain.addBlock`.
 * The same signed transactions serve the three rounds: each target's chain is the same and its
 * mempool empty.
 */
import { VerifyError } from '../../src/cash/consensus/verify-error.ts'
import type { ChainParams } from '../../src/cash/consensus/params.ts'
import { entryMemory, Mempool } from '../../src/cash/mempool/index.ts'
import type { AddTxOptions, AddTxResult, MempoolEntry, RemovalReason } from '../../src/cash/mempool/index.ts'
import { hashToHex } from '../../src/cash/primitives/hash.ts'
import { encodeTx, txid, txWeight } from '../../src/cash/primitives/tx.ts'
import type { Transaction, TxInput } from '../../src/cash/primitives/tx.ts'
import { TxRelay, txsTopic } from '../../src/cash/sync/tx-relay.ts'
import type { PeerdNode } from '../../src/node/node.ts'
import { createLogger } from '../../src/utils/logger.ts'
import type { Logger, LogLevel } from '../../src/utils/logger.ts'
import { backgroundCores, cpuSnapshot } from '../share/cpu.ts'
import { benchSpend, prepareFanOut, signAll } from './blocks.ts'
import type { Signer } from './signer.ts'
import { countCloses, dial } from './scope.ts'
import type { Scope } from './scope.ts'
import { seeded } from './stats.ts'
import { connectBlock } from './validate.ts'

/** Fee rates of the flood's transactions are spread evenly from 1 to this (units per vbyte). */
export const MAX_FEE_RATE = 50
/** Share of the mixed round's messages that are duplicates (from each honest sender: one in ten more). */
const DUPLICATE_EVERY = 10
/** Share of the mixed round's messages with an invalid signature, all from the last sender. */
export const INVALID_SHARE = 0.1
/** Publishes per sender before it yields to the event loop (the senders and the target share it). */
const CHUNK = 32
/** A round ends this long after the last validation once every publish has returned and nothing waits. */
const QUIET_MS = 2_000

const TOPIC = txsTopic('regtest')
const silent = createLogger({ level: 'silent' })

/** The signed transactions of the flood and the setup blocks that fund them. */
export interface PreparedFlood {
  /** Blocks 1..n, encoded: empty blocks until the first coinbase matures, then the fan-out. */
  setup: Uint8Array[]
  /** Sender s sends `txs[s × perSender …]`. */
  txs: Transaction[]
  /** The same, serialized with their witness (the gossip messages). */
  messages: Uint8Array[]
  perSender: number
  /** Memory estimate of one entry (`entryMemory`, the quantity `maxBytes` caps) and bytes of one message. */
  entryBytes: number
  messageBytes: number
  seconds: number
  signatures: number
}

/** Builds the fan-out of `senders × perSender` coins and one signed spend of each, fee rates 1 to {@link MAX_FEE_RATE} units/vB. */
export async function prepareFlood (params: ChainParams, senders: number, perSender: number, signer: Signer, log: (s: string) => void): Promise<PreparedFlood> {
  const t0 = performance.now()
  const count = senders * perSender
  const { builder, coins, signatures } = await prepareFanOut(params, count, signer, log)
  const probe = benchSpend(coins[0] as NonNullable<typeof coins[0]>).tx
  ;(probe.inputs[0] as TxInput).witness = [new Uint8Array(64)]
  const vsize = Math.ceil(txWeight(probe) / 4)
  const rand = seeded(5)
  const spends = coins.map(c => {
    const fee = BigInt(vsize + rand(vsize * (MAX_FEE_RATE - 1)))
    if (c.amount < fee + 2n) throw new Error(`a coin of ${c.amount} cannot pay a fee of ${fee}: fewer --flood-txs`)
    return benchSpend(c, fee)
  })
  const txs = spends.map(s => s.tx)
  await signAll(signer, txs, spends.map(s => s.msg), coins.map(c => c.key))
  const messages = txs.map(tx => encodeTx(tx, { witness: true }))
  log(`  ${count.toLocaleString('en-US')} transactions signed, ${((performance.now() - t0) / 1000).toFixed(1)} s`)
  return {
    setup: builder.blocks,
    txs,
    messages,
    perSender,
    entryBytes: entryMemory(txs[0] as Transaction),
    messageBytes: (messages[0] as Uint8Array).length,
    seconds: (performance.now() - t0) / 1000,
    signatures: signatures + txs.length
  }
}

/** A {@link Mempool} that counts what `add` answered and why it refused. */
class CountingMempool extends Mempool {
  readonly outcomes: Record<string, number> = {}
  override async add (tx: Transaction, options?: AddTxOptions): Promise<AddTxResult> {
    try {
      const r = await super.add(tx, options)
      this.outcomes[r] = (this.outcomes[r] ?? 0) + 1
      return r
    } catch (err) {
      const why = err instanceof VerifyError ? err.reason : 'error'
      this.outcomes[why] = (this.outcomes[why] ?? 0) + 1
      throw err
    }
  }
}

/** Memory of the process: before, at the highest sample, after. Bytes. */
export interface MemoryTrace { rssBefore: number, rssPeak: number, rssAfter: number, heapBefore: number, heapPeak: number, heapAfter: number }

/** How a sender fared on the mixed round's target. */
export interface SenderScore {
  sender: number
  honest: boolean
  /** peerd's misbehaviour score (`node.scores.score`), whether it is banned, and gossipsub's own score. */
  score: number
  banned: boolean
  gossipScore: number
  /** The penalties the target logged for this sender: reason → times and points. */
  penalties: Record<string, { times: number, points: number }>
}

/** One round of the flood. */
export interface FloodRound {
  kind: 'clean' | 'capped' | 'mixed'
  /** The target's mempool: its own, or one built by the benchmark (capped). */
  mempool: 'node' | 'bench'
  maxBytes: number
  senders: number
  /** Messages published, and the time until every publish had returned. */
  sent: number
  publishSeconds: number
  /** Per sender: publishes that reached no peer (gossipsub had no stream to the target: disconnected). */
  undelivered: number[]
  /** The target's TxRelay: messages validated, accepted, rejected (sender penalised), ignored. */
  validated: number
  accepted: number
  rejected: number
  ignored: number
  /** Capped round: what `add` answered and the reasons it threw, by name. */
  outcomes?: Record<string, number>
  /** Every message validated (the mixed round loses the banned sender's remainder, so it ends when quiet). */
  complete: boolean
  /** From the first publish to the last accepted transaction, and to the last validated message. */
  seconds: number
  txPerSecond: number
  validatedPerSecond: number
  /** Most messages waiting for `mempool.add` at once (validations started, not finished). */
  maxWaiting: number
  /** `mempool.bytes`: highest seen (at every 'tx' event and every 50 ms), and at the end; entries at the end. */
  peakBytes: number
  finalBytes: number
  finalSize: number
  /** Entries evicted to make room for better-paying ones. */
  evicted: number
  withinCap: boolean
  memory: MemoryTrace
  connectionsClosed: number
  background?: number
  /** Mixed round only. */
  mixed?: {
    duplicatesSent: number
    invalidSent: number
    /** Messages the last sender published (valid and invalid). */
    badSent: number
    honestTxs: number
    honestAccepted: number
    honestSeconds: number
    honestTxPerSecond: number
    /** The last sender's valid transactions accepted before it was cut. */
    badAccepted: number
    scores: SenderScore[]
  }
}

/** What (e) measured. */
export interface FloodResult {
  peers: number
  txsPerPeer: number
  capBytes: number
  entryBytes: number
  messageBytes: number
  rounds: FloodRound[]
  /** Every round kept `mempool.bytes` ≤ its `maxBytes`. */
  withinCap: boolean
}

/** Penalties by peer id, then by reason. */
type Tally = Map<string, Record<string, { times: number, points: number }>>

/**
 * A node logger that tallies its 'peer misbehaved' lines (src/net/scores.ts: peer, reason,
 * points) and passes every line on to `inner`.
 */
function tallyingLogger (inner: Logger, tally: Tally): Logger {
  const wrap = (l: Logger): Logger => ({
    error: (m, f) => { l.error(m, f) },
    warn: (m, f) => {
      if (m === 'peer misbehaved' && typeof f?.peerId === 'string' && typeof f.reason === 'string') {
        const byReason = tally.get(f.peerId) ?? {}
        const key = f.reason.length > 80 ? `${f.reason.slice(0, 77)}...` : f.reason
        const e = byReason[key] ?? { times: 0, points: 0 }
        e.times++
        e.points += typeof f.points === 'number' ? f.points : 0
        byReason[key] = e
        tally.set(f.peerId, byReason)
      }
      l.warn(m, f)
    },
    info: (m, f) => { l.info(m, f) },
    debug: (m, f) => { l.debug(m, f) },
    trace: (m, f) => { l.trace(m, f) },
    child: (name) => wrap(l.child(name))
  })
  return wrap(inner)
}

/** Gossipsub's score of `peer` on `node`: the implementation has it, its public interface does not. */
function gossipScore (node: PeerdNode, peer: PeerdNode): number {
  const impl = node.libp2p.services.pubsub as unknown as { getScore?: (peerId: string) => number }
  return impl.getScore?.(peer.peerId) ?? NaN
}

/**
 * Whether `node`'s gossipsub has its outbound stream to `peer` open: it learns of the peer's
 * subscriptions on the peer's stream, and until its own is open a publish reaches nobody.
 */
function canSend (node: PeerdNode, peer: PeerdNode): boolean {
  const impl = node.libp2p.services.pubsub as unknown as { streamsOutbound?: Map<string, unknown> }
  if (impl.streamsOutbound == null) throw new Error('this gossipsub has no streamsOutbound: cannot tell when a publish would reach the target')
  return impl.streamsOutbound.has(peer.peerId)
}

async function sleep (ms: number): Promise<void> {
  await new Promise(resolve => setTimeout(resolve, ms))
}

async function until (check: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms / 1000} s waiting for ${what}`)
    await sleep(20)
  }
}

/** Publishes `messages` as fast as the shared thread lets it; returns the publishes no peer received. */
async function publishAll (sender: PeerdNode, messages: Uint8Array[]): Promise<number> {
  const pubsub = sender.libp2p.services.pubsub
  let unsent = 0
  const pending: Array<Promise<void>> = []
  for (let i = 0; i < messages.length; i++) {
    pending.push(pubsub.publish(TOPIC, messages[i] as Uint8Array).then(r => { if (r.recipients.length === 0) unsent++ }, () => { unsent++ }))
    if (i % CHUNK === CHUNK - 1) await new Promise(resolve => setImmediate(resolve))
  }
  await Promise.all(pending)
  return unsent
}

interface RoundSpec {
  kind: FloodRound['kind']
  /** Messages per sender, in order. */
  streams: Uint8Array[][]
  capBytes?: number
  /** Mixed round: the honest senders' txids (hex). */
  honest?: Set<string>
  log: (s: string) => void
}

/** One round on a fresh target: connect the senders, flood, wait until every message is validated (or quiet), collect. */
async function runRound (scope: Scope, senders: PeerdNode[], prepared: PreparedFlood, spec: RoundSpec): Promise<FloodRound> {
  const { log } = spec
  const tally: Tally = new Map()
  const level = (process.env.PEERD_BENCH_LOG as LogLevel | undefined) ?? 'silent'
  const target = await scope.node(`flood-target-${spec.kind}`, { minConnections: 0, logger: tallyingLogger(createLogger({ level }), tally) })
  for (const [i, b] of prepared.setup.entries()) await connectBlock(target.cash.chain, b, `setup block ${i + 1} on the target`)
  let mempool: Mempool = target.cash.mempool
  let relay: TxRelay = target.cash.txRelay
  let counting: CountingMempool | undefined
  if (spec.capBytes !== undefined) {
    counting = new CountingMempool({ chain: target.cash.chain, params: target.cash.params, log: silent, maxBytes: spec.capBytes })
    counting.start()
    // replaces the node's topic validator (the topic stays subscribed)
    relay = new TxRelay({ pubsub: target.libp2p.services.pubsub, topic: TOPIC, mempool: counting, log: silent, penalize: (peer, points, reason) => { target.scores.penalize(peer, points, reason) } })
    relay.start()
    mempool = counting
  }
  try {
    await Promise.all(senders.map(async s => { await dial(s, target) }))
    await until(() => senders.every(s => s.libp2p.services.pubsub.getSubscribers(TOPIC).some(p => p.equals(target.libp2p.peerId)) && canSend(s, target)), 15_000,
      'the senders to see the target subscribed to the tx topic, with a gossip stream open to it')
    const base = { ...relay.stats }
    const settled = (): number => (relay.stats.accepted - base.accepted) + (relay.stats.rejected - base.rejected) + (relay.stats.ignored - base.ignored)
    const waiting = (): number => (relay.stats.received - base.received) - settled()

    let accepted = 0
    let lastAccept = 0
    let honestAccepted = 0
    let lastHonest = 0
    let peakBytes = mempool.bytes
    let evicted = 0
    const onTx = (entry: MempoolEntry): void => {
      const now = performance.now()
      accepted++
      lastAccept = now
      if (spec.honest?.has(hashToHex(entry.txid)) === true) { honestAccepted++; lastHonest = now }
      if (mempool.bytes > peakBytes) peakBytes = mempool.bytes
    }
    const onRemoved = (_e: MempoolEntry, reason: RemovalReason): void => { if (reason === 'evicted') evicted++ }
    mempool.on('tx', onTx)
    mempool.on('removed', onRemoved)
    const m0 = process.memoryUsage()
    const memory: MemoryTrace = { rssBefore: m0.rss, rssPeak: m0.rss, rssAfter: 0, heapBefore: m0.heapUsed, heapPeak: m0.heapUsed, heapAfter: 0 }
    let maxWaiting = 0
    const sample = (): void => {
      const m = process.memoryUsage()
      memory.rssPeak = Math.max(memory.rssPeak, m.rss)
      memory.heapPeak = Math.max(memory.heapPeak, m.heapUsed)
      peakBytes = Math.max(peakBytes, mempool.bytes)
      maxWaiting = Math.max(maxWaiting, waiting())
    }
    const sampler = setInterval(sample, 50)
    const closes = countCloses(target)
    const sent = spec.streams.reduce((n, s) => n + s.length, 0)
    const cpu0 = cpuSnapshot([])
    const t0 = performance.now()
    let publishSeconds = 0
    let published = false
    let unsent: number[] = []
    const publishing = Promise.all(senders.map(async (s, i) => await publishAll(s, spec.streams[i] ?? []))).then(counts => {
      publishSeconds = (performance.now() - t0) / 1000
      published = true
      unsent = counts
    })
    publishing.catch(() => {})
    const deadline = t0 + 60_000 + sent * 10
    let last = 0
    let lastChange = t0
    let complete = false
    try {
      while (true) {
        await sleep(20)
        const now = performance.now()
        const done = settled()
        if (done !== last) { last = done; lastChange = now }
        if (published && waiting() === 0) {
          if (done >= sent) { complete = true; break }
          if (now - lastChange > QUIET_MS) break
        }
        if (now > deadline) { log(`  warning: round ${spec.kind} hit its deadline with ${done} of ${sent} messages validated`); break }
      }
      await publishing
    } finally {
      clearInterval(sampler)
      closes.stop()
      mempool.off('tx', onTx)
      mempool.off('removed', onRemoved)
    }
    sample()
    const cpu1 = cpuSnapshot([])
    const m1 = process.memoryUsage()
    memory.rssAfter = m1.rss
    memory.heapAfter = m1.heapUsed
    if (unsent.some(n => n > 0)) log(`  publishes that reached no peer, by sender: ${unsent.join(', ')}`)
    const seconds = ((lastAccept || performance.now()) - t0) / 1000
    const round: FloodRound = {
      kind: spec.kind,
      mempool: counting === undefined ? 'node' : 'bench',
      maxBytes: mempool.maxBytes,
      senders: senders.length,
      sent,
      publishSeconds,
      undelivered: unsent,
      validated: relay.stats.received - base.received,
      accepted,
      rejected: relay.stats.rejected - base.rejected,
      ignored: relay.stats.ignored - base.ignored,
      complete,
      seconds,
      txPerSecond: accepted / seconds,
      validatedPerSecond: settled() / Math.max(0.001, (lastChange - t0) / 1000),
      maxWaiting,
      peakBytes,
      finalBytes: mempool.bytes,
      finalSize: mempool.size,
      evicted,
      withinCap: peakBytes <= mempool.maxBytes,
      memory,
      connectionsClosed: closes.count()
    }
    if (counting !== undefined) round.outcomes = { ...counting.outcomes }
    const bg = backgroundCores(cpu0, cpu1)
    if (bg !== undefined) round.background = bg
    if (spec.honest !== undefined) {
      const honestSeconds = ((lastHonest || performance.now()) - t0) / 1000
      const bad = spec.streams[spec.streams.length - 1] ?? []
      round.mixed = {
        duplicatesSent: 0,
        invalidSent: 0,
        badSent: bad.length,
        honestTxs: spec.honest.size,
        honestAccepted,
        honestSeconds,
        honestTxPerSecond: honestAccepted / honestSeconds,
        badAccepted: accepted - honestAccepted,
        scores: senders.map((s, i) => ({
          sender: i + 1,
          honest: i < senders.length - 1,
          score: target.scores.score(s.peerId),
          banned: target.scores.isBanned(s.libp2p.peerId),
          gossipScore: gossipScore(target, s),
          penalties: tally.get(s.peerId) ?? {}
        }))
      }
    }
    return round
  } finally {
    if (counting !== undefined) {
      relay.stop()
      await counting.stop()
    }
    await scope.stop(target)
  }
}

/** The mixed round's streams: honest senders add a duplicate every {@link DUPLICATE_EVERY}; the last sender's stream carries the invalid signatures. */
function mixedStreams (prepared: PreparedFlood, senders: number): { streams: Uint8Array[][], honest: Set<string>, duplicates: number, invalid: number } {
  const T = prepared.perSender
  const own = (s: number): Uint8Array[] => prepared.messages.slice(s * T, (s + 1) * T)
  const h = senders - 1
  const streams: Uint8Array[][] = []
  let duplicates = 0
  for (let s = 0; s < h; s++) {
    const other = own((s + 1) % h)
    const out: Uint8Array[] = []
    own(s).forEach((m, i) => {
      out.push(m)
      if (i % DUPLICATE_EVERY === DUPLICATE_EVERY - 1) { out.push(other[i - DUPLICATE_EVERY + 1] as Uint8Array); duplicates++ }
    })
    streams.push(out)
  }
  const honestMessages = streams.reduce((n, s) => n + s.length, 0)
  const invalid = Math.min(T, Math.round(INVALID_SHARE * (honestMessages + T)))
  const badTxs = prepared.txs.slice(h * T, (h + 1) * T)
  streams.push(badTxs.map((tx, i) => {
    // evenly spread: message i is invalid when the running share crosses an integer
    if (Math.floor((i + 1) * invalid / T) === Math.floor(i * invalid / T)) return prepared.messages[h * T + i] as Uint8Array
    const input = tx.inputs[0] as TxInput
    const sig = Uint8Array.from(input.witness[0] as Uint8Array)
    sig[40] = (sig[40] as number) ^ 1 // s changed: a well-formed signature that does not verify
    return encodeTx({ ...tx, inputs: [{ ...input, witness: [sig] }] }, { witness: true })
  }))
  const honest = new Set(prepared.txs.slice(0, h * T).map(tx => hashToHex(txid(tx))))
  return { streams, honest, duplicates, invalid }
}

/** Starts the senders, gives every node the setup blocks, then runs the clean, capped and mixed rounds. */
export async function measureFlood (scope: Scope, prepared: PreparedFlood, options: { peers: number, capBytes: number }, log: (s: string) => void): Promise<FloodResult> {
  const { peers, capBytes } = options
  const T = prepared.perSender
  const senders = await Promise.all(Array.from({ length: peers }, async (_, i) => await scope.node(`flood${i + 1}`, { minConnections: 0 })))
  for (const s of senders) {
    for (const [i, b] of prepared.setup.entries()) await connectBlock(s.cash.chain, b, `setup block ${i + 1} on a sender`)
    s.cash.txRelay.stop() // publish as a fanout peer: the target forwards to nobody
  }
  log(`  ${peers} senders started with the ${prepared.setup.length} setup blocks`)
  const own = Array.from({ length: peers }, (_, s) => prepared.messages.slice(s * T, (s + 1) * T))
  const rounds: FloodRound[] = []
  const report = (r: FloodRound): void => {
    log(`  ${r.kind}: ${r.accepted}/${r.sent} accepted in ${r.seconds.toFixed(2)} s (${Math.round(r.txPerSecond)} tx/s; published in ${r.publishSeconds.toFixed(2)} s), ` +
      `rejected ${r.rejected}, ignored ${r.ignored}; mempool peak ${r.peakBytes} of ${r.maxBytes} B; up to ${r.maxWaiting} waiting; ` +
      `RSS ${(r.memory.rssBefore / 2 ** 20).toFixed(0)} → ${(r.memory.rssPeak / 2 ** 20).toFixed(0)} → ${(r.memory.rssAfter / 2 ** 20).toFixed(0)} MiB`)
  }
  log(`  (e) clean: ${peers} × ${T} transactions into the target's own mempool`)
  rounds.push(await runRound(scope, senders, prepared, { kind: 'clean', streams: own, log }))
  report(rounds[rounds.length - 1] as FloodRound)
  log(`  (e) capped: the same into a mempool capped at ${capBytes} B`)
  rounds.push(await runRound(scope, senders, prepared, { kind: 'capped', streams: own, capBytes, log }))
  report(rounds[rounds.length - 1] as FloodRound)
  if (peers >= 2) {
    const mix = mixedStreams(prepared, peers)
    log(`  (e) mixed: ${peers - 1} honest senders with ${mix.duplicates} duplicates, sender ${peers} with ${mix.invalid} invalid signatures`)
    const r = await runRound(scope, senders, prepared, { kind: 'mixed', streams: mix.streams, honest: mix.honest, log })
    if (r.mixed !== undefined) { r.mixed.duplicatesSent = mix.duplicates; r.mixed.invalidSent = mix.invalid }
    rounds.push(r)
    report(r)
  }
  await Promise.all(senders.map(async s => { await scope.stop(s) }))
  return {
    peers,
    txsPerPeer: T,
    capBytes,
    entryBytes: prepared.entryBytes,
    messageBytes: prepared.messageBytes,
    rounds,
    withinCap: rounds.every(r => r.withinCap)
  }
}
