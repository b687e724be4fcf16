/**
 * Writes a download straight into its output, BitTorrent-style: every leaf block goes to its
 * offset in its file as soon as it arrives (in any order), and the block store keeps only a
 * reference (file, offset, size) to it, verified when read (see blockstore.ts). So a download
 * is written to disk once, not once into the store and again into the file, and the saved file
 * is what this node serves to others.
 *
 * The output is built under a temporary name in the target's folder (kept when interrupted,
 * so the next get resumes into it) and renamed into place when complete. Directory entry
 * names are checked before anything is written: `..`, `.`, empty, or with a slash, backslash
 * or NUL is refused.
 */
import { constants } from 'node:fs'
import { lstat, mkdir, open, rename, rm, stat } from 'node:fs/promises'
import type { FileHandle } from 'node:fs/promises'
import { createHash } from 'node:crypto'
import { basename, dirname, join } from 'node:path'
import * as dagPb from '@ipld/dag-pb'
import { UnixFS } from 'ipfs-unixfs'
import type { CID } from 'multiformats/cid'
import { Uint8ArrayList } from 'uint8arraylist'
import { InvalidArgumentError, PeerdError } from '../errors.ts'
import { checkEntryName, UnsafePathError } from './export.ts'

/** Where one block of the DAG lands in the output. */
export type Placement =
  /** `chunk`: part of a file (a file node's child), where a directory cannot be. */
  | { kind: 'file', path: string, offset: number, chunk?: boolean }
  | { kind: 'dir', path: string }

/** A block reference into a file written by a download. */
export interface BlockRef { path: string, offset: number, size: number }

/** The DAG uses a UnixFS feature peerd does not write. */
export class UnsupportedDagError extends PeerdError {
  static override name = 'UnsupportedDagError'
}

const MAX_OPEN_FILES = 32

/** Writes one download's output. */
export class OutputWriter {
  /** Final path of the output. */
  readonly target: string
  /** Temporary path the output is built under. */
  readonly temp: string
  private readonly handles = new Map<string, Promise<FileHandle>>()
  private readonly dirs = new Set<string>()
  private bytes = 0
  private rootIsDir: boolean | undefined
  private readonly names = new Map<string, Set<string>>()
  private readonly closing: Array<Promise<void>> = []
  /** Symbolic links in the content, not created. */
  readonly skipped: string[] = []
  /** The entry written as the output (`get CID/PATH`); '' for the root. */
  private readonly base: string

  /** `base`: the path inside the root whose entry is the output (the directories above it are not written). */
  constructor (target: string, root: CID, options: { base?: string } = {}) {
    this.target = target
    this.base = options.base ?? ''
    // a selected entry gets a temporary name of its own (12 characters, as blockstore.ts's finalPathOf reads)
    const tag = this.base === '' ? root.toString().slice(-12) : createHash('sha256').update(`${root.toString()}/${this.base}`).digest('hex').slice(0, 12)
    this.temp = join(dirname(target), `.${basename(target)}.${tag}.peerd-part`)
  }

  /** The output-relative path of the entry at `path` in the DAG; undefined above the base (not written). */
  private local (path: string): string | undefined {
    if (this.base === '' || path === this.base) return this.base === '' ? path : ''
    return path.startsWith(this.base + '/') ? path.slice(this.base.length + 1) : undefined
  }

  private tempOf (local: string): string {
    return local === '' ? this.temp : join(this.temp, local)
  }

  /** The placement of the DAG's root. */
  rootPlacement (): Placement {
    return { kind: 'file', path: '', offset: 0 }
  }

  /** Bytes of file data written. */
  get written (): number { return this.bytes }

  /** Absolute path (under the temporary root) of an entry's path in the DAG. */
  tempPath (rel: string): string {
    return this.tempOf(this.local(rel) ?? '')
  }

  /** Final absolute path of an entry's path in the DAG. */
  finalPath (rel: string): string {
    const local = this.local(rel) ?? ''
    return local === '' ? this.target : join(this.target, local)
  }

