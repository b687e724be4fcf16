/**
 * Blocks on disk: one file per block under `DATA/blocks/<2 chars>/<multihash base32>`, written to
 * a temporary file and renamed into place, so a crash never leaves a half-written block. Every
 * read is verified against the CID; a block that fails (disk corruption) is deleted and reported
 * missing, so it is fetched again rather than served.
 *
 * Implements interface-blockstore, so the UnixFS importer and exporter work on it directly.
 */
import { randomBytes } from 'node:crypto'
import { mkdir, open, readdir, readFile, rename, rm, stat, unlink } from 'node:fs/promises'
import { join } from 'node:path'
import type { AbortOptions } from '@libp2p/interface'
import type { Blockstore, InputPair, Pair } from 'interface-blockstore'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { base32 } from 'multiformats/bases/base32'
import { PeerdError } from '../errors.ts'
import { blockKey, MAX_BLOCK_SIZE, verifyBlock } from './block.ts'

/** A block is not in the store. */
export class BlockNotFoundError extends PeerdError {
  constructor (cid: CID) { super(`block ${cid.toString()} is not in the local store`, 'BlockNotFoundError', 404) }
}

/** A block's bytes do not match its CID. */
export class InvalidBlockError extends PeerdError {
  constructor (message: string) { super(message, 'InvalidBlockError', 400) }
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

/** A listener told of every block newly stored. */
export type PutListener = (cid: CID, bytes: Uint8Array) => void

/** The on-disk block store. */
export class FsBlockstore implements Blockstore {
  readonly root: string
  private readonly tmp: string
  private readonly dirs = new Set<string>()
  private readonly listeners = new Set<PutListener>()

  constructor (root: string) {
    this.root = root
    this.tmp = join(root, 'tmp')
  }

  /** Creates the folders and clears temporary files left by a crash. */
  async open (): Promise<void> {
    await mkdir(this.root, { recursive: true })
    await rm(this.tmp, { recursive: true, force: true })
    await mkdir(this.tmp, { recursive: true })
  }

  /** Calls `fn` for every block stored from now on; returns the unsubscribe function. */
  onPut (fn: PutListener): () => void {
    this.listeners.add(fn)
    return () => { this.listeners.delete(fn) }
  }

  private pathOf (cid: CID): { dir: string, file: string } {
    const key = blockKey(cid)
    const dir = join(this.root, key.slice(-3, -1))
    return { dir, file: join(dir, key) }
  }

  async has (cid: CID): Promise<boolean> {
    try {
      await stat(this.pathOf(cid).file)
      return true
    } catch {
      return false
    }
  }

  /** Stores a block after checking it hashes to `cid`. */
  async put (cid: CID, bytes: InputPair['bytes'], _options?: AbortOptions): Promise<CID> {
    const data = await collect(bytes)
    if (data.length > MAX_BLOCK_SIZE) throw new InvalidBlockError(`block ${cid.toString()} is ${data.length} bytes, over the ${MAX_BLOCK_SIZE} limit`)
    if (!verifyBlock(cid, data)) throw new InvalidBlockError(`block bytes do not match ${cid.toString()}`)
    const { dir, file } = this.pathOf(cid)
    if (await this.has(cid)) return cid
    if (!this.dirs.has(dir)) {
      await mkdir(dir, { recursive: true })
      this.dirs.add(dir)
    }
    const tmp = join(this.tmp, randomBytes(8).toString('hex'))
    const fh = await open(tmp, 'w')
    try {
      await fh.write(data)
    } finally {
      await fh.close()
    }
    await rename(tmp, file)
    for (const fn of this.listeners) fn(cid, data)
    return cid
  }

  async * putMany (source: Iterable<InputPair> | AsyncIterable<InputPair>, options?: AbortOptions): AsyncGenerator<CID> {
    for await (const { cid, bytes } of source) yield await this.put(cid, bytes, options)
  }

  /** The verified bytes of a block. */
  async getBytes (cid: CID): Promise<Uint8Array> {
    const { file } = this.pathOf(cid)
    let data: Uint8Array
    try {
      data = await readFile(file)
    } catch {
      throw new BlockNotFoundError(cid)
    }
    if (!verifyBlock(cid, data)) {
      // bit rot or a torn write after power loss: drop it so it is fetched again
      await unlink(file).catch(() => {})
      throw new BlockNotFoundError(cid)
    }
    return data
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
    await unlink(this.pathOf(cid).file).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err
    })
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
