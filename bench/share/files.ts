/** The benchmark's input file, and checking that a copy of it is byte for byte the same. */
import { createHash, randomFillSync } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { open } from 'node:fs/promises'

const CHUNK = 1024 * 1024

/** Writes `bytes` random bytes to `path` one MiB at a time; returns their sha256 (hex). */
export async function writeRandomFile (path: string, bytes: number): Promise<string> {
  const hash = createHash('sha256')
  const buf = Buffer.alloc(CHUNK)
  const fh = await open(path, 'w')
  try {
    for (let written = 0; written < bytes;) {
      const n = Math.min(CHUNK, bytes - written)
      const part = buf.subarray(0, n)
      randomFillSync(part)
      hash.update(part)
      await fh.write(part, 0, n)
      written += n
    }
  } finally {
    await fh.close()
  }
  return hash.digest('hex')
}

/** The sha256 (hex) of the file at `path`, read as a stream. */
export async function sha256File (path: string): Promise<string> {
  const hash = createHash('sha256')
  for await (const chunk of createReadStream(path, { highWaterMark: CHUNK })) hash.update(chunk as Buffer)
  return hash.digest('hex')
}
