/**
 * The fixed-size cells of peerd's onion links, after tor-spec's "Cell packet format" (link
 * protocol 4+) and "Relay cells". Circuits are multiplexed over an ordinary libp2p stream between
 * two adjacent hops; every cell on it is {@link CELL_LEN} bytes, so an observer of the link
 * learns no message lengths.
 *
 * Link cell (514 bytes): CircID (4, big-endian) | command (1) | body (509).
 * Relay cell body (509 bytes, the body of a RELAY or RELAY_EARLY cell before encryption):
 * relay command (1) | recognized (2, zero) | StreamID (2) | digest (4) | length (2) |
 * data (length ≤ 498) | padding. Padding is four zero bytes, then random bytes as tor-spec's
 * relay-cells section says (proposal 289: unpredictable bodies, so the digest a SENDME echoes
 * proves the data was received); fewer than four padding bytes are all zero.
 *
 * EXTEND2 (tor-spec "EXTEND and EXTENDED messages"): NSPEC (1) | NSPEC × (LSTYPE (1) | LSLEN (1) |
 * LSPEC) | HTYPE (2) | HLEN (2) | HDATA. peerd defines its own link specifier
 * {@link LS_PEER_ID} = 0x80 (Tor defines 0 to 3): the next hop's libp2p peer id as its multihash
 * bytes (identity or sha2-256), which the extending relay dials over its own libp2p host. Tor's
 * specifier types are kept and length-checked; unknown ones are kept verbatim, as Tor does.
 *
 * ```ts
 * const body = encodeRelayBody({ command: RelayCommand.DATA, streamId: 1, data })
 * link.send(encodeCell({ circId, command: CellCommand.RELAY, body: layers.encryptForward(body, 2) }))
 * for (const cell of reader.push(chunk)) handle(cell)
 * ```
 * @module
 */
import { randomFillSync } from 'node:crypto'
import { Uint8ArrayList } from 'uint8arraylist'
import { InvalidArgumentError } from '../errors.ts'
import { CellSizeError, MalformedCellError, UnknownCellCommandError, UnknownRelayCommandError } from './errors.ts'

/** Bytes of a circuit id (link protocol 4+). */
export const CIRCID_LEN = 4
/** Bytes of a cell's body. */
export const CELL_BODY_LEN = 509
/** Bytes of every cell on a link. */
export const CELL_LEN = CIRCID_LEN + 1 + CELL_BODY_LEN
/** Bytes of a relay cell's header: command, recognized, StreamID, digest, length. */
export const RELAY_HEADER_LEN = 11
/** The most data one relay cell carries. */
export const RELAY_DATA_MAX = CELL_BODY_LEN - RELAY_HEADER_LEN
/** Offsets of a relay body's fields. */
export const RELAY_RECOGNIZED_AT = 1
export const RELAY_DIGEST_AT = 5
const RELAY_STREAM_AT = 3
const RELAY_LENGTH_AT = 9
/** Zero bytes before a relay body's random padding. */
const PADDING_ZEROS = 4

/** Link cell commands (tor-spec's numbers). */
export const CellCommand = {
  PADDING: 0,
  RELAY: 3,
  DESTROY: 4,
  RELAY_EARLY: 9,
  CREATE2: 10,
  CREATED2: 11
} as const
/** One of {@link CellCommand}'s values. */
export type CellCommand = typeof CellCommand[keyof typeof CellCommand]
const CELL_COMMANDS = new Set<number>(Object.values(CellCommand))

/** Relay commands (tor-spec's numbers). */
export const RelayCommand = {
  BEGIN: 1,
  DATA: 2,
  END: 3,
  CONNECTED: 4,
  SENDME: 5,
  TRUNCATE: 8,
  TRUNCATED: 9,
  DROP: 10,
  EXTEND2: 14,
  EXTENDED2: 15,
  // onion services (rend-spec-v3)
  ESTABLISH_INTRO: 32,
  ESTABLISH_RENDEZVOUS: 33,
  INTRODUCE1: 34,
  INTRODUCE2: 35,
  RENDEZVOUS1: 36,
  RENDEZVOUS2: 37,
  INTRO_ESTABLISHED: 38,
  RENDEZVOUS_ESTABLISHED: 39,
  INTRODUCE_ACK: 40
} as const
/** One of {@link RelayCommand}'s values. */
export type RelayCommand = typeof RelayCommand[keyof typeof RelayCommand]
const RELAY_COMMANDS = new Set<number>(Object.values(RelayCommand))

