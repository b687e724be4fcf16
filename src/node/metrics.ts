/**
 * peerd's own Prometheus metrics (`peerd_*`), beside libp2p's in the node's registry: peers,
 * downloads, bytes by service, the chain, the mempool, onion routing, reachability behind NATs,
 * the circuit relay and the bandwidth caps. Every value is read
 * from the services' existing state when the registry is scraped (prom-client's `collect`),
 * so nothing is counted on a hot path for them.
 *
 * Bytes by service are the payload bytes of libp2p streams ({@link PeerdMetrics.protocolBytes})
 * grouped by protocol id ({@link serviceOfProtocol}); wire bytes, with Noise and Yamux
 * overhead, are `peerd_transport_bytes_total`.
 */
import { Counter, Gauge } from 'prom-client'
import type { Registry } from 'prom-client'
import type { PeerdMetrics } from '../net/metrics.ts'
import { VERSION } from '../version.ts'
import type { PeerdNode } from './node.ts'

/** What {@link serviceOfProtocol} sorts streams into. */
export type MetricsService = 'share' | 'bitswap' | 'cash' | 'onion' | 'dht' | 'relay' | 'other'

/**
 * The service a protocol id belongs to: `/ipfs/bitswap/*` is bitswap; under `/peerd/<network>/`,
 * `onion/*` is onion, `blocks/1` (block relay), `chain/*`, `txs/*` and `cash/*` are cash,
 * `blocks/<x.y.z>`, `share-hs/*` and `providers/*` are share, `kad/*` is the DHT; gossipsub
 * (`/meshsub/*`, which carries only cash's block and transaction gossip) is cash; `/ipfs/kad/*`
 * is the DHT; libp2p's circuit relay is relay; identify, ping and the rest are other.
 */
