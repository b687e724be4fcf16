/**
 * Typed errors of the onion layer, each checked by its `static name` (see `src/errors.ts`).
 */
import { PeerdError } from '../errors.ts'

/**
 * An ntor handshake failed: a message of the wrong length, a relay id or onion key that is not
 * this relay's, a low-order or all-zero key, or a reply whose AUTH does not verify. The circuit
 * being built must be dropped; nothing derived from the handshake may be used.
 */
export class HandshakeError extends PeerdError {
  static override name = 'HandshakeError'
}

/**
 * A relay saw this client handshake (its X) before under the same onion key, and refuses it. A
 * `HandshakeError` too, so a caller that drops failed handshakes drops replays with them.
 */
export class HandshakeReplayError extends HandshakeError {
  static override name = 'HandshakeReplayError'
}

/**
 * A cell or relay message is malformed: a wrong size, an unknown command, a length field past the
 * body, bad link specifiers. The peer broke the protocol; the circuit (or the link) is closed.
 */
export class MalformedCellError extends PeerdError {
  static override name = 'MalformedCellError'
}

/** A link cell is not exactly `CELL_LEN` bytes, or a link stream ended inside a cell. */
export class CellSizeError extends MalformedCellError {
  static override name = 'CellSizeError'
}

/** A link cell's command byte is none peerd knows. */
export class UnknownCellCommandError extends MalformedCellError {
  static override name = 'UnknownCellCommandError'
}

/** A recognized relay cell's command byte is none peerd knows. */
export class UnknownRelayCommandError extends MalformedCellError {
  static override name = 'UnknownRelayCommandError'
}

/**
 * A relay cell failed its integrity check: recognized by no hop at the client, or by the last hop
 * of a circuit. Some relay (or the link) altered it; the caller tears the circuit down.
 */
export class CellIntegrityError extends PeerdError {
  static override name = 'CellIntegrityError'
}

/** A link or circuit limit was reached (links per relay, circuits per link, pending extends). */
export class OnionLimitError extends PeerdError {
  static override name = 'OnionLimitError'
}

/**
 * A circuit ended: a DESTROY from a hop, its link closed, a build timed out, or a local
 * `destroy()`. Nothing more can be sent on it; the client builds another.
 */
export class CircuitClosedError extends PeerdError {
  static override name = 'CircuitClosedError'
}