/** Link specifier types: Tor's four, and peerd's peer id. */
export const LS_IPV4 = 0x00
export const LS_IPV6 = 0x01
export const LS_LEGACY_ID = 0x02
export const LS_ED25519_ID = 0x03
/** peerd's link specifier: a libp2p peer id's multihash bytes. */
export const LS_PEER_ID = 0x80
/** Lengths of the link specifiers whose length is fixed. */
const LS_FIXED_LEN: Record<number, number> = { [LS_IPV4]: 6, [LS_IPV6]: 18, [LS_LEGACY_ID]: 20, [LS_ED25519_ID]: 32 }
/** Multihash codes a peer id may use: identity (inlined public key) and sha2-256. */
const PEER_ID_HASHES: Record<number, number | undefined> = { 0x00: undefined, 0x12: 32 }
/** A peer id's inlined key is at most this long (an ed25519 or secp256k1 key in its protobuf). */
const MAX_IDENTITY_PEER_ID = 42

/** The handshake type of ntor (tor-spec's HTYPE 0x0002). */
export const HANDSHAKE_NTOR = 0x0002

/** One link cell. `circId` is 0 only for PADDING. */
export interface Cell {
  circId: number
  command: CellCommand
  /** {@link CELL_BODY_LEN} bytes once decoded; shorter bodies are zero-padded on encode. */
  body: Uint8Array
}

/** A relay message: what one relay cell body carries once decrypted. */
export interface RelayMessage {
  command: RelayCommand
  streamId: number
  data: Uint8Array
}

/** One link specifier of an EXTEND2 message. */
export interface LinkSpecifier {
  type: number
  value: Uint8Array
}

/** An EXTEND2 message: where to extend and the handshake for the next hop. */
export interface Extend2 {
  linkSpecifiers: LinkSpecifier[]
  handshakeType: number
  handshake: Uint8Array
}

/** A CREATE2 cell's body. */
export interface Create2 {
  handshakeType: number
  handshake: Uint8Array
}

function view (b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength)
}

/** Writes a uint32 big-endian at 0 (no DataView per cell). */
function writeCircId (out: Uint8Array, circId: number): void {
  out[0] = circId >>> 24
  out[1] = (circId >>> 16) & 0xff
  out[2] = (circId >>> 8) & 0xff
  out[3] = circId & 0xff
}

function isCircuitCommand (command: number): boolean {
  return command !== CellCommand.PADDING
}

/** Encodes one link cell ({@link CELL_LEN} bytes). */
export function encodeCell (cell: Cell): Uint8Array {
  if (!Number.isInteger(cell.circId) || cell.circId < 0 || cell.circId > 0xffffffff) throw new InvalidArgumentError(`circuit id ${cell.circId} is not a uint32`)
  if (!CELL_COMMANDS.has(cell.command)) throw new InvalidArgumentError(`unknown cell command ${cell.command}`)
  if (isCircuitCommand(cell.command) && cell.circId === 0) throw new InvalidArgumentError('circuit id 0 is for link cells only')
  if (cell.body.length > CELL_BODY_LEN) throw new InvalidArgumentError(`cell body of ${cell.body.length} bytes over ${CELL_BODY_LEN}`)
  const out = new Uint8Array(CELL_LEN)
  writeCircId(out, cell.circId)
  out[CIRCID_LEN] = cell.command
  out.set(cell.body, CIRCID_LEN + 1)
  return out
}

/**
 * Encodes cells of one circuit and command whose {@link CELL_BODY_LEN}-byte bodies lie back to
 * back in `bodies`: one buffer of whole cells, cell i at `i * CELL_LEN`.
 */
