/**
 * ShareDb's block reference table: references are kept in memory and written in batches, so
 * they must read back at once, survive a close, and be seen by moveRefs, keys and delete
 * before they reach the disk.
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { beforeEach, describe, it } from 'node:test'
import { ShareDb } from '../../../src/share/layout.ts'
import { teardownEach } from '../../utils/teardown.ts'

describe('ShareDb references', () => {
  const td = teardownEach()
  let path: string
  // closed once more at teardown, harmless for one a test closed itself or that failed to open
  const closing = (d: ShareDb): ShareDb => { td.add(async () => { await d.close().catch(() => {}) }, 'close a ShareDb'); return d }
  const db = async (): Promise<ShareDb> => {
    const d = closing(new ShareDb(path))
    await d.open()
    return d
  }
  const ref = (i: number): { path: string, offset: number, size: number } => ({ path: '/data/.out.bin.abcdefghijkl.peerd-part', offset: i * 1024, size: 1024 })

  beforeEach(async () => {
    path = join(await td.dir('peerd-sharedb-'), 'share')
  })

  it('reads a reference back at once, and from disk after a flush', async () => {
    const a = await db()
    await a.refs().put('k1', ref(1))
    assert.deepEqual(await a.refs().get('k1'), ref(1))
    await a.refs().flush?.()
    assert.deepEqual(await a.db.get('ref/k1'), ref(1))
  })

  it('writes the references still in memory when it closes', async () => {
    const a = await db()
    for (let i = 0; i < 10; i++) await a.refs().put(`k${i}`, ref(i))
    await a.close()
    const b = await db()
    for (let i = 0; i < 10; i++) assert.deepEqual(await b.refs().get(`k${i}`), ref(i))
  })

  it('writes a batch once it is full, without a flush', async () => {
    const a = await db()
    for (let i = 0; i < 200; i++) await a.refs().put(`k${i}`, ref(i))
    for (let i = 0; i < 50 && await a.db.get('ref/k0') == null; i++) await new Promise(resolve => setTimeout(resolve, 10))
    assert.deepEqual(await a.db.get('ref/k0'), ref(0))
  })

  it('moveRefs and keys include references not yet written', async () => {
    const a = await db()
    await a.refs().put('k1', ref(1))
    await a.refs().put('k2', { ...ref(2), path: '/elsewhere' })
    assert.equal(await a.moveRefs('/data/.out.bin.abcdefghijkl.peerd-part', '/data/out.bin'), 1)
    assert.deepEqual(await a.refs().get('k1'), { ...ref(1), path: '/data/out.bin' })
    const keys: string[] = []
    for await (const k of a.refs().keys()) keys.push(k)
    assert.deepEqual(keys.sort(), ['k1', 'k2'])
  })

  it('a reference deleted while its batch is being written stays deleted', async () => {
    const a = await db()
    const refs = a.refs()
    await refs.put('k1', ref(1))
    const flushing = refs.flush?.()
    await refs.delete('k1')
    await flushing
    await refs.flush?.()
    assert.equal(await refs.get('k1'), undefined)
    await a.close()
    assert.equal(await (await db()).refs().get('k1'), undefined)
  })

  it('a reference put again after its delete is kept', async () => {
    const a = await db()
    const refs = a.refs()
    await refs.put('k1', ref(1))
    const flushing = refs.flush?.()
    const deleting = refs.delete('k1')
    await refs.put('k1', ref(7))
    await Promise.all([flushing, deleting, refs.flush?.()])
    assert.deepEqual(await refs.get('k1'), ref(7))
    await a.close()
    assert.deepEqual(await (await db()).refs().get('k1'), ref(7))
  })

  it('a failed write is reported once, kept in memory, and written by the next batch', async () => {
    const a = await db()
    const refs = a.refs()
    const batch = a.db.batch.bind(a.db)
    let failures = 1
    ;(a.db as unknown as { batch: unknown }).batch = async (...args: unknown[]) => {
      if (failures-- > 0) throw new Error('disk full')
      return await (batch as (...x: unknown[]) => Promise<void>)(...args)
    }
    await refs.put('k1', ref(1))
    await assert.rejects(async () => { await refs.flush?.() }, /disk full/)
    assert.deepEqual(await refs.get('k1'), ref(1), 'the reference is still found')
    await refs.put('k2', ref(2)) // reported once: this put goes through
    await refs.flush?.()
    assert.deepEqual(await a.db.get('ref/k1'), ref(1), 'the failed batch was written again')
    assert.deepEqual(await a.db.get('ref/k2'), ref(2))
  })

  it('refuses a database of another format version with a ShareDbError, and leaves it as it was', async () => {
    const a = await db()
    await a.db.put('version', 99)
    await a.close()
    const b = closing(new ShareDb(path))
    await assert.rejects(b.open(), (err: Error) => err.name === 'ShareDbError' && /format 99 is not supported/.test(err.message))
    assert.equal(await b.db.get('version'), 99)
  })
})
