/** `peerd id`, `peers`, `connect`, `disconnect`, `status` and `stop`: one API call each. */
import { setTimeout as sleep } from 'node:timers/promises'
import { access } from 'node:fs/promises'
import type { Peer, Status } from '../../api/types.ts'
import { dataDirPaths } from '../../node/paths.ts'
import { ApiClient } from '../client.ts'
import type { Command } from '../command.ts'
import { printJson, printLines, table } from '../output.ts'

export const id: Command = {
  name: 'id',
  summary: "show this node's peer id and addresses",
  usage: 'id [--json]',
  options: {},
  args: { min: 0, max: 0 },
  async run (ctx) {
    const r = await new ApiClient(ctx.dataDir).get<{ peerId: string, addresses: string[] }>('/api/v1/id')
    if (ctx.json) printJson(r)
    else printLines(r.peerId, ...r.addresses.map(a => `  ${a}`))
    return 0
  }
}

function formatLatency (ms: number | null): string {
  return ms == null ? '-' : `${ms} ms`
}

export const peers: Command = {
  name: 'peers',
  summary: 'list connected peers',
  usage: 'peers [--json]',
  options: {},
  args: { min: 0, max: 0 },
  async run (ctx) {
    const list = await new ApiClient(ctx.dataDir).get<Peer[]>('/api/v1/peers')
    if (ctx.json) printJson(list)
    else if (list.length === 0) printLines('no peers connected')
    else {
      printLines(...table(['PEER ID', 'DIR', 'VIA', 'LATENCY', 'ADDRESS'],
        list.map(p => [p.peerId, p.direction === 'inbound' ? 'in' : 'out', p.relayed ? 'relay' : 'direct', formatLatency(p.latencyMs), p.addresses[0] ?? ''])))
    }
    return 0
  }
}

export const connect: Command = {
  name: 'connect',
  summary: 'connect to a peer by multiaddr',
  usage: 'connect MULTIADDR [--json]',
  options: {},
  args: { min: 1, max: 1 },
  async run (ctx) {
    const p = await new ApiClient(ctx.dataDir).post<Peer>('/api/v1/peers/connect', { address: ctx.positionals[0] })
    if (ctx.json) printJson(p)
    else printLines(`connected to ${p.peerId} (${p.direction}, latency ${formatLatency(p.latencyMs)})`)
    return 0
  }
}

export const disconnect: Command = {
  name: 'disconnect',
  summary: 'close the connections to a peer',
  usage: 'disconnect PEER_ID [--json]',
  options: {},
  args: { min: 1, max: 1 },
  async run (ctx) {
    const r = await new ApiClient(ctx.dataDir).post<{ disconnected: boolean }>('/api/v1/peers/disconnect', { peerId: ctx.positionals[0] })
    if (ctx.json) printJson(r)
    else printLines(r.disconnected ? `disconnected from ${ctx.positionals[0] ?? ''}` : `not connected to ${ctx.positionals[0] ?? ''}`)
    return 0
  }
}

export const status: Command = {
  name: 'status',
  summary: "show the daemon's state",
  usage: 'status [--json]',
  options: {},
  args: { min: 0, max: 0 },
  async run (ctx) {
    const s = await new ApiClient(ctx.dataDir).get<Status>('/api/v1/status')
    if (ctx.json) printJson(s)
    else {
      printLines(
        `peer id:      ${s.peerId}`,
        `network:      ${s.network}`,
        `version:      ${s.version}`,
        `uptime:       ${s.uptimeSeconds} s`,
        `peers:        ${s.peers} (${s.connections} connections)`,
        `reachability: ${reachabilityLine(s.reachability)}`,
        `api:          ${s.api} (pid ${s.pid})`,
        `data dir:     ${s.dataDir}`,
        ...s.addresses.map((a, i) => `${i === 0 ? 'addresses:' : '          '}    ${a}`)
      )
    }
    return 0
  }
}

/** `public (seen at 1.2.3.4)`, `private: behind a NAT, reachable through 1 relay; hole punching 3 of 4 direct`. */
function reachabilityLine (r: Status['reachability']): string {
  const seen = r.observedIps.length > 0 ? ` (seen at ${r.observedIps.join(', ')})` : ''
  const punched = r.holePunch.attempts > 0 ? `; hole punching ${r.holePunch.direct} of ${r.holePunch.attempts} direct` : ''
  if (r.state === 'public') return `public${seen}${punched}`
  if (r.state === 'unknown') return `not checked yet${seen}`
  const relays = r.relayedAddresses.length
  return `private: behind a NAT${seen}, ${relays === 0 ? 'no relay reservation yet' : `reachable through ${relays} relay${relays === 1 ? '' : 's'}`}${punched}`
}

export const stop: Command = {
  name: 'stop',
  summary: 'stop the daemon cleanly',
  usage: 'stop [--json]',
  options: {},
  args: { min: 0, max: 0 },
  async run (ctx) {
    await new ApiClient(ctx.dataDir).post('/api/v1/stop')
    // the daemon removes its api file once stopped
    const api = dataDirPaths(ctx.dataDir).api
    const deadline = Date.now() + 30_000
    let gone = false
    while (Date.now() < deadline) {
      try { await access(api) } catch { gone = true; break }
      await sleep(100)
    }
    if (ctx.json) printJson({ stopped: gone })
    else printLines(gone ? 'daemon stopped' : 'stop requested; the daemon is still shutting down')
    return gone ? 0 : 1
  }
}
