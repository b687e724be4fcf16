/** Temporary directories of a run (named `pdnet<pid>x…`, removed by the janitor) and input files. */
import { mkdtemp, rm } from 'node:fs/promises'
import { rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { janitor, PREFIX } from './janitor.ts'

export { sha256File, writeRandomFile } from '../../share/files.ts'

/**
 * Makes a temporary directory that the janitor removes (or `remove()` earlier). With
 * PDNET_KEEP=1 in the environment it is kept (named `pdnet-keep-…`, which no stale pass
 * touches), for reading the daemons' logs after a run.
 */
export async function tempDir (label: string): Promise<{ path: string, remove: () => Promise<void> }> {
  if (process.env.PDNET_KEEP === '1') {
    const kept = await mkdtemp(join(tmpdir(), `${PREFIX}-keep-${label}-`))
    process.stderr.write(`bench:net: keeping ${kept}\n`)
    return { path: kept, remove: async () => {} }
  }
  const path = await mkdtemp(join(tmpdir(), `${PREFIX}${process.pid}x-${label}-`))
  const forget = janitor.add({
    what: `directory ${path}`,
    run: async () => { await rm(path, { recursive: true, force: true }) },
    runSync: () => { rmSync(path, { recursive: true, force: true }) }
  })
  return { path, remove: async () => { await rm(path, { recursive: true, force: true }); forget() } }
}
