/**
 * Onion links: the connection between two adjacent hops, one libp2p stream of protocol
 * `/peerd/<network>/onion/link/1.0.0` carrying fixed-size cells (`CELL_LEN` bytes; a write
 * carries one or a batch of whole cells) for any number of circuits. One link per pair of peers is enough: an open
 * link to a peer is reused whichever side opened it.
 *
 * Circuit ids are per link. As in tor-spec's link protocol 4+, the side that opened the link
 * picks ids with the high bit set, the other side ids without it, so the two never collide.
 *
 * Bounds: at most `maxLinks` links and `maxCircuitsPerLink` circuits on each. A malformed cell
 * (wrong size at the end, unknown command, a circuit id from the wrong half) closes the link with
 * its typed error: every circuit on it hears `linkClosed`, the stream is aborted.
 *
 * Outbound cells wait in the link's {@link LinkQueue} (link-queue.ts: per-circuit FIFOs written
 * in tor's EWMA order while the stream accepts more), never in the stream's own buffer. Bounds, as
 * tor's: a circuit with more than `maxQueuedCellsPerCircuit` cells queued is killed (its owner's
 * `overflow`, else the link sends DESTROY RESOURCELIMIT itself and tells the owner `linkClosed`),
 * and past `maxQueuedBytes` over all links the circuit with the longest queue is killed (tor's
 * OOM handler). `rate` caps the bytes all links write a second: cells wait in the queues, so
 * the cap slows senders through circuit flow control instead of dropping cells. CREATE2 from
 * one peer is rate limited and capped in flight; beyond, DESTROY RESOURCELIMIT without the
 * handshake's X25519 work.
 *
 * ```ts
 * const links = new LinkManager({ host, network: 'regtest', onCreate: (link, cell) => relay.create(link, cell) })
 * await links.start()
 * const link = await links.get(peerId)
 * const circId = link.register({ cell: c => handle(c), linkClosed: err => drop(err) })
 * link.send({ circId, command: CellCommand.CREATE2, body })
 * ```
 * @module
 */
import { randomInt } from 'node:crypto'
import type { Connection, Libp2p, PeerId, Stream } from '@libp2p/interface'
import { PeerRateLimiter } from '../net/rate-limit.ts'
import { InvalidArgumentError } from '../errors.ts'
import { CELL_BODY_LEN, CELL_LEN, CIRCID_LEN, CellCommand, CellReader, encodeCell, encodeCellRun, encodeDestroy } from './cell.ts'
import type { Cell } from './cell.ts'
import { MalformedCellError, OnionLimitError } from './errors.ts'
import { lazyWindowUpdates } from './link-window.ts'
import { LinkQueue, MAX_CONTROL_CELLS, MAX_QUEUED_CELLS_PER_CIRCUIT, cellHeader } from './link-queue.ts'
import { CREATE_RATE, CellBucket, DESTROY_RESOURCELIMIT, MAX_BATCH_CELLS, MAX_PENDING_CREATES, MAX_QUEUED_BYTES } from './relay-rate.ts'
import type { LinkLimits, LinkStats, RateInit } from './relay-rate.ts'

/** Protocol id of onion links on `network`. */
export function onionLinkProtocol (network: string): string {
  return `/peerd/${network}/onion/link/1.0.0`
}

/** Default most links (peers this node keeps a link with). */
export const MAX_LINKS = 256
/** Default most circuits on one link. */
export const MAX_CIRCUITS_PER_LINK = 1024
const HIGH_BIT = 0x80000000

/** What a link needs of a libp2p host. */
export type LinkHost = Pick<Libp2p, 'peerId' | 'handle' | 'unhandle' | 'dialProtocol'>

/** One circuit's end on a link: where its cells go. */
export interface CircuitEndpoint {
  /** A cell for this circuit id arrived. */
  cell: (cell: Cell) => void
  /** The link closed (the circuit is gone on it). */
  linkClosed: (err?: Error) => void
  /**
   * The circuit's queue on this link passed its cap (or it had the longest queue when the
   * manager's total passed its cap); its queued cells were dropped. The owner should destroy it.
   * Without this hook the link unregisters the circuit, sends DESTROY RESOURCELIMIT on it and
   * calls `linkClosed` with an {@link OnionLimitError}.
   */
  overflow?: () => void
  /**
   * Consecutive RELAY (or RELAY_EARLY) cells of one read, all of `command`, for this circuit, in
   * order: one call for the run instead of one `cell` per cell, so a relay can pass them through
   * its cipher in one call. Without it each goes to `cell`. `bodies` are views into the read
   * (copy what you keep).
   */
  relayRun?: (command: CellCommand, bodies: Uint8Array[]) => void
}

