/**
 * `peerd onion status|circuits|new-circuits`: this node's onion relay, its circuits, NEWNYM; and
 * `serve|services|stop|client-key`, the onion services it hosts (onion-services.ts).
 */
import { UsageError } from '../../errors.ts'
import type { CircuitInfo, OnionStatus } from '../../api/types.ts'
import { ApiClient } from '../client.ts'
import type { Command } from '../command.ts'
import { printJson, printLines, table } from '../output.ts'
import { formatBytes, formatDuration } from '../progress.ts'
import { refuseServeFlags, runServices, SERVE_OPTIONS, SERVICES_HELP } from './onion-services.ts'

/** A peer id as a hop of a path: its tail, since every Ed25519 peer id starts alike (`12D3KooW`). */
export function shortPeer (peerId: string): string {
  return peerId.length <= 9 ? peerId : `…${peerId.slice(-8)}`
}

/** Bytes per second in the 1000-based units `--onion-relay-rate` takes. */
function formatRate (bytesPerSec: number): string {
  const units: Array<[number, string]> = [[1e9, 'GB'], [1e6, 'MB'], [1e3, 'kB']]
  for (const [size, unit] of units) {
    if (bytesPerSec >= size) return `${Number((bytesPerSec / size).toFixed(2))} ${unit}/s`
  }
  return `${bytesPerSec} B/s`
}

function plural (n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`
}

/** The lines of `peerd onion status`. */
export function showStatus (s: OnionStatus): string[] {
  const r = s.relay
  const relay = r.enabled
    ? `on, capped at ${formatRate(r.rateBytesPerSec)}; ${plural(r.circuits, 'circuit')} now, ${r.cellsRelayed} cells (${formatBytes(r.bytesRelayed)}) relayed since start`
    : 'off (--no-onion-relay)'
  return [
    `relay:          ${relay}`,
    `exit:           ${r.exit ? 'on' : 'off'}`,
    ...(r.exit ? [`exit policy:    ${r.exitPolicy.length === 0 ? '(default)' : r.exitPolicy.join(', ')}`] : []),
    `socks:          ${s.socks ?? 'off (start the daemon with --socks 127.0.0.1:9050)'}`,
    `relays known:   ${s.relaysKnown}`,
    `guards:         ${s.guards.length === 0 ? 'none yet' : s.guards.length}`,
    ...s.guards.map(g => `  ${g.peerId}  added ${g.addedAt}  ${g.reachable ? 'reachable' : 'unreachable'}`),
    `circuits open:  ${s.circuitsOpen}`
  ]
}

/** The lines of `peerd onion circuits`: a table, one row a circuit. */
export function showCircuits (circuits: CircuitInfo[]): string[] {
  if (circuits.length === 0) return ['no circuits (one is built when a stream needs it: a SOCKS connection or a library call)']
  return table(
    ['ID', 'PURPOSE', 'STATE', 'AGE', 'BUILD', 'SENT', 'RECEIVED', 'STREAMS', 'DIRTY', 'HOPS (guard first)'],
    circuits.map(c => [
      c.id,
      c.purpose,
      c.state,
      formatDuration(c.ageSeconds),
      c.buildMs == null ? '-' : `${Math.round(c.buildMs)} ms`,
      formatBytes(c.bytesSent),
      formatBytes(c.bytesReceived),
      String(c.streams),
      c.dirty ? 'yes' : 'no',
      ['this node', ...c.hops.map(h => shortPeer(h.peerId))].join(' → ')
    ])
  )
}

export const onion: Command = {
  name: 'onion',
  summary: "show this node's onion relay and circuits, retire its circuits, host onion services",
  usage: 'onion status [--json]\n       peerd onion circuits [--json]\n       peerd onion new-circuits [--json]\n' +
    '       peerd onion serve --target HOST:PORT [--name NAME] [--client KEY]… [--pow] [--json]\n' +
    '       peerd onion services [--json]\n       peerd onion stop NAME [--json]\n       peerd onion client-key [--json]',
  help: SERVICES_HELP,
  options: SERVE_OPTIONS,
  args: { min: 1, max: 2 },
  async run (ctx) {
    const [sub] = ctx.positionals as [string, ...string[]]
    const api = new ApiClient(ctx.dataDir)
    if (await runServices(ctx, api, sub)) return 0
    if (['status', 'circuits', 'new-circuits'].includes(sub)) {
      refuseServeFlags(ctx, sub)
      if (ctx.positionals.length > 1) throw new UsageError(`unexpected argument "${ctx.positionals[1] ?? ''}": usage: peerd onion ${sub}`)
    }
    if (sub === 'status') {
      const s = await api.get<OnionStatus>('/api/v1/onion/status')
      if (ctx.json) printJson(s)
      else printLines(...showStatus(s))
      return 0
    }
    if (sub === 'circuits') {
      const r = await api.get<{ circuits: CircuitInfo[] }>('/api/v1/onion/circuits')
      if (ctx.json) printJson(r)
      else printLines(...showCircuits(r.circuits))
      return 0
    }
    if (sub === 'new-circuits') {
      const r = await api.post<{ retired: number }>('/api/v1/onion/new-circuits')
      if (ctx.json) printJson(r)
      else printLines(`retired ${plural(r.retired, 'circuit')}: new streams use new circuits`)
      return 0
    }
    throw new UsageError(`unknown onion subcommand "${sub}" (use status, circuits, new-circuits, serve, services, stop or client-key)`)
  }
}
