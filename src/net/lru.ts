/**
 * A map with a fixed capacity that forgets its least recently used entry when full, for tables
 * keyed by what peers choose (peer ids, addresses): a flood of new keys pushes out only the
 * oldest entries, never everyone's.
 *
 * @example
 * ```ts
 * const seen = new LruMap<string, number>(4096)
 * seen.set(peerId, Date.now())
 * seen.get(peerId) // also marks it as recently used
 * ```
 */
export class LruMap<K, V> {
  /** Most entries kept. */
  readonly capacity: number
  // a Map iterates in insertion order: re-inserting on use keeps the least recent first
  private readonly map = new Map<K, V>()

  constructor (capacity: number) {
    if (!(capacity >= 1)) throw new RangeError(`an LRU map needs a capacity of at least 1, not ${capacity}`)
    this.capacity = capacity
  }

  /** Number of entries. */
  get size (): number {
    return this.map.size
  }

  /** The value of `key`, marking it as recently used. */
  get (key: K): V | undefined {
    const value = this.map.get(key)
    if (value === undefined) return undefined
    this.map.delete(key)
    this.map.set(key, value)
    return value
  }

  /** The value of `key`, leaving its place as it is. */
  peek (key: K): V | undefined {
    return this.map.get(key)
  }

  has (key: K): boolean {
    return this.map.has(key)
  }

  /** Sets `key` as the most recently used entry, evicting the least recently used one if full. */
  set (key: K, value: V): this {
    this.map.delete(key)
    this.map.set(key, value)
    if (this.map.size > this.capacity) {
      const oldest = this.map.keys().next()
      if (oldest.done !== true) this.map.delete(oldest.value)
    }
    return this
  }

  delete (key: K): boolean {
    return this.map.delete(key)
  }

  clear (): void {
    this.map.clear()
  }

  /** The least recently used entry, if any. */
  oldest (): [K, V] | undefined {
    const first = this.map.entries().next()
    return first.done === true ? undefined : first.value
  }

  /** Entries from least to most recently used. */
  entries (): IterableIterator<[K, V]> {
    return this.map.entries()
  }
}
