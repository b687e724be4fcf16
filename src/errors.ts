/**
 * Typed errors shared by the node, the API and the CLI. Each condition has its own class,
 * checked by `name` (as `@libp2p/interface` does), and an HTTP status for the API edge.
 */

/** Base class: a peerd error with a stable `name` and the HTTP status the API answers with. */
export class PeerdError extends Error {
  /** HTTP status used when this error crosses the API. */
  readonly status: number

  constructor (message: string, name: string, status = 500, options?: ErrorOptions) {
    super(message, options)
    this.name = name
    this.status = status
  }
}

/** An argument, flag, config value or request body is invalid. */
export class InvalidArgumentError extends PeerdError {
  constructor (message: string, options?: ErrorOptions) { super(message, 'InvalidArgumentError', 400, options) }
}

/** A request body is not valid JSON. */
export class MalformedRequestError extends PeerdError {
  constructor (message: string, options?: ErrorOptions) { super(message, 'MalformedRequestError', 400, options) }
}

/** The API request carried no valid cookie. */
export class UnauthorizedError extends PeerdError {
  constructor (message = 'missing or wrong API cookie: send "Authorization: Bearer <contents of DATA_DIR/cookie>"') {
    super(message, 'UnauthorizedError', 401)
  }
}

/** The request is authenticated but not allowed (a dashboard request from another origin). */
export class ForbiddenError extends PeerdError {
  constructor (message: string) { super(message, 'ForbiddenError', 403) }
}

/** An API route or object does not exist. */
export class NotFoundError extends PeerdError {
  constructor (message: string) { super(message, 'NotFoundError', 404) }
}

/** The HTTP method is not allowed on this route. */
export class MethodNotAllowedError extends PeerdError {
  constructor (message: string) { super(message, 'MethodNotAllowedError', 405) }
}

/** A request body is larger than the API accepts. */
export class PayloadTooLargeError extends PeerdError {
  constructor (message: string) { super(message, 'PayloadTooLargeError', 413) }
}

/** Another daemon already uses this data directory. */
export class DataDirLockedError extends PeerdError {
  constructor (message: string, options?: ErrorOptions) { super(message, 'DataDirLockedError', 409, options) }
}

/** The identity key file cannot be read or decoded. It is never replaced silently. */
export class KeyFileError extends PeerdError {
  constructor (message: string, options?: ErrorOptions) { super(message, 'KeyFileError', 500, options) }
}

/** The config file cannot be read or is invalid. */
export class ConfigError extends PeerdError {
  constructor (message: string, options?: ErrorOptions) { super(message, 'ConfigError', 400, options) }
}

/** A listen address could not be bound (in use, not local, not permitted). */
export class ListenError extends PeerdError {
  constructor (message: string, options?: ErrorOptions) { super(message, 'ListenError', 500, options) }
}

/** Dialling a peer failed. */
export class DialError extends PeerdError {
  constructor (message: string, options?: ErrorOptions) { super(message, 'DialError', 502, options) }
}

/** The node is not running (not started yet, or stopping). */
export class NotStartedError extends PeerdError {
  constructor (message = 'the node is not running') { super(message, 'NotStartedError', 503) }
}

/** The CLI cannot reach a daemon for its data directory. */
export class DaemonNotRunningError extends PeerdError {
  constructor (message: string, options?: ErrorOptions) { super(message, 'DaemonNotRunningError', 503, options) }
}

/** The daemon answered with an error; carries its name and message through to the CLI. */
export class ApiError extends PeerdError {
  constructor (name: string, message: string, status: number) { super(message, name, status) }
}

/** A command line that does not parse: the CLI prints usage and exits with code 2. */
export class UsageError extends PeerdError {
  constructor (message: string) { super(message, 'UsageError', 400) }
}

/** Turns anything thrown into `{ name, message }` for JSON output. */
export function errorToJson (err: unknown): { name: string, message: string } {
  if (err instanceof Error) return { name: err.name, message: err.message }
  return { name: 'Error', message: String(err) }
}
