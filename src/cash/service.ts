/**
 * The cash service: the chain on LevelDB, headers-first sync, block and transaction relay over
 * the node's libp2p host (pushed transactions too, and the wallet's payments broadcast privately
 * through onion circuits when the node gives a way to dial them), and the miner. The node starts
 * and stops it; the API and CLI read it.
 *
 * ```ts
 * const cash = new CashService({ host, dataDir, network: 'regtest', log, penalize })
 * await cash.start()
 * await cash.mine(10, 'pdrt1p…')      // regtest
 * cash.info()                          // { network, height, tip, difficulty, mempool }
 * await cash.stop()
 * ```
 * @module
 */
import { join } from 'node:path'
import type { PeerId } from '@libp2p/interface'
import { InvalidArgumentError, NotFoundError, PeerdError } from '../errors.ts'
import type { PeerdHost } from '../net/host.ts'
import type { Logger } from '../utils/logger.ts'
import { Chain, SigPool } from './chain/index.ts'
import type { ChainEntry } from './chain/index.ts'
import { chainParams } from './consensus/params.ts'
import type { ChainParams, Network } from './consensus/params.ts'
import { Mempool } from './mempool/index.ts'
import type { MempoolInfo } from './mempool/index.ts'
import { Miner } from './miner/miner.ts'
import type { MinerStatus } from './miner/miner.ts'
import { AddressError, decodeAddress, p2trScript } from './primitives/address.ts'
import { hashToHex, hexToHash } from './primitives/hash.ts'
import { BlockRelay, blocksTopic } from './sync/relay.ts'
import { TxRelay, txsTopic } from './sync/tx-relay.ts'
import { TxPushServer, txPushProtocol } from './sync/tx-push.ts'
import { PrivateBroadcast } from './sync/private-broadcast.ts'
import type { PrivateBroadcastInit, PrivateBroadcastStatus } from './sync/private-broadcast.ts'
import { Wallet, WalletNotFoundError } from './wallet/index.ts'
import { ChainSync } from './sync/sync.ts'
import type { SyncState } from './sync/sync.ts'
import { blockJson, difficultyOf, txJson } from './json.ts'
import type { BlockJson, TxJson } from './json.ts'

/** Options of {@link CashService}. */
export interface CashInit {
  host: PeerdHost
  dataDir: string
  network: Network
  log: Logger
  penalize: (peer: PeerId, points: number, reason: string) => void
  /** Mine continuously to this address from start. */
  mine?: string
  /** Mining threads; default one per core. */
  mineThreads?: number
  /** Memory cap of the mempool in bytes (default 64 MiB). */
  mempoolMaxBytes?: number
  /** Overrides of the network's consensus parameters (tests). */
  params?: Partial<ChainParams>
  /**
   * Broadcast the wallet's payments through onion circuits (`sync/private-broadcast.ts`): how to
   * reach a peer's protocol through a fresh circuit, and the optional tuning. Absent: payments
   * are gossiped from this node's own connections.
   */
  privateBroadcast?: Pick<PrivateBroadcastInit, 'dial' | 'release' | 'relays' | 'fanout' | 'retryMs' | 'maxRounds' | 'fallbackMs' | 'pushTimeoutMs'>
}

/** `peerd chain info`. */
export interface ChainInfo {
  network: Network
  height: number
  tip: string
  difficulty: number
  chainwork: string
  medianTime: number
  mempool: MempoolJson
  sync: SyncState
  miner: MinerStatus
}

/** {@link MempoolInfo} with amounts as JSON numbers (base units). */
export type MempoolJson = Omit<MempoolInfo, 'fees' | 'histogram'> & {
  fees: number
  histogram: Array<{ from: number, to: number | null, count: number, vsize: number, fees: number }>
}

function mempoolJson (info: MempoolInfo): MempoolJson {
  return { ...info, fees: Number(info.fees), histogram: info.histogram.map((b) => ({ ...b, fees: Number(b.fees) })) }
}