export function encodeCellRun (circId: number, command: CellCommand, bodies: Uint8Array): Uint8Array {
  if (!Number.isInteger(circId) || circId <= 0 || circId > 0xffffffff) throw new InvalidArgumentError(`circuit id ${circId} is not a non-zero uint32`)
  if (!CELL_COMMANDS.has(command) || !isCircuitCommand(command)) throw new InvalidArgumentError(`cell command ${command} is not a circuit's`)
  const n = bodies.length / CELL_BODY_LEN
  if (!Number.isInteger(n)) throw new InvalidArgumentError(`${bodies.length} body bytes are not whole cells`)
  const out = new Uint8Array(n * CELL_LEN)
  for (let i = 0; i < n; i++) {
    const at = i * CELL_LEN
    const cell = out.subarray(at, at + CELL_LEN)
    writeCircId(cell, circId)
    cell[CIRCID_LEN] = command
    cell.set(bodies.subarray(i * CELL_BODY_LEN, (i + 1) * CELL_BODY_LEN), CIRCID_LEN + 1)
  }
  return out
}

/** Decodes one link cell; the body is a copy the caller owns. */
export function decodeCell (bytes: Uint8Array): Cell {
  return decodeCellAt(bytes, true)
}

/** {@link decodeCell}, with the body a view into `bytes` unless `copy`. */
function decodeCellAt (bytes: Uint8Array, copy: boolean): Cell {
  if (bytes.length !== CELL_LEN) throw new CellSizeError(`cell of ${bytes.length} bytes, not ${CELL_LEN}`)
  const circId = ((bytes[0] as number) * 0x1000000) + (((bytes[1] as number) << 16) | ((bytes[2] as number) << 8) | (bytes[3] as number))
  const command = bytes[CIRCID_LEN] as number
  if (!CELL_COMMANDS.has(command)) throw new UnknownCellCommandError(`unknown cell command ${command}`)
  if (isCircuitCommand(command) && circId === 0) throw new MalformedCellError(`cell command ${command} on circuit id 0`)
  return { circId, command: command as CellCommand, body: copy ? bytes.slice(CIRCID_LEN + 1) : bytes.subarray(CIRCID_LEN + 1) }
}

/**
 * Encodes a relay message as a {@link CELL_BODY_LEN}-byte body with `recognized` and the digest
 * zero (the relay crypto sets the digest) and tor-spec's padding.
 */
export function encodeRelayBody (msg: RelayMessage): Uint8Array {
  if (!RELAY_COMMANDS.has(msg.command)) throw new InvalidArgumentError(`unknown relay command ${msg.command}`)
  if (!Number.isInteger(msg.streamId) || msg.streamId < 0 || msg.streamId > 0xffff) throw new InvalidArgumentError(`stream id ${msg.streamId} is not a uint16`)
  if (msg.data.length > RELAY_DATA_MAX) throw new InvalidArgumentError(`relay data of ${msg.data.length} bytes over ${RELAY_DATA_MAX}`)
  const body = new Uint8Array(CELL_BODY_LEN)
  body[0] = msg.command
  body[RELAY_STREAM_AT] = msg.streamId >>> 8
  body[RELAY_STREAM_AT + 1] = msg.streamId & 0xff
  body[RELAY_LENGTH_AT] = msg.data.length >>> 8
  body[RELAY_LENGTH_AT + 1] = msg.data.length & 0xff
  body.set(msg.data, RELAY_HEADER_LEN)
  const randomFrom = RELAY_HEADER_LEN + msg.data.length + PADDING_ZEROS
  if (randomFrom < CELL_BODY_LEN) randomFillSync(body, randomFrom)
  return body
}

/**
 * Decodes a decrypted relay body that its hop recognized (the relay crypto checked `recognized`
 * and the digest). The data is a copy.
 */
export function decodeRelayBody (body: Uint8Array): RelayMessage {
  if (body.length !== CELL_BODY_LEN) throw new CellSizeError(`relay body of ${body.length} bytes, not ${CELL_BODY_LEN}`)
  const v = view(body)
  const command = body[0] as number
  if (!RELAY_COMMANDS.has(command)) throw new UnknownRelayCommandError(`unknown relay command ${command}`)
  if (v.getUint16(RELAY_RECOGNIZED_AT) !== 0) throw new MalformedCellError('relay body not recognized (still encrypted)')
  const length = v.getUint16(RELAY_LENGTH_AT)
  if (length > RELAY_DATA_MAX) throw new MalformedCellError(`relay data length ${length} over ${RELAY_DATA_MAX}`)
  return { command: command as RelayCommand, streamId: v.getUint16(RELAY_STREAM_AT), data: body.slice(RELAY_HEADER_LEN, RELAY_HEADER_LEN + length) }
}

