/**
 * The client's circuits (issue 16): built telescopically as tor-spec's "Creating circuits" says.
 * CREATE2 to the first hop over a link, then for each later hop an EXTEND2 (in RELAY_EARLY)
 * through the circuit so far, whose EXTENDED2 comes back sealed by the hop before it. Each
 * handshake is ntor against the hop's onion key; its keys add one layer of {@link OnionLayers}.
 *
 * The client needs each hop's onion key: a relay descriptor carries it (`path.ts` returns
 * descriptors, which are {@link PathHop}s).
 *
 * Streams (`edge.ts`, `stream.ts`): {@link Circuit.openStream} sends BEGIN to the last hop and
 * resolves with a Duplex once CONNECTED comes back. From the first `openStream` on, the last hop's
 * stream commands (BEGIN, DATA, END, CONNECTED, SENDME) go to the circuit's {@link StreamEdge}
 * instead of `onMessage`; a flow-control violation there (a forged SENDME) tears the circuit down.
 *
 * A circuit ends on a DESTROY from its first hop (any hop's teardown propagates to it), on its
 * link closing, on a backward cell no hop recognizes (tor1's integrity check: the circuit is
 * destroyed), or on `destroy()`. `onClose` hears it once, with the reason.
 *
 * ```ts
 * const links = new LinkManager({ host, network: 'regtest' }); await links.start()
 * const circuit = await buildCircuit(links, [{ peerId: a, onionKey: keyA }, { peerId: b, onionKey: keyB }, { peerId: c, onionKey: keyC }])
 * circuit.onMessage = (hop, msg) => { … }
 * circuit.send(RelayCommand.DATA, 1, bytes)      // to the last hop
 * const stream = await circuit.openStream({ host: '127.0.0.1', port: 8080 })
 * ```
 * @module
 */
import { publicKeyToProtobuf } from '@libp2p/crypto/keys'
import type { PeerId } from '@libp2p/interface'
import { CellCommand, HANDSHAKE_NTOR, RelayCommand, decodeCreated2, decodeRelayBody, encodeCreate2, encodeDestroy, encodeExtend2, encodeRelayBody, peerIdSpecifier } from './cell.ts'
import type { Cell, RelayMessage } from './cell.ts'
import { StreamEdge, STREAM_COMMANDS } from './edge.ts'
import { CircuitClosedError, HandshakeError, MalformedCellError, OnionLimitError } from './errors.ts'
import type { LinkManager, OnionLink } from './link.ts'
import { ntorClientComplete, ntorClientCreate, ntorRelayId } from './ntor.ts'
import { OnionLayers, splitRelayKeys } from './relay-crypto.ts'
import type { OnionStream } from './stream.ts'

/** One hop of a path: the relay's peer id (with its public key) and onion key. */
export interface PathHop {
  peerId: PeerId
  onionKey: Uint8Array
}

/** How long each hop of a build may take. */
const HOP_TIMEOUT_MS = 10_000
/** Most hops of a circuit (tor's RELAY_EARLY budget is 8). */
export const MAX_HOPS = 8

/** The ntor relay id of a relay's peer id (its inlined public key); a handshake, or an ESTABLISH_INTRO, is bound to it. */
export function relayIdOf (peerId: PeerId): Uint8Array {
  if (peerId.publicKey == null) throw new HandshakeError(`peer ${peerId.toString()} has no inlined public key`)
  return ntorRelayId(publicKeyToProtobuf(peerId.publicKey))
}

/** What {@link Circuit.openStream} reaches: a host and port resolved at the exit, or a peerd protocol on a peer. */
export type OpenTarget = { host: string, port: number } | { peer: PeerId | string, protocol: string }

/** A client circuit; see the module header. */
export class Circuit {
  readonly link: OnionLink
  readonly circId: number
  /** When the build started (ms since the epoch). */
  readonly createdAt = Date.now()
  /** How long the build took (ms); 0 until built. */
  buildMs = 0
  /** The hops' peer ids, first hop first (set by {@link buildCircuit}). */
  hopPeers: PeerId[] = []
  /** Called when the number of open streams changes. */
  onStreamCount?: (open: number) => void
  /** Called with each relay message a hop sends back, and the hop's index (0: first hop). */
  onMessage?: (hop: number, msg: RelayMessage) => void
  /** Called once when the circuit ends. */
  onClose?: (err: CircuitClosedError) => void
  private readonly layers = new OnionLayers()
  private closedWith?: CircuitClosedError
  private waiting?: { resolve: (cell: Cell | RelayMessage) => void, reject: (err: Error) => void }
  private edge?: StreamEdge

