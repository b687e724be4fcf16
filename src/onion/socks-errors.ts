/**
 * Errors of the SOCKS5 proxy, and the SOCKS reply codes (RFC 1928 §6) a refused CONNECT is
 * answered with: kept apart from `socks.ts` so the code that opens streams (the onion client, an
 * exit) can throw a {@link SocksConnectError} without importing the server.
 * @module
 */
import { PeerdError } from '../errors.ts'

/** SOCKS5 reply codes (RFC 1928 §6). */
export const SocksReply = {
  SUCCEEDED: 0,
  GENERAL: 1,
  NOT_ALLOWED: 2,
  NETWORK_UNREACHABLE: 3,
  HOST_UNREACHABLE: 4,
  REFUSED: 5,
  TTL_EXPIRED: 6,
  COMMAND_NOT_SUPPORTED: 7,
  ADDRESS_NOT_SUPPORTED: 8,
  // tor's extended replies for onion services (proposal 304, SOCKSPort ExtendedErrors)
  HS_DESC_NOT_FOUND: 0xf0,
  HS_DESC_INVALID: 0xf1,
  HS_INTRO_FAILED: 0xf2,
  HS_REND_FAILED: 0xf3,
  HS_MISSING_CLIENT_AUTH: 0xf4,
  HS_WRONG_CLIENT_AUTH: 0xf5,
  HS_BAD_ADDRESS: 0xf6,
  HS_INTRO_TIMEDOUT: 0xf7
} as const

/** One of {@link SocksReply}'s values. */
export type SocksReplyCode = typeof SocksReply[keyof typeof SocksReply]

/**
 * A CONNECT could not be served, with the reply the SOCKS client gets: an exit policy that
 * refuses the destination (`NOT_ALLOWED`), a name the exit could not resolve (`HOST_UNREACHABLE`),
 * a refused connection (`REFUSED`), a circuit that timed out (`TTL_EXPIRED`).
 */
export class SocksConnectError extends PeerdError {
  static override name = 'SocksConnectError'
  /** The SOCKS reply code sent to the client. */
  readonly reply: SocksReplyCode

  constructor (message: string, reply: SocksReplyCode, options?: ErrorOptions) {
    super(message, options)
    this.reply = reply
  }
}

/** Reply codes for the errno of a failed `net.connect` (and the same codes an exit reports). */
const ERRNO_REPLY: Readonly<Record<string, SocksReplyCode>> = {
  ECONNREFUSED: SocksReply.REFUSED,
  EHOSTUNREACH: SocksReply.HOST_UNREACHABLE,
  ENOTFOUND: SocksReply.HOST_UNREACHABLE,
  EAI_AGAIN: SocksReply.HOST_UNREACHABLE,
  ENETUNREACH: SocksReply.NETWORK_UNREACHABLE,
  ETIMEDOUT: SocksReply.TTL_EXPIRED,
  EACCES: SocksReply.NOT_ALLOWED,
  EPERM: SocksReply.NOT_ALLOWED
}

/**
 * The reply for a connect error: a {@link SocksConnectError}'s `reply`, the usual reply for a
 * socket errno (`ECONNREFUSED` → `REFUSED`, `ENOTFOUND` → `HOST_UNREACHABLE`, …), else `GENERAL`.
 */
export function socksReplyFor (err: Error): number {
  if (err instanceof SocksConnectError) return err.reply
  const code = (err as NodeJS.ErrnoException).code
  return (code !== undefined ? ERRNO_REPLY[code] : undefined) ?? SocksReply.GENERAL
}
