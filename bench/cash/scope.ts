/**
 * The in-process nodes and temporary directories of one run, so that `cleanup()` (on success,
 * on failure, on Ctrl-C) stops every node it started and removes every directory it made.
 *
 * ```ts
 * const scope = new Scope()
 * scope.exitOnSignals()
 * try {
 *   const node = await scope.node('source')   // regtest, loopback, no mDNS, silent (PEERD_BENCH_LOG=info for logs)
 * } finally {
 *   await scope.cleanup()
 * }
 * ```
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { multiaddr } from '@multiformats/multiaddr'
import { createNode } from '../../src/node/node.ts'
import type { NodeOptions, PeerdNode } from '../../src/node/node.ts'

/** Tracks the nodes and directories of a run; see the module comment. */
export class Scope {
  private readonly nodes = new Set<PeerdNode>()
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

  /** Starts an in-process regtest node on loopback TCP, mDNS off, in a fresh directory; logs silent unless PEERD_BENCH_LOG names a level. */
  async node (name: string, options: Partial<NodeOptions> = {}): Promise<PeerdNode> {
    const dataDir = await this.tempDir(`peerd-bench-cash-${name}-`)
    const node = await createNode({
      dataDir,
      network: 'regtest',
      mdns: false,
      listen: ['/ip4/127.0.0.1/tcp/0'],
      logLevel: (process.env.PEERD_BENCH_LOG as NodeOptions['logLevel']) ?? 'silent',
      ...options
    })
    this.nodes.add(node)
    return node
  }

  /** Stops `node` and forgets it (its directory stays until cleanup). */
  async stop (node: PeerdNode): Promise<void> {
    this.nodes.delete(node)
    await node.stop()
  }

  /** Stops every node still running, then removes every directory. Safe to call twice. */
  async cleanup (): Promise<void> {
    this.cleaning ??= (async () => {
      await Promise.allSettled([...this.nodes].map(async n => { await n.stop() }))
      this.nodes.clear()
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
      process.stderr.write(`\nbench:cash: ${signal}: stopping nodes and removing temporary files…\n`)
      void this.cleanup().finally(() => { process.exit(130) })
    }
    for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(s, onSignal)
  }
}

/**
 * Opens a connection from `from` to `to` with the libp2p host's own dial. Not
 * `PeerdNode.connect()`: that one pings the peer while the node's connection listener pings
 * it too, and one of the two ping streams stays half-open; libp2p's connection monitor then
 * fails its next ping on that connection (`TooManyOutboundProtocolStreamsError`, ping allows
 * one outbound stream) and aborts the connection, within 10 s. That would cut a sync midway
 * and the links of the propagation graph.
 */
export async function dial (from: PeerdNode, to: PeerdNode): Promise<void> {
  await from.libp2p.dial(multiaddr(to.addresses()[0] as string), { signal: AbortSignal.timeout(15_000) })
}

/** Counts the connections `node` closes or loses from now on. */
export function countCloses (node: PeerdNode): { count: () => number, stop: () => void } {
  let n = 0
  const on = (): void => { n++ }
  node.libp2p.addEventListener('connection:close', on)
  return { count: () => n, stop: () => { node.libp2p.removeEventListener('connection:close', on) } }
}