  /** Takes a free circuit id on `link` (see {@link buildCircuit}). */
  constructor (link: OnionLink) {
    this.link = link
    this.circId = link.register({
      cell: c => { this.cell(c) },
      linkClosed: err => { this.linkClosed(err) },
      overflow: () => { this.fail(new OnionLimitError('the circuit\'s queue on the link to the first hop overflowed')) }
    })
  }

  /** Hops built so far. */
  get hops (): number {
    return this.layers.length
  }

  get closed (): boolean {
    return this.closedWith != null
  }

  /** Stream DATA bytes sent and received. */
  get bytesSent (): number {
    return this.edge?.bytesSent ?? 0
  }

  get bytesReceived (): number {
    return this.edge?.bytesReceived ?? 0
  }

  /** Open streams. */
  get streamsOpen (): number {
    return this.edge?.size ?? 0
  }

  /** The stream edge's state (congestion window, counters), once a stream was opened. */
  get streams (): StreamEdge | undefined {
    return this.edge
  }

  /**
   * Opens a stream through the last hop: to `host:port` (a name is resolved at the exit) or to
   * `protocol` on peerd node `peer`. Resolves after CONNECTED; rejects with `StreamRefusedError`
   * (its `reason` is tor's END reason) or, when the circuit closes, `StreamClosedError`.
   */
  async openStream (target: OpenTarget, options: { signal?: AbortSignal } = {}): Promise<OnionStream> {
    if (this.closedWith != null) throw this.closedWith
    const last = (): number => this.layers.length - 1
    this.edge ??= new StreamEdge({
      transport: {
        send: (command, streamId, data) => { this.sendRelay(CellCommand.RELAY, { command, streamId, data }, last()) },
        lastSentDigest: () => this.layers.lastForwardDigest(last()),
        lastReceivedDigest: () => this.layers.lastBackwardDigest(last()),
        queued: () => this.link.queuedCells(this.circId)
      },
      onStreamCount: n => { this.onStreamCount?.(n) }
    })
    const t = 'peer' in target ? { peer: target.peer.toString(), protocol: target.protocol } : target
    return await this.edge.open(t, options)
  }

  /**
   * Sends a relay message to `hop` (default: the last); `early` sends it as RELAY_EARLY, of which
   * each relay passes on at most 8 per circuit (the build uses one per extension).
   */
  send (command: RelayCommand, streamId: number, data: Uint8Array, hop = this.layers.length - 1, early = false): void {
    this.sendRelay(early ? CellCommand.RELAY_EARLY : CellCommand.RELAY, { command, streamId, data }, hop)
  }

  private sendRelay (cellCommand: typeof CellCommand.RELAY | typeof CellCommand.RELAY_EARLY, msg: RelayMessage, hop: number): void {
    if (this.closedWith != null) throw this.closedWith
    this.link.send({ circId: this.circId, command: cellCommand, body: this.layers.encryptForward(encodeRelayBody(msg), hop) })
  }

  /** Tears the circuit down: DESTROY to the first hop, which passes it on. */
  destroy (): void {
    if (this.closedWith != null) return
    this.link.send({ circId: this.circId, command: CellCommand.DESTROY, body: encodeDestroy(9) })
    this.close(new CircuitClosedError('circuit destroyed by this client'))
  }

  /** @internal The link's routing of this circuit's cells. */
  cell (cell: Cell): void {
    if (this.closedWith != null) return
    if (cell.command === CellCommand.DESTROY) {
      this.close(new CircuitClosedError(`circuit destroyed by a hop (reason ${cell.body[0] ?? 0})`))
      return
    }
    if (this.waiting != null && cell.command === CellCommand.CREATED2 && this.layers.length === 0) {
      this.waiting.resolve(cell)
      return
    }
    if (cell.command !== CellCommand.RELAY) {
      this.fail(new MalformedCellError(`cell command ${cell.command} from the first hop`))
      return
    }
    try {
      const { hop, body } = this.layers.decryptBackward(cell.body)
      const msg = decodeRelayBody(body)
      if (msg.command === RelayCommand.EXTENDED2 && this.waiting != null && hop === this.layers.length - 1) this.waiting.resolve(msg)
      else if (this.edge != null && hop === this.layers.length - 1 && STREAM_COMMANDS.has(msg.command)) this.edge.receive(msg)
      else this.onMessage?.(hop, msg)
    } catch (err) {
      this.fail(err as Error)
    }
  }

  /** @internal The link closed. */
  linkClosed (err?: Error): void {
    this.close(new CircuitClosedError('the link to the first hop closed', { cause: err }))
  }

