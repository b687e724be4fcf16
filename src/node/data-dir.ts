/**
 * The data directory: its layout, the exclusive lock that keeps a second daemon out, and the
 * node's identity key.
 *
 * The lock is LevelDB's own (an OS file lock on `libp2p/LOCK`): the kernel releases it when the
 * process dies, so a daemon killed with `kill -9` never leaves a stale lock behind.
 */
import { chmod, mkdir, open, readFile, rename, stat, unlink } from 'node:fs/promises'
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { Level } from 'level'
import { DataDirLockedError, KeyFileError } from '../errors.ts'
import type { DataDirPaths } from './paths.ts'

export { dataDirPaths } from './paths.ts'
export type { DataDirPaths } from './paths.ts'

/** Creates the data dir (mode 0700) when missing. */
export async function ensureDataDir (root: string): Promise<void> {
  await mkdir(root, { recursive: true, mode: 0o700 })
}

/**
 * Opens the libp2p LevelDB, which doubles as the data dir's lock.
 *
 * @throws DataDirLockedError when another process holds it
 */
export async function openLockedStore (paths: DataDirPaths): Promise<Level<string, Uint8Array>> {
  const db = new Level<string, Uint8Array>(paths.libp2p, { valueEncoding: 'view' })
  try {
    await db.open()
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause
    if (cause?.code === 'LEVEL_LOCKED') {
      throw new DataDirLockedError(`data dir ${paths.root} is in use by another peerd daemon: stop it first (\`peerd stop --data-dir ${paths.root}\`) or pick another --data-dir`, { cause: err })
    }
    throw new DataDirLockedError(`cannot open the store in ${paths.libp2p}: ${(cause as Error | undefined)?.message ?? (err as Error).message}`, { cause: err })
  }
  return db
}

/**
 * Reads the identity key, or makes and stores a new Ed25519 key when there is none.
 * A key file that exists but cannot be read or decoded is an error, never replaced.
 */
export async function loadOrCreateKey (paths: DataDirPaths): Promise<{ key: PrivateKey, created: boolean }> {
  let bytes: Uint8Array | undefined
  try {
    bytes = await readFile(paths.key)
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code !== 'ENOENT') {
      throw new KeyFileError(`cannot read identity key ${paths.key}: ${(err as Error).message}. Fix its permissions; the key is not replaced`, { cause: err })
    }
  }
  if (bytes != null) {
    try {
      return { key: privateKeyFromProtobuf(bytes), created: false }
    } catch (err) {
      throw new KeyFileError(`identity key ${paths.key} is corrupted (${(err as Error).message}). Restore it from a backup, or move it away to start with a new peer id; it is not replaced automatically`, { cause: err })
    }
  }
  const key = await generateKeyPair('Ed25519')
  await writeFileAtomic(paths.key, privateKeyToProtobuf(key), 0o600)
  return { key, created: true }
}

/** Whether a file's mode lets group or others read it. */
export async function isGroupOrWorldReadable (path: string): Promise<boolean> {
  const s = await stat(path)
  return (s.mode & 0o077) !== 0
}

/** Writes `data` to a temporary file with `mode`, flushes it, then renames it over `path`. */
export async function writeFileAtomic (path: string, data: Uint8Array | string, mode = 0o644): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}-${Date.now()}`
  const fh = await open(tmp, 'wx', mode)
  try {
    await fh.writeFile(data)
    await fh.sync()
  } finally {
    await fh.close()
  }
  await chmod(tmp, mode) // the umask may have narrowed or the file system widened it
  await rename(tmp, path)
}

/** Removes a file, ignoring one that is already gone. */
export async function removeFile (path: string): Promise<void> {
  try {
    await unlink(path)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
  }
}
