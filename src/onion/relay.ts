/**
 * A middle relay (issue 16): answers CREATE2 with the ntor handshake, keeps one {@link HopCrypto}
 * per circuit, removes its layer from forward cells and adds it to backward ones, and extends a
 * circuit to the peer an EXTEND2 names (tor-spec "Routing relay cells", "EXTEND and EXTENDED").
 *
 * A circuit here is two ends: `prev` (the link towards the client, the id the client's side
 * picked) and, once extended, `next` (a link to the next hop, an id this relay picked). DESTROY
 * from either side frees both and goes on to the other; a link closing does the same for each of
 * its circuits. A forward cell the last hop does not recognize fails tor1's integrity check: the
 * circuit is destroyed both ways.
 *
 * Clients learn the onion key from the relay's signed descriptor (`descriptor.ts`); the node gives
 * the relay its rotating key ring (`onion-keys.ts`), and the relay answers with whichever of its
 * keys the onionskin names (`ID | B | X`: B picks it). Without a ring it uses one key in memory.
 *
 * Relay messages recognized here (other than EXTEND2) go to {@link OnionRelay.onMessage} with one
 * {@link RelayCircuitHandle} per circuit; the exit edge (`exit.ts`) sets that hook to serve streams.
 *
 * ```ts
 * const relay = new OnionRelay({ host, network: 'regtest', onMessage: (c, msg) => c.reply(RelayCommand.DATA, msg.streamId, msg.data) })
 * await relay.start()
 * const hop = { peerId: host.peerId, onionKey: relay.onionKey }
 * ```
 * @module
 */
import { publicKeyToProtobuf } from '@libp2p/crypto/keys'
import type { PeerId } from '@libp2p/interface'
import { peerIdFromMultihash } from '@libp2p/peer-id'
import * as Digest from 'multiformats/hashes/digest'
import { CELL_BODY_LEN, CellCommand, HANDSHAKE_NTOR, RelayCommand, decodeCreate2, decodeCreated2, decodeExtend2, decodeRelayBody, encodeCreate2, encodeCreated2, encodeDestroy, encodeRelayBody, extend2PeerId } from './cell.ts'
import type { Cell, RelayMessage } from './cell.ts'
import { CellIntegrityError, MalformedCellError, OnionLimitError } from './errors.ts'
import { LinkManager } from './link.ts'
import type { LinkHost, OnionLink } from './link.ts'
import { KEY_BYTES, ntorKeyPair, ntorRelayId, ntorServerHandshake } from './ntor.ts'
import type { NtorKeyPair } from './ntor.ts'
import { HopCrypto, splitRelayKeys } from './relay-crypto.ts'
import { ReplayFilter } from './replay.ts'

/** DESTROY reasons (tor-spec): none, protocol, internal, resource limit, connect failed, finished. */
export const DestroyReason = { NONE: 0, PROTOCOL: 1, INTERNAL: 2, RESOURCELIMIT: 5, CONNECTFAILED: 6, FINISHED: 9 } as const
/** Most RELAY_EARLY cells a circuit may carry forward (tor-spec: 8), which caps how long it can grow. */
export const MAX_RELAY_EARLY = 8
/** How long an EXTEND2 may wait for the next hop's CREATED2. */
const EXTEND_TIMEOUT_MS = 10_000

/** One end of a circuit on a link. */
interface End {
  link: OnionLink
  circId: number
}

/** A circuit this relay is a hop of. */
interface RelayCircuit {
  prev: End
  next?: End
  crypto: HopCrypto
  /** The handle {@link OnionRelayInit.onMessage} sees, made on the first message. */
  handle?: RelayCircuitHandle
  /** Called once when the circuit is freed. */
  closers: Array<() => void>
  /** An EXTEND2 sent on, waiting for CREATED2. */
  extending?: NodeJS.Timeout
  /** Peers this relay exchanged cells with for this circuit (the log). */
  peers: Set<string>
  /** A rendezvous point's other circuit: cells this hop does not recognize go there (rend-spec-v3 "Joining to a rendezvous point"). */
  joined?: RelayCircuit
  /** RELAY_EARLY cells from the previous hop so far. */
  early: number
  closed: boolean
}

