/**
 * The wallet: keys (encrypted at rest), addresses, coins and history on LevelDB, following the
 * chain and the mempool, and signed payments. See `index.ts` for use.
 *
 * One lock guards every mutation, chain and mempool events included: each event handler queues
 * its work behind it, so events are processed one at a time in the order they were emitted.
 */
import type { ChainEntry } from '../chain/index.ts'
import { Mutex } from '../chain/lock.ts'
import { outpointKey } from '../consensus/coins.ts'
import { txSigChecks } from '../consensus/inputs.ts'
import type { ChainParams } from '../consensus/params.ts'
import { verifySigChecks } from '../consensus/verify.ts'
import { AddressError, decodeAddress, p2trScript } from '../primitives/address.ts'
import type { Block } from '../primitives/block.ts'
import { bytesEqual, hashToHex } from '../primitives/hash.ts'
import { txid as computeTxid, decodeTx, encodeTx, txVsize } from '../primitives/tx.ts'
import type { Transaction, TxOutput } from '../primitives/tx.ts'
import { InvalidArgumentError } from '../../errors.ts'
import { SILENT_LOGGER } from '../../utils/logger.ts'
import type { Logger } from '../../utils/logger.ts'
import { WalletClosedError, WalletDbError, WalletExistsError, WalletNotFoundError } from './errors.ts'
import { AddressDeriver, CHANGE, RECEIVE, accountFromEntropy, entropyMnemonic, mnemonicEntropy, newMnemonic } from './keys.ts'
import { SECRET_KEY, TIP_KEY, XPUB_KEY, encodeTip, sentKey } from './layout.ts'
import type { WalletTip } from './layout.ts'
import { signPayment, selectCoins } from './payment.ts'
import type { Payment, PaymentRequest } from './payment.ts'
import { PendingPool } from './pending.ts'
import type { WalletMempool, WalletMempoolEntry } from './pending.ts'
import { DEFAULT_SCRYPT, openSecret, sealSecret } from './secret-box.ts'
import type { ScryptParams } from './secret-box.ts'
import { AddressBook, WalletState } from './state.ts'
import type { WalletOp } from './state.ts'
import type { Balance } from './state.ts'
import { birthUndoOps, catchUp, connectBlock, disconnectTip, loadMempool, persistBook } from './sync.ts'
import type { SyncContext, WalletChain } from './sync.ts'
import { WalletDb } from './wallet-db.ts'

/** Options of {@link Wallet}. */
export interface WalletOptions {
  /** Directory of the wallet's LevelDB (`DATA/wallet`). */
  location: string
  params: ChainParams
  /** The chain, open before {@link Wallet.open}. */
  chain: WalletChain
  /** The mempool, for unconfirmed transactions (optional). */
  mempool?: WalletMempool
  log?: Logger
  /** Default fee rate of payments, base units per vbyte (the mempool's estimate); else 1. */
  feeRate?: () => number
  /** scrypt cost for new wallets (default {@link DEFAULT_SCRYPT}); tests use less. */
  kdf?: ScryptParams
  /** Clock for unconfirmed transactions, Unix seconds. */
  now?: () => number
  /**
   * Admits and relays a payment (the mempool's add), for {@link Wallet.send} and to broadcast
   * unconfirmed payments again when the wallet opens. Rejects when the payment is refused.
   */
  broadcast?: (tx: Transaction) => Promise<unknown>
}

/** One line of {@link Wallet.history}. */
export interface WalletHistoryEntry {
  /** Display-order hex. */
  txid: string
  /** null while unconfirmed. */
  height: number | null
  /** Block time, or first seen in the mempool; Unix seconds. */
  time: number
  /** Change of the wallet's holdings: received minus spent (a payment's includes its fee). */
  amount: bigint
  /** Fee, when the wallet paid it (every input was ours). */
  fee?: bigint
  /** 0 while unconfirmed. */
  confirmations: number
  coinbase: boolean
}

const MAX_FEE_RATE = 1_000_000

/** An HD wallet of P2TR key-path addresses. */
export class Wallet {
  readonly params: ChainParams
  private readonly options: WalletOptions
  private readonly log: Logger
  private readonly db: WalletDb
  private readonly lock = new Mutex()
  private ctx: SyncContext | undefined
  private sealed: Uint8Array | undefined
  private xpub = ''
  private opened = false

