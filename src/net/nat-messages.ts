/**
 * The two libp2p NAT-traversal messages peerd speaks itself, encoded and decoded by hand over
 * protons-runtime's reader and writer (as the Bitswap message is), strictly: a size cap before
 * anything is read, a cap on every list, and a typed error for anything malformed.
 *
 * DCUtR (`/libp2p/dcutr`, https://github.com/libp2p/specs/blob/master/relay/DCUtR.md):
 * ```proto
 * message HolePunch { enum Type { CONNECT = 100; SYNC = 300; } required Type type = 1; repeated bytes ObsAddrs = 2; }
 * ```
 * AutoNAT v1 (`/libp2p/autonat/1.0.0`, https://github.com/libp2p/specs/blob/master/autonat/autonat-v1.md):
 * ```proto
 * message Message {
 *   enum MessageType { DIAL = 0; DIAL_RESPONSE = 1; }
 *   enum ResponseStatus { OK = 0; E_DIAL_ERROR = 100; E_DIAL_REFUSED = 101; E_BAD_REQUEST = 200; E_INTERNAL_ERROR = 300; }
 *   message PeerInfo { optional bytes id = 1; repeated bytes addrs = 2; }
 *   message Dial { optional PeerInfo peer = 1; }
 *   message DialResponse { optional ResponseStatus status = 1; optional string statusText = 2; optional bytes addr = 3; }
 *   optional MessageType type = 1; optional Dial dial = 2; optional DialResponse dialResponse = 3;
 * }
 * ```
 * @module
 */
import { reader as createReader, writer as createWriter } from 'protons-runtime'
import type { Reader } from 'protons-runtime'
import { ProtocolError } from './frames.ts'

/** Largest message of either protocol (their specs' 4 KiB; AutoNAT servers allow 8 KiB). */
export const MAX_NAT_MESSAGE = 8192
/** Most addresses taken from one message. */
export const MAX_NAT_ADDRS = 32
/** A multiaddr's cap in bytes. */
const MAX_ADDR_BYTES = 1024

/** A DCUtR or AutoNAT message broke its format. */
export class InvalidNatMessageError extends ProtocolError {
  static override name = 'InvalidNatMessageError'
}

/** DCUtR message types. */
export const HolePunchType = { CONNECT: 100, SYNC: 300 } as const

/** A DCUtR message. */
export interface HolePunch { type: number, addrs: Uint8Array[] }

/** AutoNAT response statuses. */
export const DialStatus = { OK: 0, E_DIAL_ERROR: 100, E_DIAL_REFUSED: 101, E_BAD_REQUEST: 200, E_INTERNAL_ERROR: 300 } as const

/** An AutoNAT dial response. */
export interface DialResponse { status: number, statusText: string, addr?: Uint8Array }

function checkSize (buf: Uint8Array): void {
  if (buf.length > MAX_NAT_MESSAGE) throw new InvalidNatMessageError(`message of ${buf.length} bytes over the ${MAX_NAT_MESSAGE} limit`)
}

function readBytes (r: Reader, what: string): Uint8Array {
  const b = r.bytes()
  if (b.length > MAX_ADDR_BYTES) throw new InvalidNatMessageError(`${what} of ${b.length} bytes`)
  return b
}

/** Runs `read` over `buf`, turning the reader's own errors (truncation, bad wire types) into typed ones. */
function parse<T> (buf: Uint8Array, read: (r: Reader) => T): T {
  checkSize(buf)
  try {
    return read(createReader(buf))
  } catch (err) {
    if (err instanceof InvalidNatMessageError) throw err
    throw new InvalidNatMessageError(`malformed message: ${(err as Error).message}`)
  }
}

/** Encodes a DCUtR message. */
export function encodeHolePunch (m: HolePunch): Uint8Array {
  const w = createWriter()
  w.uint32(8).int32(m.type)
  for (const a of m.addrs.slice(0, MAX_NAT_ADDRS)) w.uint32(18).bytes(a)
  return w.finish()
}

