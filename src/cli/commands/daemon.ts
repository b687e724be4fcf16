/** `peerd daemon`: runs a node and its API in the foreground until SIGINT/SIGTERM. */
import { prepareDaemonProcess } from '../../daemon/launch.ts'
import { readConfigFile, resolveDaemonConfig } from '../../daemon/config.ts'
import type { DaemonConfig } from '../../daemon/config.ts'
import { isNetworkName, NETWORK_NAMES } from '../../net/networks.ts'
import { parseByteRate } from '../../node/config.ts'
import { createLogger, isLogLevel, LOG_LEVELS } from '../../utils/logger.ts'
import { UsageError } from '../../errors.ts'
import { intOption, listOption } from '../command.ts'
import type { Command, CommandContext } from '../command.ts'
import { printJson, printLines } from '../output.ts'
import { capOption } from './bandwidth.ts'

/** Builds the daemon config: defaults < config file < flags. */
export async function daemonConfigFromArgs (ctx: CommandContext): Promise<DaemonConfig> {
  const v = ctx.values
  const file = await readConfigFile(ctx.dataDir)
  const network = v.network as string | undefined
  if (network != null && !isNetworkName(network)) throw new UsageError(`--network must be one of ${NETWORK_NAMES.join(', ')}, not "${network}"`)
  const logLevel = v['log-level'] as string | undefined
  if (logLevel != null && !isLogLevel(logLevel)) throw new UsageError(`--log-level must be one of ${[...LOG_LEVELS, 'silent'].join(', ')}, not "${logLevel}"`)
  const flags: Partial<DaemonConfig> = {
    network: network as DaemonConfig['network'] | undefined,
    listen: listOption(v, 'listen'),
    bootstrap: listOption(v, 'bootstrap'),
    api: v.api as string | undefined,
    apiAllowRemote: v['api-allow-remote'] === true ? true : undefined,
    gateway: v.gateway as string | undefined,
    gatewayAllowRemote: v['gateway-allow-remote'] === true ? true : undefined,
    metrics: v.metrics as string | undefined,
    metricsAllowRemote: v['metrics-allow-remote'] === true ? true : undefined,
    mdns: v['no-mdns'] === true ? false : undefined,
    dhtClient: v['dht-client'] === true ? true : undefined,
    amino: v['no-amino'] === true ? false : v.amino === true ? true : undefined,
    relay: v['no-relay'] === true ? false : undefined,
    relayRate: rateOption(v['relay-rate'], '--relay-rate'),
    upnp: v['no-upnp'] === true ? false : undefined,
    reshare: v['no-reshare'] === true ? false : undefined,
    serve: v['no-serve'] === true ? false : undefined,
    maxConnections: intOption(v, 'max-connections', 1, 100_000),
    maxConnectionsPerIp: intOption(v, 'max-connections-per-ip', 1, 100_000),
    minConnections: intOption(v, 'min-connections', 0, 100_000),
    logLevel: logLevel as DaemonConfig['logLevel'] | undefined,
    mine: v.mine as string | undefined,
    mineThreads: intOption(v, 'mine-threads', 1, 256),
    mempoolMaxBytes: mb(intOption(v, 'mempool-max-mb', 1, 1 << 20)),
    onionRelay: v['no-onion-relay'] === true ? false : undefined,
    onionRelayRate: rateOption(v['onion-relay-rate']),
    onionExit: v['onion-exit'] === true ? true : undefined,
    onionExitPolicy: policyOption(v['onion-exit-policy']),
    onionFamily: v['onion-family'] == null ? undefined : String(v['onion-family']).split(',').map(s => s.trim()).filter(s => s !== ''),
    onionClientAuth: clientAuthOption(listOption(v, 'onion-client-auth')),
    socks: v.socks as string | undefined,
    socksAllowRemote: v['socks-allow-remote'] === true ? true : undefined,
    privateBroadcast: v['no-private-broadcast'] === true ? false : undefined,
    maxUpload: capOption(v['max-upload'], '--max-upload'),
    maxDownload: capOption(v['max-download'], '--max-download')
  }
  const merged: Partial<DaemonConfig> = { ...file }
  for (const [k, val] of Object.entries(flags)) if (val !== undefined) (merged as Record<string, unknown>)[k] = val
  // bootstrap peers from the file and the flags add up, unless the flags say `none`
  if (file.bootstrap != null && flags.bootstrap != null && !flags.bootstrap.includes('none')) merged.bootstrap = [...new Set([...file.bootstrap, ...flags.bootstrap])]
  return resolveDaemonConfig({ ...merged, dataDir: ctx.dataDir })
}

