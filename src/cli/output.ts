/** Printing results and errors, human or `--json`. */
import { errorToJson } from '../errors.ts'

/** Prints `value` as one JSON line. */
export function printJson (value: unknown): void {
  process.stdout.write(JSON.stringify(value) + '\n')
}

/** Prints lines of text. */
export function printLines (...lines: string[]): void {
  process.stdout.write(lines.join('\n') + '\n')
}

/** Prints an error: `{"error": …}` on stdout with --json, else one line on stderr. */
export function printError (err: unknown, json: boolean): void {
  if (json) printJson({ error: errorToJson(err) })
  else process.stderr.write(`peerd: ${err instanceof Error ? err.message : String(err)}\n`)
}

/** Formats rows as aligned columns. */
export function table (header: string[], rows: string[][]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map(r => (r[i] ?? '').length)))
  const fmt = (r: string[]): string => r.map((c, i) => i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0)).join('  ')
  return [fmt(header), ...rows.map(fmt)]
}
