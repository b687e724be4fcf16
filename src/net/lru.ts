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
  // A list from least to most recently used beside the index. (A Map re-inserted on use would
  // keep the order too, but evicting from its front leaves holes that every later look for the
  // oldest entry walks over, so a full map's sets grow slower as it churns.)
  private readonly index = new Map<K, Entry<K, V>>()
  private head: Entry<K, V> | undefined
  private tail: Entry<K, V> | undefined

  constructor (capacity: number) {
    if (!(capacity >= 1)) throw new RangeError(`an LRU map needs a capacity of at least 1, not ${capacity}`)
    this.capacity = capacity
  }

  /** Number of entries. */
  get size (): number {
    return this.index.size
  }

  /** The value of `key`, marking it as recently used. */
  get (key: K): V | undefined {
    const e = this.index.get(key)
    if (e == null) return undefined
    this.unlink(e)
    this.append(e)
    return e.value
  }

  /** The value of `key`, leaving its place as it is. */
  peek (key: K): V | undefined {
    return this.index.get(key)?.value
  }

  has (key: K): boolean {
    return this.index.has(key)
  }

  /** Sets `key` as the most recently used entry, evicting the least recently used one if full. */
  set (key: K, value: V): this {
    const e = this.index.get(key)
    if (e != null) {
      e.value = value
      this.unlink(e)
      this.append(e)
      return this
    }
    const added: Entry<K, V> = { key, value, prev: undefined, next: undefined }
    this.index.set(key, added)
    this.append(added)
    if (this.index.size > this.capacity && this.head != null) this.delete(this.head.key)
    return this
  }

  delete (key: K): boolean {
    const e = this.index.get(key)
    if (e == null) return false
    this.index.delete(key)
    this.unlink(e)
    return true
  }

  clear (): void {
    this.index.clear()
    this.head = this.tail = undefined
  }

  /** The least recently used entry, if any. */
  oldest (): [K, V] | undefined {
    return this.head == null ? undefined : [this.head.key, this.head.value]
  }

  /** Entries from least to most recently used. */
  * entries (): IterableIterator<[K, V]> {
    for (let e = this.head; e != null; e = e.next) yield [e.key, e.value]
  }

  private append (e: Entry<K, V>): void {
    e.prev = this.tail
    e.next = undefined
    if (this.tail != null) this.tail.next = e
    else this.head = e
    this.tail = e
  }

  private unlink (e: Entry<K, V>): void {
    if (e.prev != null) e.prev.next = e.next
    else this.head = e.next
    if (e.next != null) e.next.prev = e.prev
    else this.tail = e.prev
    e.prev = e.next = undefined
  }
}

interface Entry<K, V> {
  key: K
  value: V
  prev: Entry<K, V> | undefined
  next: Entry<K, V> | undefined
}
