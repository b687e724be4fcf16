/**
 * Leveled structured logging to stderr: one JSON object a line when stderr is not a TTY
 * (for log collectors), a short human line on a TTY. Fields whose names look like secrets
 * are redacted, and so are BIP32 extended keys anywhere in a line, so a cookie, key or wallet
 * xpub never reaches a log.
 *
 * @example
 * ```ts
 * const log = createLogger({ level: 'info' }).child('net')
 * log.info('peer connected', { peerId })
 * ```
 */

/** Log levels, most severe first. */
export const LOG_LEVELS = ['error', 'warn', 'info', 'debug', 'trace'] as const
/** One of {@link LOG_LEVELS}, or `silent`. */
export type LogLevel = typeof LOG_LEVELS[number] | 'silent'

/** Structured fields attached to a log line. */
export type LogFields = Record<string, unknown>

/** A logger for one component. */
export interface Logger {
  error (msg: string, fields?: LogFields): void
  warn (msg: string, fields?: LogFields): void
  info (msg: string, fields?: LogFields): void
  debug (msg: string, fields?: LogFields): void
  trace (msg: string, fields?: LogFields): void
  /** A logger whose lines carry `component: name`. */
  child (name: string): Logger
}

/** Where and how a logger writes. */
export interface LoggerOptions {
  level?: LogLevel
  /** Defaults to process.stderr. */
  write?: (line: string) => void
  /** Human-readable lines instead of JSON. Defaults to whether stderr is a TTY. */
  pretty?: boolean
}

const SECRET = /cookie|secret|passphrase|password|mnemonic|private|token|authorization|xpub|xprv|tpub|tprv|seed/i
/**
 * BIP32 extended keys (base58, 111 characters) wherever they appear in a line: an account xpub
 * tells whoever reads the log every address of the wallet, past and future.
 */
const EXTENDED_KEY = /\b[xt](?:pub|prv)[1-9A-HJ-NP-Za-km-z]{100,}/g

function scrub (text: string): string {
  return text.replace(EXTENDED_KEY, '[redacted]')
}

/** Whether `s` names a log level. */
export function isLogLevel (s: string): s is LogLevel {
  return s === 'silent' || (LOG_LEVELS as readonly string[]).includes(s)
}

function redact (fields: LogFields): LogFields {
  const out: LogFields = {}
  for (const [k, v] of Object.entries(fields)) {
    if (SECRET.test(k)) out[k] = '[redacted]'
    else if (v instanceof Error) out[k] = scrub(v.message)
    else if (typeof v === 'string') out[k] = scrub(v)
    else if (typeof v === 'bigint') out[k] = v.toString()
    else if (v != null && typeof v === 'object' && typeof (v as { toString?: unknown }).toString === 'function' &&
      (v as object).constructor !== Object && !Array.isArray(v)) out[k] = scrub(String(v))
    else out[k] = v
  }
  return out
}

/** A logger that writes nothing: the default of components built without one. */
export const SILENT_LOGGER: Logger = {
  error () {}, warn () {}, info () {}, debug () {}, trace () {}, child () { return SILENT_LOGGER }
}

/** Creates the root logger. */
export function createLogger (options: LoggerOptions = {}): Logger {
  const level = options.level ?? 'info'
  const max = level === 'silent' ? -1 : LOG_LEVELS.indexOf(level)
  const write = options.write ?? ((line: string) => { process.stderr.write(line + '\n') })
  const pretty = options.pretty ?? process.stderr.isTTY === true

  const make = (component: string | undefined): Logger => {
    const emit = (lvl: typeof LOG_LEVELS[number], msg: string, fields?: LogFields): void => {
      if (LOG_LEVELS.indexOf(lvl) > max) return
      const clean = fields == null ? {} : redact(fields)
      msg = scrub(msg)
      if (pretty) {
        const time = new Date().toISOString().slice(11, 19)
        const extra = Object.entries(clean).map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`).join(' ')
        write(`${time} ${lvl.toUpperCase().padEnd(5)} ${component != null ? `[${component}] ` : ''}${msg}${extra === '' ? '' : ' ' + extra}`)
      } else {
        write(JSON.stringify({ time: new Date().toISOString(), level: lvl, ...(component != null ? { component } : {}), msg, ...clean }))
      }
    }
    return {
      error: (m, f) => { emit('error', m, f) },
      warn: (m, f) => { emit('warn', m, f) },
      info: (m, f) => { emit('info', m, f) },
      debug: (m, f) => { emit('debug', m, f) },
      trace: (m, f) => { emit('trace', m, f) },
      child: (name) => make(component == null ? name : `${component}:${name}`)
    }
  }
  return make(undefined)
}