/** What {@link OnionRelayInit.onMessage} gets: the circuit's view for its own relay messages. */
export interface RelayCircuitHandle {
  /** A number unique among this relay's circuits over its life. */
  readonly id: number
  /** Whether this hop is the circuit's last (it was never extended). */
  readonly lastHop: boolean
  readonly closed: boolean
  /** Sends a relay message back to the client, sealed as this hop's (dropped once closed). */
  reply: (command: RelayCommand, streamId: number, data: Uint8Array) => void
  /** Tears the circuit down both ways. */
  destroy: () => void
  /** Calls `fn` once when the circuit is freed (at once if it already is). */
  onClose: (fn: () => void) => void
  /** Full running digest of the last forward cell this hop recognized (a SENDME tag it must echo). */
  readonly lastForwardDigest: Uint8Array
  /** Full running digest of the last backward cell this hop sent (the tag a SENDME must carry). */
  readonly lastBackwardDigest: Uint8Array
  /** Cells waiting in this relay's queue towards the client (the congestion signal tor calls a blocked channel). */
  readonly queuedBackward: number
  /**
   * Splices this circuit to `other` (both must end here, neither extended nor joined): from then
   * on each forward cell this hop does not recognize on one leaves as a backward cell of the
   * other, and tearing one down tears down both. A rendezvous point does this once it has matched
   * a service's RENDEZVOUS1 to a client's cookie.
   */
  join: (other: RelayCircuitHandle) => void
}

/** A rotating set of onion keys (the newest, and any still accepted by public key). */
export interface OnionKeyRing {
  current: () => NtorKeyPair
  find: (publicKey: Uint8Array) => NtorKeyPair | undefined
}

/** Options of {@link OnionRelay}. */
export interface OnionRelayInit {
  host: LinkHost
  network: string
  /** Defaults to a fresh key pair. */
  onionKeyPair?: NtorKeyPair
  /** A key ring instead of one key: a handshake uses the key its onionskin names. */
  onionKeys?: OnionKeyRing
  maxLinks?: number
  maxCircuitsPerLink?: number
  /** A relay message addressed to this hop, other than EXTEND2 (the initial {@link OnionRelay.onMessage}; `exit.ts` wraps it to serve streams). */
  onMessage?: (circuit: RelayCircuitHandle, msg: RelayMessage) => void
  /** Sees every chunk written to a link. */
  onWrite?: (peer: PeerId, chunk: Uint8Array) => void
  /** A circuit this relay was a hop of ended: the peers it exchanged cells with for it (its neighbours) and the DESTROY reason. */
  onCircuitClosed?: (peers: string[], reason: number) => void
  /** A link closed on an error (a malformed cell, a reset stream). */
  onLinkError?: (peer: PeerId, err: Error) => void
  /** Whether a peer is a relay: its CREATE2 (extensions of others' circuits) skip the per-peer rate. */
  isRelay?: (peer: PeerId) => boolean
}

/** A relay's counters. */
export interface RelayStats {
  circuitsCreated: number
  /** Cells passed on to the next or the previous hop. */
  cellsRelayed: number
  /** Forward cells this hop recognized, per relay command. */
  recognized: Record<number, number>
  integrityFailures: number
  linkErrors: number
}

/** A middle relay on one libp2p host; see the module header. */
export class OnionRelay {
  readonly relayId: Uint8Array
  readonly links: LinkManager
  readonly stats: RelayStats = { circuitsCreated: 0, cellsRelayed: 0, recognized: {}, integrityFailures: 0, linkErrors: 0 }
  /** Relay messages for this hop other than EXTEND2 (starts as the init's; `exit.ts` replaces it); a throw tears the circuit down (DESTROY, protocol). */
  onMessage?: (circuit: RelayCircuitHandle, msg: RelayMessage) => void
  private readonly init: OnionRelayInit
  private readonly keyPair: NtorKeyPair
  private nextHandleId = 1
  private readonly replay = new ReplayFilter()
  private readonly circuits = new Set<RelayCircuit>()
  private readonly byHandle = new WeakMap<RelayCircuitHandle, RelayCircuit>()

  constructor (init: OnionRelayInit) {
    this.init = init
    const publicKey = init.host.peerId.publicKey
    if (publicKey == null) throw new OnionLimitError('a relay needs a peer id with an inlined public key')
    this.relayId = ntorRelayId(publicKeyToProtobuf(publicKey))
    this.keyPair = init.onionKeys?.current() ?? init.onionKeyPair ?? ntorKeyPair()
    this.onMessage = init.onMessage
    this.links = new LinkManager({
      host: init.host,
      network: init.network,
      maxLinks: init.maxLinks,
      maxCircuitsPerLink: init.maxCircuitsPerLink,
      onCreate: (link, cell) => { this.create(link, cell) },
      isRelay: init.isRelay,
      onWrite: init.onWrite == null ? undefined : (link, chunk) => init.onWrite?.(link.remotePeer, chunk),
      onLinkError: (link, err) => {
        this.stats.linkErrors++
        init.onLinkError?.(link.remotePeer, err)
      }
    })
  }

