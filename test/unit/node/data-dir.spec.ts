import assert from 'node:assert/strict'
import { readFile, stat, writeFile } from 'node:fs/promises'
import { describe, it } from 'node:test'
import { dataDirPaths, ensureDataDir, loadOrCreateKey, openLockedStore } from '../../../src/node/data-dir.ts'
import { tempDir } from '../../utils/index.ts'

describe('data dir', () => {
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
