/**
 * Writes a UnixFS DAG to disk: a file to a temporary file in the target folder, then renamed
 * over the target; a directory built under a temporary name, then renamed. A directory entry
 * whose name could escape the target (`..`, `.`, empty, absolute, or with a slash, backslash
 * or NUL) is refused before anything is written.
 */
import { createWriteStream } from 'node:fs'
import { mkdir, rename, rm, stat } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import { pipeline } from 'node:stream/promises'
import { Readable } from 'node:stream'
import { randomBytes } from 'node:crypto'
import { exporter } from 'ipfs-unixfs-exporter'
import type { UnixFSEntry } from 'ipfs-unixfs-exporter'
import type { CID } from 'multiformats/cid'
import type { ReadableStorage } from 'ipfs-unixfs-exporter'
import { InvalidArgumentError, PeerdError } from '../errors.ts'

/** A directory entry name that is unsafe to write. */
export class UnsafePathError extends PeerdError {
  constructor (message: string) { super(message, 'UnsafePathError', 422) }
}

/** Throws {@link UnsafePathError} unless `name` is one plain path segment. */
export function checkEntryName (name: string): void {
  if (name === '' || name === '.' || name === '..' || name.includes('/') || name.includes('\\') || name.includes('\0')) {
    throw new UnsafePathError(`refusing directory entry ${JSON.stringify(name)}: names must be a single path segment (no "..", slashes or NUL)`)
  }
}

/** What an export wrote. */
export interface ExportResult { path: string, size: number, type: 'file' | 'directory' }

async function writeFileFrom (entry: UnixFSEntry, path: string, signal?: AbortSignal): Promise<number> {
  if (entry.type === 'directory' || entry.type === 'object') throw new InvalidArgumentError(`${entry.cid.toString()} is not a file`)
  let size = 0
  const counted = (async function * () {
    for await (const chunk of entry.content({ signal, blockReadConcurrency: 8 })) {
      size += chunk.length
      yield chunk
    }
  })()
  await pipeline(Readable.from(counted, { objectMode: false }), createWriteStream(path, { highWaterMark: 4 * 1024 * 1024 }), { signal })
  return size
}

async function writeTree (entry: UnixFSEntry, blockstore: ReadableStorage, path: string, signal?: AbortSignal): Promise<number> {
  if (entry.type !== 'directory') return await writeFileFrom(entry, path, signal)
  await mkdir(path)
  let size = 0
  for await (const child of entry.entries({ signal })) {
    checkEntryName(child.name)
    size += await writeTree(await exporter(child.cid, blockstore, { signal }), blockstore, join(path, child.name), signal)
  }
  return size
}

/** Exports `cid` from `blockstore` to `target`. Blocks missing from the store are waited for if the store does. */
export async function exportTo (cid: CID, blockstore: ReadableStorage, target: string, signal?: AbortSignal): Promise<ExportResult> {
  const entry = await exporter(cid, blockstore, { signal })
  const tmp = join(dirname(target), `.${basename(target)}.peerd-${randomBytes(4).toString('hex')}.tmp`)
  const isDir = entry.type === 'directory'
  if (isDir) {
    const existing = await stat(target).catch(() => undefined)
    if (existing != null) throw new InvalidArgumentError(`${target} already exists: remove it or choose another path with -o`)
  }
  try {
    await mkdir(dirname(target), { recursive: true })
    const size = await writeTree(entry, blockstore, tmp, signal)
    await rename(tmp, target)
    return { path: target, size, type: isDir ? 'directory' : 'file' }
  } catch (err) {
    await rm(tmp, { recursive: true, force: true })
    throw err
  }
}
