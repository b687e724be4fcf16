/**
 * The one way a test cleans up what it started: register closers as they are made; they run
 * last first, every one even when an earlier one failed or hung (each has a time limit), from
 * node:test's `after` (a suite or file) or `t.after` (one test).
 *
 * ```ts
 * describe('two nodes', () => {
 *   const td = teardown()
 *   it('connect', async () => {
 *     const [a, b] = await Promise.all([td.testNode(), td.testNode()])
 *   })
 * })
 * ```
 */
import type { ChildProcess } from 'node:child_process'
import { after, afterEach } from 'node:test'
import type { TestContext } from 'node:test'
import type { NodeOptions, PeerdNode } from '../../src/node/node.ts'
import { startTestNode, tempDir } from './index.ts'
import type { DaemonProcess } from './index.ts'
import type { CliProcess } from './share.ts'

/** How long one closer may take before it is abandoned and reported. */
const STEP_TIMEOUT_MS = 20_000

/** What a suite or a test started, closed in reverse order by `run()`. */
export class Teardown {
  private readonly steps: Array<{ what: string, close: () => unknown }> = []
  private readonly timeoutMs: number

  constructor (options: { timeoutMs?: number } = {}) {
    this.timeoutMs = options.timeoutMs ?? STEP_TIMEOUT_MS
  }

  /** Registers a closer (`what` names it in a failure). */
  add (close: () => unknown, what = 'cleanup step'): void {
    this.steps.push({ what, close })
  }

  /** A fresh temporary dir, removed on teardown. */
  async dir (prefix = 'peerd-test-'): Promise<string> {
    const d = await tempDir(prefix)
    this.add(d.cleanup, `remove ${d.path}`)
    return d.path
  }

  /** Registers anything with `stop()` (a node, a chain's worker pool, a Helia peer). */
  node<T extends { stop: () => unknown }> (node: T): T {
    this.add(async () => { await node.stop() }, 'stop a node')
    return node
  }

  /** An in-process regtest node in a fresh dir (see `startTestNode`), stopped then removed. */
  async testNode (options: Partial<NodeOptions> = {}): Promise<PeerdNode> {
    const dataDir = await this.dir()
    return this.node(await startTestNode({ dataDir, ...options }))
  }

  /** Registers a daemon process to stop (SIGTERM; SIGKILL after 10 s). */
  daemon (d: DaemonProcess): DaemonProcess {
    this.add(async () => {
      const force = setTimeout(() => { void d.kill() }, 10_000)
      try {
        await d.stop()
      } finally {
        clearTimeout(force)
      }
    }, `stop daemon ${d.dataDir}`)
    return d
  }

  /** Registers a CLI process to kill if it is still running. */
  cli (run: CliProcess): CliProcess {
    this.add(async () => {
      if (run.child.exitCode == null && run.child.signalCode == null) run.child.kill('SIGKILL')
      await run.result
    }, 'kill a CLI process')
    return run
  }

  /** Registers a child process to SIGKILL (and wait for) if it is still running. */
  child<T extends ChildProcess> (child: T): T {
    this.add(async () => {
      if (child.exitCode != null || child.signalCode != null) return
      const exited = new Promise(resolve => child.once('exit', resolve))
      child.kill('SIGKILL')
      await exited
    }, `kill process ${String(child.pid)}`)
    return child
  }

  /** Runs every closer, last registered first; throws once at the end if any failed or hung. */
  async run (): Promise<void> {
    const failures: Error[] = []
    for (const step of this.steps.splice(0).reverse()) {
      let timer: NodeJS.Timeout | undefined
      try {
        await Promise.race([
          Promise.resolve().then(step.close),
          new Promise((_resolve, reject) => {
            timer = setTimeout(() => { reject(new Error(`${step.what}: still running after ${this.timeoutMs} ms`)) }, this.timeoutMs)
          })
        ])
      } catch (err) {
        failures.push(err instanceof Error ? err : new Error(String(err)))
      } finally {
        clearTimeout(timer)
      }
    }
    if (failures.length > 0) throw new AggregateError(failures, `teardown: ${failures.map(e => e.message).join('; ')}`)
  }
}

/**
 * A Teardown run when `t` ends (`t.after`), or, without `t`, by the `after` hook of the suite
 * (or file) whose body calls it.
 */
export function teardown (t?: TestContext, options: { timeoutMs?: number } = {}): Teardown {
  const td = new Teardown(options)
  if (t != null) t.after(async () => { await td.run() })
  else after(async () => { await td.run() })
  return td
}

/** A Teardown run after every test of the suite whose body calls it (`afterEach`): for what `beforeEach` makes. */
export function teardownEach (options: { timeoutMs?: number } = {}): Teardown {
  const td = new Teardown(options)
  afterEach(async () => { await td.run() })
  return td
}
