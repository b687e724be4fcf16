import assert from 'node:assert/strict'
import { chmod, mkdir, open, readdir, readFile, rename, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { dataDirPaths, ensureDataDir, loadOrCreateKey, openLockedStore, writeFileAtomic } from '../../../src/node/data-dir.ts'
import { tempDir } from '../../utils/index.ts'

describe('data dir', () => {
  it('writeFileAtomic: a failed flush removes the temporary file and keeps the original', async () => {
    const d = await tempDir()
    try {
      const target = join(d.path, 'cookie')
      await writeFile(target, 'old')
      const failingSync: typeof open = async (...args) => {
        const fh = await open(...args)
        fh.sync = async () => { throw Object.assign(new Error('EIO: i/o error, fsync'), { code: 'EIO' }) }
        return fh
      }
      await assert.rejects(writeFileAtomic(target, 'new', 0o600, { open: failingSync, chmod, rename }), /EIO/)
      assert.deepEqual(await readdir(d.path), ['cookie'])
      assert.equal(await readFile(target, 'utf8'), 'old')
    } finally {
      await d.cleanup()
    }
  })

  it('writeFileAtomic: a failed rename (the target is a folder) removes the temporary file', async () => {
    const d = await tempDir()
    try {
      const target = join(d.path, 'api')
      await mkdir(target)
      await writeFile(join(target, 'inside'), 'kept')
      await assert.rejects(writeFileAtomic(target, 'new'), (e: NodeJS.ErrnoException) => e.code === 'EISDIR' || e.code === 'ENOTEMPTY')
      assert.deepEqual(await readdir(d.path), ['api'])
      assert.equal(await readFile(join(target, 'inside'), 'utf8'), 'kept')
    } finally {
      await d.cleanup()
    }
  })

  it('creates an Ed25519 key once, mode 0600, and loads the same key after', async () => {
    const d = await tempDir()
    try {
      const paths = dataDirPaths(d.path)
      const first = await loadOrCreateKey(paths)
      assert.equal(first.created, true)
      assert.equal(first.key.type, 'Ed25519')
      assert.equal((await stat(paths.key)).mode & 0o777, 0o600)
      const again = await loadOrCreateKey(paths)
      assert.equal(again.created, false)
      assert.ok(again.key.equals(first.key))
    } finally {
      await d.cleanup()
    }
  })

  it('refuses a corrupted key file and leaves it as it was', async () => {
    const d = await tempDir()
    try {
      const paths = dataDirPaths(d.path)
      const junk = Buffer.from('this is not a key')
      await writeFile(paths.key, junk)
      await assert.rejects(loadOrCreateKey(paths), (e: Error) => e.name === 'KeyFileError' && /corrupted/.test(e.message))
      assert.deepEqual(await readFile(paths.key), junk)
    } finally {
      await d.cleanup()
    }
  })

  it('lets one store hold the lock; a second open is refused with DataDirLockedError', async () => {
    const d = await tempDir()
    try {
      await ensureDataDir(d.path)
      const paths = dataDirPaths(d.path)
      const db = await openLockedStore(paths)
      await assert.rejects(openLockedStore(paths), (e: Error) => e.name === 'DataDirLockedError' && /in use/.test(e.message))
      await db.close()
      const again = await openLockedStore(paths)
      await again.close()
    } finally {
      await d.cleanup()
    }
  })
})
