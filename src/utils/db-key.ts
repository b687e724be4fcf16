/**
 * LevelDB keys of the stores' `layout.ts` files: a one-byte table prefix and the record's id.
 * @module
 */

/** The key `prefix ‖ body`. */
export function keyWith (prefix: number, body: Uint8Array): Uint8Array {
  const key = new Uint8Array(1 + body.length)
  key[0] = prefix
  key.set(body, 1)
  return key
}
