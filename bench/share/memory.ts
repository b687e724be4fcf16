/**
 * `npm run bench:share:memory -- [--size MiB]`: the memory of a large download.
 *
 * Two daemons on loopback, started as a user starts one (`node bin/peerd.js daemon …`, which
 * gives itself V8's small young generation, as `npm start` and `devnet` do); the first shares a
 * random file of SIZE (default 4096 MiB), the second `peerd get`s it. Prints the downloader's
 * peak RSS (VmHWM from /proc) against the issue's target of 300 MiB, and exits 1 above it.
 */
import { spawn } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { sha256File, writeRandomFile } from './files.ts'

const BIN = fileURLToPath(new URL('../../bin/peerd.js', import.meta.url))
const TARGET_MIB = 300
const sizeArg = process.argv.indexOf('--size')
const size = (sizeArg > 0 ? Number(process.argv[sizeArg + 1]) : 4096) * 1024 * 1024
if (!(size > 0)) throw new Error('--size takes a number of MiB')

const dir = await mkdtemp(join(tmpdir(), 'peerd-bench-mem-'))
const children: Array<ReturnType<typeof spawn>> = []
const cleanup = async (): Promise<void> => {
  for (const c of children) if (c.exitCode == null && c.signalCode == null) c.kill('SIGKILL')
  await rm(dir, { recursive: true, force: true })
}
process.on('SIGINT', () => { void cleanup().then(() => process.exit(130)) })

async function daemon (name: string, extra: string[]): Promise<{ pid: number, address: string, dataDir: string }> {
  const dataDir = join(dir, name)
  const child = spawn(process.execPath, [BIN, 'daemon', '--json', '--data-dir', dataDir, '--network', 'regtest',
    '--listen', '/ip4/127.0.0.1/tcp/0', '--api', '127.0.0.1:0', '--no-mdns', '--log-level', 'warn', ...extra], { stdio: ['ignore', 'pipe', 'inherit'] })
  children.push(child)
  const started = await new Promise<Record<string, unknown>>((resolve, reject) => {
    child.once('exit', code => { reject(new Error(`${name} exited with ${String(code)}`)) })
    createInterface({ input: child.stdout }).on('line', line => {
      try { const v = JSON.parse(line); if (v.event === 'started') resolve(v) } catch { /* not JSON */ }
    })
  })
  return { pid: started.pid as number, address: (started.addresses as string[])[0] as string, dataDir }
}

async function cli (args: string[]): Promise<Record<string, unknown>> {
  const child = spawn(process.execPath, [BIN, ...args, '--json'], { stdio: ['ignore', 'pipe', 'inherit'] })
  let out = ''
  child.stdout.on('data', (d: Buffer) => { out += d.toString() })
  const code = await new Promise(resolve => child.on('close', resolve))
  if (code !== 0) throw new Error(`peerd ${args.join(' ')} failed: ${out}`)
  return JSON.parse(out.trim().split('\n').at(-1) ?? '{}')
}

async function peakRss (pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8')
  const kb = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? NaN)
  return kb * 1024
}

try {
  const input = join(dir, 'input.bin')
  const inputSha = await writeRandomFile(input, size)
  const server = await daemon('server', [])
  const getter = await daemon('getter', ['--bootstrap', server.address])
  const { cid } = await cli(['share', input, '--data-dir', server.dataDir])
  const before = await peakRss(getter.pid)
  const t0 = performance.now()
  const got = await cli(['get', String(cid), '-o', join(dir, 'output.bin'), '--data-dir', getter.dataDir])
  const seconds = (performance.now() - t0) / 1000
  const peak = await peakRss(getter.pid)
  const same = inputSha === (await sha256File(join(dir, 'output.bin')))
  const mib = (n: number): string => (n / 1048576).toFixed(0)
  console.log(`bench:share:memory — get of ${mib(size)} MiB from one peer on loopback, ${new Date().toISOString()}`)
  console.log(`  downloader peak RSS: ${mib(peak)} MiB (idle before the get: ${mib(before)} MiB); target < ${TARGET_MIB} MiB: ${peak < TARGET_MIB * 1048576 ? 'PASS' : 'FAIL'}`)
  console.log(`  ratio peak/target: ${(peak / (TARGET_MIB * 1048576)).toFixed(2)}; ${seconds.toFixed(1)} s, ${got.peers as number} peer(s); output ${same ? 'equals' : 'DIFFERS FROM'} the input`)
  process.exitCode = peak < TARGET_MIB * 1048576 && same ? 0 : 1
} finally {
  await cleanup()
}
