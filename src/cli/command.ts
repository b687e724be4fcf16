/**
 * The shape of a CLI command, the options every command takes, and strict argument parsing:
 * an unknown flag, a missing value or a wrong number of arguments is a {@link UsageError}.
 */
import { homedir } from 'node:os'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import type { ParseArgsConfig } from 'node:util'
import { UsageError } from '../errors.ts'

/** Option definitions, as `node:util` parseArgs takes them. */
export type OptionsSpec = NonNullable<ParseArgsConfig['options']>
/** Parsed option values. */
export type OptionValues = Record<string, string | boolean | string[] | boolean[] | undefined>

/** What a command's `run` receives. */
export interface CommandContext {
  values: OptionValues
  positionals: string[]
  /** `--json`: machine-readable output. */
  json: boolean
  /** The data dir (`--data-dir`, else `PEERD_DATA_DIR`, else `~/.peerd`), absolute. */
  dataDir: string
}

/** One `peerd` command. */
export interface Command {
  name: string
  /** One line for the command list. */
  summary: string
  /** Usage line(s) after `peerd `, e.g. `connect MULTIADDR`. */
  usage: string
  /** Option help lines, shown by `peerd CMD --help`. */
  help?: string
  options: OptionsSpec
  /** Positional arguments allowed. */
  args: { min: number, max: number }
  /** Runs the command; resolves to the exit code (default 0). */
  run (ctx: CommandContext): Promise<number | undefined>
}

/** Options every command accepts. */
export const GLOBAL_OPTIONS: OptionsSpec = {
  'data-dir': { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' }
}

/** Help for the global options. */
export const GLOBAL_HELP = `  --data-dir DIR   the node's data directory (default: $PEERD_DATA_DIR, else ~/.peerd)
  --json           machine-readable output; errors as {"error": {"name", "message"}}
  -h, --help       this help`

/** The data dir the CLI uses when no flag says otherwise. */
export function defaultDataDir (env: NodeJS.ProcessEnv = process.env): string {
  const fromEnv = env.PEERD_DATA_DIR
  return fromEnv != null && fromEnv !== '' ? resolve(fromEnv) : join(homedir(), '.peerd')
}

/** Finds the command name: the first argument that is neither a flag nor a global flag's value. */
export function splitCommand (argv: string[]): { name: string | undefined, rest: string[] } {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string
    if (a === '--') break
    if (a === '--data-dir') { i++; continue }
    if (a.startsWith('-')) continue
    return { name: a, rest: [...argv.slice(0, i), ...argv.slice(i + 1)] }
  }
  return { name: undefined, rest: argv }
}

/** Parses `args` for `cmd`; throws {@link UsageError} on anything off. */
export function parseCommandArgs (cmd: Command, args: string[]): CommandContext {
  let parsed
  // a negative number is an argument (an amount to refuse with a clear message), not a flag
  const negatives: string[] = []
  const masked = args.map((a) => /^-\d/.test(a) ? `\u0000${negatives.push(a) - 1}` : a)
  try {
    parsed = parseArgs({ args: masked, options: { ...GLOBAL_OPTIONS, ...cmd.options }, strict: true, allowPositionals: true })
  } catch (err) {
    throw new UsageError((err as Error).message.replace(/\. To specify a positional argument.*$/s, ''))
  }
  const unmask = (v: string): string => v.startsWith('\u0000') ? negatives[Number(v.slice(1))] as string : v
  const values: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(parsed.values)) values[k] = typeof v === 'string' ? unmask(v) : Array.isArray(v) ? v.map((x) => typeof x === 'string' ? unmask(x) : x) : v
  const positionals = parsed.positionals.map(unmask)
  if (values.help !== true) {
    if (positionals.length < cmd.args.min) throw new UsageError(`missing argument: usage: peerd ${cmd.usage}`)
    if (positionals.length > cmd.args.max) throw new UsageError(`unexpected argument "${positionals[cmd.args.max] ?? ''}": usage: peerd ${cmd.usage}`)
  }
  const dd = values['data-dir']
  return {
    values: values as OptionValues,
    positionals,
    json: values.json === true,
    dataDir: typeof dd === 'string' && dd !== '' ? resolve(dd) : defaultDataDir()
  }
}

/** Reads an integer option within [min, max]; undefined when absent. */
export function intOption (values: OptionValues, name: string, min: number, max: number): number | undefined {
  const v = values[name]
  if (v == null) return undefined
  const n = Number(v)
  if (typeof v !== 'string' || !/^\d+$/.test(v) || n < min || n > max) {
    throw new UsageError(`--${name} takes a whole number from ${min} to ${max}, not "${String(v)}"`)
  }
  return n
}

/** Reads a repeatable string option. */
export function listOption (values: OptionValues, name: string): string[] | undefined {
  const v = values[name]
  if (v == null) return undefined
  return (Array.isArray(v) ? v : [v]).map(String)
}