/** Mining was asked for where it is not allowed. */
export class MiningNotAllowedError extends PeerdError {
  static override name = 'MiningNotAllowedError'
}

/** Chain, sync, relay and miner of one node. */
export class CashService {
  readonly params: ChainParams
  readonly chain: Chain
  readonly sync: ChainSync
  readonly relay: BlockRelay
  readonly miner: Miner
  readonly mempool: Mempool
  readonly txRelay: TxRelay
  readonly wallet: Wallet
  /** Serves pushed transactions (every node, whether or not it broadcasts privately). */
  readonly txPush: TxPushServer
  /** Pushes the wallet's payments through circuits; absent when private broadcast is off. */
  readonly privateBroadcast?: PrivateBroadcast
  private readonly init: CashInit
  /** Signature workers shared by the chain (blocks) and the mempool (relayed transactions). */
  private readonly sigPool: SigPool
  private walletOpening = false

  constructor (init: CashInit) {
    this.init = init
    this.params = Object.freeze({ ...chainParams(init.network), ...init.params })
    if (init.mine != null) this.payoutScript(init.mine) // fail before anything starts
    this.sigPool = new SigPool({ logger: init.log })
    this.chain = new Chain({ location: join(init.dataDir, 'chain'), params: this.params, logger: init.log, workers: this.sigPool })
    this.mempool = new Mempool({ chain: this.chain, params: this.params, log: init.log.child('mempool'), maxBytes: init.mempoolMaxBytes, sigPool: this.sigPool })
    this.wallet = new Wallet({
      location: join(init.dataDir, 'wallet'),
      params: this.params,
      chain: this.chain,
      mempool: this.mempool,
      log: init.log.child('wallet'),
      feeRate: () => this.mempool.estimateFeeRate(),
      // the tx relay announces local additions, but not the ones private broadcast holds
      broadcast: async (tx) => {
        if (this.privateBroadcast == null) return await this.mempool.add(tx)
        // payments sent again as the wallet opens come before any relay is known: they wait for some
        await this.privateBroadcast.send(tx, async (t) => await this.mempool.add(t), { patient: this.walletOpening })
      }
    })
    const pushProtocol = txPushProtocol(init.network)
    if (init.privateBroadcast != null) {
      const self = init.host.peerId.toString()
      this.privateBroadcast = new PrivateBroadcast({
        ...init.privateBroadcast,
        protocol: pushProtocol,
        peers: async () => (await init.host.peerStore.all({ filters: [(p) => p.protocols.includes(pushProtocol)], limit: 2000 }))
          .map((p) => p.id.toString()).filter((id) => id !== self),
        mempool: this.mempool,
        announce: (txid, bytes) => { this.txRelay.announceOwn(txid, bytes) },
        log: init.log.child('private-broadcast')
      })
    }
    const held = this.privateBroadcast
    this.txRelay = new TxRelay({
      pubsub: init.host.services.pubsub,
      topic: txsTopic(init.network),
      mempool: this.mempool,
      log: init.log,
      penalize: init.penalize,
      admits: (peer) => init.host.getConnections(peer).length > 0,
      ...(held != null ? { holds: (txid: Uint8Array) => held.holds(txid), onHeldSeen: (peer: PeerId, txid: Uint8Array) => { held.seen(peer, txid) } } : {})
    })
    this.txPush = new TxPushServer({
      host: init.host,
      protocol: pushProtocol,
      mempool: this.mempool,
      log: init.log,
      publish: (bytes) => this.txRelay.publish(bytes),
      ...(held != null ? { holds: (txid: Uint8Array) => held.holds(txid), onOwnSeen: (peer: PeerId, txid: Uint8Array) => { held.seen(peer, txid) } } : {})
    })
    this.sync = new ChainSync({ host: init.host, chain: this.chain, params: this.params, log: init.log, penalize: init.penalize })
    this.relay = new BlockRelay({
      pubsub: init.host.services.pubsub,
      topic: blocksTopic(init.network),
      chain: this.chain,
      log: init.log,
      penalize: init.penalize,
      onUnknownParent: (peer) => { this.sync.requestSync(peer) }
    })
    this.miner = new Miner({
      chain: this.chain,
      params: this.params,
      log: init.log,
      threads: init.mineThreads,
      mempool: this.mempool,
      onBlock: async (_block, bytes) => { await this.relay.publish(bytes) }
    })
  }

