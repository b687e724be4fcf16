/**
 * Imports files and folders as UnixFS with the `unixfs-v1-2025` profile (IPIP-499: CIDv1,
 * raw leaves, sha2-256, 1 MiB chunks, balanced DAG of up to 1024 links, HAMT sharding of large
 * directories by block size), so the same bytes get the same CID as Kubo and Helia with that
 * profile. Files are streamed from disk, never read whole.
 */
import { createReadStream } from 'node:fs'
import { lstat, readdir, readlink } from 'node:fs/promises'
import { basename, join, resolve } from 'node:path'
import { importer } from 'ipfs-unixfs-importer'
import type { ImportCandidate, WritableStorage } from 'ipfs-unixfs-importer'
import type { CID } from 'multiformats/cid'
import { InvalidArgumentError } from '../errors.ts'
import type { FsBlockstore } from './blockstore.ts'

/** The importer options of the profile. */
export const IMPORT_OPTIONS = { profile: 'unixfs-v1-2025' } as const

/** What an import produced. */
export interface ImportedRoot {
  cid: CID
  name: string
  /** Bytes of file data. */
  size: number
  type: 'file' | 'directory'
  /** Entries skipped (hidden files without `hidden`, sockets, devices), relative to the root. */
  skipped: string[]
}

/** Options of {@link importPath}. */
export interface ImportOptions {
  /** Include files and folders whose names start with a dot (Kubo's `--hidden`). Default false. */
  hidden?: boolean
  /** Called with the bytes of every chunk read. */
  onBytes?: (n: number) => void
  /** Called with each block's CID before it is stored (a private share withholds it from peers before any could ask). */
  beforePut?: (cid: CID) => void
}

/**
 * Imports a file or a folder (recursively) at `path`. Like `ipfs add -r` with the profile,
 * hidden entries are left out unless `hidden`, and symbolic links are stored as UnixFS
 * symlink nodes (not followed).
 */
export async function importPath (path: string, blockstore: FsBlockstore, options: ImportOptions = {}): Promise<ImportedRoot> {
  const onBytes = options.onBytes
  const abs = resolve(path)
  let st
  try {
    st = await lstat(abs)
  } catch (err) {
    throw new InvalidArgumentError(`cannot read ${abs}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : (err as Error).message}`, { cause: err })
  }
  const name = basename(abs)
  const skipped: string[] = []
  let size = 0
  const fileCandidate = (rel: string, file: string): ImportCandidate => ({
    path: rel,
    content: (async function * () {
      for await (const chunk of createReadStream(file, { highWaterMark: 1024 * 1024 })) {
        size += (chunk as Buffer).length
        onBytes?.((chunk as Buffer).length)
        yield chunk as Uint8Array
      }
    })()
  })

  async function * walk (dir: string, rel: string): AsyncGenerator<ImportCandidate> {
    const entries = await readdir(dir, { withFileTypes: true })
    entries.sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0)
    yield { path: rel }
    for (const e of entries) {
      const childRel = `${rel}/${e.name}`
      if (e.name.startsWith('.') && options.hidden !== true) skipped.push(childRel.slice(name.length + 1))
      else if (e.isDirectory()) yield * walk(join(dir, e.name), childRel)
      else if (e.isFile()) yield fileCandidate(childRel, join(dir, e.name))
      else if (e.isSymbolicLink()) yield { path: childRel, link: await readlink(join(dir, e.name)) }
      else skipped.push(childRel.slice(name.length + 1))
    }
  }

  let source: AsyncIterable<ImportCandidate> | ImportCandidate[]
  let type: ImportedRoot['type']
  if (st.isFile()) {
    source = [fileCandidate(name, abs)]
    type = 'file'
  } else if (st.isDirectory()) {
    source = walk(abs, name)
    type = 'directory'
  } else {
    throw new InvalidArgumentError(`${abs} is neither a file nor a directory`)
  }

  let root: CID | undefined
  const before = options.beforePut
  const store: WritableStorage = before == null ? blockstore : { put: async (cid, bytes, o) => { before(cid); return await blockstore.put(cid, bytes, o) } }
  for await (const entry of importer(source, store, IMPORT_OPTIONS)) {
    if (entry.path === name) root = entry.cid
  }
  if (root == null) throw new Error(`import of ${abs} produced no root`)
  return { cid: root, name, size, type, skipped }
}

/** Imports one stream of bytes as a file named `name`. */
export async function importStream (name: string, content: AsyncIterable<Uint8Array>, blockstore: FsBlockstore): Promise<ImportedRoot> {
  let size = 0
  const counted = (async function * () {
    for await (const chunk of content) {
      size += chunk.length
      yield chunk
    }
  })()
  let root: CID | undefined
  for await (const entry of importer([{ path: name, content: counted }], blockstore, IMPORT_OPTIONS)) root = entry.cid
  if (root == null) throw new Error('import produced no root')
  return { cid: root, name, size, type: 'file', skipped: [] }
}
