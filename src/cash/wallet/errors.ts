/**
 * Errors of the wallet. Each condition has its own class, checked by `name`, with the HTTP
 * status the API answers with (`src/errors.ts`). Bad arguments (amounts, addresses, a mnemonic
 * that does not check out) are `InvalidArgumentError` from `src/errors.ts`.
 */
import { PeerdError } from '../../errors.ts'

/** No wallet has been created or restored in this data directory yet. */
export class WalletNotFoundError extends PeerdError {
  constructor (message = 'no wallet: create one or restore one from its mnemonic first') {
    super(message, 'WalletNotFoundError', 404)
  }
}

/** `create` or `restore` on a data directory that already holds a wallet (it is never overwritten). */
export class WalletExistsError extends PeerdError {
  constructor (message = 'a wallet already exists in this data directory; it is never overwritten') {
    super(message, 'WalletExistsError', 409)
  }
}

/** The passphrase does not decrypt the wallet's seed (the AEAD tag did not verify). */
export class WrongPassphraseError extends PeerdError {
  constructor (message = 'wrong wallet passphrase', options?: ErrorOptions) {
    super(message, 'WrongPassphraseError', 403, options)
  }
}

/** The spendable coins do not cover the amount plus the fee. Amounts in base units. */
export class InsufficientFundsError extends PeerdError {
  /** Confirmed, mature coins not already spent by a mempool transaction. */
  readonly available: bigint
  /** Amount plus the fee of a transaction spending every available coin. */
  readonly needed: bigint

  constructor (available: bigint, needed: bigint) {
    super(`insufficient funds: ${available} base units spendable, ${needed} needed (amount + fee)`, 'InsufficientFundsError', 400)
    this.available = available
    this.needed = needed
  }
}

/**
 * The payment would need more coins (inputs) than fit in a transaction peers relay
 * (`DEFAULT_MAX_TX_WEIGHT`), though the wallet holds enough: send less, or first send smaller
 * amounts to yourself to merge coins.
 */
export class PaymentTooLargeError extends PeerdError {
  /** Most inputs a relayed payment can have. */
  readonly maxInputs: number

  constructor (maxInputs: number, maxWeight: number) {
    super(`the payment needs more than ${maxInputs} coins, above the ${maxWeight} weight units peers relay; send less, or merge coins first by sending smaller amounts to yourself`, 'PaymentTooLargeError', 400)
    this.maxInputs = maxInputs
  }
}

/**
 * The wallet database cannot be used: another format version, another network, a seed that
 * does not match the stored public key, or records that contradict each other. Never repaired
 * silently.
 */
export class WalletDbError extends PeerdError {
  constructor (message: string, options?: ErrorOptions) { super(message, 'WalletDbError', 500, options) }
}

/** The wallet is not open (never opened, or closed). */
export class WalletClosedError extends PeerdError {
  constructor (message = 'the wallet is not open') { super(message, 'WalletClosedError', 503) }
}

/**
 * A write to the wallet's database failed (disk full, I/O error). The batch is all or nothing:
 * what was stored before is kept, and no address was handed out. Free space or fix the disk,
 * then retry. 507 when the disk is full, 500 otherwise.
 */
export class WalletWriteError extends PeerdError {
  constructor (location: string, cause: unknown) {
    const text = `${(cause as { code?: string }).code ?? ''} ${(cause as Error).message ?? String(cause)}`
    const full = /ENOSPC|EDQUOT|no space left|quota exceeded/i.test(text)
    const advice = full
      ? `the disk is full: free space on the disk of ${location}, then retry`
      : `check the disk and file system of ${location} (system log, permissions, read-only mount), then retry`
    super(`cannot write the wallet database (${(cause as Error).message ?? String(cause)}): ${advice}; nothing stored before is lost`, 'WalletWriteError', full ? 507 : 500, { cause })
  }
}