/** `--onion-client-auth ADDRESS=SECRET`, repeatable: the client-authorization keys by onion address. */
function clientAuthOption (values: string[] | undefined): Record<string, string> | undefined {
  if (values == null) return undefined
  const out: Record<string, string> = {}
  for (const v of values) {
    const at = v.indexOf('=')
    const address = v.slice(0, at).trim().toLowerCase()
    if (at < 1 || !address.endsWith('.peerd')) throw new UsageError(`--onion-client-auth takes ADDRESS=SECRET (an address ending in .peerd, then the secret half \`peerd onion client-key\` printed), not "${v.slice(0, 24)}…"`)
    out[address] = v.slice(at + 1).trim()
  }
  return out
}

function mb (n: number | undefined): number | undefined {
  return n == null ? undefined : n * 1024 * 1024
}

/** `--onion-relay-rate`, `--relay-rate`: bytes per second with an optional unit. */
function rateOption (v: unknown, flag = '--onion-relay-rate'): number | undefined {
  if (v == null) return undefined
  const rate = parseByteRate(String(v))
  if (rate == null) throw new UsageError(`${flag} takes bytes per second, a number with an optional unit: 1500000, 1.5MB, 500kB or 12Mbit (1000-based; bits are divided by 8), not "${String(v)}"`)
  return rate
}

/** `--onion-exit-policy`: comma-separated rules, kept in order. */
function policyOption (v: unknown): string[] | undefined {
  if (v == null) return undefined
  return String(v).split(',').map(r => r.trim().replace(/\s+/g, ' '))
}

