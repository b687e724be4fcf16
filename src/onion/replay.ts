/**
 * A relay's memory of the client keys (X) it has answered, per onion key, so a recorded
 * onionskin replayed within the onion key's lifetime is refused. Bounded both ways: at most
 * `maxKeys` onion keys (a relay keeps its current and its previous few; the oldest is forgotten
 * first) and at most `maxEntries` X values per key, the least recently seen dropped first. A
 * replay older than the last `maxEntries` handshakes under a key gets through: the bound is what
 * keeps a flood of onionskins from growing memory, and rotating the onion key ends every replay.
 *
 *     const replay = new ReplayFilter()
 *     ntorServerHandshake(onionskin, relayKeys, { replay })   // a second time: HandshakeReplayError
 */

/** Bounds of a {@link ReplayFilter}. */
export interface ReplayFilterOptions {
  /** X values remembered per onion key (default 65536; each costs a 32-character string and a Set slot). */
  readonly maxEntries?: number
  /** Onion keys remembered (default 4). */
  readonly maxKeys?: number
}

function key (bytes: Uint8Array): string {
  // one byte per character: a compact V8 string, and a Map key compared by value
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1')
}

/** A bounded set of (onion key, X) pairs seen; see the module header. */
export class ReplayFilter {
  readonly maxEntries: number
  readonly maxKeys: number
  // Map and Set iterate in insertion order: the first entry is the least recently seen
  private readonly seen = new Map<string, Set<string>>()

  constructor (options: ReplayFilterOptions = {}) {
    this.maxEntries = options.maxEntries ?? 65536
    this.maxKeys = options.maxKeys ?? 4
    if (!Number.isSafeInteger(this.maxEntries) || this.maxEntries < 1) throw new RangeError(`maxEntries must be a positive integer, got ${this.maxEntries}`)
    if (!Number.isSafeInteger(this.maxKeys) || this.maxKeys < 1) throw new RangeError(`maxKeys must be a positive integer, got ${this.maxKeys}`)
  }

  /** Records X under `onionKey`: true when it is new, false when it was seen before (a replay). */
  add (onionKey: Uint8Array, x: Uint8Array): boolean {
    const k = key(onionKey)
    let set = this.seen.get(k)
    if (set == null) {
      set = new Set()
      this.seen.set(k, set)
      if (this.seen.size > this.maxKeys) this.seen.delete(this.seen.keys().next().value as string)
    }
    const v = key(x)
    const replayed = set.delete(v)
    set.add(v)
    if (set.size > this.maxEntries) set.delete(set.values().next().value as string)
    return !replayed
  }

  /** Forgets everything seen under `onionKey` (the key was retired, so its handshakes fail anyway). */
  forget (onionKey: Uint8Array): void {
    this.seen.delete(key(onionKey))
  }

  /** X values remembered under `onionKey`. */
  size (onionKey: Uint8Array): number {
    return this.seen.get(key(onionKey))?.size ?? 0
  }
}
