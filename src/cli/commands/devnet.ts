/** `peerd devnet`: N local daemons joined into one regtest network, in the foreground. */
import { resolve } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { UsageError } from '../../errors.ts'
import { startDevnet } from '../../daemon/devnet.ts'
import { isLogLevel, LOG_LEVELS } from '../../utils/logger.ts'
import type { DevnetNode } from '../../daemon/devnet.ts'
import { ApiClient } from '../client.ts'
import { intOption } from '../command.ts'
import type { Command } from '../command.ts'
import { printJson, printLines, table } from '../output.ts'

/** Polls every node's peers until the graph is connected; returns the link count or null on timeout. */
async function waitForOneNetwork (nodes: DevnetNode[], timeoutMs: number): Promise<number | null> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    const links = new Set<string>()
    const adj = new Map<string, Set<string>>(nodes.map(n => [n.peerId, new Set()]))
    for (const n of nodes) {
      try {
        const peers = await new ApiClient(n.dataDir).get<Array<{ peerId: string }>>('/api/v1/peers')
        for (const p of peers) {
          if (!adj.has(p.peerId)) continue
          adj.get(n.peerId)?.add(p.peerId)
          adj.get(p.peerId)?.add(n.peerId)
          links.add([n.peerId, p.peerId].sort().join('-'))
        }
      } catch { /* not answering yet */ }
    }
    const seen = new Set<string>()
    const stack = [nodes[0]?.peerId ?? '']
    while (stack.length > 0) {
      const id = stack.pop() as string
      if (seen.has(id)) continue
      seen.add(id)
      for (const next of adj.get(id) ?? []) stack.push(next)
    }
    if (seen.size === nodes.length) return links.size
    await sleep(250)
  }
  return null
}

export const devnet: Command = {
  name: 'devnet',
  summary: 'run N local nodes as one regtest network (foreground)',
  usage: 'devnet [--nodes N] [--dir DIR] [--json]',
  help: `  --nodes N         how many nodes, 1 to 64 (default 3)
  --dir DIR         where their data dirs go: DIR/node1 … DIR/nodeN (default ./.peerd-devnet)
  --log-level LEVEL the nodes' log level (logs in DIR/nodeK/daemon.log)`,
  options: {
    nodes: { type: 'string' },
    dir: { type: 'string' },
    'log-level': { type: 'string' }
  },
  args: { min: 0, max: 0 },
  async run (ctx) {
    const count = intOption(ctx.values, 'nodes', 1, 64) ?? 3
    const level = ctx.values['log-level'] as string | undefined
    if (level != null && !isLogLevel(level)) throw new UsageError(`--log-level must be one of ${[...LOG_LEVELS, 'silent'].join(', ')}, not "${level}"`)
    const dir = resolve((ctx.values.dir as string | undefined) ?? '.peerd-devnet')
    if (!ctx.json) printLines(`starting ${count} nodes in ${dir} …`)
    const net = await startDevnet({
      nodes: count,
      dir,
      logLevel: ctx.values['log-level'] as string | undefined,
      onExit: (n, code, signal) => {
        process.stderr.write(`peerd devnet: ${n.name} exited (${signal ?? `code ${String(code)}`}); see ${n.dataDir}/daemon.log\n`)
      }
    })
    let stopping = false
    const done = new Promise<void>(resolve => {
      const onSignal = (): void => {
        if (stopping) return
        stopping = true
        if (!ctx.json) printLines('stopping the devnet …')
        void net.stop().then(resolve)
      }
      process.on('SIGINT', onSignal)
      process.on('SIGTERM', onSignal)
    })
    const links = await waitForOneNetwork(net.nodes, 30_000)
    const nodes = net.nodes.map(n => ({ name: n.name, peerId: n.peerId, api: n.api, dataDir: n.dataDir, addresses: n.addresses, pid: n.pid, command: n.command }))
    if (ctx.json) printJson({ event: 'ready', connected: links != null, links, nodes })
    else {
      printLines(
        '',
        ...table(['NODE', 'PEER ID', 'API'], nodes.map(n => [n.name, n.peerId, n.api])),
        '',
        links == null
          ? 'warning: the nodes did not form one network within 30 s; see the daemon.log files'
          : `one network: ${count} nodes, ${links} links`,
        '',
        'Talk to a node with its command prefix, e.g.:',
        ...nodes.map(n => `  ${n.command} peers`),
        '',
        'Press Ctrl-C to stop every node.'
      )
    }
    await done
    if (ctx.json) printJson({ event: 'stopped' })
    else printLines('devnet stopped')
    return 0
  }
}