  async prepare (): Promise<void> {
    await mkdir(dirname(this.target), { recursive: true })
    const existing = await stat(this.target).catch(() => undefined)
    if (existing?.isDirectory() === true) throw new InvalidArgumentError(`${this.target} already exists and is a directory: remove it or choose another path with -o`)
    // the temporary name is predictable: never follow a link planted there, nor use another
    // user's file (it would make this daemon write wherever the link points)
    const temp = await lstat(this.temp).catch(() => undefined)
    if (temp != null && (temp.isSymbolicLink() || (!temp.isFile() && !temp.isDirectory()) || (process.getuid != null && temp.uid !== process.getuid()))) {
      throw new UnsafePathError(`refusing to write through ${this.temp}: it is a link, a special file or another user's; remove it`)
    }
  }

  /**
   * Places block `cid` (its verified `bytes`) and returns where its children go, in link
   * order. Raw leaves are written at their offset; returns `ref` for them.
   */
  async place (where: Placement | undefined, cid: CID, data: Uint8Array | Uint8ArrayList): Promise<{ children: Placement[], ref?: BlockRef }> {
    if (where == null) return { children: [] }
    const local = this.local(where.path)
    if (cid.code !== dagPb.code) {
      // a raw leaf: file data
      if (where.kind !== 'file') throw new UnsupportedDagError(`raw block ${cid.toString()} sits where a directory belongs`)
      if (local == null) return { children: [] } // a file above the selected entry: the walk fails on it
      if (local === '' && this.rootIsDir == null) this.rootIsDir = false
      await this.write(local, where.offset, data)
      return { children: [], ref: { path: this.tempOf(local), offset: where.offset, size: data.byteLength } }
    }
    let node: dagPb.PBNode
    let fs: UnixFS
    try {
      // the bytes match their CID, but whoever made the content chose them: a malformed node is typed
      node = dagPb.decode(data instanceof Uint8Array ? data : data.subarray())
      fs = UnixFS.unmarshal(node.Data ?? new Uint8Array())
    } catch (err) {
      throw new UnsupportedDagError(`block ${cid.toString()} is not UnixFS: ${(err as Error).message}`)
    }
    if (fs.type === 'file' || fs.type === 'raw') {
      if (where.kind !== 'file') throw new UnsupportedDagError(`file node ${cid.toString()} sits where a directory belongs`)
      if (local == null) return { children: [] } // a file above the selected entry: the walk fails on it
      if (local === '' && this.rootIsDir == null) this.rootIsDir = false
      let offset = where.offset
      if (fs.data != null && fs.data.length > 0) {
        await this.write(local, offset, fs.data)
        offset += fs.data.length
      } else if (node.Links.length === 0) {
        await this.write(local, offset, new Uint8Array()) // an empty file still exists
      }
      const sizes = fs.blockSizes
      if (sizes.length !== node.Links.length && node.Links.length > 0) throw new UnsupportedDagError(`file node ${cid.toString()} has ${node.Links.length} links but ${sizes.length} block sizes`)
      const children: Placement[] = []
      for (let i = 0; i < node.Links.length; i++) {
        children.push({ kind: 'file', path: where.path, offset, chunk: true })
        offset += Number(sizes[i] ?? 0n)
        // block sizes are the content maker's word: past 2^53 a position is no longer exact (and no file is that big)
        if (!Number.isSafeInteger(offset)) throw new UnsupportedDagError(`file node ${cid.toString()} has block sizes adding up to more than 2^53 bytes`)
      }
      return { children }
    }
    if (fs.type === 'directory' || fs.type === 'hamt-sharded-directory') {
      const dirPath = where.path
      if (where.kind === 'file' && (where.offset !== 0 || where.chunk === true)) throw new UnsupportedDagError(`directory ${cid.toString()} sits inside a file`)
      // the directories above the selected entry are not written
      if (local === '' && this.rootIsDir == null) this.rootIsDir = true
      if (local != null) await this.mkdir(local)
      const prefix = fs.type === 'hamt-sharded-directory' ? (Number(fs.fanout ?? 256n) - 1).toString(16).length : 0
      let names = this.names.get(dirPath)
      if (names == null) {
        names = new Set()
        this.names.set(dirPath, names)
      }
      const children: Placement[] = []
      for (const link of node.Links) {
        const raw = link.Name ?? ''
        if (prefix > 0 && raw.length === prefix) {
          children.push({ kind: 'dir', path: dirPath }) // a sub-shard of the same directory
          continue
        }
        const name = raw.slice(prefix)
        checkEntryName(name)
        // UnixFS: a name may appear once in a directory; two would write into one file
        if (names.has(name)) throw new UnsafePathError(`directory entry ${JSON.stringify(name)} appears twice in ${dirPath === '' ? 'the root folder' : dirPath}`)
        names.add(name)
        children.push({ kind: 'file', path: dirPath === '' ? name : `${dirPath}/${name}`, offset: 0 })
      }
      return { children }
    }
    if (fs.type === 'symlink') {
      // never create links from a peer's data: a link could point a later entry outside the output
      if (local != null) this.skipped.push(local)
      return { children: [] }
    }
    throw new UnsupportedDagError(`UnixFS ${fs.type} nodes (${cid.toString()}) are not supported`)
  }

