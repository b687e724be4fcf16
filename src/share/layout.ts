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

/** On-disk format version of the share DB. */
export const SHARE_DB_VERSION = 1

/** What this node holds of one root. */
export interface RootRecord {
  cid: string
  /** File or folder name it was shared under ('' when fetched by CID alone). */
  name: string
  /** Bytes of file data (sum of the files for a directory; estimate until complete). */
  size: number
  type: 'file' | 'directory' | 'raw' | 'unknown'
  /** Every block is local. */
  complete: boolean
  /** How it got here. */
  source: 'share' | 'get'
  /** Whether this node announces it and serves it (`unshare` clears it; `gc` then frees it). */
  pinned: boolean
  addedAt: string
}

/** The roots table. */
export class ShareDb {
  readonly db: Level<string, unknown>

  constructor (path: string) {
    this.db = new Level<string, unknown>(path, { valueEncoding: 'json' })
  }

  async open (): Promise<void> {
    await this.db.open()
    let version: unknown
    try { version = await this.db.get('version') } catch { version = undefined }
    if (version == null) await this.db.put('version', SHARE_DB_VERSION)
    else if (version !== SHARE_DB_VERSION) throw new Error(`share database format ${String(version)} is not supported by this peerd (expects ${SHARE_DB_VERSION})`)
  }

  async close (): Promise<void> {
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
   * The block reference table, for the block store. Puts made in the same turn of the event
   * loop go to disk in one batch (a download stores a reference per block).
   */
  refs (): RefStore {
    const db = this.db
    let pending = new Map<string, BlockRef>()
    let scheduled: Promise<void> | undefined
    const flush = async (): Promise<void> => {
      const batch = pending
      pending = new Map()
      scheduled = undefined
      await db.batch([...batch].map(([key, value]) => ({ type: 'put' as const, key: `ref/${key}`, value })))
    }
    return {
      get: async (key) => pending.get(key) ?? (await db.get(`ref/${key}`) ?? undefined) as BlockRef | undefined,
      put: async (key, ref) => {
        pending.set(key, ref)
        scheduled ??= new Promise<void>(resolve => setImmediate(resolve)).then(flush)
        await scheduled
      },
      delete: async (key) => {
        pending.delete(key)
        await db.del(`ref/${key}`)
      },
      keys: async function * () {
        for await (const k of db.keys({ gte: 'ref/', lt: 'ref0' })) yield k.slice(4)
      }
    }
  }

  /** Repoints every reference into `fromPrefix` (a temporary output) to `toPrefix`. */
  async moveRefs (fromPrefix: string, toPrefix: string): Promise<number> {
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
