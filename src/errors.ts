/**
 * Typed errors shared by the node, the API and the CLI. Each condition has its own class with a
 * stable `static name`, checked by `name` as `@libp2p/interface` does. The library chooses no
 * HTTP statuses: the API (`src/api/http-status.ts`) and the gateway map classes to statuses.
 */

/** Base class: a peerd error whose `name` is its class's `static name`. */
export class PeerdError extends Error {
  static override name = 'PeerdError'

  constructor (message: string, options?: ErrorOptions) {
    super(message, options)
    // the subclass's `static name`: survives minification, unlike the class's own name
    this.name = new.target.name
  }
}

/** An argument, flag, config value or request body is invalid. */
export class InvalidArgumentError extends PeerdError {
  static override name = 'InvalidArgumentError'
}

/** A request body is not valid JSON. */
export class MalformedRequestError extends PeerdError {
  static override name = 'MalformedRequestError'
}

/** The API request carried no valid cookie. */
export class UnauthorizedError extends PeerdError {
  static override name = 'UnauthorizedError'

  constructor (message = 'missing or wrong API cookie: send "Authorization: Bearer <contents of DATA_DIR/cookie>"') {
    super(message)
  }
}

/** The request is authenticated but not allowed (a dashboard request from another origin). */
export class ForbiddenError extends PeerdError {
  static override name = 'ForbiddenError'
}

/** An API route or object does not exist. */
export class NotFoundError extends PeerdError {
  static override name = 'NotFoundError'
}

/** The HTTP method is not allowed on this route. */
export class MethodNotAllowedError extends PeerdError {
  static override name = 'MethodNotAllowedError'
}

/** A request body is larger than the API accepts. */
export class PayloadTooLargeError extends PeerdError {
  static override name = 'PayloadTooLargeError'
}

/** Another daemon already uses this data directory. */
export class DataDirLockedError extends PeerdError {
  static override name = 'DataDirLockedError'
}

/** The identity key file cannot be read or decoded. It is never replaced silently. */
export class KeyFileError extends PeerdError {
  static override name = 'KeyFileError'
}

/** The config file cannot be read or is invalid. */
export class ConfigError extends PeerdError {
  static override name = 'ConfigError'
}

/** A listen address could not be bound (in use, not local, not permitted). */
export class ListenError extends PeerdError {
  static override name = 'ListenError'
}

/** Dialling a peer failed. */
export class DialError extends PeerdError {
  static override name = 'DialError'
}

/** The node is not running (not started yet, or stopping). */
export class NotStartedError extends PeerdError {
  static override name = 'NotStartedError'

  constructor (message = 'the node is not running') { super(message) }
}

/** The CLI cannot reach a daemon for its data directory. */
export class DaemonNotRunningError extends PeerdError {
  static override name = 'DaemonNotRunningError'
}

/**
 * The daemon answered with an error. The CLI's side of the API: `name` is the daemon's error
 * name (so `--json` shows the daemon's condition), `status` the HTTP status it answered with.
 */
export class ApiError extends PeerdError {
  static override name = 'ApiError'
  /** The HTTP status of the daemon's answer. */
  readonly status: number

  constructor (name: string, message: string, status: number) {
    super(message)
    this.name = name
    this.status = status
  }
}

/** The daemon ended a streamed download without a result or an error (see its log). */
export class DownloadIncompleteError extends PeerdError {
  static override name = 'DownloadIncompleteError'
}

/** The user interrupted the command (Ctrl-C); what was done so far is kept. */
export class InterruptedError extends PeerdError {
  static override name = 'InterruptedError'
}

/** A stream from the daemon broke before its end. */
export class StreamBrokenError extends PeerdError {
  static override name = 'StreamBrokenError'
}

/** A command line that does not parse: the CLI prints usage and exits with code 2. */
export class UsageError extends PeerdError {
  static override name = 'UsageError'
}

/** True when a file system error says the disk (or the user's quota) is full. */
function isDiskFull (cause: unknown): boolean {
  const code = (cause as { code?: unknown } | undefined)?.code
  const text = `${typeof code === 'string' ? code : ''} ${(cause as Error | undefined)?.message ?? String(cause)}`
  return /ENOSPC|EDQUOT|no space left|quota exceeded/i.test(text)
}

/**
 * A store's write to disk failed (disk full, I/O error, read-only file system): the base of the
 * block store's, the chain's and the wallet's write errors. What was stored before is kept.
 */
export class DiskWriteError extends PeerdError {
  static override name = 'DiskWriteError'
  /** The disk (or the user's quota) is full: freeing space fixes it. */
  readonly diskFull: boolean

  /**
   * The message says what failed, why (`detail`, by default the cause's message), what to do
   * about the disk under `location`, and what is `kept`.
   */
  constructor (failed: string, location: string, cause: unknown, kept: string, detail = (cause as Error | undefined)?.message ?? String(cause)) {
    const full = isDiskFull(cause)
    const advice = full
      ? `the disk is full: free space on the disk of ${location}, then retry`
      : `check the disk and file system of ${location} (system log, permissions, read-only mount), then retry`
    super(`${failed} (${detail}): ${advice}; ${kept}`, { cause })
    this.diskFull = full
  }
}

/** Turns anything thrown into `{ name, message }` for JSON output. */
export function errorToJson (err: unknown): { name: string, message: string } {
  if (err instanceof Error) return { name: err.name, message: err.message }
  return { name: 'Error', message: String(err) }
}