/** Options of {@link LinkManager}. */
export interface LinkManagerInit extends LinkLimits {
  host: LinkHost
  network: string
  maxLinks?: number
  maxCircuitsPerLink?: number
  /** A CREATE2 on a circuit id the peer may use and that is free here (a relay answers it). */
  onCreate?: (link: OnionLink, cell: Cell) => void
  /** Sees every chunk written to a link (metrics, tests): whole cells, one or a batch. */
  onWrite?: (link: OnionLink, chunk: Uint8Array) => void
  /** A link closed on an error (a malformed cell, a reset stream). */
  onLinkError?: (link: OnionLink, err: Error) => void
  /**
   * Whether `peer` is a relay (in the view, its address proved): its CREATE2 extend others'
   * circuits, so they skip the per-peer rate (tor counts CREATE cells from clients only,
   * `dos_cc_new_create_cell`); the cap on handshakes in flight still holds.
   */
  isRelay?: (peer: PeerId) => boolean
}

/** One link to an adjacent hop. */
export class OnionLink {
  readonly remotePeer: PeerId
  /** Whether this side opened the link (its circuit ids have the high bit set). */
  readonly initiator: boolean
  private readonly stream: Stream
  private readonly manager: LinkManager
  private readonly circuits = new Map<number, CircuitEndpoint>()
  /** CREATE2 handed to `onCreate` whose CREATED2 or DESTROY is not written yet. */
  private readonly pendingCreates = new Set<number>()
  private readonly queue: LinkQueue
  private closedFlag = false

  constructor (stream: Stream, remotePeer: PeerId, initiator: boolean, manager: LinkManager) {
    this.stream = stream
    this.remotePeer = remotePeer
    this.initiator = initiator
    this.manager = manager
    lazyWindowUpdates(stream)
    this.queue = new LinkQueue({
      sink: stream,
      bucket: () => manager.bucket,
      now: manager.init.now,
      onWritten: cell => { this.written(cell) },
      onSent: chunk => { manager.stats.writes++; manager.init.onWrite?.(this, chunk) },
      onError: err => { this.close(err) },
      onSizeChange: delta => { manager.queueChanged(delta) },
      maxBatchCells: manager.maxBatchCells
    })
  }

  get closed (): boolean {
    return this.closedFlag
  }

  /** Circuits on this link. */
  get circuitCount (): number {
    return this.circuits.size
  }

  /** Allocates a free circuit id of this side's half and routes its cells to `endpoint`. */
  register (endpoint: CircuitEndpoint): number {
    this.checkRoom()
    for (;;) {
      const id = (randomInt(1, HIGH_BIT) | (this.initiator ? HIGH_BIT : 0)) >>> 0
      if (!this.circuits.has(id)) {
        this.circuits.set(id, endpoint)
        return id
      }
    }
  }

  /** Routes a circuit id the peer chose (its CREATE2) to `endpoint`. */
  accept (circId: number, endpoint: CircuitEndpoint): void {
    this.checkRoom()
    this.circuits.set(circId, endpoint)
  }

  /** Frees a circuit id (its circuit was destroyed) and drops its queued cells. */
  unregister (circId: number): void {
    this.circuits.delete(circId)
    this.pendingCreates.delete(circId)
    this.manager.stats.cellsDropped += this.queue.drop(circId)
  }

  /** @internal Writes what the queue may now (the rate changed). */
  pump (): void {
    this.queue.pump()
  }

  /** @internal The circuit with the longest queue on this link. */
  largestQueue (): { circId: number, cells: number } | undefined {
    return this.queue.mux.largest()
  }

  /** Cells queued on this link, for `circId` or in all. */
  queuedCells (circId?: number): number {
    return circId == null ? this.queue.size : this.queue.mux.sizeOf(circId)
  }

  private checkRoom (): void {
    if (this.closedFlag) throw new OnionLimitError('link closed')
    if (this.circuits.size >= this.manager.maxCircuitsPerLink) throw new OnionLimitError(`link to ${this.remotePeer.toString()} has ${this.circuits.size} circuits, the most allowed`)
  }