  /** Creates the directory at output-relative `rel` (and those above it) in the temporary tree. */
  private async mkdir (rel: string): Promise<void> {
    const p = this.tempOf(rel)
    if (this.dirs.has(p)) return
    this.dirs.add(p)
    const parts = rel === '' ? [] : rel.split('/')
    // one level at a time, refusing links, so nothing is created outside the temporary tree
    for (let i = 0; i <= parts.length; i++) {
      const dir = this.tempOf(parts.slice(0, i).join('/'))
      try {
        await mkdir(dir, { mode: 0o755 })
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
        const st = await lstat(dir)
        if (!st.isDirectory()) throw new UnsafePathError(`refusing to write through ${dir}: it is not a plain directory`)
      }
    }
  }

  /** An open handle on the file at output-relative `rel`. */
  private handle (rel: string): Promise<FileHandle> {
    const p = this.tempOf(rel)
    const cached = this.handles.get(p)
    if (cached != null) {
      // most recently used last, so eviction closes the least recently used
      this.handles.delete(p)
      this.handles.set(p, cached)
      return cached
    }
    // the promise goes in the map before any await: concurrent writes share one handle
    const h = (async () => {
      if (this.handles.size > MAX_OPEN_FILES) {
        const [oldest, fh] = this.handles.entries().next().value as [string, Promise<FileHandle>]
        this.handles.delete(oldest)
        this.closing.push(fh.then(async f => { await f.close() }).catch(() => {}))
      }
      if (rel !== '') await this.mkdir(dirname(rel) === '.' ? '' : dirname(rel))
      // no truncation (a resume keeps what was written); never through a symbolic link
      return await open(p, constants.O_RDWR | constants.O_CREAT | constants.O_NOFOLLOW, 0o644)
    })()
    this.handles.set(p, h)
    return h
  }

  private async write (rel: string, offset: number, data: Uint8Array | Uint8ArrayList): Promise<void> {
    const fh = await this.handle(rel)
    if (data instanceof Uint8ArrayList) {
      // the chunks as they came off the network, in one system call
      const chunks = [...data]
      let at = offset
      while (chunks.length > 0) {
        let { bytesWritten } = await fh.writev(chunks, at)
        at += bytesWritten
        // a short write: drop what went out and go on from there
        while (bytesWritten > 0 && chunks.length > 0) {
          const first = chunks[0] as Uint8Array
          if (bytesWritten >= first.length) {
            bytesWritten -= first.length
            chunks.shift()
          } else {
            chunks[0] = first.subarray(bytesWritten)
            bytesWritten = 0
          }
        }
      }
    } else {
      let done = 0
      while (done < data.length) {
        const { bytesWritten } = await fh.write(data, done, data.length - done, offset + done)
        done += bytesWritten
      }
    }
    this.bytes += data.byteLength
  }

  /** Closes files; with `complete`, renames the output into place. */
  async finish (complete: boolean): Promise<{ path: string, type: 'file' | 'directory' } | undefined> {
    const handles = [...this.handles.values()]
    this.handles.clear()
    await Promise.all(handles.map(async h => { await (await h.catch(() => undefined))?.close().catch(() => {}) }))
    await Promise.all(this.closing.splice(0))
    if (!complete) return undefined
    if (this.rootIsDir === true) {
      const existing = await stat(this.target).catch(() => undefined)
      if (existing != null) throw new InvalidArgumentError(`${this.target} already exists: remove it or choose another path with -o`)
    } else if (this.rootIsDir == null) {
      // nothing placed: an empty file
      await (await open(this.temp, 'a')).close()
    }
    await rename(this.temp, this.target)
    return { path: this.target, type: this.rootIsDir === true ? 'directory' : 'file' }
  }

  /** Removes the temporary output (when the download is abandoned for good). */
  async discard (): Promise<void> {
    await this.finish(false)
    await rm(this.temp, { recursive: true, force: true })
  }
}
