/**
 * The exit edge (issue 16): attached to an {@link OnionRelay}, it makes the LAST hop of a circuit
 * answer BEGIN (tor-spec "Opening streams"), one {@link StreamEdge} per circuit, freed with it.
 *
 * Two kinds of target (the BEGIN forms are in `edge.ts`):
 * - `host:port` leaves the peerd network, so only with `exitEnabled`; otherwise END EXITPOLICY. A
 *   name is resolved here and the policy is checked on the RESOLVED address (and on an address
 *   given as such before anything else), so a name cannot smuggle 127.0.0.1 past a policy that
 *   forbids loopback. Then a TCP connection (10 s timeout) piped to the stream.
 * - `<peer>` + protocol stays inside the peerd network, so every relay serves it: the relay dials
 *   the protocol on that peer with its own libp2p host. Only protocols under `/peerd/<network>/`
 *   and never the onion link protocol (a circuit must not be spliced into a relay's links).
 *
 * Failures answer END with tor's reason: EXITPOLICY (4), RESOLVEFAILED (2), CONNECTREFUSED (3),
 * TIMEOUT (7), NOROUTE (8), RESOURCELIMIT (11, over {@link MAX_STREAMS_PER_CIRCUIT} streams on a
 * circuit), MISC (1); a stream whose target closes ends with DONE (6). A BEGIN at a hop that is
 * not the circuit's last gets END TORPROTOCOL.
 *
 * ```ts
 * const exit = new ExitEdge({ relay, network: 'regtest', exitEnabled: true, policy: { allows: (a, p) => a === '127.0.0.1' } })
 * ```
 * @module
 */
import { lookup } from 'node:dns/promises'
import { connect, isIP } from 'node:net'
import type { Socket } from 'node:net'
import { once } from 'node:events'
import type { Stream } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { RelayCommand } from './cell.ts'
import type { RelayMessage } from './cell.ts'
import { MAX_STREAMS_PER_CIRCUIT, STREAM_COMMANDS, StreamEdge } from './edge.ts'
import { waitForDrain } from '../net/drain.ts'
import { onionLinkProtocol } from './link.ts'
import type { OnionRelay, RelayCircuitHandle } from './relay.ts'
import { EndReason } from './stream-errors.ts'
import type { OnionStream } from './stream.ts'

/** What the exit asks of an exit policy (`exit-policy.ts` implements it). */
export interface ExitPolicyCheck {
  allows: (address: string, port: number) => boolean
}

/**
 * Cells an exit holds for slow destinations, over all circuits, before it destroys the circuit
 * holding most (tor's OOM handler, MaxMemInQueues): each stream may buffer its window of 500
 * cells, so without this one client with many streams on many circuits could fill memory.
 */
export const MAX_EXIT_BUFFERED_CELLS = 65_536
/** DATA cells between checks of the total (a check walks every stream). */
const BUFFER_CHECK_EVERY = 64

/** How long a TCP connect or a peer dial may take. */
export const CONNECT_TIMEOUT_MS = 10_000

/** Options of {@link ExitEdge}. */
export interface ExitEdgeInit {
  relay: OnionRelay
  network: string
  policy: ExitPolicyCheck
  /** false: TCP BEGINs get END EXITPOLICY (peerd-protocol BEGINs are still served). */
  exitEnabled: boolean
  /** Opens a TCP connection (default node:net with a {@link CONNECT_TIMEOUT_MS} timeout). */
  connectTcp?: (address: string, port: number, signal: AbortSignal) => Promise<Socket>
  /** Resolves a name to addresses (default `dns.lookup` with `all`). */
  resolve?: (name: string) => Promise<string[]>
  maxStreamsPerCircuit?: number
  /** Default {@link CONNECT_TIMEOUT_MS}. */
  connectTimeoutMs?: number
  /** Default {@link MAX_EXIT_BUFFERED_CELLS}. */
  maxBufferedCells?: number
  /** A stream was refused: the END reason, and the port asked for (null for a peerd protocol). Destinations are not given: an exit's logs should not record where its users go. */
  onRefused?: (reason: number, port: number | null) => void
}

/** An exit's counters. */
export interface ExitStats {
  streamsOpened: number
  /** Streams refused, by END reason. */
  refused: Record<number, number>
}

async function defaultResolve (name: string): Promise<string[]> {
  return (await lookup(name, { all: true })).map(a => a.address)
}

async function defaultConnect (address: string, port: number, signal: AbortSignal): Promise<Socket> {
  // the signal bounds the connect only: net.connect({ signal }) would keep it for the socket's life
  const socket = connect({ host: address, port })
  socket.on('error', () => {}) // a failed connect rejects `once` below; later errors go to the exit's own handler
  try {
    await once(socket, 'connect', { signal })
    return socket
  } catch (err) {
    socket.destroy()
    throw err
  }
}

