/**
 * Processes started inside a host's network namespace (`ip netns exec NS CMD…`, which execs CMD,
 * so the child's pid is CMD's own and a signal reaches it directly). Every process is registered
 * with the {@link janitor} until it has exited.
 */
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { createInterface } from 'node:readline'
import { janitor } from './janitor.ts'

/** A process running in a namespace. */
export interface NsProcess {
  child: ChildProcess
  /** What it wrote so far (the last 1 MiB of each stream). */
  stdout: () => string
  stderr: () => string
  /** Resolves with the exit code, or the signal's name, once it has exited and its output is read. */
  exited: Promise<number | string>
  /** Whether it is still running. */
  running: () => boolean
  /** Resolves with the first JSON object line on stdout that `match` accepts; rejects on exit or timeout. */
  waitForJson: (match: (v: Record<string, unknown>) => boolean, timeoutMs?: number) => Promise<Record<string, unknown>>
  /** Resolves with the first stdout or stderr line that matches; rejects on exit or timeout. */
  waitForLine: (match: RegExp, timeoutMs?: number) => Promise<string>
  /** Writes a line to its stdin (when started with `stdin: true`). */
  send: (line: string) => void
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once it has exited. */
  stop: (graceMs?: number) => Promise<void>
  /** SIGKILL (kill -9); resolves once it has exited. */
  kill: () => Promise<void>
}

const KEEP = 1024 * 1024

/** The last `n` characters of `s`, for error messages. */
export function tail (s: string, n = 2000): string {
  return s.length <= n ? s : `…${s.slice(-n)}`
}

/** Starts `cmd args` inside namespace `ns` (or here, when `ns` is undefined). */
export function spawnIn (ns: string | undefined, cmd: string, args: string[], options: { stdin?: boolean, env?: NodeJS.ProcessEnv, cwd?: string } = {}): NsProcess {
  const argv = ns == null ? [cmd, ...args] : ['ip', 'netns', 'exec', ns, cmd, ...args]
  const child = spawn(argv[0] as string, argv.slice(1), {
    stdio: [options.stdin === true ? 'pipe' : 'ignore', 'pipe', 'pipe'],
    env: options.env ?? process.env,
    cwd: options.cwd
  })
  const what = `${ns ?? 'here'}: ${[cmd, ...args].join(' ')}`
  let out = ''
  let err = ''
  const exited = new Promise<number | string>(resolve => {
    child.on('close', (code, signal) => { resolve(code ?? signal ?? 'unknown') })
    child.on('error', e => { err += `\n${e.message}`; resolve('spawn-error') })
  })
  const running = (): boolean => child.exitCode == null && child.signalCode == null && child.pid != null
  const forget = janitor.add({
    what: `process ${String(child.pid)} (${what})`,
    process: true,
    run: async () => { await proc.stop(5_000) },
    runSync: () => { if (running()) child.kill('SIGKILL') }
  })
  void exited.then(forget)
  const lines: Array<{ text: string, json?: Record<string, unknown> }> = []
  const listeners = new Set<() => void>()
  const onLine = (text: string, parse: boolean): void => {
    let json: Record<string, unknown> | undefined
    if (parse && text.startsWith('{')) {
      try { json = JSON.parse(text) as Record<string, unknown> } catch { /* not JSON */ }
    }
    lines.push({ text, json })
    if (lines.length > 10_000) lines.splice(0, 5_000)
    for (const l of listeners) l()
  }
  child.stdout?.on('data', (d: Buffer) => { out = (out + d.toString()).slice(-KEEP) })
  child.stderr?.on('data', (d: Buffer) => { err = (err + d.toString()).slice(-KEEP) })
  if (child.stdout != null) createInterface({ input: child.stdout }).on('line', l => { onLine(l, true) })
  if (child.stderr != null) createInterface({ input: child.stderr }).on('line', l => { onLine(l, false) })

  const waitFor = async <T>(find: () => T | undefined, timeoutMs: number, label: string): Promise<T> => await new Promise((resolve, reject) => {
    const done = (): void => { clearTimeout(timer); listeners.delete(check) }
    const check = (): void => {
      const v = find()
      if (v !== undefined) { done(); resolve(v) }
    }
    const timer = setTimeout(() => { done(); reject(new Error(`no ${label} from \`${what}\` within ${timeoutMs / 1000} s: ${tail(out + err)}`)) }, timeoutMs)
    listeners.add(check)
    check()
    void exited.then(code => {
      if (!listeners.has(check)) return
      check()
      if (listeners.has(check)) { done(); reject(new Error(`\`${what}\` exited with ${code} before ${label}: ${tail(out + err)}`)) }
    })
  })

  const proc: NsProcess = {
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    running,
    waitForJson: async (match, timeoutMs = 60_000) => await waitFor(() => lines.find(l => l.json != null && match(l.json))?.json, timeoutMs, 'expected JSON'),
    waitForLine: async (match, timeoutMs = 60_000) => await waitFor(() => lines.find(l => match.test(l.text))?.text, timeoutMs, `a line matching ${String(match)}`),
    send: line => { child.stdin?.write(line + '\n') },
    stop: async (graceMs = 15_000) => {
      if (running()) {
        child.kill('SIGTERM')
        const timer = setTimeout(() => { if (running()) child.kill('SIGKILL') }, graceMs)
        await exited
        clearTimeout(timer)
      }
    },
    kill: async () => {
      if (running()) child.kill('SIGKILL')
      await exited
    }
  }
  return proc
}

/** Runs `cmd args` in `ns` to completion; rejects on a non-zero exit or after `timeoutMs`. */
export async function runIn (ns: string | undefined, cmd: string, args: string[], timeoutMs = 60_000): Promise<string> {
  const p = spawnIn(ns, cmd, args)
  const timer = setTimeout(() => { void p.kill() }, timeoutMs)
  const code = await p.exited
  clearTimeout(timer)
  if (code !== 0) throw new Error(`\`${cmd} ${args.join(' ')}\`${ns == null ? '' : ` in ${ns}`} exited with ${code}: ${tail(p.stderr() + p.stdout())}`)
  return p.stdout()
}