  constructor (options: WalletOptions) {
    this.options = options
    this.params = options.params
    this.log = options.log ?? SILENT_LOGGER
    this.db = new WalletDb(options.location)
  }

  /** Whether a wallet was created or restored here. */
  get exists (): boolean { return this.ctx !== undefined }

  /** Height of the last block the wallet processed. @throws WalletNotFoundError */
  get height (): number { return this.wallet().state.tip.height }

  /**
   * Opens the DB, loads the wallet when there is one, subscribes to chain and mempool events,
   * and catches up with the chain (blocks connected or reorganised while it was closed).
   *
   * @throws WalletDbError for another format version or network, or a corrupt DB
   */
  async open (): Promise<void> {
    await this.lock.run(async () => {
      if (this.opened) return
      const stored = await this.db.open(this.params.genesis.hash)
      if (stored !== undefined) {
        let book: AddressBook
        try {
          book = new AddressBook(new AddressDeriver(stored.xpub, this.params.bech32Hrp), this.params.bech32Hrp, stored.indexes, stored.addresses)
        } catch (err) {
          throw new WalletDbError(`wallet address records are inconsistent: ${(err as Error).message}`, { cause: err })
        }
        book.extend()
        const state = new WalletState(book, stored.tip, this.params.coinbaseMaturity)
        for (const coin of stored.coins) state.addCoin(coin)
        for (const rec of stored.history) state.addHistory(rec)
        this.sealed = stored.secret
        this.xpub = stored.xpub
        this.ctx = this.context(state)
      }
      this.options.chain.on('block', this.onBlock)
      this.options.chain.on('disconnect', this.onDisconnect)
      this.options.mempool?.on('tx', this.onTx)
      this.options.mempool?.on('removed', this.onRemoved)
      this.opened = true
      if (this.ctx !== undefined) {
        await catchUp(this.ctx)
        await loadMempool(this.ctx)
        await this.resend(this.ctx)
        this.log.info('wallet loaded', { height: this.ctx.state.tip.height, coins: this.ctx.state.coins.size })
      }
    })
  }

  /** Unsubscribes, waits for queued work, closes the DB. */
  async close (): Promise<void> {
    this.options.chain.off('block', this.onBlock)
    this.options.chain.off('disconnect', this.onDisconnect)
    this.options.mempool?.off('tx', this.onTx)
    this.options.mempool?.off('removed', this.onRemoved)
    await this.lock.run(async () => {
      this.opened = false
      this.ctx = undefined
      this.sealed = undefined
      await this.db.close()
    })
  }

  /** Waits for queued chain and mempool events, then catches up with the chain's tip. */
  async sync (): Promise<void> {
    await this.lock.run(async () => { if (this.ctx !== undefined) await catchUp(this.ctx) })
  }

  /**
   * Creates a wallet with a new 24-word mnemonic, shown once: it is stored only encrypted.
   * The wallet starts at the chain's tip (new keys have no history).
   *
   * @returns the mnemonic and the first receive address
   * @throws WalletExistsError; InvalidArgumentError for an empty passphrase
   */
  async create (passphrase: string): Promise<{ mnemonic: string, address: string }> {
    return await this.lock.run(async () => {
      this.assertOpen()
      if (this.ctx !== undefined) throw new WalletExistsError()
      const mnemonic = newMnemonic()
      const tip = this.options.chain.tip
      // the first address is taken in the batch that creates the wallet: a crash right after
      // cannot leave it free to be handed out a second time
      const index = await this.initialize(mnemonicEntropy(mnemonic), passphrase, { hash: tip.hash, height: tip.height }, true)
      const ctx = this.wallet()
      this.log.info('wallet created', { height: tip.height })
      return { mnemonic, address: ctx.state.book.address(RECEIVE, index) }
    })
  }

  /**
   * Restores a wallet from its mnemonic and rescans the best chain from genesis, extending the
   * lookahead as addresses turn out used.
   *
   * @returns the first fresh receive address
   * @throws WalletExistsError; InvalidArgumentError for a bad mnemonic or empty passphrase
   */
  async restore (mnemonic: string, passphrase: string): Promise<{ address: string }> {
    return await this.lock.run(async () => {
      this.assertOpen()
      if (this.ctx !== undefined) throw new WalletExistsError()
      const entropy = mnemonicEntropy(mnemonic)
      const genesis = await this.options.chain.getEntryByHeight(0)
      if (genesis === undefined) throw new Error('chain has no genesis entry')
      await this.initialize(entropy, passphrase, { hash: genesis.hash, height: 0 })
      const ctx = this.wallet()
      await catchUp(ctx)
      await loadMempool(ctx)
      this.log.info('wallet restored', { height: ctx.state.tip.height, coins: ctx.state.coins.size })
      return { address: ctx.state.book.address(RECEIVE, ctx.state.book.fresh(RECEIVE)) }
    })
  }

