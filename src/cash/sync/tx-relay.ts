/**
 * Transaction announcement over gossipsub, one topic per network (raw transaction bytes). A
 * transaction is validated by `mempool.add` inside gossipsub's topic validator, so only ones
 * the mempool accepted are forwarded; an invalid one is rejected and costs its sender the
 * rule's misbehaviour score. Transactions the mempool accepts from this node (origin
 * 'local') or from its orphan pool once their parent arrived ('orphan') are published here,
 * since gossipsub forwarded neither; own ones that private broadcast holds are not, until a
 * peer gossips them back (`private-broadcast.ts`).
 *
 * Checking signatures is the costly part, so what a peer may make this node check is
 * bounded: a transaction heavier than the mempool takes is refused before it is decoded, the
 * checks waiting for the mempool are capped, and the mempool charges each input whose
 * signature it is about to verify to the sender's and the total signature-check budget
 * (`sigcheck-budget`); a transaction over budget is ignored unverified.
 * @module
 */
import type { PeerId } from '@libp2p/interface'
import { TopicValidatorResult } from '@libp2p/gossipsub'
import type { GossipSub } from '@libp2p/gossipsub'
import type { Logger } from '../../utils/logger.ts'
import { VerifyError } from '../consensus/verify-error.ts'
import { verifyErrorVerdict } from './verdict.ts'
import { GossipTopic } from './gossip-topic.ts'
import { SIG_BUDGET_REASON } from '../mempool/budget.ts'
import type { Mempool } from '../mempool/index.ts'
import type { MempoolEntry, TxOrigin } from '../mempool/index.ts'
import { DecodeError } from '../primitives/errors.ts'
import { hashToHex } from '../primitives/hash.ts'
import { decodeTx, encodeTx, txid, txWeight } from '../primitives/tx.ts'
import type { Transaction } from '../primitives/tx.ts'

/** The gossipsub topic of new transactions on `network`. */
export function txsTopic (network: string): string {
  return `/peerd/${network}/txs/1`
}

/** Options of {@link TxRelay}. */
export interface TxRelayInit {
  pubsub: GossipSub
  topic: string
  mempool: Pick<Mempool, 'add' | 'on' | 'off' | 'has' | 'maxTxWeight'>
  log: Logger
  penalize: (peer: PeerId, points: number, reason: string) => void
  /**
   * Whether a peer may still be heard: false once it was banned or disconnected, so the
   * messages it queued before that are dropped unchecked. Default: always.
   */
  admits?: (peer: PeerId) => boolean
  /** Most gossiped transactions waiting for the mempool at once; more are dropped. Default 1000. */
  maxPending?: number
  /**
   * Most signature checks (inputs) of gossiped transactions waiting for the mempool at once;
   * more are ignored. Default 4,000: under a second of both workers of a 2-core machine.
   */
  maxPendingSigChecks?: number
  /** How often this node's own unconfirmed transactions are announced again (ms). Default 15 s. */
  rebroadcastMs?: number
  /**
   * Own transactions not to announce: those private broadcast is pushing through circuits
   * (`private-broadcast.ts`), which this node must not be the first to gossip.
   */
  holds?: (txid: Uint8Array) => boolean
  /** A peer gossiped a transaction this relay `holds`: the network has it. */
  onHeldSeen?: (peer: PeerId, txid: Uint8Array) => void
}

/** Own transactions announced again while unconfirmed, at most this many. */
const MAX_REBROADCAST = 100

/** Publishes new transactions and validates the ones peers announce. */
export class TxRelay {
  private readonly init: TxRelayInit
  /** Counters for status and tests. */
  readonly stats = { received: 0, accepted: 0, rejected: 0, ignored: 0, published: 0, dropped: 0, overBudget: 0 }
  private pending = 0
  private pendingSigChecks = 0
  /** This node's own transactions, announced again until they leave the mempool. */
  private readonly own = new Map<string, { txid: Uint8Array, bytes: Uint8Array }>()
  private timer: ReturnType<typeof setInterval> | undefined
  private readonly gossip: GossipTopic

  constructor (init: TxRelayInit) {
    this.init = init
    this.gossip = new GossipTopic({
      pubsub: init.pubsub,
      topic: init.topic,
      log: init.log,
      what: 'transaction',
      validate: async (peer, data) => await this.validate(peer, data),
      stats: this.stats
    })
  }

