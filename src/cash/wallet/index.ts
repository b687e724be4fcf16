/**
 * The Cash wallet: a BIP39 mnemonic (encrypted at rest with scrypt + XChaCha20-Poly1305), BIP86
 * P2TR addresses with a lookahead of 20 per branch, coins and history on LevelDB following the
 * chain (reorganisations included) and the mempool, and payments signed with @scure/btc-signer.
 *
 * @example
 * ```ts
 * import { Wallet } from './cash/wallet/index.ts'
 *
 * const wallet = new Wallet({ location: join(dataDir, 'wallet'), params, chain, mempool, log, feeRate: () => mempool.estimateFeeRate() })
 * await chain.open()
 * await wallet.open()                                   // catches up with the chain
 * if (!wallet.exists) {
 *   const { mnemonic, address } = await wallet.create(passphrase)   // show the mnemonic once
 * }
 * await wallet.newAddress()                             // 'pdrt1p…'
 * wallet.balance()                                      // { confirmed, unconfirmed, immature } bigint
 * wallet.history()                                      // newest first
 * const { tx, fee } = await wallet.createPayment({ address, amount: 100_000n, passphrase })
 * await mempool.add(tx)                                 // broadcasting is the caller's job
 * miner.start(wallet.payoutScript())
 * await wallet.close()                                  // before chain.close()
 * ```
 * @module
 */
export { Wallet } from './wallet.ts'
export type { WalletHistoryEntry, WalletOptions } from './wallet.ts'
export type { Payment, PaymentRequest } from './payment.ts'
export type { Balance } from './state.ts'
export { LOOKAHEAD } from './state.ts'
export type { WalletMempool, WalletMempoolEntry } from './pending.ts'
export type { WalletChain } from './sync.ts'
export { DUST_LIMIT, feeFor, paymentVsize, paymentWeight } from './payment.ts'
export { DEFAULT_SCRYPT } from './secret-box.ts'
export type { ScryptParams } from './secret-box.ts'
export { MAIN_COIN_TYPE, TEST_COIN_TYPE, accountPath, coinType } from './keys.ts'
export { WALLET_DB_VERSION } from './layout.ts'
export {
  InsufficientFundsError, WalletClosedError, WalletDbError, WalletExistsError, WalletNotFoundError, WalletWriteError, WrongPassphraseError
} from './errors.ts'