  /**
   * Queues one cell (`CELL_LEN` bytes) and writes what the stream and the rate allow, batched
   * with the other cells queued in the same task (link-queue.ts). A DESTROY drops its circuit's queued cells and goes ahead of every circuit's; a
   * cell for an unregistered circuit id, or on a closed link, is dropped.
   */
  send (cell: Cell): void {
    if (this.closedFlag) return
    const bytes = encodeCell(cell)
    if (cell.command === CellCommand.DESTROY) {
      this.manager.stats.cellsDropped += this.queue.drop(cell.circId)
      this.control(bytes)
      return
    }
    if (!this.circuits.has(cell.circId)) {
      this.manager.stats.cellsDropped++
      return
    }
    if (this.queue.mux.sizeOf(cell.circId) >= this.manager.maxQueuedCellsPerCircuit) {
      this.manager.stats.cellsDropped++
      this.overflow(cell.circId)
      return
    }
    this.queue.push(cell.circId, bytes)
    this.manager.checkTotal()
  }

  /**
   * Queues `bodies.length / CELL_BODY_LEN` cells of `command` for `circId` whose bodies lie back
   * to back in `bodies`, as that many {@link send} calls would (each checked against the
   * circuit's queue cap), encoded into one buffer so the batch that writes them copies nothing.
   */
  sendRun (circId: number, command: CellCommand, bodies: Uint8Array): void {
    if (this.closedFlag) return
    const n = bodies.length / CELL_BODY_LEN
    if (!Number.isInteger(n) || (command !== CellCommand.RELAY && command !== CellCommand.RELAY_EARLY)) throw new InvalidArgumentError(`a run of ${bodies.length} body bytes of command ${command}`)
    const encoded = encodeCellRun(circId, command, bodies)
    const stats = this.manager.stats
    for (let i = 0; i < n; i++) {
      if (this.closedFlag || !this.circuits.has(circId)) { stats.cellsDropped++; continue }
      if (this.queue.mux.sizeOf(circId) >= this.manager.maxQueuedCellsPerCircuit) {
        stats.cellsDropped++
        this.overflow(circId)
        continue
      }
      this.queue.push(circId, encoded.subarray(i * CELL_LEN, (i + 1) * CELL_LEN))
      this.manager.checkTotal()
    }
  }

  private control (bytes: Uint8Array): void {
    if (this.queue.mux.controlSize >= MAX_CONTROL_CELLS) {
      this.close(new OnionLimitError(`${MAX_CONTROL_CELLS} DESTROY cells queued to ${this.remotePeer.toString()}, which is not reading`))
      return
    }
    this.queue.pushControl(bytes)
  }

  /** @internal Kills `circId` for its queue's length (see {@link CircuitEndpoint.overflow}). */
  overflow (circId: number): void {
    this.manager.stats.circuitsKilled++
    this.manager.stats.cellsDropped += this.queue.drop(circId)
    const endpoint = this.circuits.get(circId)
    if (endpoint?.overflow != null) {
      try { endpoint.overflow() } catch { /* the owner's failure must not leave the queue growing */ }
      this.manager.stats.cellsDropped += this.queue.drop(circId)
      return
    }
    this.unregister(circId)
    this.control(encodeCell({ circId, command: CellCommand.DESTROY, body: encodeDestroy(DESTROY_RESOURCELIMIT) }))
    try { endpoint?.linkClosed(new OnionLimitError(`circuit ${circId} queued over ${this.manager.maxQueuedCellsPerCircuit} cells to ${this.remotePeer.toString()}`)) } catch { /* as above */ }
  }

  private written (cell: Uint8Array): void {
    const stats = this.manager.stats
    stats.cellsWritten++
    stats.bytesWritten += cell.length
    const command = cell[CIRCID_LEN]
    if (command === CellCommand.CREATED2 || command === CellCommand.DESTROY) this.pendingCreates.delete(cellHeader(cell).circId)
  }

  /** Reads cells until the stream ends or a cell is malformed, then closes the link. */
  async run (): Promise<void> {
    const reader = new CellReader()
    let error: Error | undefined
    try {
      for await (const chunk of this.stream) {
        this.manager.stats.bytesRead += chunk.byteLength
        const cells = reader.push(chunk)
        this.manager.stats.cellsRead += cells.length
        for (let i = 0; i < cells.length;) i = this.dispatchFrom(cells, i)
        if (this.closedFlag) return
      }
      reader.end()
    } catch (err) {
      error = err as Error
    }
    this.close(error)
  }

