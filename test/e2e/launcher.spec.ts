/**
 * bin/peerd.js as real processes: only the `daemon` command relaunches itself with the daemon's
 * Node.js flags (not `peerd share daemon`, a data dir named "daemon", `peerd help daemon`, nor a
 * process with an IPC channel), and which code runs follows one rule: a checkout runs src/, an
 * installed package dist/. Each start of Node.js is logged by a preload module (NODE_OPTIONS
 * --import), so a relaunch (execve: same process id) shows as a second start. And the library
 * itself (createNode) leaves the embedding process alone.
 */
import assert from 'node:assert/strict'
import { fork, spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { before, describe, it } from 'node:test'
import { PEERD_BIN, startTestNode } from '../utils/index.ts'
import { teardown } from '../utils/teardown.ts'

const TEST = { timeout: 30_000 }
const CAN_RELAUNCH = typeof process.execve === 'function'

interface Start { pid: number, execArgv: string[] }

const td = teardown()
let dir: string
let preload: string
let runs = 0

before(async () => {
  dir = await td.dir('peerd-e2e-launcher-')
  preload = join(dir, 'log-start.mjs')
  await writeFile(preload, "import { appendFileSync } from 'node:fs'\n" +
    'appendFileSync(process.env.PEERD_TEST_STARTS, JSON.stringify({ pid: process.pid, execArgv: process.execArgv }) + "\\n")\n')
})

/** Waits for a child to exit; collects its output. */
async function outcome (child: ChildProcess): Promise<{ code: number | null, stdout: string, stderr: string }> {
  let stdout = ''
  let stderr = ''
  child.stdout?.on('data', (d: Buffer) => { stdout += d.toString() })
  child.stderr?.on('data', (d: Buffer) => { stderr += d.toString() })
  const timer = setTimeout(() => { child.kill('SIGKILL') }, 20_000)
  const code = await new Promise<number | null>(resolve => { child.once('exit', (c) => { resolve(c) }) })
  clearTimeout(timer)
  return { code, stdout, stderr }
}

/** Runs `bin args` (in `cwd`, with an IPC channel if `ipc`); returns every Node.js start it made. */
async function starts (bin: string, args: string[], options: { cwd?: string, ipc?: boolean } = {}): Promise<{ starts: Start[], stdout: string, stderr: string, code: number | null }> {
  const log = join(dir, `starts-${++runs}.jsonl`)
  const env: NodeJS.ProcessEnv = { ...process.env, NODE_OPTIONS: `--import=${preload}`, PEERD_TEST_STARTS: log }
  delete env.PEERD_NO_REEXEC
  const child = options.ipc === true
    ? fork(bin, args, { cwd: options.cwd, env, execArgv: [], stdio: ['ignore', 'pipe', 'pipe', 'ipc'] })
    : spawn(process.execPath, [bin, ...args], { cwd: options.cwd, env, stdio: ['ignore', 'pipe', 'pipe'] })
  const r = await outcome(child)
  const lines = (await readFile(log, 'utf8')).trim().split('\n')
  return { ...r, starts: lines.map(l => JSON.parse(l) as Start) }
}

describe('bin/peerd.js relaunches only `peerd daemon`', { skip: CAN_RELAUNCH ? false : 'needs process.execve' }, () => {
  it('`peerd daemon` replaces itself (same process id) with a Node.js running --max-semi-space-size=4', TEST, async () => {
    // an unknown flag: the relaunch comes before the command parses its flags, then it stops
    const r = await starts(PEERD_BIN, ['daemon', '--no-such-flag'])
    assert.equal(r.code, 2, r.stderr)
    assert.equal(r.starts.length, 2, JSON.stringify(r.starts))
    assert.equal(r.starts[1]?.pid, r.starts[0]?.pid)
    assert.ok(r.starts[1]?.execArgv.includes('--max-semi-space-size=4'), JSON.stringify(r.starts))
  })

  it('`peerd share daemon` (a file named "daemon") does not', TEST, async () => {
    const r = await starts(PEERD_BIN, ['share', 'daemon', '--data-dir', join(dir, 'no-node')])
    assert.notEqual(r.code, 0)
    assert.deepEqual(r.starts.map(s => s.execArgv.includes('--max-semi-space-size=4')), [false], JSON.stringify(r.starts))
  })

  it('a data dir named "daemon" (`peerd --data-dir daemon status`) does not', TEST, async () => {
    const cwd = join(dir, 'cwd')
    await mkdir(cwd)
    const r = await starts(PEERD_BIN, ['--data-dir', 'daemon', 'status', '--json'], { cwd })
    assert.match(r.stdout + r.stderr, /daemon/)
    assert.equal(r.starts.length, 1, JSON.stringify(r.starts))
  })

  it('`peerd help daemon` does not', TEST, async () => {
    const r = await starts(PEERD_BIN, ['help', 'daemon'])
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, /usage: peerd daemon/)
    assert.equal(r.starts.length, 1, JSON.stringify(r.starts))
  })

  it('`peerd daemon` with an IPC channel does not (the channel would not survive)', TEST, async () => {
    const r = await starts(PEERD_BIN, ['daemon', '--no-such-flag'], { ipc: true })
    assert.equal(r.code, 2, r.stderr)
    assert.equal(r.starts.length, 1, JSON.stringify(r.starts))
  })
})

