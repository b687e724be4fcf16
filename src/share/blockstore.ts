/**
 * Blocks on disk: one file per block under `DATA/blocks/<2 chars>/<multihash base32>`, written to
 * a temporary file and renamed into place, so a crash never leaves a half-written block.
 *
 * Nothing unverified goes in: a block is hashed before it is stored. Reads are checked too:
 *
 * - A block kept inside a downloaded file (a reference: that file is the user's, who may edit it
 *   in any way, through a memory map or on a file system with settable times) is hashed on
 *   every read.
 * - A block file, which only peerd writes (once, by rename), is hashed on its first read by the
 *   running daemon, and again whenever its device, inode, size, modification or change time
 *   differ from that read, or differ between the start and the end of a read: a block file
 *   edited, truncated or replaced is caught, and so is anything damaged before the daemon
 *   started. Only files last changed more than {@link RACY_MS} before they were hashed are
 *   trusted, so that a change within the file system's timestamp granularity cannot go unseen;
 *   what is trusted is kept in memory only. Damage to a block file's bytes while the daemon runs
 *   that leaves its times alone (a failing disk) is not caught before the block is served, as in
 *   Kubo and BitTorrent clients: the receiver verifies every block and fetches it elsewhere.
 *
 * A block that fails is deleted and reported missing, so it is fetched again rather than served.
 *
 * An identity CID's block is its own digest: the store holds it without a file, as Helia's
 * IdentityBlockstore does, so it is never written, fetched or deleted, and every reader (the DAG
 * walk, both servers, the exporter) finds it at once. One inlining more than
 * MAX_IDENTITY_DIGEST bytes is not held (a download refuses a DAG that links to one).
 *
 * Implements interface-blockstore, so the UnixFS importer and exporter work on it directly.
 */
