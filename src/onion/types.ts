/**
 * What the onion service shows the API, the CLI and the dashboard (issue 16): its status, its
 * circuits, and the one control a user has ("new circuits for new streams").
 * @module
 */
import type { OnionServicesControl } from './hs/types.ts'

/** One hop of a circuit as the API shows it. */
export interface CircuitHopInfo {
  peerId: string
  /** The address this node knows the relay by (first hop: the connection's; later: its descriptor's). */
  address?: string
}

/** A circuit of this node's, as `peerd onion circuits` shows it. */
export interface CircuitInfo {
  /** A local id (stable while the circuit lives). */
  id: string
  /**
   * What the circuit is used for: SOCKS streams, peerd protocols, tests; `hs-client` reaches an
   * onion service (introduction or rendezvous), `hs-service` is a hosted service's (to an
   * introduction point, or to a client's rendezvous point).
   */
  purpose: 'socks' | 'peerd' | 'test' | 'hs-client' | 'hs-service'
  state: 'building' | 'open' | 'closed'
  /** First hop (the guard) first. */
  hops: CircuitHopInfo[]
  /** ISO time the build started. */
  createdAt: string
  ageSeconds: number
  /** Milliseconds from the first CREATE2 to the last hop's handshake; null while building. */
  buildMs: number | null
  /** Application bytes sent and received over the circuit's streams. */
  bytesSent: number
  bytesReceived: number
  /** Streams open now. */
  streams: number
  /** Set once `new-circuits` (or its age) retired it: no new streams use it. */
  dirty: boolean
  /** The SOCKS isolation key (credentials) it serves, if any; never the password itself. */
  isolation?: string
}

/** This node as a relay. */
export interface OnionRelayStatus {
  /** Relaying circuits for others (false with `--no-onion-relay`). */
  enabled: boolean
  /** Relay bandwidth cap in bytes per second. */
  rateBytesPerSec: number
  /** Circuits this node is a hop of now. */
  circuits: number
  /** Cells relayed since start (both directions). */
  cellsRelayed: number
  /** Bytes relayed since start (cells × 514). */
  bytesRelayed: number
  /** Opt-in exit (`--onion-exit`). */
  exit: boolean
  /** The exit policy, one rule a line as parsed (`accept *:80`, `reject *:*`). */
  exitPolicy: string[]
}

/** `peerd onion status`. */
export interface OnionStatus {
  relay: OnionRelayStatus
  /** The SOCKS5 listener (`host:port`), or null when there is none. */
  socks: string | null
  /** Relays in the relay view usable in paths: fresh, signature checked, declared address proved by a reachability check. */
  relaysKnown: number
  /** The entry guards, first choice first. */
  guards: Array<{ peerId: string, addedAt: string, reachable: boolean }>
  /** Circuits of this node's that are open now. */
  circuitsOpen: number
}

/** What the API and the daemon need of the onion service. */
export interface OnionControl {
  /** Between start and stop of the node. */
  readonly running: boolean
  status: () => OnionStatus
  circuits: () => CircuitInfo[]
  /** Retires every open circuit for new streams (Tor's NEWNYM); returns how many were retired. */
  newCircuits: () => number
  /** The onion services this node hosts (absent where a node cannot host any). */
  readonly services?: OnionServicesControl
}