/** Maps a connect error to an END reason. */
function connectReason (err: unknown): number {
  const code = (err as { code?: string, name?: string })?.code
  if (code === 'ECONNREFUSED') return EndReason.CONNECTREFUSED
  if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH') return EndReason.NOROUTE
  if ((err as Error)?.name === 'TimeoutError' || (err as Error)?.name === 'AbortError' || code === 'ETIMEDOUT' || code === 'ABORT_ERR') return EndReason.TIMEOUT
  return EndReason.CONNECTREFUSED
}

/** The exit edge on one relay; see the module header. */
export class ExitEdge {
  readonly stats: ExitStats = { streamsOpened: 0, refused: {} }
  /** Whether TCP BEGINs are served (settable at run time, e.g. when `--onion-exit` changes). */
  exitEnabled: boolean
  /** The policy TCP targets are checked against (settable at run time). */
  policy: ExitPolicyCheck
  private readonly init: ExitEdgeInit
  private readonly edges = new Map<number, StreamEdge>()
  private readonly handles = new Map<number, RelayCircuitHandle>()
  private dataSinceCheck = 0
  /** Circuits destroyed for holding the most buffered cells past {@link maxBufferedCells}. */
  oomKills = 0
  /** Cells held for slow destinations over all circuits before the largest holder is destroyed. */
  maxBufferedCells: number
  /** How long a TCP connect or a peer dial may take (ms). */
  connectTimeoutMs: number
  private readonly prefix: string
  private readonly linkProtocol: string

  constructor (init: ExitEdgeInit) {
    this.init = init
    this.exitEnabled = init.exitEnabled
    this.maxBufferedCells = init.maxBufferedCells ?? MAX_EXIT_BUFFERED_CELLS
    this.connectTimeoutMs = init.connectTimeoutMs ?? CONNECT_TIMEOUT_MS
    this.policy = init.policy
    this.prefix = `/peerd/${init.network}/`
    this.linkProtocol = onionLinkProtocol(init.network)
    const previous = init.relay.onMessage
    init.relay.onMessage = (circuit, msg) => {
      if (STREAM_COMMANDS.has(msg.command)) this.message(circuit, msg)
      else previous?.(circuit, msg)
    }
  }

  /** Circuits with a stream edge here. */
  get circuits (): number {
    return this.edges.size
  }

  /** Streams open across all circuits. */
  get streamsOpen (): number {
    let n = 0
    for (const e of this.edges.values()) n += e.size
    return n
  }

  /** DATA cells received from clients and not yet written to targets, over all circuits (what an OOM handler weighs). */
  get bufferedCells (): number {
    let n = 0
    for (const e of this.edges.values()) n += e.bufferedCells
    return n
  }

  /** The stream edges of live circuits (stats, tests). */
  liveEdges (): StreamEdge[] {
    return [...this.edges.values()]
  }

  private message (circuit: RelayCircuitHandle, msg: RelayMessage): void {
    let edge = this.edges.get(circuit.id)
    if (edge == null) {
      if (msg.command !== RelayCommand.BEGIN) return // a stream message on a circuit with no streams here: a late one, dropped
      if (!circuit.lastHop) {
        circuit.reply(RelayCommand.END, msg.streamId, Uint8Array.of(EndReason.TORPROTOCOL))
        return
      }
      edge = this.edgeFor(circuit)
    }
    edge.receive(msg) // a throw is a protocol violation: the relay destroys the circuit
    if (msg.command === RelayCommand.DATA && ++this.dataSinceCheck >= BUFFER_CHECK_EVERY) {
      this.dataSinceCheck = 0
      this.checkMemory()
    }
  }

  /** Past the cap on buffered cells, destroys the circuit that holds the most. */
  private checkMemory (): void {
    const limit = this.maxBufferedCells
    let total = 0
    let worst: number | undefined
    let worstCells = -1
    for (const [id, e] of this.edges) {
      const n = e.bufferedCells
      total += n
      if (n > worstCells) { worstCells = n; worst = id }
    }
    if (total <= limit || worst == null) return
    this.oomKills++
    this.handles.get(worst)?.destroy()
  }