import { randomBytes } from 'node:crypto'
import type { Stats } from 'node:fs'
import { mkdir, open, readdir, rename, rm, stat, unlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { AbortOptions } from '@libp2p/interface'
import type { Blockstore, InputPair, Pair } from 'interface-blockstore'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { base32 } from 'multiformats/bases/base32'
import type { Uint8ArrayList } from 'uint8arraylist'
import { DiskWriteError, PeerdError } from '../errors.ts'
import { blockKey, identityBlock, isIdentity, MAX_BLOCK_SIZE, MAX_IDENTITY_DIGEST, verifyBlock } from './block.ts'

/** Modes of the store's folders and files: private, as everything in a data dir. */
const DIR_MODE = 0o700
const FILE_MODE = 0o600

/** A block is not in the store. */
export class BlockNotFoundError extends PeerdError {
  static override name = 'BlockNotFoundError'

  constructor (cid: CID) { super(`block ${cid.toString()} is not in the local store`) }
}

/**
 * A block could not be written (disk full, I/O error, read-only file system). Nothing stored
 * before is lost, and nothing half-written is left under a block's name: free space or fix the
 * disk, then retry.
 */
export class BlockWriteError extends DiskWriteError {
  static override name = 'BlockWriteError'
  /** The file system's error code (ENOSPC, EIO, …), when there is one. */
  readonly code: string | undefined

  constructor (root: string, cause: unknown) {
    const code = (cause as NodeJS.ErrnoException).code
    super(`cannot store a block in ${root}`, root, cause, 'the blocks stored before are kept', code ?? (cause as Error).message)
    this.code = code
  }
}

/** A block's bytes do not match its CID. */
export class InvalidBlockError extends PeerdError {
  static override name = 'InvalidBlockError'
}

async function collect (bytes: InputPair['bytes']): Promise<Uint8Array> {
  if (bytes instanceof Uint8Array) return bytes
  const parts: Uint8Array[] = []
  let size = 0
  for await (const p of bytes) {
    size += p.length
    if (size > MAX_BLOCK_SIZE) throw new InvalidBlockError(`block over ${MAX_BLOCK_SIZE} bytes`)
    parts.push(p)
  }
  return Buffer.concat(parts)
}

/** The block of identity CID `cid` (see the module's comment), or undefined when it inlines too much. */
function inlined (cid: CID): Uint8Array | undefined {
  return cid.multihash.size <= MAX_IDENTITY_DIGEST ? cid.multihash.digest : undefined
}

/** A file's state as the file system reports it, to tell whether its content may have changed. */
interface FileState {
  /** Device, inode, size, modification and change times. */
  id: string
  /** When it last changed (the later of its modification and change times), ms since the epoch. */
  changedMs: number
}

/**
 * A whole block file (at most MAX_BLOCK_SIZE + 1 bytes of it: a longer file is no block of ours
 * and fails verification) and its state after the read (undefined when it differs from the
 * state before: the file changed while being read), or undefined when there is none. One open,
 * stat, read, stat and close: `readFile` reads in 512 KiB steps, and a server reads a block
 * file per block it sends.
 */
async function readBlockFile (path: string): Promise<{ data: Buffer, state: FileState | undefined } | undefined> {
  let fh
  try {
    fh = await open(path, 'r')
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined
    throw err
  }
  try {
    const st = await fh.stat()
    if (!st.isFile()) throw new Error(`${path} is not a file`)
    const size = Math.min(st.size, MAX_BLOCK_SIZE + 1)
    const buf = Buffer.allocUnsafeSlow(size)
    let at = 0
    while (at < size) {
      const { bytesRead } = await fh.read(buf, at, size - at, at)
      if (bytesRead === 0) break // shrank meanwhile: fails verification
      at += bytesRead
    }
    // a write during the read has changed the times by the second stat: such bytes are hashed
    const before = fileState(st)
    const after = fileState(await fh.stat())
    return { data: at === size ? buf : buf.subarray(0, at), state: before.id === after.id ? after : undefined }
  } finally {
    await fh.close()
  }
}

/** Reads `size` bytes at `offset`: the bytes, 'missing' (no such file, or too short), or 'error'. */
async function readRange (path: string, offset: number, size: number): Promise<Uint8Array | 'missing' | 'error'> {
  let fh
  try {
    fh = await open(path, 'r')
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR' ? 'missing' : 'error'
  }
  try {
    const buf = Buffer.allocUnsafe(size)
    const { bytesRead } = await fh.read(buf, 0, size, offset)
    return bytesRead === size ? buf : 'missing'
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EISDIR' ? 'missing' : 'error'
  } finally {
    await fh.close()
  }
}

/**
 * How long after its last change a file's timestamps are trusted to reveal the next change:
 * file systems keep times in steps (a clock tick on many Linux file systems, 2 s on FAT), so a
 * file hashed within a step of being written could change again with the same times. Git calls
 * this the racy-clean problem; the answer is the same: such a file is hashed on every read.
 */
export const RACY_MS = 3000

function fileState (st: Stats): FileState {
  return { id: `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`, changedMs: Math.max(st.mtimeMs, st.ctimeMs) }
}

/** The final path of a path inside a download's temporary output (see OutputWriter), if it is one. */
export function finalPathOf (path: string): string | undefined {
  const m = /^(.*)[\\/]\.([^/\\]+)\.[A-Za-z0-9]{12}\.peerd-part((?:[\\/].*)?)$/.exec(path)
  return m == null ? undefined : `${m[1] ?? ''}/${m[2] ?? ''}${m[3] ?? ''}`
}

/**
 * A listener told of every block newly stored. `bytes()` gives its bytes, joined into one
 * buffer only when a listener asks (the download path keeps them in network chunks).
 */
export type PutListener = (cid: CID, bytes: () => Uint8Array) => void

/** Where a block lives when it is kept inside a downloaded file rather than a block file. */
export interface BlockRef { path: string, offset: number, size: number }

/** Persistent table of block references, by {@link blockKey}. */
export interface RefStore {
  get (key: string): Promise<BlockRef | undefined>
  put (key: string, ref: BlockRef): Promise<void>
  delete (key: string): Promise<void>
  keys (): AsyncIterable<string>
  /** Writes references `put` may have kept in memory (a store that batches its writes). */
  flush?: () => Promise<void>
}

/** The on-disk block store. */
export class FsBlockstore implements Blockstore {
  readonly root: string
  private readonly tmp: string
  private readonly dirs = new Set<string>()
  private readonly listeners = new Set<PutListener>()
  private readonly cache = new Map<string, Uint8Array>()
  private readonly cacheBytes: number
  private cached = 0
  /** Block key → identity of the file last hashed for it (see the module's comment), oldest first. */
  private readonly hashed = new Map<string, string>()
  private readonly maxHashed: number
  private readonly racyMs: number
  /** Blocks read from disk: hashed, or trusted as unchanged since they were hashed. */
  readonly reads = { hashed: 0, trusted: 0 }

  private readonly refs?: RefStore

  /**
   * `cacheBytes`: memory for recently written blocks (default 8 MiB); `refs`: block references
   * into files; `hashedFiles`: how many hashed, unchanged files to remember (default 65,536,
   * about 11 MiB of memory; a block read from a file beyond that is hashed again; 0: always);
   * `racyMs`: {@link RACY_MS}, for tests.
   */
  constructor (root: string, options: { cacheBytes?: number, refs?: RefStore, hashedFiles?: number, racyMs?: number } = {}) {
    this.root = root
    this.cacheBytes = options.cacheBytes ?? 8 * 1024 * 1024
    this.maxHashed = options.hashedFiles ?? 65_536
    this.racyMs = options.racyMs ?? RACY_MS
    this.refs = options.refs
    this.tmp = join(root, 'tmp')
  }

  /**
   * Whether `data`, just read from block file `key` in `state` (taken after the read; undefined
   * when the file changed during it), is block `cid`: hashed, unless the same file in the same
   * state was hashed before.
   */
  private verifyRead (key: string, cid: CID, data: Uint8Array, state: FileState | undefined): boolean {
    const known = this.hashed.get(key)
    if (known != null && known === state?.id) {
      this.hashed.delete(key) // most recently used last
      this.hashed.set(key, known)
      this.reads.trusted++
      return true
    }
    if (known != null) this.hashed.delete(key)
    this.reads.hashed++
    if (!verifyBlock(cid, data)) return false
    if (state != null && this.maxHashed > 0 && Date.now() - state.changedMs > this.racyMs) {
      this.hashed.set(key, state.id)
      if (this.hashed.size > this.maxHashed) this.hashed.delete(this.hashed.keys().next().value as string)
    }
    return true
  }

  /** Creates the folders and clears temporary files left by a crash. */
  async open (): Promise<void> {
    await mkdir(this.root, { recursive: true, mode: DIR_MODE })
    await rm(this.tmp, { recursive: true, force: true })
    await mkdir(this.tmp, { recursive: true, mode: DIR_MODE })
  }

  /** Calls `fn` for every block stored from now on; returns the unsubscribe function. */
  onPut (fn: PutListener): () => void {
    this.listeners.add(fn)
    return () => { this.listeners.delete(fn) }
  }

  /** Where block `cid` (whose {@link blockKey} is `key`) has its file. */
  private pathOf (cid: CID, key = blockKey(cid)): { dir: string, file: string } {
    const dir = join(this.root, key.slice(-3, -1))
    return { dir, file: join(dir, key) }
  }

  async has (cid: CID): Promise<boolean> {
    if (isIdentity(cid)) return inlined(cid) != null
    try {
      await stat(this.pathOf(cid).file)
      return true
    } catch {
      // a reference counts only while its file still reaches that far (the bytes are verified on read)
      const ref = await this.refOf(cid)
      if (ref == null) return false
      const st = await stat(ref.path).catch(() => undefined)
      return st != null && st.size >= ref.offset + ref.size
    }
  }

  /** The reference of a block kept inside a file, if it is kept that way. */
  async refOf (cid: CID): Promise<BlockRef | undefined> {
    if (isIdentity(cid)) return undefined
    return await this.refs?.get(blockKey(cid))
  }

  /** Records that verified block `cid` lives at `ref` (already written there). */
  async putRef (cid: CID, ref: BlockRef, data: Uint8Array | Uint8ArrayList): Promise<void> {
    if (this.refs == null) throw new Error('this block store keeps no references')
    if (isIdentity(cid)) return
    await this.refs.put(blockKey(cid), ref)
    if (data instanceof Uint8Array) this.remember(blockKey(cid), data)
    let joined: Uint8Array | undefined = data instanceof Uint8Array ? data : undefined
    const bytes = (): Uint8Array => (joined ??= (data as Uint8ArrayList).subarray())
    for (const fn of this.listeners) fn(cid, bytes)
  }

  /** Makes the references recorded so far durable (see {@link RefStore.flush}). */
  async flushRefs (): Promise<void> {
    await this.refs?.flush?.()
  }

  private async readRef (cid: CID): Promise<Uint8Array | undefined> {
    const key = blockKey(cid)
    const ref = await this.refs?.get(key)
    if (ref == null) return undefined
    const data = await readRange(ref.path, ref.offset, ref.size)
    if (data === 'missing') {
      // a download renamed its output into place after this reference was written: follow it
      const moved = finalPathOf(ref.path)
      if (moved != null) {
        const there = await readRange(moved, ref.offset, ref.size)
        if (there instanceof Uint8Array && verifyBlock(cid, there)) {
          await this.refs?.put(key, { ...ref, path: moved })
          return there
        }
      }
    }
    if (data === 'error') return undefined // a passing I/O error: keep the reference
    if (data === 'missing' || !verifyBlock(cid, data)) {
      // the file was moved, truncated or changed: this block is gone
      await this.refs?.delete(key).catch(() => {})
      return undefined
    }
    return data
  }

  /** Stores a block after checking it hashes to `cid`. */
  async put (cid: CID, bytes: InputPair['bytes'], _options?: AbortOptions): Promise<CID> {
    identityBlock(cid) // an identity CID over the limit is refused, not stored
    const data = await collect(bytes)
    if (data.length > MAX_BLOCK_SIZE) throw new InvalidBlockError(`block ${cid.toString()} is ${data.length} bytes, over the ${MAX_BLOCK_SIZE} limit`)
    if (!verifyBlock(cid, data)) throw new InvalidBlockError(`block bytes do not match ${cid.toString()}`)
    await this.putVerified(cid, data)
    return cid
  }

  /**
   * Stores a block the caller has just verified against `cid` (the download path, which
   * must verify before it blames a peer, so the store does not hash it twice).
   */
  async putVerified (cid: CID, data: Uint8Array): Promise<void> {
    if (isIdentity(cid)) return
    const { dir, file } = this.pathOf(cid)
    const tmp = join(this.tmp, randomBytes(8).toString('hex'))
    try {
      if (!this.dirs.has(dir)) {
        await mkdir(dir, { recursive: true, mode: DIR_MODE })
        this.dirs.add(dir)
      }
      // No fsync, of the file or its folder: a block file is content-addressed and hashed on its
      // first read after a restart (see the top of this file), so one a power cut left empty or
      // torn under its name is deleted and fetched again, and a lost rename only loses a copy
      // the network has. An fsync per 1 MiB block would slow every download for nothing.
      await this.writeBlockFile(tmp, data)
      await rename(tmp, file)
    } catch (err) {
      await rm(tmp, { force: true }).catch(() => {})
      throw new BlockWriteError(this.root, err)
    }
    this.remember(blockKey(cid), data)
    for (const fn of this.listeners) fn(cid, () => data)
  }

  /** Writes a new block file: the one place block bytes reach the disk (tests inject faults here). */
  protected async writeBlockFile (path: string, data: Uint8Array): Promise<void> {
    await writeFile(path, data, { mode: FILE_MODE, flag: 'wx' })
  }

  /** Keeps recently written blocks in memory, so a reader right behind a download skips the disk. */
  private remember (key: string, data: Uint8Array): void {
    if (this.cache.has(key)) return
    this.cache.set(key, data)
    this.cached += data.length
    for (const [k, v] of this.cache) {
      if (this.cached <= this.cacheBytes) break
      this.cache.delete(k)
      this.cached -= v.length
    }
  }

  async * putMany (source: Iterable<InputPair> | AsyncIterable<InputPair>, options?: AbortOptions): AsyncGenerator<CID> {
    for await (const { cid, bytes } of source) yield await this.put(cid, bytes, options)
  }

  /** Size in bytes of a stored block (not verified). */
  async sizeOf (cid: CID): Promise<number> {
    if (isIdentity(cid)) {
      const inline = inlined(cid)
      if (inline == null) throw new BlockNotFoundError(cid)
      return inline.length
    }
    try {
      return (await stat(this.pathOf(cid).file)).size
    } catch {
      const ref = await this.refOf(cid)
      if (ref == null) throw new BlockNotFoundError(cid)
      return ref.size
    }
  }

  /** Keys ({@link blockKey}) of blocks kept as references into files. */
  async * refKeys (): AsyncGenerator<string> {
    if (this.refs != null) yield * this.refs.keys()
  }

  /** The verified bytes of a block. */
  async getBytes (cid: CID): Promise<Uint8Array> {
    if (isIdentity(cid)) {
      const inline = inlined(cid)
      if (inline == null) throw new BlockNotFoundError(cid)
      return inline
    }
    const key = blockKey(cid)
    const hit = this.cache.get(key)
    if (hit != null) return hit
    const { file } = this.pathOf(cid, key)
    const read = await readBlockFile(file).catch(() => undefined)
    if (read == null) {
      const fromRef = await this.readRef(cid)
      if (fromRef == null) throw new BlockNotFoundError(cid)
      return fromRef
    }
    if (read.data.length > MAX_BLOCK_SIZE || !this.verifyRead(key, cid, read.data, read.state)) {
      // bit rot or a torn write after power loss: drop it so it is fetched again
      await unlink(file).catch(() => {})
      throw new BlockNotFoundError(cid)
    }
    return read.data
  }

  async * get (cid: CID, _options?: AbortOptions): AsyncGenerator<Uint8Array> {
    yield await this.getBytes(cid)
  }

  async * getMany (source: Iterable<CID> | AsyncIterable<CID>): AsyncGenerator<Pair> {
    for await (const cid of source) {
      const bytes = await this.getBytes(cid)
      yield { cid, bytes: (function * () { yield bytes })() }
    }
  }

  async delete (cid: CID): Promise<void> {
    if (isIdentity(cid)) return
    const key = blockKey(cid)
    this.hashed.delete(key)
    const hit = this.cache.get(key)
    if (hit != null) {
      this.cache.delete(key)
      this.cached -= hit.length
    }
    await unlink(this.pathOf(cid).file).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err
    })
    await this.refs?.delete(key)
  }

  async * deleteMany (source: Iterable<CID> | AsyncIterable<CID>): AsyncGenerator<CID> {
    for await (const cid of source) {
      await this.delete(cid)
      yield cid
    }
  }

  /** Every stored block's CID (as raw CIDv1s: the store keys by multihash), without reading them. */
  async * keys (): AsyncGenerator<CID> {
    const shards = await readdir(this.root).catch(() => [] as string[])
    for (const shard of shards) {
      if (shard === 'tmp') continue
      const files = await readdir(join(this.root, shard)).catch(() => [] as string[])
      for (const f of files) {
        try {
          yield CID.createV1(raw.code, CID.decode(base32.decode('b' + f)).multihash)
        } catch {
          // not a block file
        }
      }
    }
  }

  async * getAll (): AsyncGenerator<Pair> {
    for await (const cid of this.keys()) {
      try {
        const bytes = await this.getBytes(cid)
        yield { cid, bytes: (function * () { yield bytes })() }
      } catch {
        // vanished or corrupt
      }
    }
  }

  /** Bytes on disk used by blocks. */
  async diskUsage (): Promise<{ blocks: number, bytes: number }> {
    let blocks = 0
    let bytes = 0
    for await (const cid of this.keys()) {
      try {
        bytes += (await stat(this.pathOf(cid).file)).size
        blocks++
      } catch { /* gone */ }
    }
    return { blocks, bytes }
  }
}