  /** The onion key's public half (what a client's handshake names): the key ring's current one if there is a ring. */
  get onionKey (): Uint8Array {
    return (this.init.onionKeys?.current() ?? this.keyPair).publicKey
  }

  /** The libp2p host this relay runs on. */
  get host (): LinkHost {
    return this.init.host
  }

  /** The key an onionskin (`ID | B | X`) names: from the ring if there is one, else this relay's only key. */
  private keyFor (onionskin: Uint8Array): NtorKeyPair {
    const ring = this.init.onionKeys
    if (ring == null) return this.keyPair
    const named = onionskin.subarray(this.relayId.length, this.relayId.length + KEY_BYTES)
    return ring.find(named) ?? ring.current()
  }

  async start (): Promise<void> {
    await this.links.start()
  }

  async stop (): Promise<void> {
    for (const c of [...this.circuits]) this.destroy(c, DestroyReason.FINISHED)
    await this.links.stop()
  }

  /** Live circuits: the peers each one exchanged cells with. */
  circuitPeers (): string[][] {
    return [...this.circuits].map(c => [...c.peers])
  }

  /** Live circuits. */
  get circuitCount (): number {
    return this.circuits.size
  }

  /** A hook for a hostile relay in tests: what a forward cell this hop passes on becomes. */
  protected passForward (body: Uint8Array): Uint8Array {
    return body
  }

  private create (link: OnionLink, cell: Cell): void {
    let reply: Uint8Array
    let keys: Uint8Array
    try {
      const create = decodeCreate2(cell.body)
      if (create.handshakeType !== HANDSHAKE_NTOR) throw new MalformedCellError(`handshake type ${create.handshakeType}`)
      ;({ reply, keys } = ntorServerHandshake(create.handshake, { id: this.relayId, onionKeyPair: this.keyFor(create.handshake) }, { replay: this.replay }))
    } catch {
      link.send({ circId: cell.circId, command: CellCommand.DESTROY, body: encodeDestroy(DestroyReason.PROTOCOL) })
      return
    }
    const circuit: RelayCircuit = { prev: { link, circId: cell.circId }, crypto: new HopCrypto(splitRelayKeys(keys)), peers: new Set([link.remotePeer.toString()]), early: 0, closed: false, closers: [] }
    keys.fill(0)
    try {
      link.accept(cell.circId, {
        cell: c => { this.fromPrev(circuit, c) },
        relayRun: (command, bodies) => { this.runFromPrev(circuit, command, bodies) },
        linkClosed: () => { this.destroy(circuit, DestroyReason.CONNECTFAILED, circuit.prev) },
        overflow: () => { this.destroy(circuit, DestroyReason.RESOURCELIMIT) }
      })
    } catch {
      link.send({ circId: cell.circId, command: CellCommand.DESTROY, body: encodeDestroy(DestroyReason.INTERNAL) })
      return
    }
    this.circuits.add(circuit)
    this.stats.circuitsCreated++
    link.send({ circId: cell.circId, command: CellCommand.CREATED2, body: encodeCreated2(reply) })
  }

  private fromPrev (circuit: RelayCircuit, cell: Cell): void {
    if (circuit.closed) return
    if (cell.command === CellCommand.DESTROY) {
      this.destroy(circuit, DestroyReason.NONE, circuit.prev)
      return
    }
    if ((cell.command !== CellCommand.RELAY && cell.command !== CellCommand.RELAY_EARLY) ||
      (cell.command === CellCommand.RELAY_EARLY && ++circuit.early > MAX_RELAY_EARLY)) {
      this.destroy(circuit, DestroyReason.PROTOCOL)
      return
    }
    try {
      const { recognized, body } = circuit.crypto.decryptForward(cell.body, { lastHop: circuit.next == null && circuit.joined == null })
      if (!recognized && circuit.joined != null) {
        this.toJoined(circuit.joined, body)
        return
      }
      if (!recognized) {
        const next = circuit.next as End
        this.stats.cellsRelayed++
        next.link.send({ circId: next.circId, command: cell.command, body: this.passForward(body) })
        return
      }
      this.forThisHop(circuit, cell.command, body)
    } catch (err) {
      if (err instanceof CellIntegrityError) this.stats.integrityFailures++
      this.destroy(circuit, DestroyReason.PROTOCOL)
    }
  }

