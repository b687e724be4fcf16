/**
 * The data directory: its layout, the exclusive lock that keeps a second daemon out, and the
 * node's identity key.
 *
 * The lock is LevelDB's own (an OS file lock on `libp2p/LOCK`): the kernel releases it when the
 * process dies, so a daemon killed with `kill -9` never leaves a stale lock behind.
 *
 * What peerd creates itself is private: folders 0700, files 0600, with explicit modes (the
 * library never changes the process's umask; the daemon launcher sets 077 so that LevelDB's
 * own files are private too).
 */
import { chmod, mkdir, open, readFile, rename, stat, unlink } from 'node:fs/promises'
import { dirname } from 'node:path'
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { Level } from 'level'
import { DataDirLockedError, KeyFileError } from '../errors.ts'
import type { DataDirPaths } from './paths.ts'

export { dataDirPaths } from './paths.ts'
export type { DataDirPaths } from './paths.ts'

/** Mode of every folder peerd creates in a data dir. */
export const DIR_MODE = 0o700
/** Mode of every file peerd creates in a data dir. */
export const FILE_MODE = 0o600

/** Creates the data dir (mode 0700) when missing. */
export async function ensureDataDir (root: string): Promise<void> {
  await mkdir(root, { recursive: true, mode: DIR_MODE })
}

/**
 * A warning when other users may read the data dir (it holds the wallet, the identity key and
 * the API cookie), or undefined when it is private.
 */
export async function dataDirWarning (root: string): Promise<string | undefined> {
  const mode = (await stat(root)).mode & 0o777
  if ((mode & 0o077) === 0) return undefined
  return `data dir ${root} is open to other users (mode ${mode.toString(8)}): it holds the wallet, the identity key and the API cookie. Run \`chmod -R go-rwx ${root}\``
}

/**
 * Opens the libp2p LevelDB, which doubles as the data dir's lock.
 *
 * @throws DataDirLockedError when another process holds it
 */
export async function openLockedStore (paths: DataDirPaths): Promise<Level<string, Uint8Array>> {
  await mkdir(paths.libp2p, { recursive: true, mode: DIR_MODE })
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
  await writeFileAtomic(paths.key, privateKeyToProtobuf(key), FILE_MODE)
  return { key, created: true }
}

/** Whether a file's mode lets group or others read it. */
export async function isGroupOrWorldReadable (path: string): Promise<boolean> {
  const s = await stat(path)
  return (s.mode & 0o077) !== 0
}

/** The file-system calls {@link writeFileAtomic} makes, replaceable per call (tests inject failures). */
export interface AtomicWriteFs {
  open: typeof open
  chmod: typeof chmod
  rename: typeof rename
}

const nodeFs: AtomicWriteFs = { open, chmod, rename }

/**
 * Writes `data` to a temporary file with `mode`, flushes it, renames it over `path` and flushes
 * the folder, so that after a power cut `path` holds the old or the new content, never nothing.
 * When a step before the rename fails, the temporary file is removed and `path` is untouched.
 */
export async function writeFileAtomic (path: string, data: Uint8Array | string, mode = FILE_MODE, fs: AtomicWriteFs = nodeFs): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}-${Date.now()}`
  const fh = await fs.open(tmp, 'wx', mode)
  try {
    try {
      await fh.writeFile(data)
      await fh.sync()
    } finally {
      await fh.close()
    }
    await fs.chmod(tmp, mode) // the umask may have narrowed or the file system widened it
    await fs.rename(tmp, path)
  } catch (err) {
    await unlink(tmp).catch(() => {}) // a full disk must not also collect half-written copies
    throw err
  }
  await syncDir(dirname(path))
}

/**
 * Flushes a folder's entries (a rename or a new file in it) to disk. File systems that cannot
 * open or flush a folder (Windows, some network mounts) are skipped: they give no such promise.
 */
export async function syncDir (dir: string): Promise<void> {
  let fh
  try {
    fh = await open(dir, 'r')
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'EISDIR' || code === 'EPERM' || code === 'EACCES') return
    throw err
  }
  try {
    await fh.sync()
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code !== 'EINVAL' && code !== 'ENOTSUP' && code !== 'EPERM') throw err
  } finally {
    await fh.close()
  }
}

/** Removes a file, ignoring one that is already gone. */
export async function removeFile (path: string): Promise<void> {
  try {
    await unlink(path)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
  }
}
