/**
 * Processes and temporary directories of one benchmark run, all tracked so that `cleanup()`
 * (on success, on failure, on Ctrl-C) stops every process it started and removes every
 * directory it made.
 *
 * ```ts
 * const h = new Harness()
 * h.exitOnSignals()
 * try {
 *   const dir = await h.tempDir('x-')
 *   const p = h.spawnNode(['script.ts', 'serve'])
 *   const info = await p.waitForJson(v => v.address != null)
 * } finally {
 *   await h.cleanup()
 * }
 * ```
 */
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'

/** A Node.js process started by the harness. */
export interface NodeProcess {
  child: ChildProcess
  /** What it printed on stdout so far. */
  stdout: () => string
  /** What it printed on stderr so far. */
  stderr: () => string
  /** Resolves with the exit code (or the signal's name) once it has exited and its output is read. */
  exited: Promise<number | string>
  /** Resolves with the first JSON line on stdout that `match` accepts; rejects on exit or timeout. */
  waitForJson: (match: (v: Record<string, unknown>) => boolean, timeoutMs?: number) => Promise<Record<string, unknown>>
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once it has exited. */
  stop: (graceMs?: number) => Promise<void>
}

/** The last `n` characters of `s`, for error messages. */
export function tail (s: string, n = 2000): string {
  return s.length <= n ? s : `…${s.slice(-n)}`
}

/** Tracks the processes and directories of a run; see the module comment. */
export class Harness {
  private readonly processes = new Set<NodeProcess>()
  private readonly dirs: string[] = []
  private cleaning: Promise<void> | undefined
  /** Set once a signal started the cleanup; failures after that are its consequence. */
  interrupted = false

  /** Makes a temporary directory that `cleanup()` removes. */
  async tempDir (prefix: string): Promise<string> {
    const path = await mkdtemp(join(tmpdir(), prefix))
    this.dirs.push(path)
    return path
  }

  /** Starts `node ARGS` (this Node.js, so .ts files run directly) with stdout and stderr piped. */
  spawnNode (args: string[]): NodeProcess {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    child.stdout.on('data', (d: Buffer) => { out += d.toString() })
    child.stderr.on('data', (d: Buffer) => { err += d.toString() })
    const exited = new Promise<number | string>(resolve => {
      // 'close' rather than 'exit': by then everything it printed has been read
      child.on('close', (code, signal) => { resolve(code ?? signal ?? 'unknown') })
      child.on('error', () => { resolve('spawn-error') })
    })
    const jsonLines: Array<Record<string, unknown>> = []
    const listeners = new Set<() => void>()
    createInterface({ input: child.stdout }).on('line', line => {
      try {
        const v: unknown = JSON.parse(line)
        if (v != null && typeof v === 'object') {
          jsonLines.push(v as Record<string, unknown>)
          for (const l of listeners) l()
        }
      } catch { /* not JSON */ }
    })
    const proc: NodeProcess = {
      child,
      stdout: () => out,
      stderr: () => err,
      exited,
      waitForJson: async (match, timeoutMs = 60_000) => await new Promise((resolve, reject) => {
        const done = (): void => { clearTimeout(timer); listeners.delete(check) }
        const check = (): void => {
          const v = jsonLines.find(match)
          if (v != null) { done(); resolve(v) }
        }
        const timer = setTimeout(() => { done(); reject(new Error(`no expected output from \`${args.join(' ')}\` within ${timeoutMs / 1000} s: ${tail(err)}`)) }, timeoutMs)
        listeners.add(check)
        check()
        void exited.then(code => {
          if (!listeners.has(check)) return
          check()
          if (listeners.has(check)) { done(); reject(new Error(`\`${args.join(' ')}\` exited with ${code}: ${tail(out + err)}`)) }
        })
      }),
      stop: async (graceMs = 15_000) => {
        if (child.exitCode == null && child.signalCode == null) {
          child.kill('SIGTERM')
          const timer = setTimeout(() => { child.kill('SIGKILL') }, graceMs)
          await exited
          clearTimeout(timer)
        }
        this.processes.delete(proc)
      }
    }
    this.processes.add(proc)
    void exited.then(() => { this.processes.delete(proc) })
    return proc
  }

  /** Process ids of the processes still running. */
  livePids (): number[] {
    return [...this.processes].flatMap(p => p.child.pid != null && p.child.exitCode == null && p.child.signalCode == null ? [p.child.pid] : [])
  }

  /** Runs `node ARGS` to completion; returns its output, exit code and wall-clock seconds. */
  async runNode (args: string[], timeoutMs: number): Promise<{ code: number | string, stdout: string, stderr: string, seconds: number }> {
    const t0 = performance.now()
    const p = this.spawnNode(args)
    const timer = setTimeout(() => { p.child.kill('SIGKILL') }, timeoutMs)
    const code = await p.exited
    const seconds = (performance.now() - t0) / 1000
    clearTimeout(timer)
    return { code, stdout: p.stdout(), stderr: p.stderr(), seconds }
  }

  /** Stops every process still running and removes every directory. Safe to call twice. */
  async cleanup (): Promise<void> {
    this.cleaning ??= (async () => {
      await Promise.allSettled([...this.processes].map(async p => { await p.stop() }))
      await Promise.allSettled(this.dirs.map(async d => { await rm(d, { recursive: true, force: true }) }))
    })()
    await this.cleaning
  }

  /** On SIGINT / SIGTERM / SIGHUP: clean up, then exit 130 (a second signal exits at once). */
  exitOnSignals (): void {
    let caught = false
    const onSignal = (signal: NodeJS.Signals): void => {
      if (caught) process.exit(130)
      caught = true
      this.interrupted = true
      process.stderr.write(`\nbench: ${signal}: stopping processes and removing temporary files…\n`)
      void this.cleanup().finally(() => { process.exit(130) })
    }
    for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(s, onSignal)
  }
}
