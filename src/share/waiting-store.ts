/**
 * A read-only view of the block store that waits for blocks a running download has not
 * stored yet, so a file can be written or streamed while it is still being fetched.
 */
import type { CID } from 'multiformats/cid'
import { blockKey } from './block.ts'
import { BlockNotFoundError } from './blockstore.ts'
import type { FsBlockstore } from './blockstore.ts'

/** Waits for blocks until `failed` is set. */
export class WaitingBlockstore {
  private readonly store: FsBlockstore
  private readonly waiters = new Map<string, Array<{ cid: CID, resolve: (b: Uint8Array) => void, reject: (e: Error) => void }>>()
  private failure?: Error
  private settled = false
  private readonly unsubscribe: () => void

  constructor (store: FsBlockstore) {
    this.store = store
    this.unsubscribe = store.onPut((cid, bytes) => {
      const key = blockKey(cid)
      const list = this.waiters.get(key)
      if (list == null) return
      this.waiters.delete(key)
      const data = bytes()
      for (const w of list) w.resolve(data)
    })
  }

  /** Fails every current and future wait with `err` (the download failed). */
  fail (err: Error): void {
    this.failure = err
    for (const list of this.waiters.values()) for (const w of list) w.reject(err)
    this.waiters.clear()
  }

  /**
   * The download behind this view has finished: every block is local, so a block still missing
   * now never comes (deleted meanwhile). Pending and later waits for one fail at once.
   */
  settle (): void {
    this.settled = true
    for (const list of this.waiters.values()) for (const w of list) w.reject(new BlockNotFoundError(w.cid))
    this.waiters.clear()
  }

  /** Stops listening to the store. */
  close (): void {
    this.unsubscribe()
    this.fail(new Error('closed'))
  }

  async has (cid: CID): Promise<boolean> {
    return await this.store.has(cid)
  }

  private async local (cid: CID): Promise<Uint8Array | undefined> {
    if (!await this.store.has(cid)) return undefined
    try {
      return await this.store.getBytes(cid)
    } catch {
      return undefined // removed as corrupt: wait for it again
    }
  }

  async getBytes (cid: CID, options: { signal?: AbortSignal } = {}): Promise<Uint8Array> {
    if (this.failure != null) throw this.failure
    const here = await this.local(cid)
    if (here != null) return here
    if (this.settled) throw new BlockNotFoundError(cid)
    const key = blockKey(cid)
    const waiter = { cid, resolve: (_: Uint8Array) => {}, reject: (_: Error) => {} }
    const arrived = new Promise<Uint8Array>((resolve, reject) => {
      waiter.resolve = resolve
      waiter.reject = reject
    })
    const list = this.waiters.get(key) ?? []
    list.push(waiter)
    this.waiters.set(key, list)
    const drop = (): void => {
      const l = this.waiters.get(key)?.filter(w => w !== waiter) ?? []
      if (l.length === 0) this.waiters.delete(key)
      else this.waiters.set(key, l)
    }
    const onAbort = (): void => { drop(); waiter.reject(options.signal?.reason as Error) }
    options.signal?.addEventListener('abort', onAbort, { once: true })
    try {
      // registered, then checked again: a block stored in between is not missed
      const raced = await this.local(cid)
      if (raced != null) {
        drop()
        return raced
      }
      return await arrived
    } finally {
      options.signal?.removeEventListener('abort', onAbort)
    }
  }

  async * get (cid: CID, options: { signal?: AbortSignal } = {}): AsyncGenerator<Uint8Array> {
    yield await this.getBytes(cid, options)
  }
}
