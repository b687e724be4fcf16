/**
 * A minimal .torrent maker (BEP 3, single file): bencoding and SHA-1 piece hashes. aria2 can
 * download and seed torrents but not make them, and the project has no torrent package.
 */
import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { basename } from 'node:path'
import { stat } from 'node:fs/promises'

/** A value bencoding can carry. */
export type Bencodable = number | string | Uint8Array | Bencodable[] | { [key: string]: Bencodable }

/** Bencodes `v` (dictionary keys sorted as raw bytes, as BEP 3 requires). */
export function bencode (v: Bencodable): Buffer {
  if (typeof v === 'number') {
    if (!Number.isSafeInteger(v)) throw new Error(`bencode: ${v} is not an integer`)
    return Buffer.from(`i${v}e`)
  }
  if (typeof v === 'string' || v instanceof Uint8Array) {
    const b = typeof v === 'string' ? Buffer.from(v) : Buffer.from(v)
    return Buffer.concat([Buffer.from(`${b.length}:`), b])
  }
  if (Array.isArray(v)) return Buffer.concat([Buffer.from('l'), ...v.map(bencode), Buffer.from('e')])
  const keys = Object.keys(v).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)))
  return Buffer.concat([Buffer.from('d'), ...keys.flatMap(k => [bencode(k), bencode(v[k] as Bencodable)]), Buffer.from('e')])
}

/** A torrent of one file. */
export interface Torrent {
  /** The .torrent file's bytes. */
  bytes: Buffer
  /** SHA-1 of the bencoded info dictionary, hex. */
  infoHash: string
  name: string
  length: number
  pieceLength: number
}

/** Makes a single-file torrent of `path` announcing to `announce`, with `pieceLength`-byte pieces. */
export async function makeTorrent (path: string, announce: string, pieceLength = 256 * 1024): Promise<Torrent> {
  const length = (await stat(path)).size
  const hashes: Buffer[] = []
  let piece = createHash('sha1')
  let filled = 0
  for await (const chunk of createReadStream(path, { highWaterMark: 1024 * 1024 })) {
    let buf = chunk as Buffer
    while (buf.length > 0) {
      const n = Math.min(pieceLength - filled, buf.length)
      piece.update(buf.subarray(0, n))
      filled += n
      buf = buf.subarray(n)
      if (filled === pieceLength) {
        hashes.push(piece.digest())
        piece = createHash('sha1')
        filled = 0
      }
    }
  }
  if (filled > 0) hashes.push(piece.digest())
  const name = basename(path)
  const info = { length, name, 'piece length': pieceLength, pieces: Buffer.concat(hashes) }
  const infoHash = createHash('sha1').update(bencode(info)).digest('hex')
  return { bytes: bencode({ announce, info, 'created by': 'peerd bench:net' }), infoHash, name, length, pieceLength }
}
