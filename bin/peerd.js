#!/usr/bin/env node
// The `peerd` command. Plain JavaScript that any Node.js can parse, so that an old runtime
// gets a clear message instead of a syntax error; everything else is loaded after the check.
const MIN_MAJOR = 22
const major = Number(process.versions.node.split('.')[0])
if (!(major >= MIN_MAJOR)) {
  process.stderr.write(
    `peerd: Node.js ${MIN_MAJOR} or newer is required, but this is ${process.version}.\n` +
    'Run it through npm (`npm start`, `npx peerd …`), which uses the Node.js 24 the project installs,\n' +
    'or install a current Node.js LTS from https://nodejs.org/.\n'
  )
  process.exit(1)
}

// A daemon moves gigabytes through short-lived buffers, and V8's default young generation (16–32
// MiB semi-spaces) lets it grow: a 4 GiB get peaked at ~370 MiB of RSS against ~250 MiB with
// 4 MiB semi-spaces (bench:share:memory). That size can only be chosen when V8 starts, so a
// daemon started without it replaces itself (execve: same process id, same stdio) with a
// Node.js that has it, as `npm start` and `peerd devnet` start it. Not when Node.js was given a
// semi-space size already, nor under an IPC channel (its descriptor would not survive), nor
// with PEERD_NO_REEXEC=1.
const DAEMON_NODE_FLAGS = ['--max-semi-space-size=4']
const args = process.argv.slice(2)
if (args.includes('daemon') && typeof process.execve === 'function' && process.env.NODE_CHANNEL_FD == null &&
    process.env.PEERD_NO_REEXEC !== '1' &&
    ![...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)].some(a => /^--(max|min)-semi-space-size\b/.test(a))) {
  try {
    process.execve(process.execPath, [process.execPath, ...DAEMON_NODE_FLAGS, ...process.execArgv, process.argv[1], ...args], process.env)
  } catch {
    // not replaced: run as we are
  }
}

const { existsSync, readdirSync, statSync } = await import('node:fs')
const { join } = await import('node:path')
const { fileURLToPath } = await import('node:url')

const root = new URL('../', import.meta.url)
const source = new URL('src/cli/main.ts', root)
const built = new URL('dist/cli/main.js', root)
const stamp = fileURLToPath(new URL('dist/BUILD_STAMP', root))
// An installed package (under node_modules, where Node will not strip types) runs the compiled
// dist/. In a checkout, dist/ runs too while it is newer than every source file (it starts faster
// and uses less memory than stripping types); after an edit, the sources run directly.
const inNodeModules = fileURLToPath(root).split(/[\\/]/).includes('node_modules')
const canStrip = process.features?.typescript != null && process.features.typescript !== false

/** Whether a file under `dir` changed after `since` (ms). */
function changedSince (dir, since) {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name)
    if (e.isDirectory() ? changedSince(p, since) : statSync(p).mtimeMs > since) return true
  }
  return false
}
function distIsFresh () {
  if (!existsSync(built) || !existsSync(stamp)) return false
  if (!existsSync(source)) return true
  return !changedSince(fileURLToPath(new URL('src/', root)), statSync(stamp).mtimeMs)
}

let entry
if (inNodeModules && existsSync(built)) entry = built
else if (process.env.PEERD_FROM_SOURCE !== '1' && distIsFresh()) entry = built
else if (canStrip && existsSync(source)) entry = source
else if (existsSync(built)) entry = built
else {
  process.stderr.write('peerd: no runnable code found: run `npm run build` (or use Node.js 24, which runs the sources).\n')
  process.exit(1)
}

const { main } = await import(entry.href)
await main(args)