/** Decodes a DCUtR message; throws {@link InvalidNatMessageError}. */
export function decodeHolePunch (buf: Uint8Array): HolePunch {
  return parse(buf, r => {
    let type: number | undefined
    const addrs: Uint8Array[] = []
    while (r.pos < r.len) {
      const tag = r.uint32()
      if (tag === 8) type = r.int32()
      else if (tag === 18) {
        const a = readBytes(r, 'address')
        if (addrs.length < MAX_NAT_ADDRS) addrs.push(a)
      } else r.skipType(tag & 7)
    }
    if (type !== HolePunchType.CONNECT && type !== HolePunchType.SYNC) throw new InvalidNatMessageError(`DCUtR message of type ${String(type)}`)
    return { type, addrs }
  })
}

/** Encodes an AutoNAT DIAL request asking the server to dial `peerId` at `addrs`. */
export function encodeDialRequest (peerId: Uint8Array, addrs: Uint8Array[]): Uint8Array {
  const peer = createWriter()
  peer.uint32(10).bytes(peerId)
  for (const a of addrs.slice(0, MAX_NAT_ADDRS)) peer.uint32(18).bytes(a)
  const dial = createWriter()
  dial.uint32(10).bytes(peer.finish())
  const w = createWriter()
  w.uint32(8).int32(0)
  w.uint32(18).bytes(dial.finish())
  return w.finish()
}

/** Decodes an AutoNAT DIAL_RESPONSE; throws {@link InvalidNatMessageError} for anything else. */
export function decodeDialResponse (buf: Uint8Array): DialResponse {
  return parse(buf, r => {
    let type: number | undefined
    let response: DialResponse | undefined
    while (r.pos < r.len) {
      const tag = r.uint32()
      if (tag === 8) type = r.int32()
      else if (tag === 26) {
        const inner = createReader(r.bytes())
        const res: DialResponse = { status: -1, statusText: '' }
        while (inner.pos < inner.len) {
          const t = inner.uint32()
          if (t === 8) res.status = inner.int32()
          else if (t === 18) res.statusText = inner.string().slice(0, 200)
          else if (t === 26) res.addr = readBytes(inner, 'address')
          else inner.skipType(t & 7)
        }
        response = res
      } else r.skipType(tag & 7)
    }
    if (type !== 1 || response == null || response.status < 0) throw new InvalidNatMessageError('AutoNAT answer is not a dial response')
    return response
  })
}

/** Decodes an AutoNAT DIAL request: the peer id and addresses it asks to be dialled at. */
export function decodeDialRequest (buf: Uint8Array): { id: Uint8Array, addrs: Uint8Array[] } {
  return parse(buf, r => {
    let type: number | undefined
    let id: Uint8Array | undefined
    const addrs: Uint8Array[] = []
    while (r.pos < r.len) {
      const tag = r.uint32()
      if (tag === 8) type = r.int32()
      else if (tag === 18) {
        const dial = createReader(r.bytes())
        while (dial.pos < dial.len) {
          const t = dial.uint32()
          if (t !== 10) { dial.skipType(t & 7); continue }
          const peer = createReader(dial.bytes())
          while (peer.pos < peer.len) {
            const pt = peer.uint32()
            if (pt === 10) id = readBytes(peer, 'peer id')
            else if (pt === 18) {
              const a = readBytes(peer, 'address')
              if (addrs.length < MAX_NAT_ADDRS) addrs.push(a)
            } else peer.skipType(pt & 7)
          }
        }
      } else r.skipType(tag & 7)
    }
    if (type !== 0 || id == null) throw new InvalidNatMessageError('AutoNAT request is not a dial request with a peer')
    return { id, addrs }
  })
}

/** Encodes an AutoNAT DIAL_RESPONSE. */
export function encodeDialResponse (status: number, statusText: string, addr?: Uint8Array): Uint8Array {
  const res = createWriter()
  res.uint32(8).int32(status)
  if (statusText !== '') res.uint32(18).string(statusText)
  if (addr != null) res.uint32(26).bytes(addr)
  const w = createWriter()
  w.uint32(8).int32(1)
  w.uint32(26).bytes(res.finish())
  return w.finish()
}