  private edgeFor (circuit: RelayCircuitHandle): StreamEdge {
    const edge = new StreamEdge({
      transport: {
        send: (command, streamId, data) => { circuit.reply(command, streamId, data) },
        lastSentDigest: () => circuit.lastBackwardDigest,
        lastReceivedDigest: () => circuit.lastForwardDigest,
        queued: () => circuit.queuedBackward
      },
      maxStreams: this.init.maxStreamsPerCircuit ?? MAX_STREAMS_PER_CIRCUIT,
      onBegin: (stream) => { void this.begin(edge, stream) }
    })
    this.edges.set(circuit.id, edge)
    this.handles.set(circuit.id, circuit)
    circuit.onClose(() => {
      this.edges.delete(circuit.id)
      this.handles.delete(circuit.id)
      edge.close()
    })
    return edge
  }

  private refuse (edge: StreamEdge, stream: OnionStream, reason: number): void {
    this.stats.refused[reason] = (this.stats.refused[reason] ?? 0) + 1
    edge.refuse(stream, reason)
    try { this.init.onRefused?.(reason, 'peer' in stream.target ? null : stream.target.port) } catch { /* a logger's failure is not the stream's */ }
  }

  private async begin (edge: StreamEdge, stream: OnionStream): Promise<void> {
    try {
      if ('peer' in stream.target) await this.beginPeer(edge, stream, stream.target)
      else await this.beginTcp(edge, stream, stream.target)
    } catch {
      if (!stream.destroyed) this.refuse(edge, stream, EndReason.MISC)
    }
  }

  private async beginTcp (edge: StreamEdge, stream: OnionStream, target: { host: string, port: number }): Promise<void> {
    if (!this.exitEnabled) { this.refuse(edge, stream, EndReason.EXITPOLICY); return }
    const { policy } = this
    let address: string | undefined
    if (isIP(target.host) !== 0) {
      if (policy.allows(target.host, target.port)) address = target.host
    } else {
      let addresses: string[]
      try {
        addresses = await (this.init.resolve ?? defaultResolve)(target.host)
      } catch {
        this.refuse(edge, stream, EndReason.RESOLVEFAILED)
        return
      }
      if (addresses.length === 0) { this.refuse(edge, stream, EndReason.RESOLVEFAILED); return }
      address = addresses.find(a => policy.allows(a, target.port))
    }
    if (address == null) { this.refuse(edge, stream, EndReason.EXITPOLICY); return }
    if (stream.destroyed) return
    let socket: Socket
    try {
      socket = await (this.init.connectTcp ?? defaultConnect)(address, target.port, AbortSignal.timeout(this.connectTimeoutMs))
    } catch (err) {
      if (!stream.destroyed) this.refuse(edge, stream, connectReason(err))
      return
    }
    if (stream.destroyed) { socket.destroy(); return }
    this.stats.streamsOpened++
    edge.connected(stream, address)
    socket.on('error', (err) => { stream.destroy(err) })
    stream.on('error', () => { socket.destroy() })
    stream.on('close', () => { socket.destroy() })
    socket.on('close', () => { if (!stream.writableEnded) stream.end() })
    socket.pipe(stream)
    stream.pipe(socket)
  }

  private async beginPeer (edge: StreamEdge, stream: OnionStream, target: { peer: string, protocol: string }): Promise<void> {
    const { protocol } = target
    if (!protocol.startsWith(this.prefix) || protocol.startsWith(this.linkProtocol.replace(/\/[^/]+$/, '/'))) {
      this.refuse(edge, stream, EndReason.EXITPOLICY)
      return
    }
    let peer
    try {
      peer = peerIdFromString(target.peer)
    } catch {
      this.refuse(edge, stream, EndReason.RESOLVEFAILED)
      return
    }
    let remote: Stream
    try {
      remote = await this.init.relay.host.dialProtocol(peer, protocol, { signal: AbortSignal.timeout(this.connectTimeoutMs) })
    } catch (err) {
      if (!stream.destroyed) this.refuse(edge, stream, connectReason(err))
      return
    }
    if (stream.destroyed) { remote.abort(new Error('stream closed')); return }
    this.stats.streamsOpened++
    edge.connected(stream)
    pipeLibp2p(stream, remote)
  }
}

/** Pipes an onion stream to a libp2p stream both ways, with backpressure on each side. */
function pipeLibp2p (stream: OnionStream, remote: Stream): void {
  stream.on('error', () => { remote.abort(new Error('onion stream failed')) })
  stream.on('close', () => { if (remote.status === 'open') void remote.close().catch(() => {}) })
  stream.on('data', (chunk: Uint8Array) => {
    if (!remote.send(chunk)) {
      stream.pause()
      waitForDrain(remote).then(() => stream.resume(), () => stream.destroy())
    }
  })
  void (async () => {
    try {
      for await (const chunk of remote) {
        const bytes = chunk instanceof Uint8Array ? chunk : chunk.subarray()
        if (!stream.write(bytes)) await once(stream, 'drain')
      }
      stream.end()
    } catch {
      stream.destroy()
    }
  })()
}
