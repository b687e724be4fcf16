/**
 * `peerd onion serve|services|stop|client-key`: the onion services this node hosts. `serve`
 * publishes a local `host:port` under a `.peerd` address, `services` lists them, `stop` ends one
 * (its key stays, so serving the same name again gives the same address), `client-key` makes a
 * client-authorization key pair. The daemon checks every field and makes the keys (the CLI
 * holds no onion code); the CLI only shapes the request and the answer.
 */
import { UsageError } from '../../errors.ts'
import type { ClientKeyPair, HostedServiceInfo } from '../../api/types.ts'
import type { ApiClient } from '../client.ts'
import { listOption } from '../command.ts'
import type { CommandContext, OptionsSpec } from '../command.ts'
import { printJson, printLines, table } from '../output.ts'
import { formatDuration } from '../progress.ts'

/** The flags only `onion serve` takes. */
export const SERVE_OPTIONS: OptionsSpec = {
  target: { type: 'string' },
  name: { type: 'string' },
  client: { type: 'string', multiple: true },
  pow: { type: 'boolean' }
}

/** Help lines of the services' subcommands. */
export const SERVICES_HELP = `  serve --target HOST:PORT   publish HOST:PORT (e.g. 127.0.0.1:8080) as an onion service; prints
                             its address (with --json the whole service)
    --name NAME              its name (letters, digits, - and _, up to 32); default web-PORT.
                             Serving a name again restarts it with the same address
    --client KEY             only the client with this key may reach it (its public half, as
                             \`peerd onion client-key\` prints it; repeat, up to 32)
    --pow                    ask introductions for a client puzzle from the start (it also
                             switches on by itself under a flood)
  services                   the onion services this node hosts
  stop NAME                  stop the service NAME
  client-key                 a new client-authorization key pair: the public half for the
                             service's --client, the secret half for the client's node`

/** "3m05s ago", or "not yet" for a service never published. */
function publishedAgo (s: HostedServiceInfo, now: number): string {
  return s.publishedAt == null ? 'not yet' : `${formatDuration(Math.max(0, now - s.publishedAt) / 1000)} ago`
}

/** A service's puzzle as a table cell: `off`, or `on, effort N`. */
function powOf (s: HostedServiceInfo): string {
  return s.pow.enabled ? `on, effort ${s.pow.suggestedEffort}` : 'off'
}

/** The lines of `peerd onion serve`: the address alone first (for scripts), then what it serves. */
export function showServed (s: HostedServiceInfo): string[] {
  return [
    s.address,
    `  "${s.name}" → ${s.target}; its descriptor is published once introduction points are up (\`peerd onion services\` shows when)`,
    ...(s.authorizedClients > 0 ? [`  only ${s.authorizedClients} authorized client${s.authorizedClients === 1 ? '' : 's'} can reach it`] : []),
    ...(s.pow.enabled ? ['  introductions need a client puzzle'] : [])
  ]
}

/** The lines of `peerd onion services`: a table, one row a service; `now` dates the publications. */
export function showServices (services: HostedServiceInfo[], now = Date.now()): string[] {
  if (services.length === 0) return ['no onion services (`peerd onion serve --target 127.0.0.1:8080` publishes one)']
  return table(
    ['NAME', 'ADDRESS', 'TARGET', 'INTRO', 'PUBLISHED', 'CLIENTS', 'POW'],
    services.map(s => [
      s.name,
      s.address,
      s.target,
      String(s.introPoints),
      publishedAgo(s, now),
      s.authorizedClients === 0 ? 'anyone' : String(s.authorizedClients),
      powOf(s)
    ])
  )
}

/** The lines of `peerd onion client-key`. */
export function showClientKey (k: ClientKeyPair): string[] {
  return [
    `public key:  ${k.publicKey}`,
    `secret key:  ${k.secretKey}`,
    'Give the public key to the service (peerd onion serve --client PUBLIC_KEY); keep the secret',
    "key to yourself: your node needs it to read that service's descriptor."
  ]
}

/** Refuses `serve`'s flags on another subcommand, so a misplaced one is not silently ignored. */
export function refuseServeFlags (ctx: CommandContext, sub: string): void {
  const misplaced = Object.keys(SERVE_OPTIONS).find(k => ctx.values[k] != null)
  if (misplaced != null) throw new UsageError(`--${misplaced} is for \`peerd onion serve\`, not \`onion ${sub}\``)
}

const SUBCOMMANDS = ['serve', 'services', 'stop', 'client-key']

/** Runs `onion serve`, `services`, `stop NAME` or `client-key`; false for another subcommand. */
export async function runServices (ctx: CommandContext, api: ApiClient, sub: string): Promise<boolean> {
  if (!SUBCOMMANDS.includes(sub)) return false
  const [, arg] = ctx.positionals
  if (sub !== 'stop' && arg != null) throw new UsageError(`unexpected argument "${arg}": usage: peerd onion ${sub}${sub === 'serve' ? ' --target HOST:PORT' : ''}`)
  if (sub === 'serve') {
    const target = ctx.values.target
    if (typeof target !== 'string' || target === '') throw new UsageError('missing --target HOST:PORT: usage: peerd onion serve --target 127.0.0.1:8080 [--name NAME] [--client KEY]… [--pow]')
    const body: Record<string, unknown> = { target }
    if (typeof ctx.values.name === 'string') body.name = ctx.values.name
    const clients = listOption(ctx.values, 'client')
    if (clients != null) body.authorizedClients = clients
    if (ctx.values.pow === true) body.pow = true
    const s = await api.post<HostedServiceInfo>('/api/v1/onion/services', body)
    if (ctx.json) printJson(s)
    else printLines(...showServed(s))
    return true
  }
  refuseServeFlags(ctx, sub)
  if (sub === 'client-key') {
    const k = await api.post<ClientKeyPair>('/api/v1/onion/client-key')
    if (ctx.json) printJson(k)
    else printLines(...showClientKey(k))
    return true
  }
  if (sub === 'services') {
    const r = await api.get<{ services: HostedServiceInfo[] }>('/api/v1/onion/services')
    if (ctx.json) printJson(r)
    else printLines(...showServices(r.services))
    return true
  }
  if (arg == null) throw new UsageError('missing argument: usage: peerd onion stop NAME')
  // 204, no body: the client's JSON reader would refuse it
  await api.stream('POST', '/api/v1/onion/services/stop', { name: arg })
  if (ctx.json) printJson({ stopped: arg })
  else printLines(`stopped "${arg}"; its key stays in the data dir: serving "${arg}" again gives the same address`)
  return true
}