export const daemon: Command = {
  name: 'daemon',
  summary: 'run a node and its HTTP API in the foreground',
  usage: `daemon [--network ${NETWORK_NAMES.join('|')}] [--listen MULTIADDR]… [--api HOST:PORT] [--gateway HOST:PORT] [--bootstrap MULTIADDR]… [--no-mdns] [--mine ADDRESS] [--socks HOST:PORT] [--onion-exit]`,
  help: `  --network NAME               main (default) or regtest
  --listen MULTIADDR           listen address, repeatable; port 0 picks a free port
                               (default main: /ip4/0.0.0.0/tcp/9470, /ip4/0.0.0.0/tcp/9471/ws
                                and the same ports on /ip6/::, IPv4 alone without IPv6;
                                regtest: /ip4/127.0.0.1/tcp/0 and /ip4/127.0.0.1/tcp/0/ws)
  --api HOST:PORT              HTTP API address (default main 127.0.0.1:9480, regtest 127.0.0.1:0)
  --api-allow-remote           permit a non-loopback API address
  --gateway HOST:PORT          serve shared content read-only over HTTP at /ipfs/<CID> (default: off)
  --gateway-allow-remote       permit a non-loopback gateway address
  --metrics HOST:PORT          serve Prometheus metrics at http://HOST:PORT/metrics, e.g.
                               127.0.0.1:9481 (default: off)
  --metrics-allow-remote       permit a non-loopback metrics address
  --bootstrap MULTIADDR        peer to join through (ends in /p2p/<peerId>), repeatable; replaces
                               the default list (main: the public libp2p bootstrap peers);
                               --bootstrap none for no bootstrap peer at all
  --no-mdns                    do not discover peers on the local network
  --dht-client                 query the DHT without serving it (no stranger dials this node for DHT work)
  --no-amino, --amino          leave (join) Amino, the public IPFS DHT: peerd nodes and IPFS content
                               are found there (default: joined on main, not on regtest)
  --no-relay                   do not serve as a circuit relay for peers behind NAT
  --relay-rate RATE            what the circuit relay carries for others, bytes/s (default 1MB)
  --no-upnp                    do not ask the router (UPnP IGD) to forward the listening ports
  --no-reshare                 do not announce what this node downloads (it still serves it)
  --no-serve                   download only (metered links): serve no block to any peer and
                               announce nothing; downloads still work
  --max-connections N          connections in total (default 300)
  --max-connections-per-ip N   inbound connections from one IP (default main 8, regtest 128)
  --min-connections N          peers to stay connected to, dialling known ones (default 8)
  --mine ADDRESS               mine continuously on every core, paying to ADDRESS
  --mine-threads N             mining threads (default: one per core)
  --mempool-max-mb N           memory cap of the mempool in MiB (default 64)
  --no-onion-relay             do not relay onion circuits for others
  --onion-relay-rate RATE      onion relay bandwidth cap, bytes/s: 1500000, 1.5MB, 500kB, 12Mbit
                               (default 1MB)
  --onion-exit                 be an onion exit: open TCP connections as the exit policy allows
  --onion-exit-policy RULES    comma-separated rules, first match wins, e.g.
                               "accept *:80,accept *:443,reject *:*"
  --onion-family PEERIDS       comma-separated peer ids of your other relays (each must list
                               this one too), so no circuit uses two of them
  --onion-client-auth ADDRESS=SECRET
                               the client-authorization secret for one onion service that
                               requires it (repeatable; the service's operator added its public half)
  --socks HOST:PORT            SOCKS5 proxy into onion circuits, e.g. 127.0.0.1:9050 (default: off)
  --socks-allow-remote         permit a non-loopback SOCKS address
  --no-private-broadcast       send the wallet's payments from this node's own connections,
                               not through onion circuits to random peers
  --max-upload RATE            cap on this node's upload, bytes/s: 5MB, 500kB, 20Mbit; 0 = unlimited
                               (default); block transfers wait, chain sync and gossip do not
  --max-download RATE          cap on this node's download, as --max-upload
  --log-level LEVEL            error, warn, info (default), debug, trace or silent
  Settings may also live in DATA_DIR/config.json (same names in camelCase); flags win.`,
  options: {
    network: { type: 'string' },
    listen: { type: 'string', multiple: true },
    api: { type: 'string' },
    'api-allow-remote': { type: 'boolean' },
    gateway: { type: 'string' },
    'gateway-allow-remote': { type: 'boolean' },
    metrics: { type: 'string' },
    'metrics-allow-remote': { type: 'boolean' },
    bootstrap: { type: 'string', multiple: true },
    'no-mdns': { type: 'boolean' },
    'dht-client': { type: 'boolean' },
    amino: { type: 'boolean' },
    'no-amino': { type: 'boolean' },
    'no-relay': { type: 'boolean' },
    'relay-rate': { type: 'string' },
    'no-upnp': { type: 'boolean' },
    'no-reshare': { type: 'boolean' },
    'no-serve': { type: 'boolean' },
    'max-connections': { type: 'string' },
    'max-connections-per-ip': { type: 'string' },
    'min-connections': { type: 'string' },
    'log-level': { type: 'string' },
    mine: { type: 'string' },
    'mine-threads': { type: 'string' },
    'mempool-max-mb': { type: 'string' },
    'no-onion-relay': { type: 'boolean' },
    'onion-relay-rate': { type: 'string' },
    'onion-exit': { type: 'boolean' },
    'onion-exit-policy': { type: 'string' },
    'onion-family': { type: 'string' },
    'onion-client-auth': { type: 'string', multiple: true },
    socks: { type: 'string' },
    'socks-allow-remote': { type: 'boolean' },
    'no-private-broadcast': { type: 'boolean' },
    'max-upload': { type: 'string' },
    'max-download': { type: 'string' }
  },
  args: { min: 0, max: 0 },
  async run (ctx) {
    // the daemon's process-wide settings (umask, V8 heap flags): the launcher's, not the library's
    await prepareDaemonProcess()
    const config = await daemonConfigFromArgs(ctx)
    const log = createLogger({ level: config.logLevel })
    // loaded here, not at the top: other commands need none of libp2p and start faster
    const { startDaemon } = await import('../../daemon/daemon.ts')
    const d = await startDaemon(config, log)

    let signals = 0
    const onSignal = (sig: string): void => {
      signals++
      if (signals > 1 && sig === 'parent exited') return
      if (signals > 1) {
        log.warn('second signal: exiting without a clean stop', { signal: sig })
        process.exit(130)
      }
      log.info('signal received, stopping', { signal: sig })
      void d.stop()
    }
    process.on('SIGINT', () => { onSignal('SIGINT') })
    process.on('SIGTERM', () => { onSignal('SIGTERM') })
    // started by `peerd devnet` (or another supervisor) with an IPC channel: stop with it
    if (process.send != null) process.on('disconnect', () => { onSignal('parent exited') })
    process.on('unhandledRejection', (err) => { log.error('unhandled rejection (kept running)', { err }) })

    const info = { event: 'started', peerId: d.node.peerId, network: config.network, addresses: d.node.addresses(), api: d.apiUrl, gateway: d.gatewayUrl ?? null, metrics: d.metricsUrl != null ? `${d.metricsUrl}/metrics` : null, socks: d.node.onion.status().socks, dataDir: ctx.dataDir, pid: process.pid, warnings: d.warnings }
    if (ctx.json) printJson(info)
    else {
      printLines(
        `peerd daemon running (pid ${process.pid})`,
        `  peer id:   ${info.peerId}`,
        `  network:   ${info.network}`,
        `  api:       ${info.api}`,
        ...(info.gateway != null ? [`  gateway:   ${info.gateway}`] : []),
        ...(info.metrics != null ? [`  metrics:   ${info.metrics}`] : []),
        ...(info.socks != null ? [`  socks5:    ${info.socks}`] : []),
        `  data dir:  ${info.dataDir}`,
        ...info.addresses.map((a, i) => `  ${i === 0 ? 'listening:' : '          '} ${a}`),
        ...d.warnings.map(w => `  warning:   ${w}`),
        'Press Ctrl-C to stop.'
      )
    }
    await d.stopped
    if (ctx.json) printJson({ event: 'stopped' })
    else printLines('peerd daemon stopped')
    return 0
  }
}