describe('bin/peerd.js runs src/ in a checkout and dist/ in an installed package', () => {
  /** A package at `root`: this bin, and a src/ and a dist/ whose main prints which one ran. */
  async function fakePackage (root: string): Promise<string> {
    await mkdir(join(root, 'bin'), { recursive: true })
    await mkdir(join(root, 'src', 'cli'), { recursive: true })
    await mkdir(join(root, 'dist', 'cli'), { recursive: true })
    await writeFile(join(root, 'package.json'), '{ "type": "module" }\n')
    await copyFile(PEERD_BIN, join(root, 'bin', 'peerd.js'))
    await writeFile(join(root, 'src', 'cli', 'main.ts'), "export async function main (args: string[]): Promise<void> { process.stdout.write('src ' + args.join(' ')) }\n")
    await writeFile(join(root, 'dist', 'cli', 'main.js'), "export async function main (args) { process.stdout.write('dist ' + args.join(' ')) }\n")
    // a build newer than every source file: a checkout still runs its sources
    await writeFile(join(root, 'dist', 'BUILD_STAMP'), new Date(Date.now() + 60_000).toISOString())
    return join(root, 'bin', 'peerd.js')
  }

  it('a checkout runs src/, even with a fresh build in dist/', TEST, async () => {
    const bin = await fakePackage(join(dir, 'checkout'))
    const r = await starts(bin, ['id'])
    assert.equal(r.stdout, 'src id', r.stderr)
  })

  it('a package installed under node_modules runs dist/', TEST, async () => {
    const bin = await fakePackage(join(dir, 'app', 'node_modules', 'peerd'))
    const r = await starts(bin, ['id'])
    assert.equal(r.stdout, 'dist id', r.stderr)
  })
})

describe('the library leaves the embedding process alone', () => {
  it('createNode sets no V8 heap flags (it never reads $PEERD_HEAP_GROWING)', TEST, async () => {
    const warnings: string[] = []
    const onWarning = (w: Error): void => { warnings.push(w.message) }
    process.on('warning', onWarning)
    const saved = process.env.PEERD_HEAP_GROWING
    // an unusable value: tuning the heap would warn about it
    process.env.PEERD_HEAP_GROWING = 'not-a-number'
    try {
      const node = await startTestNode({ dataDir: join(dir, 'embedded') })
      await node.stop()
      await new Promise<void>(resolve => { setImmediate(resolve) })
    } finally {
      process.off('warning', onWarning)
      if (saved == null) delete process.env.PEERD_HEAP_GROWING
      else process.env.PEERD_HEAP_GROWING = saved
    }
    assert.deepEqual(warnings.filter(w => w.includes('PEERD_HEAP_GROWING')), [])
  })
})