  /** A forward relay body this hop recognized; throws on a protocol error (the caller destroys the circuit). */
  private forThisHop (circuit: RelayCircuit, command: CellCommand, body: Uint8Array): void {
    const msg = decodeRelayBody(body)
    this.stats.recognized[msg.command] = (this.stats.recognized[msg.command] ?? 0) + 1
    if (msg.command === RelayCommand.EXTEND2) {
      // tor accepts EXTEND2 only in RELAY_EARLY, of which a circuit carries at most MAX_RELAY_EARLY
      if (command !== CellCommand.RELAY_EARLY) throw new MalformedCellError('EXTEND2 outside RELAY_EARLY')
      void this.extend(circuit, msg.data)
      return
    }
    this.onMessage?.(this.handle(circuit), msg)
  }

  /**
   * Consecutive RELAY cells from the previous hop on an extended circuit: one cipher call, then,
   * in order, the unrecognized ones go on as queued runs and a recognized one is handled where it
   * falls, as {@link fromPrev} would each. RELAY_EARLY (counted, may carry EXTEND2) and cells of a
   * circuit not extended yet go one by one.
   */
  private runFromPrev (circuit: RelayCircuit, command: CellCommand, bodies: Uint8Array[]): void {
    if (circuit.closed) return
    const next = circuit.next
    if (command !== CellCommand.RELAY || next == null) {
      for (const body of bodies) this.fromPrev(circuit, { circId: 0, command, body })
      return
    }
    try {
      const plain = circuit.crypto.decryptForwardRun(bodies)
      let from = 0
      const pass = (to: number): void => {
        if (to === from) return
        for (let i = from; i < to; i++) {
          const body = plain.subarray(i * CELL_BODY_LEN, (i + 1) * CELL_BODY_LEN)
          const out = this.passForward(body)
          if (out !== body) { body.set(out.subarray(0, CELL_BODY_LEN)); body.fill(0, out.length) } // as encodeCell pads a short body
        }
        this.stats.cellsRelayed += to - from
        next.link.sendRun(next.circId, command, plain.subarray(from * CELL_BODY_LEN, to * CELL_BODY_LEN))
      }
      for (let i = 0; i < bodies.length; i++) {
        const body = plain.subarray(i * CELL_BODY_LEN, (i + 1) * CELL_BODY_LEN)
        if (!circuit.crypto.recognizeForward(body)) continue
        pass(i)
        from = i + 1
        this.forThisHop(circuit, command, body)
        if (circuit.closed) return
      }
      pass(bodies.length)
    } catch (err) {
      if (err instanceof CellIntegrityError) this.stats.integrityFailures++
      this.destroy(circuit, DestroyReason.PROTOCOL)
    }
  }

  /** A forward body from a joined circuit leaves on `to` towards its client, with this hop's backward layer added. */
  private toJoined (to: RelayCircuit, body: Uint8Array): void {
    if (to.closed) return
    this.stats.cellsRelayed++
    to.prev.link.send({ circId: to.prev.circId, command: CellCommand.RELAY, body: to.crypto.relayBackward(body) })
  }

  private join (a: RelayCircuit, b: RelayCircuit): void {
    if (a === b || a.closed || b.closed) throw new MalformedCellError('a rendezvous join of a closed circuit or of a circuit with itself')
    for (const c of [a, b]) {
      if (c.next != null || c.extending != null || c.joined != null) throw new MalformedCellError('a rendezvous join of a circuit that is extended or already joined')
    }
    a.joined = b
    b.joined = a
    a.peers.add(b.prev.link.remotePeer.toString())
    b.peers.add(a.prev.link.remotePeer.toString())
  }

  private handle (circuit: RelayCircuit): RelayCircuitHandle {
    if (circuit.handle != null) return circuit.handle
    const crypto = circuit.crypto
    circuit.handle = {
      id: this.nextHandleId++,
      get lastHop () { return circuit.next == null && circuit.extending == null },
      get closed () { return circuit.closed },
      reply: (command, streamId, data) => { this.sendBack(circuit, encodeRelayBody({ command, streamId, data })) },
      destroy: () => { this.destroy(circuit, DestroyReason.FINISHED) },
      onClose: (fn) => { if (circuit.closed) fn(); else circuit.closers.push(fn) },
      get lastForwardDigest () { return crypto.lastForwardDigest },
      get lastBackwardDigest () { return crypto.lastBackwardDigest },
      get queuedBackward () { return circuit.prev.link.queuedCells(circuit.prev.circId) },
      join: (other) => {
        const o = this.byHandle.get(other)
        if (o == null) throw new MalformedCellError('a rendezvous join with a circuit of another relay')
        this.join(circuit, o)
      }
    }
    this.byHandle.set(circuit.handle, circuit)
    return circuit.handle
  }