  async start (): Promise<void> {
    await this.chain.open()
    this.mempool.start()
    // before the wallet: it broadcasts again the payments a crash left unannounced, and only
    // a started relay hears them (and keeps announcing them until they are mined)
    this.txRelay.start()
    await this.txPush.start()
    this.privateBroadcast?.start()
    this.walletOpening = true
    try {
      await this.wallet.open()
    } finally {
      this.walletOpening = false
    }
    await this.sync.start()
    this.relay.start()
    if (this.init.mine != null) this.miner.start(this.payoutScript(this.init.mine))
    this.init.log.info('chain ready', { network: this.params.network, height: this.chain.tip.height })
  }

  async stop (): Promise<void> {
    await this.miner.stop()
    this.privateBroadcast?.stop()
    await this.txPush.stop()
    this.txRelay.stop()
    this.relay.stop()
    await this.sync.stop()
    await this.wallet.close()
    await this.mempool.stop()
    await this.chain.close()
    await this.sigPool.close()
  }

  /** The P2TR script of an address of this network; a clear error for anything else. */
  payoutScript (address: string): Uint8Array {
    try {
      return p2trScript(decodeAddress(address, this.params.bech32Hrp))
    } catch (err) {
      if (err instanceof AddressError) throw new InvalidArgumentError(`invalid ${this.params.network} address "${address}": ${err.message}`, { cause: err })
      throw err
    }
  }

  /** Height, tip and the state of sync and mining. */
  info (): ChainInfo {
    const tip = this.chain.tip
    return {
      network: this.params.network,
      height: tip.height,
      tip: hashToHex(tip.hash),
      difficulty: difficultyOf(tip.header.bits, this.params),
      chainwork: tip.chainwork.toString(16).padStart(64, '0'),
      medianTime: tip.medianTimePast,
      mempool: mempoolJson(this.mempool.info()),
      sync: this.sync.state(),
      miner: this.miner.status()
    }
  }

  /** A block by hash (64 hex digits) or height of the best chain. */
  async block (id: string): Promise<BlockJson> {
    const entry = await this.findEntry(id)
    const block = await this.chain.getBlock(entry.hash)
    if (block == null) throw new NotFoundError(`block ${id} is indexed but its data is not stored`)
    const next = await this.chain.getEntryByHeight(entry.height + 1)
    const onBest = (await this.chain.getEntryByHeight(entry.height))?.hash
    const best = onBest != null && hashToHex(onBest) === hashToHex(entry.hash)
    return blockJson(block, entry, { params: this.params, tipHeight: this.chain.tip.height, best, next: best ? next?.hash : undefined })
  }

  /** A transaction of the best chain by txid. */
  async tx (txid: string): Promise<TxJson> {
    let hash: Uint8Array
    try {
      hash = hexToHash(txid)
    } catch {
      throw new InvalidArgumentError(`a txid is 64 hex digits, got "${txid}"`)
    }
    const found = await this.chain.getTx(hash)
    if (found == null) throw new NotFoundError(`transaction ${txid} is not in the best chain`)
    return txJson(found.tx, { params: this.params, blockHash: found.blockHash, height: found.height, tipHeight: this.chain.tip.height })
  }

  /** Creates the wallet; the mnemonic is returned this once. */
  async walletCreate (passphrase: string): Promise<{ mnemonic: string, address: string }> {
    return await this.wallet.create(passphrase)
  }

  /** The wallet's recovery words again, decrypted with its passphrase. */
  async walletMnemonic (passphrase: string): Promise<{ mnemonic: string }> {
    return { mnemonic: await this.wallet.mnemonic(passphrase) }
  }

