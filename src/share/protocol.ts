/**
 * peerd's block exchange wire format, `/peerd/<network>/blocks/1.2.0`.
 *
 * One stream per download and peer. Every message is a frame: an unsigned varint length, then
 * a type byte and its fields. The downloader sends WANT (CIDs it wants, answered in order),
 * CANCEL (drop queued wants) and STATUS (does the peer hold a root, fully or in part); the
 * server answers BLOCK (CID + bytes, sent without copying the block), DONT_HAVE, and ROOT.
 * A server that is itself downloading the root answers ROOT with status ANNOUNCING, then sends
 * HAVE for every block of it that it holds and, as they arrive, for every block it gets, and
 * ROOT again with status COMPLETE when it has them all: downloaders then fetch from each other
 * the blocks they know the other has (BitTorrent's HAVE and bitfield), rarest first; it also
 * sends FETCHING for blocks it has asked for, so that its downloaders wait for its HAVE instead
 * of asking a seeder for the same block.
 * A server that has the whole root but is serving a crowd of its downloaders answers SEEDING
 * (BitTorrent's super-seeding): it announces by HAVE the few blocks each downloader may ask it
 * for, and the downloader tells it by HAVE, on the same stream, every block it holds, so that the
 * seeder hands each block out once and sees it traded before handing it out again.
 * A server gives upload slots by reciprocity (BitTorrent's choking): CHOKE drops every want it
 * holds of the downloader's and the downloader asks for nothing more until UNCHOKE.
 *
 * Frames are net's (`src/net/frames.ts`). Limits are checked before anything is allocated: a
 * frame is at most MAX_FRAME bytes, a list at most MAX_WANTS CIDs, each CID at most MAX_CID_BYTES.
 */
import type { CID } from 'multiformats/cid'
import * as varint from 'uint8-varint'
import type { Uint8ArrayList } from 'uint8arraylist'
import { encodeFrameList as frame, ProtocolError, readFrameLists as readNetFrameLists, readFrames as readNetFrames } from '../net/frames.ts'
import { decodeCid, MAX_BLOCK_SIZE, MAX_CID_BYTES } from './block.ts'

/** Protocol id of the block exchange on `network`. */
export function blocksProtocol (network: string): string {
  return `/peerd/${network}/blocks/1.2.0`
}

/** Most CIDs in one WANT or CANCEL. */
export const MAX_WANTS = 256
/** Largest frame: a block of the maximum size plus its CID and framing. */
export const MAX_FRAME = MAX_BLOCK_SIZE + 256

/** Message types. */
export const MSG = {
  WANT: 0x01,
  CANCEL: 0x02,
  STATUS: 0x03,
  BLOCK: 0x81,
  DONT_HAVE: 0x82,
  ROOT: 0x83,
  HAVE: 0x84,
  FETCHING: 0x85,
  CHOKE: 0x86,
  UNCHOKE: 0x87
} as const

/**
 * What a peer holds of a root. ANNOUNCING: a part, and HAVE messages follow for every block of
 * it held now or later (a peer downloading it); PARTIAL: a part, not said which (ask, expect
 * DONT_HAVE); SEEDING: all of it, but only the blocks it announces (HAVE) may be asked for, and
 * the downloader announces its own blocks back (super-seeding a crowd).
 */
export const ROOT_STATUS = { NONE: 0, PARTIAL: 1, COMPLETE: 2, ANNOUNCING: 3, SEEDING: 4 } as const
/** One of {@link ROOT_STATUS}. */
export type RootStatus = typeof ROOT_STATUS[keyof typeof ROOT_STATUS]

/** A decoded message. */
export type Message =
  | { type: 'want', cids: CID[] }
  | { type: 'cancel', cids: CID[] }
  | { type: 'status', cid: CID }
  | { type: 'block', cid: CID, data: Uint8Array }
  | { type: 'dont-have', cid: CID }
  | { type: 'root', cid: CID, status: RootStatus }
  | { type: 'have', cids: CID[] }
  | { type: 'fetching', cids: CID[] }
  | { type: 'choke' }
  | { type: 'unchoke' }

/** A peer broke the protocol (net's class: the frame reader's errors are ones too). */
export { ProtocolError }

function cidField (cid: CID): Uint8Array[] {
  return [varint.encode(cid.bytes.length), cid.bytes]
}

function cidList (type: number, cids: CID[]): Uint8ArrayList {
  if (cids.length === 0 || cids.length > MAX_WANTS) throw new ProtocolError(`a list holds 1 to ${MAX_WANTS} CIDs, not ${cids.length}`)
  return frame(Uint8Array.of(type), varint.encode(cids.length), ...cids.flatMap(cidField))
}

/** Encoders, each returning one whole frame. */
export const encode = {
  want: (cids: CID[]) => cidList(MSG.WANT, cids),
  cancel: (cids: CID[]) => cidList(MSG.CANCEL, cids),
  have: (cids: CID[]) => cidList(MSG.HAVE, cids),
  fetching: (cids: CID[]) => cidList(MSG.FETCHING, cids),
  choke: () => frame(Uint8Array.of(MSG.CHOKE)),
  unchoke: () => frame(Uint8Array.of(MSG.UNCHOKE)),
  status: (cid: CID) => frame(Uint8Array.of(MSG.STATUS), ...cidField(cid)),
  /** The block's bytes are referenced, not copied. */
  block: (cid: CID, data: Uint8Array) => frame(Uint8Array.of(MSG.BLOCK), ...cidField(cid), data),
  dontHave: (cid: CID) => frame(Uint8Array.of(MSG.DONT_HAVE), ...cidField(cid)),
  root: (cid: CID, status: RootStatus) => frame(Uint8Array.of(MSG.ROOT), ...cidField(cid), Uint8Array.of(status))
}

