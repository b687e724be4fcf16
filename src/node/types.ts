/**
 * The JSON shapes of the node's status and peers, as `peerd status`, `peerd peers` and the API
 * show them. Types only: the dashboard's build reads them through `src/api/types.ts`.
 * @module
 */
import type { NetworkName } from '../net/networks.ts'

/** A connected peer, as `peerd peers` shows it. */
export interface PeerSummary {
  peerId: string
  /** Remote addresses of the open connections to this peer. */
  addresses: string[]
  direction: 'inbound' | 'outbound'
  /** Whether every open connection to this peer goes through a relay (none is direct). */
  relayed: boolean
  /** Round-trip time measured by the connection monitor's pings, or null before the first one. */
  latencyMs: number | null
}

/** A snapshot of the node, as `peerd status` shows it. */
export interface NodeStatus {
  peerId: string
  network: NetworkName
  version: string
  running: boolean
  startedAt: string | null
  uptimeSeconds: number
  addresses: string[]
  peers: number
  connections: number
  dataDir: string
  /** What this node's block server sent to peers since it started (blocks and bytes). */
  served: { blocks: number, bytes: number }
  /** Whether peers can dial this node (AutoNAT), its relay reservations and hole punching. */
  reachability: NatStatus
}

/** Reachability behind NATs, as `peerd status` shows it. */
export interface NatStatus {
  /** `public`: peers can dial this node; `private`: behind a NAT or firewall; `unknown`: not yet checked. */
  state: 'unknown' | 'public' | 'private'
  /** Public IPs peers see this node at. */
  observedIps: string[]
  /** Addresses through relays this node announces (it holds a reservation on each relay). */
  relayedAddresses: string[]
  /** Relayed connections this node tried to upgrade by hole punching, and how many became direct. */
  holePunch: { attempts: number, direct: number, failed: number }
  /** This node's circuit relay for others: its rate cap (bytes a second) and the bytes it relayed; null with `--no-relay`. */
  relayService: { rate: number, bytes: number } | null
}