/** A reader over a byte string that fails with {@link MalformedCellError} past its end. */
class Reader {
  private at = 0
  private readonly bytes: Uint8Array
  private readonly what: string

  constructor (bytes: Uint8Array, what: string) {
    this.bytes = bytes
    this.what = what
  }

  take (n: number): Uint8Array {
    if (this.at + n > this.bytes.length) throw new MalformedCellError(`${this.what} ends inside a field`)
    const out = this.bytes.slice(this.at, this.at + n)
    this.at += n
    return out
  }

  u8 (): number { return this.take(1)[0] as number }
  u16 (): number { const b = this.take(2); return ((b[0] as number) << 8) | (b[1] as number) }
}

function u16 (n: number, what: string): Uint8Array {
  if (!Number.isInteger(n) || n < 0 || n > 0xffff) throw new InvalidArgumentError(`${what} ${n} is not a uint16`)
  return Uint8Array.of(n >> 8, n & 0xff)
}

function concat (parts: Uint8Array[]): Uint8Array {
  return new Uint8ArrayList(...parts).subarray()
}

function checkLength (bytes: Uint8Array, max: number, what: string): Uint8Array {
  if (bytes.length > max) throw new InvalidArgumentError(`${what} of ${bytes.length} bytes over ${max}`)
  return bytes
}

/** The body of a CREATE2 cell: HTYPE | HLEN | HDATA. */
export function encodeCreate2 (c: Create2): Uint8Array {
  return checkLength(concat([u16(c.handshakeType, 'handshake type'), u16(c.handshake.length, 'handshake length'), c.handshake]), CELL_BODY_LEN, 'CREATE2 body')
}

/** Decodes a CREATE2 body (trailing padding ignored). */
export function decodeCreate2 (body: Uint8Array): Create2 {
  const r = new Reader(body, 'CREATE2')
  const handshakeType = r.u16()
  return { handshakeType, handshake: r.take(r.u16()) }
}

/** The body of a CREATED2 cell or the data of an EXTENDED2 message: HLEN | HDATA. */
export function encodeCreated2 (handshake: Uint8Array): Uint8Array {
  return checkLength(concat([u16(handshake.length, 'handshake length'), handshake]), RELAY_DATA_MAX, 'CREATED2 body')
}

/** Decodes a CREATED2 body or EXTENDED2 data (trailing padding ignored): the handshake reply. */
export function decodeCreated2 (body: Uint8Array): Uint8Array {
  const r = new Reader(body, 'CREATED2')
  return r.take(r.u16())
}

/** A DESTROY cell's body: the reason (tor-spec's codes; 0 is "none given"). */
export function encodeDestroy (reason: number): Uint8Array {
  if (!Number.isInteger(reason) || reason < 0 || reason > 0xff) throw new InvalidArgumentError(`destroy reason ${reason} is not a byte`)
  return Uint8Array.of(reason)
}

/** A DESTROY cell's reason. */
export function decodeDestroy (body: Uint8Array): number {
  return new Reader(body, 'DESTROY').u8()
}

/** The link specifier that names a libp2p peer by its peer id's multihash bytes. */
export function peerIdSpecifier (peerId: Uint8Array): LinkSpecifier {
  checkPeerId(peerId, (m) => new InvalidArgumentError(m))
  return { type: LS_PEER_ID, value: peerId }
}

/** Checks that `bytes` is a peer id multihash: identity with a short key, or sha2-256. */
function checkPeerId (bytes: Uint8Array, fail: (message: string) => Error): void {
  // both codes and lengths are single-byte varints for every value accepted here
  if (bytes.length < 2) throw fail('peer id too short')
  const code = bytes[0] as number
  const len = bytes[1] as number
  if (!(code in PEER_ID_HASHES)) throw fail(`peer id multihash code ${code} is neither identity nor sha2-256`)
  const want = PEER_ID_HASHES[code]
  if (len !== bytes.length - 2 || (want != null && len !== want) || (want == null && (len === 0 || len > MAX_IDENTITY_PEER_ID))) {
    throw fail(`peer id multihash of ${bytes.length} bytes declares a ${len}-byte digest`)
  }
}