  /** Dispatches `cells[i]`, or the run of relay cells it starts when its endpoint takes runs; returns the next index. */
  private dispatchFrom (cells: Cell[], i: number): number {
    const first = cells[i] as Cell
    const endpoint = first.command === CellCommand.RELAY || first.command === CellCommand.RELAY_EARLY ? this.circuits.get(first.circId) : undefined
    if (endpoint?.relayRun == null) {
      this.dispatch(first)
      return i + 1
    }
    const bodies = [first.body]
    let j = i + 1
    for (; j < cells.length; j++) {
      const c = cells[j] as Cell
      if (c.circId !== first.circId || c.command !== first.command) break
      bodies.push(c.body)
    }
    endpoint.relayRun(first.command, bodies)
    return j
  }

  private dispatch (cell: Cell): void {
    if (cell.command === CellCommand.PADDING) return
    const endpoint = this.circuits.get(cell.circId)
    if (endpoint != null) {
      endpoint.cell(cell)
      return
    }
    if (cell.command !== CellCommand.CREATE2) return // a cell for a circuit already gone (tor drops these)
    const peersHalf = ((cell.circId & HIGH_BIT) !== 0) !== this.initiator
    if (!peersHalf) throw new MalformedCellError(`CREATE2 on circuit id ${cell.circId}, which is not the peer's to pick`)
    if (this.manager.init.onCreate == null) return
    // refused before the handshake: its X25519 work is what a CREATE2 flood would cost
    if (this.pendingCreates.size >= this.manager.maxPendingCreates ||
      (this.manager.init.isRelay?.(this.remotePeer) !== true && !this.manager.createLimiter.take(this.remotePeer.toString()))) {
      this.manager.stats.createsRefused++
      this.control(encodeCell({ circId: cell.circId, command: CellCommand.DESTROY, body: encodeDestroy(DESTROY_RESOURCELIMIT) }))
      return
    }
    this.pendingCreates.add(cell.circId)
    this.manager.init.onCreate(this, cell)
  }

  /** Closes the link: its circuits hear `linkClosed`, the stream is aborted on an error. */
  close (err?: Error): void {
    if (this.closedFlag) return
    this.closedFlag = true
    this.manager.forget(this)
    const endpoints = [...this.circuits.values()]
    this.circuits.clear()
    for (const e of endpoints) {
      try { e.linkClosed(err) } catch { /* one circuit's cleanup must not stop the others' */ }
    }
    this.pendingCreates.clear()
    if (err != null) {
      this.queue.close()
      this.manager.init.onLinkError?.(this, err)
      this.stream.abort(err)
    } else {
      // a clean close still delivers what was queued (the DESTROYs of a stopping relay)
      this.queue.close(cell => {
        try { this.stream.send(cell) } catch { /* the stream is already gone */ }
      })
      void this.stream.close().catch((e: Error) => { this.stream.abort(e) })
    }
  }
}

/** The links of one host: accepts inbound links, opens or reuses outbound ones. */
export class LinkManager {
  readonly protocol: string
  readonly maxLinks: number
  readonly maxCircuitsPerLink: number
  readonly maxQueuedCellsPerCircuit: number
  readonly maxQueuedBytes: number
  readonly maxPendingCreates: number
  readonly maxBatchCells: number
  readonly init: LinkManagerInit
  /** @internal The bandwidth cap shared by all links. */
  bucket?: CellBucket
  /** @internal CREATE2 per peer. */
  readonly createLimiter: PeerRateLimiter
  readonly stats: LinkStats = { cellsWritten: 0, writes: 0, bytesWritten: 0, cellsRead: 0, bytesRead: 0, cellsDropped: 0, circuitsKilled: 0, createsRefused: 0 }
  private readonly links = new Map<string, Set<OnionLink>>()
  private readonly dialing = new Map<string, Promise<OnionLink>>()
  private count = 0
  private queued = 0
  private killing = false

