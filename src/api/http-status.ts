/**
 * The HTTP status the API answers each error class with. The library's errors carry no status:
 * this edge (and the gateway, for content) chooses it from the class, keyed by its `static name`.
 * An error without an entry is a 500.
 * @module
 */
import {
  BadPathError, InvalidParametersError, NoResolverError, NotFoundError as ExporterNotFoundError,
  NotUnixFSError, OverReadError, UnderReadError
} from 'ipfs-unixfs-exporter'
import { ChainClosedError, ChainDbError } from '../cash/chain/errors.ts'
import { VerifyError } from '../cash/consensus/verify-error.ts'
import { AddressError } from '../cash/primitives/address.ts'
import { SighashError } from '../cash/primitives/sighash.ts'
import { MiningNotAllowedError } from '../cash/service.ts'
import { ChainProtocolError } from '../cash/sync/protocol.ts'
import {
  InsufficientFundsError, PaymentTooLargeError, WalletClosedError, WalletDbError, WalletExistsError,
  WalletNotFoundError, WrongPassphraseError
} from '../cash/wallet/errors.ts'
import {
  ConfigError, DataDirLockedError, DaemonNotRunningError, DialError, DiskWriteError, ForbiddenError, InvalidArgumentError,
  KeyFileError, ListenError, MalformedRequestError, MethodNotAllowedError, NotFoundError, NotStartedError,
  PayloadTooLargeError, UnauthorizedError, UsageError
} from '../errors.ts'
import { BudgetAbortedError } from '../net/byte-budget.ts'
import { FrameTooLargeError, MalformedFrameError, ProtocolError } from '../net/frames.ts'
import { PeerListError } from '../net/peer-list.ts'
import { BlockMismatchError, InvalidBitswapMessageError, WantAbortedError } from '../share/bitswap/errors.ts'
import { IdentityTooLargeError } from '../share/block.ts'
import { BlockNotFoundError, InvalidBlockError } from '../share/blockstore.ts'
import { ContentNotFoundError, DownloadCancelledError, InvalidDagError, InvalidLinkError, ShareDbError, StoreFailedError } from '../share/errors.ts'
import { UnsafePathError } from '../share/export.ts'
import { UnsupportedDagError } from '../share/output.ts'
import { InvalidSelectionError, SelectionNotFoundError } from '../share/session/selection.ts'
import { RequestTimeoutError } from '../utils/http-server.ts'
import { ExitPolicyError } from '../onion/exit-policy.ts'
import { HsConfigError, HsNotFoundError, HsUnreachableError } from '../onion/hs/connect-errors.ts'
import { OnionAddressError } from '../onion/hs/hs-errors.ts'
import { HostNotAllowedError } from './hosts.ts'

/** Status by error name. Built from the classes, so a renamed class cannot leave a stale entry. */
export const API_STATUS: ReadonlyMap<string, number> = new Map([
  // requests and arguments
  [InvalidArgumentError.name, 400],
  [IdentityTooLargeError.name, 400],
  [InvalidLinkError.name, 400],
  [MalformedRequestError.name, 400],
  [ConfigError.name, 400],
  [UsageError.name, 400],
  [AddressError.name, 400],
  [SighashError.name, 400],
  [ExitPolicyError.name, 400],
  [HsConfigError.name, 400],
  [OnionAddressError.name, 400],
  [HsNotFoundError.name, 404],
  [HsUnreachableError.name, 502],
  [UnauthorizedError.name, 401],
  [ForbiddenError.name, 403],
  [HostNotAllowedError.name, 403],
  [NotFoundError.name, 404],
  [MethodNotAllowedError.name, 405],
  [RequestTimeoutError.name, 408],
  [PayloadTooLargeError.name, 413],
  // the node
  [DataDirLockedError.name, 409],
  [KeyFileError.name, 500],
  [ListenError.name, 500],
  [DialError.name, 502],
  [NotStartedError.name, 503],
  [DaemonNotRunningError.name, 503],
  [BudgetAbortedError.name, 503],
  // content
  [ContentNotFoundError.name, 404],
  [BlockNotFoundError.name, 404],
  [ExporterNotFoundError.name, 404],
  [BadPathError.name, 400],
  [InvalidParametersError.name, 400],
  [WantAbortedError.name, 408],
  [InvalidDagError.name, 422],
  [UnsupportedDagError.name, 422],
  [UnsafePathError.name, 422],
  [InvalidSelectionError.name, 400],
  [SelectionNotFoundError.name, 404],
  [NotUnixFSError.name, 422],
  [NoResolverError.name, 422],
  [DownloadCancelledError.name, 499],
  [StoreFailedError.name, 500],
  [ShareDbError.name, 500],
  [OverReadError.name, 502],
  [UnderReadError.name, 502],
  // what peers sent (an API caller only meets these through a download)
  [InvalidBlockError.name, 502],
  [BlockMismatchError.name, 502],
  [InvalidBitswapMessageError.name, 502],
  [ProtocolError.name, 502],
  [FrameTooLargeError.name, 502],
  [MalformedFrameError.name, 502],
  [ChainProtocolError.name, 502],
  [PeerListError.name, 502],
  // cash
  [MiningNotAllowedError.name, 400],
  [InsufficientFundsError.name, 400],
  [PaymentTooLargeError.name, 400],
  // the node's own mempool refused a payment (fee rate, policy)
  [VerifyError.name, 400],
  [WrongPassphraseError.name, 403],
  [WalletNotFoundError.name, 404],
  [WalletExistsError.name, 409],
  [WalletDbError.name, 500],
  [ChainDbError.name, 500],
  [WalletClosedError.name, 503],
  [ChainClosedError.name, 503]
])

/**
 * The status the API answers `err` with: a store's write error is a 507 (Insufficient Storage)
 * when the disk is full and a 500 otherwise; any other error its class's entry in
 * {@link API_STATUS}, else 500.
 */
export function apiStatus (err: unknown): number {
  if (err instanceof DiskWriteError) return err.diskFull ? 507 : 500
  return (err instanceof Error ? API_STATUS.get(err.name) : undefined) ?? 500
}