  private sendBack (circuit: RelayCircuit, plain: Uint8Array): void {
    if (circuit.closed) return
    circuit.prev.link.send({ circId: circuit.prev.circId, command: CellCommand.RELAY, body: circuit.crypto.encryptBackward(plain) })
  }

  private async extend (circuit: RelayCircuit, data: Uint8Array): Promise<void> {
    try {
      if (circuit.next != null || circuit.extending != null) throw new MalformedCellError('EXTEND2 on a circuit already extended')
      const extend = decodeExtend2(data)
      if (extend.handshakeType !== HANDSHAKE_NTOR) throw new MalformedCellError(`handshake type ${extend.handshakeType}`)
      const peer = peerIdFromMultihash(Digest.decode(extend2PeerId(extend)))
      if (peer.equals(this.init.host.peerId)) throw new MalformedCellError('EXTEND2 to this relay')
      circuit.extending = setTimeout(() => { this.destroy(circuit, DestroyReason.CONNECTFAILED) }, EXTEND_TIMEOUT_MS)
      const link = await this.links.get(peer)
      if (circuit.closed) return
      const circId = link.register({
        cell: c => { this.fromNext(circuit, c) },
        relayRun: (command, bodies) => { this.runFromNext(circuit, command, bodies) },
        linkClosed: () => { this.destroy(circuit, DestroyReason.CONNECTFAILED, circuit.next) },
        overflow: () => { this.destroy(circuit, DestroyReason.RESOURCELIMIT) }
      })
      circuit.next = { link, circId }
      circuit.peers.add(peer.toString())
      link.send({ circId, command: CellCommand.CREATE2, body: encodeCreate2({ handshakeType: extend.handshakeType, handshake: extend.handshake }) })
    } catch {
      this.destroy(circuit, DestroyReason.CONNECTFAILED)
    }
  }

  private fromNext (circuit: RelayCircuit, cell: Cell): void {
    if (circuit.closed) return
    try {
      if (cell.command === CellCommand.DESTROY) {
        this.destroy(circuit, DestroyReason.NONE, circuit.next)
      } else if (cell.command === CellCommand.CREATED2 && circuit.extending != null) {
        clearTimeout(circuit.extending)
        circuit.extending = undefined
        const reply = decodeCreated2(cell.body)
        this.sendBack(circuit, encodeRelayBody({ command: RelayCommand.EXTENDED2, streamId: 0, data: encodeCreated2(reply) }))
      } else if (cell.command === CellCommand.RELAY && circuit.extending == null) {
        this.stats.cellsRelayed++
        circuit.prev.link.send({ circId: circuit.prev.circId, command: CellCommand.RELAY, body: circuit.crypto.relayBackward(cell.body) })
      } else {
        throw new MalformedCellError(`cell command ${cell.command} from the next hop`)
      }
    } catch {
      this.destroy(circuit, DestroyReason.PROTOCOL)
    }
  }

  /** Consecutive relay cells from the next hop: relayed back in one cipher call and one queued run, as {@link fromNext} would each. */
  private runFromNext (circuit: RelayCircuit, command: CellCommand, bodies: Uint8Array[]): void {
    if (circuit.closed) return
    if (command !== CellCommand.RELAY || circuit.extending != null) {
      for (const body of bodies) this.fromNext(circuit, { circId: 0, command, body })
      return
    }
    try {
      this.stats.cellsRelayed += bodies.length
      circuit.prev.link.sendRun(circuit.prev.circId, CellCommand.RELAY, circuit.crypto.relayBackwardRun(bodies))
    } catch {
      this.destroy(circuit, DestroyReason.PROTOCOL)
    }
  }

  /** Frees the circuit and sends DESTROY on each of its links but `from` (which already knows). */
  private destroy (circuit: RelayCircuit, reason: number, from?: End): void {
    if (circuit.closed) return
    circuit.closed = true
    clearTimeout(circuit.extending)
    this.circuits.delete(circuit)
    for (const end of [circuit.prev, circuit.next]) {
      if (end == null) continue
      end.link.unregister(end.circId)
      if (end !== from) end.link.send({ circId: end.circId, command: CellCommand.DESTROY, body: encodeDestroy(reason) })
    }
    // a joined pair lives and dies together: the other end's client must learn its peer is gone
    const joined = circuit.joined
    if (joined != null && !joined.closed) this.destroy(joined, reason === DestroyReason.NONE ? DestroyReason.FINISHED : reason)
    for (const fn of circuit.closers.splice(0)) {
      try { fn() } catch { /* one listener's failure must not keep the others from hearing */ }
    }
    try { this.init.onCircuitClosed?.([...circuit.peers], reason) } catch { /* a logger's failure is not the circuit's */ }
  }
}
