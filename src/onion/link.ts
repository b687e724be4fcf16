/**
 * Onion links: the connection between two adjacent hops, one libp2p stream of protocol
 * `/peerd/<network>/onion/link/1.0.0` carrying fixed-size cells (`CELL_LEN` bytes, each
 * written as one chunk) for any number of circuits. One link per pair of peers is enough: an open
 * link to a peer is reused whichever side opened it.
 *
 * Circuit ids are per link. As in tor-spec's link protocol 4+, the side that opened the link
 * picks ids with the high bit set, the other side ids without it, so the two never collide.
 *
 * Bounds: at most `maxLinks` links and `maxCircuitsPerLink` circuits on each. A malformed cell
 * (wrong size at the end, unknown command, a circuit id from the wrong half) closes the link with
 * its typed error: every circuit on it hears `linkClosed`, the stream is aborted.
 *
 * No flow control yet: `send` queues in the stream's buffer (SENDMEs are a later piece).
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
import { CellCommand, CellReader, encodeCell } from './cell.ts'
import type { Cell } from './cell.ts'
import { MalformedCellError, OnionLimitError } from './errors.ts'

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
}

/** Options of {@link LinkManager}. */
export interface LinkManagerInit {
  host: LinkHost
  network: string
  maxLinks?: number
  maxCircuitsPerLink?: number
  /** A CREATE2 on a circuit id the peer may use and that is free here (a relay answers it). */
  onCreate?: (link: OnionLink, cell: Cell) => void
  /** Sees every chunk written to a link (metrics, tests). */
  onWrite?: (link: OnionLink, chunk: Uint8Array) => void
  /** A link closed on an error (a malformed cell, a reset stream). */
  onLinkError?: (link: OnionLink, err: Error) => void
}

/** One link to an adjacent hop. */
export class OnionLink {
  readonly remotePeer: PeerId
  /** Whether this side opened the link (its circuit ids have the high bit set). */
  readonly initiator: boolean
  private readonly stream: Stream
  private readonly manager: LinkManager
  private readonly circuits = new Map<number, CircuitEndpoint>()
  private closedFlag = false

  constructor (stream: Stream, remotePeer: PeerId, initiator: boolean, manager: LinkManager) {
    this.stream = stream
    this.remotePeer = remotePeer
    this.initiator = initiator
    this.manager = manager
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

  /** Frees a circuit id (its circuit was destroyed). */
  unregister (circId: number): void {
    this.circuits.delete(circId)
  }

  private checkRoom (): void {
    if (this.closedFlag) throw new OnionLimitError('link closed')
    if (this.circuits.size >= this.manager.maxCircuitsPerLink) throw new OnionLimitError(`link to ${this.remotePeer.toString()} has ${this.circuits.size} circuits, the most allowed`)
  }

  /** Writes one cell (`CELL_LEN` bytes, one chunk); a closed link drops it. */
  send (cell: Cell): void {
    if (this.closedFlag) return
    const bytes = encodeCell(cell)
    try {
      this.stream.send(bytes)
      this.manager.init.onWrite?.(this, bytes)
    } catch (err) {
      this.close(err as Error)
    }
  }

  /** Reads cells until the stream ends or a cell is malformed, then closes the link. */
  async run (): Promise<void> {
    const reader = new CellReader()
    let error: Error | undefined
    try {
      for await (const chunk of this.stream) {
        for (const cell of reader.push(chunk)) this.dispatch(cell)
        if (this.closedFlag) return
      }
      reader.end()
    } catch (err) {
      error = err as Error
    }
    this.close(error)
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
    this.manager.init.onCreate?.(this, cell)
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
    if (err != null) {
      this.manager.init.onLinkError?.(this, err)
      this.stream.abort(err)
    } else {
      void this.stream.close().catch((e: Error) => { this.stream.abort(e) })
    }
  }
}

/** The links of one host: accepts inbound links, opens or reuses outbound ones. */
export class LinkManager {
  readonly protocol: string
  readonly maxLinks: number
  readonly maxCircuitsPerLink: number
  readonly init: LinkManagerInit
  private readonly links = new Map<string, Set<OnionLink>>()
  private readonly dialing = new Map<string, Promise<OnionLink>>()
  private count = 0

  constructor (init: LinkManagerInit) {
    this.init = init
    this.protocol = onionLinkProtocol(init.network)
    this.maxLinks = init.maxLinks ?? MAX_LINKS
    this.maxCircuitsPerLink = init.maxCircuitsPerLink ?? MAX_CIRCUITS_PER_LINK
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