  /**
   * The wallet's recovery words, decrypted with the passphrase: for a user who never saw them
   * (the daemon died between creating the wallet and answering). Not logged.
   *
   * @throws WrongPassphraseError, WalletNotFoundError; WalletDbError when the seed does not match the account
   */
  async mnemonic (passphrase: string): Promise<string> {
    return await this.lock.run(async () => {
      this.wallet()
      const entropy = await openSecret(this.sealed as Uint8Array, passphrase)
      try {
        if (accountFromEntropy(entropy, this.params.network).publicExtendedKey !== this.xpub) throw new WalletDbError('the decrypted seed does not match the stored account key')
        return entropyMnemonic(entropy)
      } finally {
        entropy.fill(0)
      }
    })
  }

  /** Hands out a fresh receive address (never handed out before). */
  async newAddress (): Promise<string> {
    return await this.lock.run(async () => {
      const ctx = this.wallet()
      const index = ctx.state.book.take(RECEIVE)
      await persistBook(ctx)
      return ctx.state.book.address(RECEIVE, index)
    })
  }

  /**
   * The script of the first receive address neither handed out nor used, for a miner's
   * coinbase. Not handed out: once a block pays it, it is used and the next call gives the next.
   */
  payoutScript (): Uint8Array {
    const { book } = this.wallet().state
    return book.script(RECEIVE, book.fresh(RECEIVE))
  }

  /** Balances in base units; see {@link WalletState.balance} for the exact definitions. */
  balance (): Balance {
    const { state, pending } = this.wallet()
    return state.balance((key) => pending.isSpent(key), pending.unspentCredits())
  }

  /** Transactions that touched the wallet, newest first (unconfirmed first). */
  history (): WalletHistoryEntry[] {
    const { state, pending } = this.wallet()
    const tip = state.tip.height
    const unconfirmed: WalletHistoryEntry[] = [...pending.all()]
      .sort((a, b) => b.time - a.time)
      .map((p) => ({ txid: hashToHex(p.txid), height: null, time: p.time, amount: p.amount, ...(p.fee !== undefined ? { fee: p.fee } : {}), confirmations: 0, coinbase: false }))
    const confirmed = [...state.history.values()]
      .sort((a, b) => b.height - a.height || b.position - a.position)
      .map((r) => ({ txid: hashToHex(r.txid), height: r.height, time: r.time, amount: r.amount, ...(r.fee !== undefined ? { fee: r.fee } : {}), confirmations: tip - r.height + 1, coinbase: r.coinbase }))
    return [...unconfirmed, ...confirmed]
  }

  /**
   * Builds and signs a payment (not broadcast): largest-first selection over confirmed, mature
   * coins no mempool transaction spends; fee = feeRate × the exact vsize; change to a fresh
   * change address unless it would be below the dust limit (then it goes to the fee). The
   * passphrase decrypts the seed only for signing; key material is wiped afterwards.
   *
   * @throws InvalidArgumentError (address, amount, fee rate), InsufficientFundsError,
   *   WrongPassphraseError, WalletNotFoundError
   */
  async createPayment (request: PaymentRequest): Promise<Payment> {
    return await this.pay(request, false)
  }

  /**
   * {@link createPayment}, then the `broadcast` option: the signed payment is written (flushed)
   * before it is broadcast and kept until a block confirms it, so a crash after the caller was
   * told it was sent cannot lose it — the wallet broadcasts it again when it opens. A payment
   * `broadcast` refuses is forgotten.
   */
  async send (request: PaymentRequest): Promise<Payment> {
    const broadcast = this.options.broadcast
    if (broadcast === undefined) throw new Error('this wallet was made without a broadcast option')
    const payment = await this.pay(request, true)
    try {
      await broadcast(payment.tx)
    } catch (err) {
      await this.lock.run(async () => { await this.db.write([{ type: 'del', key: sentKey(computeTxid(payment.tx)) }]) }).catch(() => {})
      throw err
    }
    return payment
  }