  constructor (init: LinkManagerInit) {
    this.init = init
    this.protocol = onionLinkProtocol(init.network)
    this.maxLinks = init.maxLinks ?? MAX_LINKS
    this.maxCircuitsPerLink = init.maxCircuitsPerLink ?? MAX_CIRCUITS_PER_LINK
    this.maxQueuedCellsPerCircuit = init.maxQueuedCellsPerCircuit ?? MAX_QUEUED_CELLS_PER_CIRCUIT
    this.maxQueuedBytes = init.maxQueuedBytes ?? MAX_QUEUED_BYTES
    this.maxPendingCreates = init.maxPendingCreates ?? MAX_PENDING_CREATES
    this.maxBatchCells = init.maxBatchCells ?? MAX_BATCH_CELLS
    this.bucket = init.rate == null ? undefined : new CellBucket(init.rate, init.now)
    const createRate = init.createRate ?? CREATE_RATE
    this.createLimiter = new PeerRateLimiter(createRate.perSec, createRate.burst)
  }

  /** Sets or lifts (`undefined`) the bandwidth cap of all links, e.g. when `--onion-relay-rate` changes. */
  setRate (rate: RateInit | undefined): void {
    this.bucket = rate == null ? undefined : new CellBucket(rate, this.init.now)
    for (const set of this.links.values()) for (const link of set) link.pump()
  }

  /** Cells queued now over all links. */
  get queuedCells (): number {
    return this.queued
  }

  /** @internal A link's queue grew or shrank. */
  queueChanged (delta: number): void {
    this.queued += delta
  }

  /** @internal Past {@link maxQueuedBytes}, kills the circuits with the longest queues until under it. */
  checkTotal (): void {
    if (this.killing) return
    this.killing = true
    try {
      while (this.queued * CELL_LEN > this.maxQueuedBytes) {
        let worst: { link: OnionLink, circId: number, cells: number } | undefined
        for (const set of this.links.values()) {
          for (const link of set) {
            const l = link.largestQueue()
            if (l != null && l.cells > (worst?.cells ?? 0)) worst = { link, ...l }
          }
        }
        if (worst == null) return
        worst.link.overflow(worst.circId)
      }
    } finally {
      this.killing = false
    }
  }

  async start (): Promise<void> {
    await this.init.host.handle(this.protocol, (stream, connection) => { this.inbound(stream, connection) }, {
      maxInboundStreams: 2,
      maxOutboundStreams: 2
    })
  }

  async stop (): Promise<void> {
    await this.init.host.unhandle(this.protocol)
    for (const set of [...this.links.values()]) for (const link of [...set]) link.close()
  }

  /** Open links. */
  get size (): number {
    return this.count
  }

  /** An open link to `peer`: an existing one, or a new stream on a connection to it. */
  async get (peer: PeerId, options: { signal?: AbortSignal } = {}): Promise<OnionLink> {
    const key = peer.toString()
    const open = this.links.get(key)
    if (open != null) for (const link of open) if (!link.closed) return link
    const pending = this.dialing.get(key)
    if (pending != null) return await pending
    const dial = this.dial(peer, options.signal ?? AbortSignal.timeout(10_000))
    this.dialing.set(key, dial)
    try {
      return await dial
    } finally {
      this.dialing.delete(key)
    }
  }

  private async dial (peer: PeerId, signal: AbortSignal): Promise<OnionLink> {
    if (this.count >= this.maxLinks) throw new OnionLimitError(`${this.count} onion links, the most allowed`)
    const stream = await this.init.host.dialProtocol(peer, this.protocol, { signal })
    return this.add(stream, peer, true)
  }

  private inbound (stream: Stream, connection: Connection): void {
    if (this.count >= this.maxLinks) {
      stream.abort(new OnionLimitError(`${this.count} onion links, the most allowed`))
      return
    }
    this.add(stream, connection.remotePeer, false)
  }

  private add (stream: Stream, peer: PeerId, initiator: boolean): OnionLink {
    const link = new OnionLink(stream, peer, initiator, this)
    const key = peer.toString()
    let set = this.links.get(key)
    if (set == null) { set = new Set(); this.links.set(key, set) }
    set.add(link)
    this.count++
    void link.run()
    return link
  }

  /** Called by a link as it closes. */
  forget (link: OnionLink): void {
    const key = link.remotePeer.toString()
    const set = this.links.get(key)
    if (set?.delete(link) === true) {
      this.count--
      if (set.size === 0) this.links.delete(key)
    }
  }
}
