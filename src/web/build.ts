/**
 * Builds the dashboard (`src/web/` → `dist/web/`) with Vite.
 *
 *     node src/web/build.ts             # always build (npm run build:web, run by npm ci)
 *     node src/web/build.ts --if-stale  # build only when dist/web is missing or older than
 *                                       # a source file (npm start runs this first)
 *
 * Without Vite (an install without devDependencies) `--if-stale` only warns, so the daemon
 * still starts; it then answers `/` with a page that says how to build the dashboard.
 */
import { existsSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const here = fileURLToPath(new URL('.', import.meta.url))
const out = fileURLToPath(new URL('../../dist/web/', import.meta.url))
const lockfile = fileURLToPath(new URL('../../package-lock.json', import.meta.url))

/** Newest modification time of the files under `dir`. */
function newest (dir: string): number {
  let t = 0
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name)
    t = Math.max(t, e.isDirectory() ? newest(p) : statSync(p).mtimeMs)
  }
  return t
}

/** Whether dist/web is missing or older than the sources (or the lockfile). */
export function isStale (): boolean {
  const index = join(out, 'index.html')
  if (!existsSync(index)) return true
  const sources = Math.max(newest(here), existsSync(lockfile) ? statSync(lockfile).mtimeMs : 0)
  return statSync(index).mtimeMs < sources
}

/** Builds dist/web. */
export async function buildWeb (): Promise<void> {
  const { build } = await import('vite')
  await build({ configFile: join(here, 'vite.config.ts'), logLevel: 'warn' })
}

if (process.argv[1] != null && fileURLToPath(import.meta.url) === process.argv[1]) {
  const ifStale = process.argv.includes('--if-stale')
  if (ifStale && !isStale()) process.exit(0)
  const started = Date.now()
  try {
    await buildWeb()
    console.error(`dashboard built into ${out} in ${((Date.now() - started) / 1000).toFixed(1)} s`)
  } catch (err) {
    const missing = (err as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND'
    console.error(`peerd: could not build the dashboard: ${missing ? 'Vite is not installed (run `npm ci` with devDependencies)' : (err as Error).message}`)
    process.exit(ifStale ? 0 : 1)
  }
}
