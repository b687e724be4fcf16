/**
 * Errors of the wallet. Each condition has its own class, checked by `name`; the API chooses
 * its HTTP status (`src/api/http-status.ts`). Bad arguments (amounts, addresses, a mnemonic
 * that does not check out) are `InvalidArgumentError` from `src/errors.ts`.
 */
import { DiskWriteError, PeerdError } from '../../errors.ts'

/** No wallet has been created or restored in this data directory yet. */
export class WalletNotFoundError extends PeerdError {
  static override name = 'WalletNotFoundError'

  constructor (message = 'no wallet: create one or restore one from its mnemonic first') {
    super(message)
  }
}

/** `create` or `restore` on a data directory that already holds a wallet (it is never overwritten). */
export class WalletExistsError extends PeerdError {
  static override name = 'WalletExistsError'

  constructor (message = 'a wallet already exists in this data directory; it is never overwritten') {
    super(message)
  }
}

/** The passphrase does not decrypt the wallet's seed (the AEAD tag did not verify). */
export class WrongPassphraseError extends PeerdError {
  static override name = 'WrongPassphraseError'

  constructor (message = 'wrong wallet passphrase', options?: ErrorOptions) {
    super(message, options)
  }
}

/** The spendable coins do not cover the amount plus the fee. Amounts in base units. */
export class InsufficientFundsError extends PeerdError {
  static override name = 'InsufficientFundsError'

  /** Confirmed, mature coins not already spent by a mempool transaction. */
  readonly available: bigint
  /** Amount plus the fee of a transaction spending every available coin. */
  readonly needed: bigint

  constructor (available: bigint, needed: bigint) {
    super(`insufficient funds: ${available} base units spendable, ${needed} needed (amount + fee)`)
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
  static override name = 'PaymentTooLargeError'

  /** Most inputs a relayed payment can have. */
  readonly maxInputs: number

  constructor (maxInputs: number, maxWeight: number) {
    super(`the payment needs more than ${maxInputs} coins, above the ${maxWeight} weight units peers relay; send less, or merge coins first by sending smaller amounts to yourself`)
    this.maxInputs = maxInputs
  }
}

/**
 * The wallet database cannot be used: another format version, another network, a seed that
 * does not match the stored public key, or records that contradict each other. Never repaired
 * silently.
 */
export class WalletDbError extends PeerdError {
  static override name = 'WalletDbError'
}

/** The wallet is not open (never opened, or closed). */
export class WalletClosedError extends PeerdError {
  static override name = 'WalletClosedError'

  constructor (message = 'the wallet is not open') { super(message) }
}

/**
 * A write to the wallet's database failed (disk full, I/O error). The batch is all or nothing:
 * what was stored before is kept, and no address was handed out. Free space or fix the disk,
 * then retry.
 */
export class WalletWriteError extends DiskWriteError {
  static override name = 'WalletWriteError'

  constructor (location: string, cause: unknown) {
    super('cannot write the wallet database', location, cause, 'nothing stored before is lost')
  }
}