export function serviceOfProtocol (protocol: string): MetricsService {
  if (protocol.startsWith('/ipfs/bitswap/')) return 'bitswap'
  if (protocol.startsWith('/meshsub/')) return 'cash'
  if (protocol.startsWith('/ipfs/kad/')) return 'dht'
  if (protocol.startsWith('/libp2p/circuit/relay/')) return 'relay'
  const rest = /^\/peerd\/[^/]+\/(.+)$/.exec(protocol)?.[1]
  if (rest == null) return 'other'
  if (rest.startsWith('onion/')) return 'onion'
  if (rest === 'blocks/1' || /^(chain|txs|cash)\//.test(rest)) return 'cash'
  if (/^(blocks|share-hs|providers)\//.test(rest)) return 'share'
  if (rest.startsWith('kad/')) return 'dht'
  return 'other'
}

/** Sets a labelled counter to totals read on scrape (a counter only moves up; its totals only grow). */
function setTotals (c: Counter<string>, values: Array<[Record<string, string>, number]>): void {
  c.reset()
  for (const [labels, v] of values) c.inc(labels, Math.max(0, v))
}

/** A scrape reads a stopped service as nothing, rather than failing. */
function read<T> (f: () => T): T | undefined {
  try {
    return f()
  } catch {
    return undefined
  }
}

/** Registers the `peerd_*` metrics of `node` in `registry` (once per registry). */
export function registerNodeMetrics (registry: Registry, node: PeerdNode, metrics: PeerdMetrics): void {
  const registers = [registry]
  const gauge = (name: string, help: string, collect: (g: Gauge<string>) => void, labelNames: string[] = []): void => {
    new Gauge({ name, help, labelNames, registers, collect () { collect(this) } })
  }
  const counter = (name: string, help: string, collect: (c: Counter<string>) => void, labelNames: string[] = []): void => {
    new Counter({ name, help, labelNames, registers, collect () { collect(this) } })
  }
  const set = (g: Gauge<string>, v: number | undefined): void => { if (v != null) g.set(v) }

  gauge('peerd_info', 'Always 1; the labels say which node and version this is', g => {
    g.reset()
    g.set({ version: VERSION, network: node.config.network, peer_id: node.peerId }, 1)
  }, ['version', 'network', 'peer_id'])

  gauge('peerd_peers', 'Peers connected, by the direction of their first open connection', g => {
    const byDirection = { inbound: 0, outbound: 0 }
    for (const p of node.peers()) byDirection[p.direction]++
    for (const [direction, n] of Object.entries(byDirection)) g.set({ direction }, n)
  }, ['direction'])

  counter('peerd_bytes_total', 'Payload bytes of libp2p streams by service (share, bitswap, cash, onion, dht, relay, other) and direction', c => {
    const totals = new Map<string, number>()
    for (const [protocol, b] of metrics.protocolBytes()) {
      const service = serviceOfProtocol(protocol)
      totals.set(`${service} sent`, (totals.get(`${service} sent`) ?? 0) + b.sent)
      totals.set(`${service} received`, (totals.get(`${service} received`) ?? 0) + b.received)
    }
    setTotals(c, [...totals].map(([k, v]) => {
      const [service, direction] = k.split(' ') as [string, string]
      return [{ service, direction }, v]
    }))
  }, ['service', 'direction'])

  counter('peerd_transport_bytes_total', 'Bytes on the wire over every transport connection (Noise and Yamux overhead included; relayed connections are counted once, on the connection to the relay)', c => {
    const { bytesIn, bytesOut } = metrics.bandwidth.totals()
    setTotals(c, [[{ direction: 'sent' }, bytesOut], [{ direction: 'received' }, bytesIn]])
  }, ['direction'])

  gauge('peerd_transfers_active', 'Downloads (peerd get) in progress', g => { set(g, read(() => node.share.transfers().length)) })
  counter('peerd_transfers_completed_total', 'Downloads (peerd get) that completed', c => {
    const n = read(() => node.share.transferCounts().completed)
    if (n != null) setTotals(c, [[{}, n]])
  })
  counter('peerd_transfers_failed_total', 'Downloads (peerd get) that failed, timed out or were cancelled', c => {
    const n = read(() => node.share.transferCounts().failed)
    if (n != null) setTotals(c, [[{}, n]])
  })
  counter('peerd_share_served_blocks_total', 'Content blocks this node served to peers', c => {
    const n = read(() => node.share.serverStats().blocksSent)
    if (n != null) setTotals(c, [[{}, n]])
  })
  counter('peerd_share_served_bytes_total', 'Bytes of content blocks this node served to peers', c => {
    const n = read(() => node.share.serverStats().bytesSent)
    if (n != null) setTotals(c, [[{}, n]])
  })

  gauge('peerd_chain_height', 'Height of the best chain\'s tip', g => { set(g, read(() => node.cash.chain.tip.height)) })
  gauge('peerd_chain_tip_age_seconds', 'Seconds since the timestamp of the best chain\'s tip', g => {
    set(g, read(() => Math.max(0, Math.floor(Date.now() / 1000) - node.cash.chain.tip.header.time)))
  })
  gauge('peerd_mempool_transactions', 'Transactions in the mempool', g => { set(g, read(() => node.cash.mempool.size)) })
  gauge('peerd_mempool_bytes', 'Memory the mempool\'s transactions count against its cap (--mempool-max-mb)', g => { set(g, read(() => node.cash.mempool.bytes)) })

  gauge('peerd_onion_circuits_open', 'Circuits of this node\'s own that are open', g => { set(g, read(() => node.onion.status().circuitsOpen)) })
  gauge('peerd_onion_relay_circuits', 'Circuits this node relays for others', g => { set(g, read(() => node.onion.status().relay.circuits)) })
  counter('peerd_onion_relay_bytes_total', 'Bytes of the cells this node relayed for others', c => {
    const n = read(() => node.onion.status().relay.bytesRelayed)
    if (n != null) setTotals(c, [[{}, n]])
  })
  gauge('peerd_onion_relays_known', 'Relays in this node\'s relay view that paths may use', g => { set(g, read(() => node.onion.status().relaysKnown)) })
  gauge('peerd_onion_services', 'Onion services this node hosts (peerd onion serve)', g => {
    set(g, read(() => node.onion.running ? node.onion.services.list().length : 0))
  })

  gauge('peerd_reachable', 'Whether peers can dial this node, as AutoNAT found: 1 public, 0 private (behind a NAT), -1 not checked yet', g => {
    const state = read(() => node.natStatus().state)
    if (state != null) g.set(state === 'public' ? 1 : state === 'private' ? 0 : -1)
  })
  gauge('peerd_relay_reservations', 'Relays this node holds a reservation on (the relayed addresses it announces)', g => {
    set(g, read(() => node.natStatus().relayedAddresses.length))
  })
  counter('peerd_hole_punch_total', 'Relayed connections this node tried to turn direct by hole punching, by outcome', c => {
    const h = read(() => node.natStatus().holePunch)
    if (h != null) setTotals(c, [[{ outcome: 'direct' }, h.direct], [{ outcome: 'failed' }, h.failed]])
  }, ['outcome'])
  counter('peerd_relay_service_bytes_total', 'Bytes this node relayed for peers behind NATs through its circuit relay (both ways)', c => {
    const r = read(() => node.natStatus().relayService)
    if (r != null) setTotals(c, [[{}, r.bytes]])
  })
  gauge('peerd_bandwidth_cap_bytes_per_second', 'The bandwidth cap in force (global or from the schedule), by direction; 0 for none', g => {
    const e = read(() => node.limits.state().effective)
    if (e != null) { g.set({ direction: 'upload' }, e.maxUpload); g.set({ direction: 'download' }, e.maxDownload) }
  }, ['direction'])
}