  private async pay (request: PaymentRequest, record: boolean): Promise<Payment> {
    const script = this.payeeScript(request.address)
    const amount = request.amount
    if (typeof amount !== 'bigint' || amount <= 0n || amount > this.params.maxMoney) {
      throw new InvalidArgumentError(`amount must be a positive number of base units up to ${this.params.maxMoney}, got ${String(amount)}`)
    }
    const feeRate = request.feeRate ?? this.options.feeRate?.() ?? 1
    if (typeof feeRate !== 'number' || !Number.isFinite(feeRate) || feeRate < 0 || feeRate > MAX_FEE_RATE) {
      throw new InvalidArgumentError(`fee rate must be 0..${MAX_FEE_RATE} base units per vbyte, got ${String(feeRate)}`)
    }
    return await this.lock.run(async () => {
      const ctx = this.wallet()
      const { state, pending } = ctx
      const selection = selectCoins(state.spendable((key) => pending.isSpent(key)), amount, feeRate)
      const entropy = await openSecret(this.sealed as Uint8Array, request.passphrase)
      const account = accountFromEntropy(entropy, this.params.network)
      entropy.fill(0)
      try {
        if (account.publicExtendedKey !== this.xpub) throw new WalletDbError('the decrypted seed does not match the stored account key')
        const outputs: TxOutput[] = [{ amount, script }]
        if (selection.change > 0n) {
          const change = { amount: selection.change, script: state.book.script(CHANGE, state.book.take(CHANGE)) }
          // The change goes first or last at random, so it is not told apart by position.
          if (Math.random() < 0.5) outputs.unshift(change)
          else outputs.push(change)
        }
        const tx = signPayment(account, selection.coins, outputs, this.params.bech32Hrp)
        // Belt and braces: the signatures must pass our own consensus check before anyone sees them.
        const spent = selection.coins.map((c) => ({ amount: c.amount, script: c.script, height: c.height, coinbase: c.coinbase }))
        if (verifySigChecks(txSigChecks(tx, spent)) !== -1) throw new Error('a payment signature failed the consensus check')
        const id = computeTxid(tx)
        if (record) {
          // the change address and the payment in one flushed batch
          await ctx.db.write([...state.book.ops(), { type: 'put', key: sentKey(id), value: encodeTx(tx, { witness: true }) }], { sync: true })
          state.book.committed()
        } else if (selection.change > 0n) await persistBook(ctx)
        return { tx, txid: hashToHex(id), fee: selection.fee, vsize: txVsize(tx), change: selection.change }
      } finally {
        account.wipePrivateData()
      }
    })
  }

  // ---- internals ----

  /**
   * Broadcasts again the payments sent and not confirmed (the mempool died with the process);
   * forgets those a block confirmed or whose coins another transaction spent. One the mempool
   * refuses now (the chain still syncing, say) is kept for the next open.
   */
  private async resend (ctx: SyncContext): Promise<void> {
    const { mempool, broadcast } = this.options
    const stale: WalletOp[] = []
    for (const { txid, bytes } of await ctx.db.sentTxs()) {
      let tx: Transaction
      try {
        tx = decodeTx(bytes)
      } catch {
        stale.push({ type: 'del', key: sentKey(txid) })
        continue
      }
      const confirmed = ctx.state.history.has(hashToHex(txid))
      if (confirmed || tx.inputs.some((input) => !ctx.state.coins.has(outpointKey(input.prevout)))) {
        if (!confirmed) this.log.warn('a payment sent earlier can no longer confirm: its coins were spent by another transaction', { txid: hashToHex(txid) })
        stale.push({ type: 'del', key: sentKey(txid) })
        continue
      }
      if (broadcast === undefined || mempool?.has(txid) === true) continue
      try {
        await broadcast(tx)
        this.log.info('payment broadcast again', { txid: hashToHex(txid) })
      } catch (err) {
        this.log.warn('a payment sent earlier was not accepted again; retried at the next start', { txid: hashToHex(txid), err: err as Error })
      }
    }
    await ctx.db.write(stale)
  }