/** Encodes an EXTEND2 message's data; it must fit one relay cell. */
export function encodeExtend2 (e: Extend2): Uint8Array {
  if (e.linkSpecifiers.length > 0xff) throw new InvalidArgumentError('over 255 link specifiers')
  const parts: Uint8Array[] = [Uint8Array.of(e.linkSpecifiers.length)]
  for (const ls of e.linkSpecifiers) {
    if (!Number.isInteger(ls.type) || ls.type < 0 || ls.type > 0xff) throw new InvalidArgumentError(`link specifier type ${ls.type} is not a byte`)
    if (ls.value.length > 0xff) throw new InvalidArgumentError(`link specifier of ${ls.value.length} bytes over 255`)
    parts.push(Uint8Array.of(ls.type, ls.value.length), ls.value)
  }
  parts.push(u16(e.handshakeType, 'handshake type'), u16(e.handshake.length, 'handshake length'), e.handshake)
  return checkLength(concat(parts), RELAY_DATA_MAX, 'EXTEND2 data')
}

/**
 * Decodes an EXTEND2 message's data. Tor's specifier types and peerd's peer id are
 * length-checked; a duplicate of any of them is refused (as Tor refuses two identities).
 */
export function decodeExtend2 (data: Uint8Array): Extend2 {
  const r = new Reader(data, 'EXTEND2')
  const n = r.u8()
  const linkSpecifiers: LinkSpecifier[] = []
  const seen = new Set<number>()
  for (let i = 0; i < n; i++) {
    const type = r.u8()
    const value = r.take(r.u8())
    const fixed = LS_FIXED_LEN[type]
    if (fixed != null && value.length !== fixed) throw new MalformedCellError(`link specifier ${type} of ${value.length} bytes, not ${fixed}`)
    if (type === LS_PEER_ID) checkPeerId(value, (m) => new MalformedCellError(m))
    if (fixed != null || type === LS_PEER_ID) {
      if (seen.has(type)) throw new MalformedCellError(`link specifier ${type} twice`)
      seen.add(type)
    }
    linkSpecifiers.push({ type, value })
  }
  const handshakeType = r.u16()
  return { linkSpecifiers, handshakeType, handshake: r.take(r.u16()) }
}

/** The peer id an EXTEND2 message names; {@link MalformedCellError} when it names none. */
export function extend2PeerId (e: Extend2): Uint8Array {
  const ls = e.linkSpecifiers.find(l => l.type === LS_PEER_ID)
  if (ls == null) throw new MalformedCellError('EXTEND2 names no peer id')
  return ls.value
}

/**
 * Splits a link's byte stream, in whatever chunks it arrives, into cells. It holds at most one
 * partial cell ({@link CELL_LEN} - 1 bytes) between chunks.
 *
 * The body of a cell that lies whole inside one chunk is a view into that chunk, not a copy (a
 * relay reads every body once, into its cipher, so a copy per cell was pure cost): a caller
 * that keeps a body must copy it, and must not reuse a chunk's memory after pushing it.
 */
export class CellReader {
  private readonly partial = new Uint8Array(CELL_LEN)
  private filled = 0

  /** Bytes of a partial cell held. */
  get bufferedBytes (): number {
    return this.filled
  }

  /** The cells `chunk` completes, decoded; a malformed cell throws its typed error (the link is then closed, the reader dropped). */
  push (chunk: Uint8Array | Uint8ArrayList): Cell[] {
    const bytes = chunk instanceof Uint8Array ? chunk : chunk.subarray()
    const cells: Cell[] = []
    let at = 0
    if (this.filled > 0) {
      const n = Math.min(CELL_LEN - this.filled, bytes.length)
      this.partial.set(bytes.subarray(0, n), this.filled)
      this.filled += n
      at = n
      if (this.filled < CELL_LEN) return cells
      this.filled = 0
      cells.push(decodeCell(this.partial))
    }
    while (bytes.length - at >= CELL_LEN) {
      cells.push(decodeCellAt(bytes.subarray(at, at + CELL_LEN), false))
      at += CELL_LEN
    }
    this.partial.set(bytes.subarray(at), 0)
    this.filled = bytes.length - at
    return cells
  }

  /** The stream ended: {@link CellSizeError} if it ended inside a cell. */
  end (): void {
    if (this.filled > 0) throw new CellSizeError(`link ended ${this.filled} bytes into a cell`)
  }
}
