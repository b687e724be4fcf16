/**
 * Names in downloaded content: a directory entry whose name could escape the output (`..`, `.`,
 * empty, absolute, or with a slash, backslash or NUL) is refused before anything is written.
 * (Downloads are written by the OutputWriter in output.ts.)
 */
import { PeerdError } from '../errors.ts'

/** A directory entry name that is unsafe to write. */
export class UnsafePathError extends PeerdError {
  static override name = 'UnsafePathError'
}

/** Throws {@link UnsafePathError} unless `name` is one plain path segment. */
export function checkEntryName (name: string): void {
  if (name === '' || name === '.' || name === '..' || name.includes('/') || name.includes('\\') || name.includes('\0')) {
    throw new UnsafePathError(`refusing directory entry ${JSON.stringify(name)}: names must be a single path segment (no "..", slashes or NUL)`)
  }
}
