/**
 * A data dir that already exists (mode 0755, as `mkdir` makes it) gets only private folders
 * (0700) and files (0600) from a real `peerd daemon` — LevelDB's files included, through the
 * daemon's umask — after a wallet, mined blocks and a shared file; the daemon warns, in its log
 * and on its terminal, that the data dir is open to other users; its log (at trace level) holds
 * no extended key, mnemonic or passphrase.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { chmod, mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { cliJson, PEERD_BIN, runCli, startDaemonProcess, waitFor } from '../utils/index.ts'
import { teardown } from '../utils/teardown.ts'

const TEST = { timeout: 90_000 }
const EXTENDED_KEY = /[xt]pub[1-9A-HJ-NP-Za-km-z]{20,}/

/** A daemon started as a user starts it (no --json), with its terminal output and its log. */
async function startTextDaemon (dataDir: string): Promise<{ stdout: () => string, stderr: () => string, stop: () => Promise<void> }> {
  const child = spawn(process.execPath, [PEERD_BIN, 'daemon', '--data-dir', dataDir, '--network', 'regtest',
    '--listen', '/ip4/127.0.0.1/tcp/0', '--api', '127.0.0.1:0', '--no-mdns', '--log-level', 'trace'], { stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  let err = ''
  child.stdout.on('data', (d: Buffer) => { out += d.toString() })
  child.stderr.on('data', (d: Buffer) => { err += d.toString() })
  const exited = new Promise<void>(resolve => { child.on('exit', () => { resolve() }) })
  try {
    await waitFor(() => out.includes('Press Ctrl-C to stop.') || child.exitCode != null, { timeoutMs: 30_000, intervalMs: 20, what: 'daemon started' })
  } catch (e) {
    child.kill('SIGKILL')
    throw e
  }
  assert.equal(child.exitCode, null, `daemon exited: ${out}${err}`)
  return {
    stdout: () => out,
    stderr: () => err,
    stop: async () => {
      if (child.exitCode == null && child.signalCode == null) child.kill('SIGTERM')
      await exited
    }
  }
}

/** Every path under `root` (not `root` itself) with its permission bits. */
async function modesUnder (root: string): Promise<Array<{ path: string, dir: boolean, mode: number }>> {
  const out: Array<{ path: string, dir: boolean, mode: number }> = []
  for (const e of await readdir(root, { withFileTypes: true, recursive: true })) {
    const path = join(e.parentPath, e.name)
    out.push({ path, dir: e.isDirectory(), mode: (await stat(path)).mode & 0o777 })
  }
  return out
}

describe('data dir security: private modes, a warning, no keys in the log', () => {
  const td = teardown()

  it('a pre-existing 0755 data dir gets 0700 folders and 0600 files; the daemon warns and logs no xpub', TEST, async () => {
    const dir = await td.dir('peerd-e2e-modes-')
    const dataDir = join(dir, 'node')
    await mkdir(dataDir)
    await chmod(dataDir, 0o755)
    const passFile = join(dir, 'pass')
    await writeFile(passFile, 'horse battery staple\n')

    const d = await startTextDaemon(dataDir)
    td.add(d.stop, 'stop the text daemon')
    const dd = ['--data-dir', dataDir]
    const created = await cliJson<{ mnemonic: string, address: string }>(['wallet', 'create', '--passphrase-file', passFile, '--json', ...dd])
    await cliJson(['wallet', 'address', '--json', ...dd])
    await cliJson(['mine', '--blocks', '2', '--json', ...dd])
    const file = join(dir, 'hello.txt')
    await writeFile(file, 'hello, private world\n'.repeat(1000))
    const shared = await runCli(['share', file, '--json', ...dd])
    assert.equal(shared.code, 0, shared.stdout + shared.stderr)
    await d.stop()

    // the warning: one line on the terminal, one in the log
    assert.match(d.stdout(), /warning: .*data dir .* is open to other users \(mode 755\).*chmod -R go-rwx/)
    assert.match(d.stderr(), /"level":"warn".*open to other users/)

    const entries = await modesUnder(dataDir)
    for (const sub of ['wallet', 'chain', 'libp2p', 'share', 'blocks']) assert.ok(entries.some(e => e.dir && e.path === join(dataDir, sub)), `${sub}/ exists`)
    assert.ok(entries.some(e => !e.dir && e.path.startsWith(join(dataDir, 'blocks'))), 'block files were written')
    const loose = entries.filter(e => e.mode !== (e.dir ? 0o700 : 0o600)).map(e => `${e.mode.toString(8)} ${e.path.slice(dataDir.length)}`)
    assert.deepEqual(loose, [], 'folders 0700, files 0600')

    // the daemon's log, and LevelDB's own info logs, name no key or secret
    const logs = [d.stderr(), ...await Promise.all(entries.filter(e => !e.dir && /\/LOG(\.old)?$/.test(e.path)).map(async e => await readFile(e.path, 'utf8')))]
    for (const log of logs) {
      assert.doesNotMatch(log, EXTENDED_KEY)
      assert.ok(!log.includes(created.mnemonic.split(' ').slice(0, 4).join(' ')), 'no mnemonic')
      assert.ok(!log.includes('horse battery staple'), 'no passphrase')
    }

    // made private, the data dir draws no warning
    await chmod(dataDir, 0o700)
    const again = td.daemon(await startDaemonProcess(dataDir))
    await again.stop()
    assert.doesNotMatch(again.stderr(), /open to other users/)
  })
})