  private fail (err: Error): void {
    if (this.closedWith != null) return
    this.link.send({ circId: this.circId, command: CellCommand.DESTROY, body: encodeDestroy(1) })
    this.close(new CircuitClosedError(`circuit torn down: ${err.message}`, { cause: err }))
  }

  private close (err: CircuitClosedError): void {
    if (this.closedWith != null) return
    this.closedWith = err
    this.link.unregister(this.circId)
    this.waiting?.reject(err)
    this.waiting = undefined
    this.edge?.close(err)
    this.onClose?.(err)
  }

  /** @internal Sends `cell` (or a relay message to the last hop, in RELAY_EARLY) and waits for the handshake reply. */
  async handshake (send: () => void): Promise<Uint8Array> {
    if (this.closedWith != null) throw this.closedWith
    const reply = new Promise<Cell | RelayMessage>((resolve, reject) => { this.waiting = { resolve, reject } })
    const timer = setTimeout(() => { this.fail(new CircuitClosedError(`hop ${this.layers.length + 1} did not answer within ${HOP_TIMEOUT_MS} ms`)) }, HOP_TIMEOUT_MS)
    try {
      send()
      const got = await reply
      return decodeCreated2('circId' in got ? got.body : got.data)
    } finally {
      clearTimeout(timer)
      this.waiting = undefined
    }
  }

  /** @internal Adds a hop's layer once its handshake completed. */
  addHop (keys: Uint8Array): void {
    this.layers.addHop(splitRelayKeys(keys))
    keys.fill(0)
  }

  /**
   * Adds the end-to-end layer of an onion-service circuit (rend-spec-v3 "Joining to a rendezvous
   * point") once the rendezvous handshake gave both ends `material` (Df | Db | Kf | Kb): the
   * client uses it as a further hop; the service is that hop's other end, so its forward
   * direction is the client's backward one.
   */
  addVirtualHop (material: Uint8Array, role: 'client' | 'service'): void {
    const k = splitRelayKeys(material)
    material.fill(0)
    this.layers.addHop(role === 'client' ? k : { df: k.db, db: k.df, kf: k.kb, kb: k.kf })
  }

  /** The running digest of the last cell sent to `hop` (the tag its SENDME must echo). */
  lastForwardDigest (hop: number): Uint8Array {
    return this.layers.lastForwardDigest(hop)
  }

  /** The running digest of the last cell recognized from `hop`. */
  lastBackwardDigest (hop: number): Uint8Array {
    return this.layers.lastBackwardDigest(hop)
  }

  /** Cells of this circuit waiting on the link to the first hop. */
  get queuedCells (): number {
    return this.link.queuedCells(this.circId)
  }

  /** @internal Sends EXTEND2 for the next hop through the last one. */
  extend (data: Uint8Array): void {
    this.sendRelay(CellCommand.RELAY_EARLY, { command: RelayCommand.EXTEND2, streamId: 0, data }, this.layers.length - 1)
  }
}

/**
 * Builds a circuit through `path` (first hop first) over `links`: CREATE2 to the first hop, then
 * one EXTEND2 per later hop. A hop that fails its handshake, refuses, or takes over 10 s ends the
 * build with {@link CircuitClosedError} (or {@link HandshakeError}) and tears down what was built.
 */
export async function buildCircuit (links: LinkManager, path: PathHop[], options: { signal?: AbortSignal, onHop?: (built: number) => void } = {}): Promise<Circuit> {
  if (path.length < 1 || path.length > MAX_HOPS) throw new CircuitClosedError(`a path of ${path.length} hops (1 to ${MAX_HOPS})`)
  const first = path[0] as PathHop
  const link = await links.get(first.peerId, options)
  const built = new Circuit(link)
  const circId = built.circId
  const started = performance.now()
  try {
    for (const [i, hop] of path.entries()) {
      const { state, onionskin } = ntorClientCreate(relayIdOf(hop.peerId), hop.onionKey)
      const reply = await built.handshake(() => {
        if (i === 0) link.send({ circId, command: CellCommand.CREATE2, body: encodeCreate2({ handshakeType: HANDSHAKE_NTOR, handshake: onionskin }) })
        else built.extend(encodeExtend2({ linkSpecifiers: [peerIdSpecifier(hop.peerId.toMultihash().bytes)], handshakeType: HANDSHAKE_NTOR, handshake: onionskin }))
      })
      built.addHop(ntorClientComplete(state, reply))
      options.onHop?.(i + 1)
    }
  } catch (err) {
    built.destroy()
    throw err
  }
  built.buildMs = performance.now() - started
  built.hopPeers = path.map(h => h.peerId)
  return built
}