  private payeeScript (address: string): Uint8Array {
    if (typeof address !== 'string') throw new InvalidArgumentError('address must be a string')
    try {
      return p2trScript(decodeAddress(address.trim(), this.params.bech32Hrp))
    } catch (err) {
      if (err instanceof AddressError) throw new InvalidArgumentError(`invalid ${this.params.network} address "${address}": ${err.message}`, { cause: err })
      throw err
    }
  }

  /** Seals the seed and writes a new wallet in one flushed batch; returns the receive index taken, if `take`. */
  private async initialize (entropy: Uint8Array, passphrase: string, tip: WalletTip, take = false): Promise<number> {
    let sealed: Uint8Array
    let xpub: string
    try {
      sealed = await sealSecret(entropy, passphrase, this.options.kdf ?? DEFAULT_SCRYPT)
      const account = accountFromEntropy(entropy, this.params.network)
      xpub = account.publicExtendedKey
      account.wipePrivateData()
    } finally {
      entropy.fill(0)
    }
    const hrp = this.params.bech32Hrp
    const book = new AddressBook(new AddressDeriver(xpub, hrp), hrp, [{ next: 0, used: 0, derived: 0 }, { next: 0, used: 0, derived: 0 }])
    book.extend()
    const taken = take ? book.take(RECEIVE) : -1
    const state = new WalletState(book, tip, this.params.coinbaseMaturity)
    const ctx = this.context(state)
    await this.db.write([
      { type: 'put', key: SECRET_KEY, value: sealed },
      { type: 'put', key: XPUB_KEY, value: new TextEncoder().encode(xpub) },
      { type: 'put', key: TIP_KEY, value: encodeTip(tip) },
      ...book.ops(),
      ...await birthUndoOps(ctx, tip.height)
    ], { sync: true })
    book.committed()
    this.sealed = sealed
    this.xpub = xpub
    this.ctx = ctx
    return taken
  }

  private context (state: WalletState): SyncContext {
    return {
      db: this.db,
      state,
      pending: new PendingPool(),
      chain: this.options.chain,
      mempool: this.options.mempool,
      params: this.params,
      log: this.log,
      now: this.options.now ?? (() => Math.floor(Date.now() / 1000))
    }
  }

  private assertOpen (): void {
    if (!this.opened) throw new WalletClosedError()
  }

  private wallet (): SyncContext {
    this.assertOpen()
    if (this.ctx === undefined) throw new WalletNotFoundError()
    return this.ctx
  }

  /** Queues `fn` behind the lock; errors are logged (an event handler has no caller to tell). */
  private queue (what: string, fn: (ctx: SyncContext) => Promise<void>): void {
    this.lock.run(async () => {
      if (this.ctx !== undefined && this.opened) await fn(this.ctx)
    }).catch((err: unknown) => { this.log.error(`wallet ${what} failed`, { err: err as Error }) })
  }

  private readonly onBlock = (entry: ChainEntry, block: Block): void => {
    this.queue('block', async (ctx) => {
      const tip = ctx.state.tip
      if (entry.height === tip.height + 1 && bytesEqual(block.header.prevHash, tip.hash)) {
        await connectBlock(ctx, entry.height, entry.hash, block)
        return
      }
      // Already processed (a catch-up got there first), or the wallet is off the chain's path.
      const seen = entry.height <= tip.height ? await ctx.db.blockUndo(entry.height) : undefined
      if (seen === undefined || !bytesEqual(seen.hash, entry.hash)) await catchUp(ctx)
    })
  }

  private readonly onDisconnect = (entry: ChainEntry, block: Block): void => {
    this.queue('disconnect', async (ctx) => {
      const tip = ctx.state.tip
      if (entry.height > tip.height) return // never processed
      const undo = bytesEqual(tip.hash, entry.hash) ? await ctx.db.blockUndo(tip.height) : undefined
      if (undo !== undefined && bytesEqual(undo.hash, entry.hash)) await disconnectTip(ctx, undo, block)
      else await catchUp(ctx)
    })
  }

  private readonly onTx = (entry: WalletMempoolEntry): void => {
    this.queue('mempool tx', async (ctx) => {
      if (ctx.pending.add(ctx.state, entry.tx, computeTxid(entry.tx), entry.time ?? ctx.now()) !== undefined) await persistBook(ctx)
    })
  }

  private readonly onRemoved = (entry: WalletMempoolEntry): void => {
    this.queue('mempool removal', async (ctx) => {
      ctx.pending.remove(hashToHex(computeTxid(entry.tx)))
    })
  }
}
