/**
 * The share service's LevelDB (`DATA/share`): one record per root this node holds.
 *
 * Keys:
 * - `version` → format version (number)
 * - `root/<cid>` → {@link RootRecord}
 * - `ref/<block key>` → {@link BlockRef}: a block kept inside a downloaded file
 */
import { Level } from 'level'
import type { BlockRef, RefStore } from './blockstore.ts'
import { ShareDbError } from './errors.ts'
import type { RootRecord } from './types.ts'

export type { RootRecord }

/** References a {@link ShareDb.refs} table holds in memory before it writes them. */
const REF_BATCH = 16
/** Longest a reference waits in memory before it is written, ms. */
const REF_DELAY_MS = 10

/** On-disk format version of the share DB. */
export const SHARE_DB_VERSION = 1


/** The roots table. */
export class ShareDb {
  readonly db: Level<string, unknown>
  private refStore?: RefStore

  constructor (path: string) {
    this.db = new Level<string, unknown>(path, { valueEncoding: 'json' })
  }

  async open (): Promise<void> {
    await this.db.open()
    let version: unknown
    try { version = await this.db.get('version') } catch { version = undefined }
    if (version == null) await this.db.put('version', SHARE_DB_VERSION)
    else if (version !== SHARE_DB_VERSION) throw new ShareDbError(`share database format ${String(version)} is not supported by this peerd (expects ${SHARE_DB_VERSION})`)
  }

  async close (): Promise<void> {
    await this.refStore?.flush?.().catch(() => {})
    await this.db.close()
  }

  async get (cid: string): Promise<RootRecord | undefined> {
    const v = await this.db.get(`root/${cid}`)
    return (v ?? undefined) as RootRecord | undefined
  }

  async put (rec: RootRecord): Promise<void> {
    await this.db.put(`root/${rec.cid}`, rec)
  }

  async delete (cid: string): Promise<void> {
    await this.db.del(`root/${cid}`)
  }

  /**
   * The block reference table, for the block store. A download stores a reference per block:
   * they are kept in memory (where `get` finds them) and written in batches, at most
   * {@link REF_BATCH} of them or {@link REF_DELAY_MS} after the first, and by `flush()`. A crash
   * loses only the references of the last moment, whose blocks are then fetched again.
   */
  refs (): RefStore {
    this.refStore ??= this.makeRefs()
    return this.refStore
  }

  private makeRefs (): RefStore {
    const db = this.db
    /** Every reference not yet known to be in the database. */
    const unwritten = new Map<string, BlockRef>()
    /** Those not yet in a batch under way. */
    let queued = new Map<string, BlockRef>()
    let timer: ReturnType<typeof setTimeout> | undefined
    let writing: Promise<void> = Promise.resolve()
    let failure: Error | undefined
    const write = (): Promise<void> => {
      if (timer != null) clearTimeout(timer)
      timer = undefined
      if (queued.size === 0) return writing
      const batch = queued
      queued = new Map()
      // one batch at a time, in order, so an older reference never lands after a newer one
      writing = writing.then(async () => {
        await db.batch([...batch].map(([key, value]) => ({ type: 'put' as const, key: `ref/${key}`, value })))
        for (const [key, value] of batch) if (unwritten.get(key) === value) unwritten.delete(key)
      }).catch((err: Error) => {
        // kept in memory and queued again for the next batch; the next put or flush reports it
        failure ??= err
        for (const [key, value] of batch) if (unwritten.get(key) === value && !queued.has(key)) queued.set(key, value)
      })
      return writing
    }
    /** The failure of a batch since the last report, reported once (later batches retry). */
    const report = (): void => {
      const err = failure
      failure = undefined
      if (err != null) throw err
    }
    const store: RefStore = {
      get: async (key) => unwritten.get(key) ?? (await db.get(`ref/${key}`) ?? undefined) as BlockRef | undefined,
      put: async (key, ref) => {
        report()
        unwritten.set(key, ref)
        queued.set(key, ref)
        if (queued.size >= REF_BATCH) void write()
        else if (timer == null) {
          timer = setTimeout(() => { void write() }, REF_DELAY_MS)
          timer.unref?.()
        }
      },
      delete: async (key) => {
        unwritten.delete(key)
        queued.delete(key)
        // chained after the batches under way (none may put it back), and before any later one
        const deleting = writing.then(async () => { await db.del(`ref/${key}`) })
        writing = deleting.catch(() => {})
        await deleting
      },
      keys: async function * () {
        await write() // what is kept in memory too (a failed write leaves those out)
        for await (const k of db.keys({ gte: 'ref/', lt: 'ref0' })) yield k.slice(4)
      },
      flush: async () => {
        await write()
        report()
      }
    }
    return store
  }

  /** Repoints every reference into `fromPrefix` (a temporary output) to `toPrefix`. */
  async moveRefs (fromPrefix: string, toPrefix: string): Promise<number> {
    await this.refStore?.flush?.()
    const ops: Array<{ type: 'put', key: string, value: BlockRef }> = []
    for await (const [key, value] of this.db.iterator({ gte: 'ref/', lt: 'ref0' })) {
      const ref = value as BlockRef
      if (ref.path === fromPrefix || ref.path.startsWith(fromPrefix + '/')) {
        ops.push({ type: 'put', key, value: { ...ref, path: toPrefix + ref.path.slice(fromPrefix.length) } })
      }
    }
    if (ops.length > 0) await this.db.batch(ops)
    return ops.length
  }

  async all (): Promise<RootRecord[]> {
    const out: RootRecord[] = []
    for await (const v of this.db.values({ gte: 'root/', lt: 'root0' })) out.push(v as RootRecord)
    return out
  }
}