  private readonly onTx = (entry: MempoolEntry, origin: TxOrigin): void => {
    // gossipsub forwards what peers sent itself; announce the rest: our own, orphans whose
    // parent came (gossip ignored them), and txs a reorg returned (peers may lack them)
    if (origin === 'peer') return
    if (origin === 'local' && this.init.holds?.(entry.txid) === true) return
    const bytes = encodeTx(entry.tx, { witness: true })
    void this.publish(bytes)
    // a publish that found no mesh yet is lost: keep our own payments going out until mined
    if (origin === 'local' && this.own.size < MAX_REBROADCAST) this.own.set(hashToHex(entry.txid), { txid: entry.txid, bytes })
  }

  /**
   * Announces an own transaction that was held back (private broadcast fell back to gossip),
   * and keeps announcing it until it leaves the mempool, as one never held.
   */
  announceOwn (txid: Uint8Array, bytes: Uint8Array): void {
    void this.publish(bytes)
    if (this.own.size < MAX_REBROADCAST) this.own.set(hashToHex(txid), { txid, bytes })
  }

  private rebroadcast (): void {
    for (const [key, t] of this.own) {
      if (!this.init.mempool.has(t.txid)) this.own.delete(key)
      else void this.publish(t.bytes)
    }
  }

  start (): void {
    this.gossip.start()
    this.init.mempool.on('tx', this.onTx)
    this.timer = setInterval(() => { this.rebroadcast() }, this.init.rebroadcastMs ?? 15_000)
    this.timer.unref?.()
  }

  stop (): void {
    this.init.mempool.off('tx', this.onTx)
    if (this.timer != null) clearInterval(this.timer)
    this.own.clear()
    this.gossip.stop()
  }

  /** Announces a transaction (serialized with its witness). Having no peer subscribed is not an error. */
  async publish (bytes: Uint8Array): Promise<number> {
    return await this.gossip.publish(bytes)
  }

  private async validate (peer: PeerId, data: Uint8Array): Promise<TopicValidatorResult> {
    this.stats.received++
    // Gossipsub hands every message to the validator at once and they queue on the mempool's
    // lock: bound that queue (a flood is shed, not buffered), and drop what a peer sent
    // before it was banned.
    if (this.pending >= (this.init.maxPending ?? 1000) || this.init.admits?.(peer) === false) {
      this.stats.dropped++
      return TopicValidatorResult.Ignore
    }
    this.pending++
    try {
      return await this.check(peer, data)
    } finally {
      this.pending--
    }
  }

  private async check (peer: PeerId, data: Uint8Array): Promise<TopicValidatorResult> {
    const { mempool, penalize } = this.init
    // A transaction's weight is at least its size: one this large is too heavy (`tx-size`,
    // no fault) without decoding it.
    if (data.length > mempool.maxTxWeight) {
      this.stats.ignored++
      return TopicValidatorResult.Ignore
    }
    let tx: Transaction
    try {
      tx = decodeTx(data)
    } catch (err) {
      this.stats.rejected++
      if (err instanceof DecodeError) penalize(peer, 100, `gossiped tx: ${err.reason}`)
      return TopicValidatorResult.Reject
    }
    if (txWeight(tx) > mempool.maxTxWeight) {
      this.stats.ignored++
      return TopicValidatorResult.Ignore
    }
    if (this.init.holds != null) {
      const id = txid(tx)
      if (this.init.holds(id)) this.init.onHeldSeen?.(peer, id)
    }
    // One signature check per input (all the mempool takes are key-path spends).
    const checks = tx.inputs.length
    if (this.pendingSigChecks + checks > (this.init.maxPendingSigChecks ?? 4000)) {
      this.stats.overBudget++
      return TopicValidatorResult.Ignore
    }
    this.pendingSigChecks += checks
    try {
      return await this.add(peer, tx)
    } finally {
      this.pendingSigChecks -= checks
    }
  }

  private async add (peer: PeerId, tx: Transaction): Promise<TopicValidatorResult> {
    const { mempool, log, penalize } = this.init
    try {
      const result = await mempool.add(tx, { peer: peer.toString() })
      if (result === 'accepted') {
        this.stats.accepted++
        return TopicValidatorResult.Accept
      }
      this.stats.ignored++
      return TopicValidatorResult.Ignore
    } catch (err) {
      if (err instanceof VerifyError && err.reason === SIG_BUDGET_REASON) {
        this.stats.overBudget++
        return TopicValidatorResult.Ignore
      }
      if (err instanceof VerifyError) {
        log.debug('rejected a gossiped transaction', { txid: hashToHex(txid(tx)), reason: err.reason, peerId: peer.toString() })
        return verifyErrorVerdict(err, peer, 'tx', penalize, this.stats)
      }
      log.warn('transaction validation failed', { err })
      this.stats.ignored++
      return TopicValidatorResult.Ignore
    }
  }
}