const LIST_TYPES: Record<number, Message['type']> = { [MSG.WANT]: 'want', [MSG.CANCEL]: 'cancel', [MSG.HAVE]: 'have', [MSG.FETCHING]: 'fetching' }

/** Reads fields from one frame body, failing on any overrun. */
class Reader {
  private readonly buf: Uint8Array
  private pos = 0
  constructor (buf: Uint8Array) { this.buf = buf }
  byte (): number {
    if (this.pos >= this.buf.length) throw new ProtocolError('frame ends early')
    return this.buf[this.pos++] as number
  }

  uvarint (max: number): number {
    let v: number
    let len: number
    try {
      v = varint.decode(this.buf, this.pos)
      if (!Number.isSafeInteger(v)) throw new Error('too large')
      len = varint.encodingLength(v)
    } catch {
      throw new ProtocolError('bad varint')
    }
    this.pos += len
    if (this.pos > this.buf.length || v > max) throw new ProtocolError(`value ${v} over its limit ${max}`)
    return v
  }

  cid (): CID {
    const len = this.uvarint(MAX_CID_BYTES)
    if (this.pos + len > this.buf.length) throw new ProtocolError('frame ends inside a CID')
    const cid = decodeCid(this.buf.subarray(this.pos, this.pos + len))
    if (cid == null) throw new ProtocolError('malformed or unsupported CID')
    this.pos += len
    return cid
  }

  /** Bytes read so far. */
  get offset (): number { return this.pos }

  rest (): Uint8Array {
    const r = this.buf.subarray(this.pos)
    this.pos = this.buf.length
    return r
  }

  end (): void {
    if (this.pos !== this.buf.length) throw new ProtocolError('trailing bytes in frame')
  }
}

/** Decodes one frame body (without its length prefix). */
export function decodeMessage (body: Uint8Array): Message {
  const r = new Reader(body)
  const type = r.byte()
  let msg: Message
  switch (type) {
    case MSG.WANT:
    case MSG.CANCEL:
    case MSG.HAVE:
    case MSG.FETCHING: {
      const n = r.uvarint(MAX_WANTS)
      if (n === 0) throw new ProtocolError('empty CID list')
      const cids: CID[] = []
      for (let i = 0; i < n; i++) cids.push(r.cid())
      msg = { type: LIST_TYPES[type] as 'want', cids }
      break
    }
    case MSG.CHOKE: msg = { type: 'choke' }; break
    case MSG.UNCHOKE: msg = { type: 'unchoke' }; break
    case MSG.STATUS: msg = { type: 'status', cid: r.cid() }; break
    case MSG.BLOCK: {
      const cid = r.cid()
      const data = r.rest()
      if (data.length > MAX_BLOCK_SIZE) throw new ProtocolError('block over the size limit')
      return { type: 'block', cid, data }
    }
    case MSG.DONT_HAVE: msg = { type: 'dont-have', cid: r.cid() }; break
    case MSG.ROOT: {
      const cid = r.cid()
      const status = r.byte()
      if (status > ROOT_STATUS.SEEDING) throw new ProtocolError(`unknown root status ${status}`)
      msg = { type: 'root', cid, status: status as RootStatus }
      break
    }
    default: throw new ProtocolError(`unknown message type 0x${type.toString(16)}`)
  }
  r.end()
  return msg
}

/** A BLOCK message whose bytes are still the chunks they arrived in (not copied together). */
export interface BlockFrame { type: 'block', cid: CID, data: Uint8ArrayList }

/**
 * Decodes one frame body, leaving a block's bytes in their chunks: the download path hashes
 * and writes them chunk by chunk, so a 1 MiB block is never copied into one buffer.
 */
export function decodeFrame (body: Uint8ArrayList): Message | BlockFrame {
  if (body.byteLength > 0 && body.get(0) === MSG.BLOCK) {
    // the header is the type byte, the CID's length and the CID: at most 1 + 10 + MAX_CID_BYTES
    const head = new Reader(body.subarray(0, Math.min(body.byteLength, 11 + MAX_CID_BYTES)))
    head.byte()
    const cid = head.cid()
    const data = body.sublist(head.offset)
    if (data.byteLength > MAX_BLOCK_SIZE) throw new ProtocolError('block over the size limit')
    return { type: 'block', cid, data }
  }
  return decodeMessage(body.subarray())
}

/**
 * Splits a byte stream into frame bodies ({@link readNetFrames} with the block exchange's limit):
 * a declared length over MAX_FRAME fails before any of it is read.
 */
export function readFrames (source: AsyncIterable<Uint8Array | Uint8ArrayList>, maxFrame = MAX_FRAME): AsyncGenerator<Uint8Array> {
  return readNetFrames(source, maxFrame)
}

/** Largest frame a downloader sends (a WANT of MAX_WANTS CIDs of the longest size): what a server accepts. */
export const MAX_REQUEST_FRAME = 1 + 10 + MAX_WANTS * (10 + MAX_CID_BYTES)

/** {@link readFrames}, yielding each frame as the chunks it arrived in (no copy). */
export function readFrameLists (source: AsyncIterable<Uint8Array | Uint8ArrayList>, maxFrame = MAX_FRAME): AsyncGenerator<Uint8ArrayList> {
  return readNetFrameLists(source, maxFrame)
}
