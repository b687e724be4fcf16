/**
 * Everything the net bench makes (namespaces, links, processes, temporary directories) is
 * registered here, so that it is removed however the run ends: normally, on a thrown error, an
 * uncaught exception, Ctrl-C, SIGTERM or SIGHUP. A synchronous pass on `exit` is the last
 * resort. {@link removeStale} deletes what a run that was killed with SIGKILL left behind.
 *
 * Every name starts with {@link PREFIX} followed by the owning process id, so a stale pass only
 * touches leftovers of runs whose process is gone, never another live run's.
 */
import { execFileSync } from 'node:child_process'
import { readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** Prefix of every namespace and temporary directory the harness makes. */
export const PREFIX = 'pdnet'

/** One thing to undo: an async way (preferred) and a synchronous one (for `exit`). */
export interface Undo {
  what: string
  /** Processes are stopped first, all at once; then the rest is undone, last first. */
  process?: boolean
  run: () => Promise<void>
  runSync: () => void
}

function alive (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** Kills (SIGKILL) every process inside namespace `ns`, then deletes it. Never throws. */
export function deleteNamespaceSync (ns: string): void {
  try {
    const pids = execFileSync('ip', ['netns', 'pids', ns], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
    for (const p of pids.split(/\s+/).filter(Boolean)) {
      // only processes inside our own namespace: ones this harness started, or their children
      try { process.kill(Number(p), 'SIGKILL') } catch { /* gone */ }
    }
  } catch { /* no such namespace */ }
  try { execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' }) } catch { /* gone */ }
}

/**
 * Deletes namespaces and temporary directories named `pdnet<pid>…` whose process is no longer
 * running (leftovers of a run that was killed hard). Returns what it removed.
 */
export function removeStale (): string[] {
  const removed: string[] = []
  const owner = new RegExp(`^${PREFIX}(\\d+)x`)
  let names: string[] = []
  try {
    names = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
      .split('\n').map(l => l.split(' ')[0] ?? '').filter(Boolean)
  } catch { /* no iproute2: nothing of ours can exist */ }
  // hosts first, hubs last (a hub holds the other end of every host's link)
  const stale = names.filter(n => { const m = owner.exec(n); return m != null && !alive(Number(m[1])) })
  for (const ns of stale.sort((a, b) => Number(a.endsWith('-hub')) - Number(b.endsWith('-hub')))) {
    deleteNamespaceSync(ns)
    removed.push(ns)
  }
  for (const d of readdirSync(tmpdir())) {
    const m = owner.exec(d)
    if (m != null && !alive(Number(m[1]))) {
      rmSync(join(tmpdir(), d), { recursive: true, force: true })
      removed.push(join(tmpdir(), d))
    }
  }
  return removed
}

/** The registry of things to undo; one per process (see {@link janitor}). */
export class Janitor {
  private readonly undos: Undo[] = []
  private cleaning: Promise<void> | undefined
  private installed = false
  private exitHooked = false
  /** Set once a signal or an uncaught error started the cleanup. */
  interrupted = false

  /**
   * Registers `undo`; returns a function that unregisters it (after the caller undid it itself).
   * Once a signal started the cleanup, undoes it at once and throws: the run is over.
   */
  add (undo: Undo): () => void {
    if (this.interrupted) {
      try { undo.runSync() } catch { /* best effort */ }
      throw new Error('interrupted')
    }
    this.undos.push(undo)
    return () => {
      const i = this.undos.indexOf(undo)
      if (i >= 0) this.undos.splice(i, 1)
    }
  }

  /** Undoes everything registered, last first. Safe to call twice. */
  async cleanup (): Promise<void> {
    this.cleaning ??= (async () => {
      const procs = this.undos.filter(u => u.process === true)
      await Promise.all(procs.map(async u => {
        try { await u.run() } catch { try { u.runSync() } catch { /* best effort */ } }
      }))
      for (const u of procs) {
        const i = this.undos.indexOf(u) // an exited process has unregistered itself already
        if (i >= 0) this.undos.splice(i, 1)
      }
      while (this.undos.length > 0) {
        const u = this.undos.pop() as Undo
        try {
          await u.run()
        } catch (err) {
          process.stderr.write(`bench:net: could not undo ${u.what}: ${(err as Error).message}\n`)
          try { u.runSync() } catch { /* best effort */ }
        }
      }
    })()
    await this.cleaning
    this.cleaning = undefined
  }

  /** Undoes everything synchronously (from an `exit` handler). */
  cleanupSync (): void {
    while (this.undos.length > 0) {
      const u = this.undos.pop() as Undo
      try { u.runSync() } catch { /* best effort */ }
    }
  }

  /**
   * Cleans up on SIGINT / SIGTERM / SIGHUP (then exits 130), on an uncaught exception or
   * unhandled rejection (exits 2), and synchronously on `exit`. For scripts, not for tests (the
   * test runner has its own handlers; tests call `cleanup()` from `after`).
   */
  installHandlers (): void {
    if (this.installed) return
    this.installed = true
    let caught = false
    const bail = (why: string, code: number): void => {
      if (caught) process.exit(code)
      caught = true
      this.interrupted = true
      process.stderr.write(`\nbench:net: ${why}: stopping processes and removing namespaces…\n`)
      void this.cleanup().finally(() => { process.exit(code) })
    }
    for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(s, () => { bail(s, 130) })
    process.on('uncaughtException', err => { process.stderr.write(`${err.stack ?? String(err)}\n`); bail('uncaught exception', 2) })
    process.on('unhandledRejection', err => { process.stderr.write(`${(err as Error)?.stack ?? String(err)}\n`); bail('unhandled rejection', 2) })
    this.installExitHook()
  }

  /** Only the synchronous `exit` pass (safe inside a test runner). */
  installExitHook (): void {
    if (this.exitHooked) return
    this.exitHooked = true
    process.on('exit', () => { this.cleanupSync() })
  }
}

/** The process's janitor. */
export const janitor = new Janitor()
