/**
 * Runs `bench/onion/private-get.ts` (a private get's rate as a share of a direct one, issue 17
 * point 7: `createNode` nodes on loopback in one process) as a child process and reads its
 * figures from what it prints, so bench:onion can show them next to its own. That script is run
 * as it is; this file only parses its lines (`  run 1 direct  52.8 MiB/s  0.15 s  from 1 providers`
 * and `median direct … MiB/s, private … MiB/s, private/direct …`).
 */
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { janitor } from '../net/harness/index.ts'

const SCRIPT = fileURLToPath(new URL('./private-get.ts', import.meta.url))

/** One get of the script's. */
export interface PrivateGetRun { kind: 'direct' | 'private', mibPerSecond: number, seconds: number, providers: number }

/** The script's figures. */
export interface PrivateGetResult {
  mib: number
  providers: number
  runs: PrivateGetRun[]
  directMiBps: number
  privateMiBps: number
  /** Median private rate / median direct rate. */
  ratio: number
  /** The command, for the notes. */
  command: string
}

/** Parses the script's output; undefined when its summary line is missing. */
export function parsePrivateGet (text: string, mib: number, providers: number, command: string): PrivateGetResult | undefined {
  const runs: PrivateGetRun[] = []
  for (const m of text.matchAll(/^\s+run \d+ (direct|private)\s+([\d.]+) MiB\/s\s+([\d.]+) s\s+from (\d+) providers?$/gm)) {
    runs.push({ kind: m[1] as 'direct' | 'private', mibPerSecond: Number(m[2]), seconds: Number(m[3]), providers: Number(m[4]) })
  }
  const summary = /^median direct ([\d.]+) MiB\/s, private ([\d.]+) MiB\/s, private\/direct ([\d.]+)/m.exec(text)
  if (summary == null) return undefined
  return { mib, providers, runs, directMiBps: Number(summary[1]), privateMiBps: Number(summary[2]), ratio: Number(summary[3]), command }
}

/**
 * Runs the script with `--mib`, `--providers` and `--runs` and returns its figures; rejects with
 * the tail of its output when it fails or prints no summary within `timeoutMs`.
 */
export async function runPrivateGet (o: { mib: number, providers: number, runs: number, timeoutMs?: number, progress?: (line: string) => void }): Promise<PrivateGetResult> {
  const args = [SCRIPT, '--mib', String(o.mib), '--providers', String(o.providers), '--runs', String(o.runs)]
  const command = `node bench/onion/private-get.ts ${args.slice(1).join(' ')}`
  o.progress?.(`private get: ${command}`)
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] })
  // an interrupted bench stops it too (its nodes and temporary directory go with it)
  const forget = janitor.add({
    what: `private-get.ts (pid ${String(child.pid)})`,
    process: true,
    run: async () => { if (child.exitCode == null) { child.kill('SIGTERM'); await new Promise(resolve => child.once('close', resolve)) } },
    runSync: () => { child.kill('SIGKILL') }
  })
  let out = ''
  let err = ''
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    out += d
    for (const line of d.split('\n')) if (line.trim() !== '') o.progress?.(`private get: ${line.trim()}`)
  })
  child.stderr.setEncoding('utf8').on('data', (d: string) => { err = (err + d).slice(-4000) })
  const timer = setTimeout(() => { child.kill('SIGTERM') }, o.timeoutMs ?? 30 * 60_000)
  const code = await new Promise<number | null>(resolve => { child.on('close', resolve) })
  clearTimeout(timer)
  forget()
  const result = parsePrivateGet(out, o.mib, o.providers, command)
  if (code !== 0 || result == null) throw new Error(`${command} exited ${String(code)}: ${(out + err).trim().split('\n').slice(-3).join(' | ')}`)
  return result
}
