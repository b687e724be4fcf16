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

const { existsSync } = await import('node:fs')
const { fileURLToPath } = await import('node:url')

// Which code runs, by one rule: a checkout (src/ present, not installed under node_modules) runs
// its TypeScript sources, so an edit takes effect at once; an installed package runs the compiled
// dist/ (Node.js does not strip types under node_modules, and a package need not ship src/).
const root = new URL('../', import.meta.url)
const installed = fileURLToPath(root).split(/[\\/]/).includes('node_modules')
const checkout = !installed && existsSync(new URL('src/cli/main.ts', root))
const [tree, ext] = checkout ? [new URL('src/', root), 'ts'] : [new URL('dist/', root), 'js']
if (checkout && !(process.features?.typescript != null && process.features.typescript !== false)) {
  process.stderr.write(`peerd: a checkout runs its TypeScript sources, which needs a Node.js that strips types (22.18 or newer), but this is ${process.version}.\n` +
    'Run it through npm (`npm start`, `npx peerd …`), which uses the Node.js 24 the project installs.\n')
  process.exit(1)
}
if (!checkout && !existsSync(new URL('cli/main.js', tree))) {
  process.stderr.write('peerd: no dist/ to run: build the package first (`npm run build`).\n')
  process.exit(1)
}

const args = process.argv.slice(2)
// `peerd daemon` starts with the Node.js flags of src/daemon/launch.ts (only the command itself,
// found as the CLI finds it: not `peerd share daemon`, nor a data dir named "daemon")
if (args.includes('daemon')) {
  const { splitCommand } = await import(new URL(`cli/command.${ext}`, tree).href)
  if (splitCommand(args).name === 'daemon') {
    const { relaunchWithDaemonFlags } = await import(new URL(`daemon/launch.${ext}`, tree).href)
    relaunchWithDaemonFlags(process.argv[1], args)
  }
}

const { main } = await import(new URL(`cli/main.${ext}`, tree).href)
await main(args)
