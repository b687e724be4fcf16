/**
 * Typed errors of onion streams and the exit edge, each checked by its `static name` (see
 * `src/errors.ts`), and tor's END reasons (tor-spec "Closing streams").
 */
import { PeerdError } from '../errors.ts'

/** END reasons (tor-spec's numbers). */
export const EndReason = {
  MISC: 1,
  RESOLVEFAILED: 2,
  CONNECTREFUSED: 3,
  EXITPOLICY: 4,
  DESTROY: 5,
  DONE: 6,
  TIMEOUT: 7,
  NOROUTE: 8,
  HIBERNATING: 9,
  INTERNAL: 10,
  RESOURCELIMIT: 11,
  CONNRESET: 12,
  TORPROTOCOL: 13,
  NOTDIRECTORY: 14
} as const
/** One of {@link EndReason}'s values. */
export type EndReason = typeof EndReason[keyof typeof EndReason]

/** The name of an END reason, e.g. `EXITPOLICY`; `reason N` for one tor does not define. */
export function endReasonName (reason: number): string {
  for (const [name, value] of Object.entries(EndReason)) if (value === reason) return name
  return `reason ${reason}`
}

/**
 * A peer broke flow control: a circuit SENDME with a wrong digest or nothing to acknowledge, a
 * SENDME that would open a window past its maximum, a DATA cell past a closed window. The
 * circuit is torn down, as tor does.
 */
export class FlowControlError extends PeerdError {
  static override name = 'FlowControlError'
}

/**
 * The exit refused or ended a stream before CONNECTED: `reason` is tor's END reason
 * ({@link EndReason}); the SOCKS server maps it to a reply code.
 */
export class StreamRefusedError extends PeerdError {
  static override name = 'StreamRefusedError'
  readonly reason: number

  constructor (reason: number, message?: string, options?: ErrorOptions) {
    super(message ?? `stream refused by the exit: ${endReasonName(reason)}`, options)
    this.reason = reason
  }
}

/** A stream ended abnormally after CONNECTED (END with a reason other than DONE, or its circuit closed). */
export class StreamClosedError extends PeerdError {
  static override name = 'StreamClosedError'
  readonly reason: number

  constructor (reason: number, message?: string, options?: ErrorOptions) {
    super(message ?? `stream ended: ${endReasonName(reason)}`, options)
    this.reason = reason
  }
}

/** A BEGIN message is malformed or names a target peerd does not serve. */
export class InvalidBeginError extends PeerdError {
  static override name = 'InvalidBeginError'
}