  /** Restores the wallet from its mnemonic and rescans the chain. */
  async walletRestore (mnemonic: string, passphrase: string): Promise<{ address: string }> {
    return await this.wallet.restore(mnemonic, passphrase)
  }

  /** A fresh receive address. */
  async walletAddress (): Promise<string> {
    return await this.wallet.newAddress()
  }

  /** Balances in base units. */
  async walletBalance (): Promise<{ confirmed: number, unconfirmed: number, immature: number }> {
    await this.wallet.sync() // blocks and mempool events still queued count too
    const b = this.wallet.balance()
    return { confirmed: Number(b.confirmed), unconfirmed: Number(b.unconfirmed), immature: Number(b.immature) }
  }

  /**
   * The wallet's transactions, newest first, amounts in base units; a payment this node
   * broadcast privately (since it started) carries `privateBroadcast`.
   */
  async walletHistory (): Promise<Array<{ txid: string, height: number | null, time: number, amount: number, fee: number | null, confirmations: number, coinbase: boolean, privateBroadcast?: PrivateBroadcastStatus }>> {
    await this.wallet.sync()
    return this.wallet.history().map((e) => {
      const pb = this.privateBroadcast?.status(e.txid)
      return { ...e, amount: Number(e.amount), fee: e.fee == null ? null : Number(e.fee), ...(pb != null ? { privateBroadcast: pb } : {}) }
    })
  }

  /**
   * Pays `amount` base units to `address`: builds and signs with the wallet, admits the
   * transaction to this node's mempool (which checks it as any peer's), then announces it
   * (privately through circuits unless that is off: `privateBroadcast` then says so).
   * Any failure before the mempool accepts it broadcasts nothing.
   */
  async send (request: { address: string, amount: bigint, feeRate?: number, passphrase: string }): Promise<{ txid: string, fee: number, privateBroadcast?: PrivateBroadcastStatus }> {
    const payment = await this.wallet.send(request) // kept by the wallet until confirmed
    const pb = this.privateBroadcast?.status(payment.txid)
    return { txid: payment.txid, fee: Number(payment.fee), ...(pb != null ? { privateBroadcast: pb } : {}) }
  }

  /**
   * Mines `count` blocks now (regtest only) and returns their hashes; they pay to `address`,
   * or to a fresh address of the node's wallet.
   */
  async mine (count: number, address?: string, signal?: AbortSignal): Promise<string[]> {
    if (this.params.network !== 'regtest') throw new MiningNotAllowedError(`mining blocks on demand is for regtest; on ${this.params.network} run the daemon with --mine ADDRESS`)
    if (!Number.isSafeInteger(count) || count < 1 || count > 10_000) throw new InvalidArgumentError(`the number of blocks must be from 1 to 10000, got ${count}`)
    let script: Uint8Array
    if (address != null) script = this.payoutScript(address)
    else if (this.wallet.exists) script = this.wallet.payoutScript()
    else throw new WalletNotFoundError('this node has no wallet to pay the blocks to: create one (peerd wallet create) or give --address')
    const hashes = await this.miner.mineBlocks(count, script, signal)
    return hashes.map((h) => hashToHex(h))
  }

  private async findEntry (id: string): Promise<ChainEntry> {
    if (/^\d{1,10}$/.test(id)) {
      const entry = await this.chain.getEntryByHeight(Number(id))
      if (entry == null) throw new NotFoundError(`no block at height ${id} (the best chain is ${this.chain.tip.height} high)`)
      return entry
    }
    let hash: Uint8Array
    try {
      hash = hexToHash(id)
    } catch {
      throw new InvalidArgumentError(`a block is named by its height or its hash (64 hex digits), got "${id}"`)
    }
    const entry = await this.chain.getEntry(hash)
    if (entry == null) throw new NotFoundError(`block ${id} is not known to this node`)
    return entry
  }
}
