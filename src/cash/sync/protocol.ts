/**
 * The chain request/response protocol, `/peerd/<network>/chain/1.0.0`, used for headers-first
 * sync. One stream per request: the client writes one request frame, the server answers with
 * response frames and closes.
 *
 * Frames are an unsigned varint length, a type byte and the fields. Requests:
 *
 * | type | fields |
 * |------|--------|
 * | `0x01` STATUS | — |
 * | `0x02` GET_HEADERS | count (1 byte, ≤ {@link MAX_LOCATOR}), count × 32-byte locator hashes, 32-byte stop hash (zeros: none) |
 * | `0x03` GET_BLOCKS | count (1 byte, ≤ {@link MAX_GET_BLOCKS}), count × 32-byte block hashes |
 *
 * Responses:
 *
 * | type | fields |
 * |------|--------|
 * | `0x81` TIP | height (u32 LE), tip hash, chainwork (32 bytes big-endian) |
 * | `0x82` HEADERS | count (varint, ≤ {@link MAX_HEADERS}), count × 80-byte headers |
 * | `0x83` BLOCK | the serialized block |
 * | `0x84` NOT_FOUND | a 32-byte block hash |
 *
 * Every length is checked before anything is allocated; anything else is a {@link ChainProtocolError}.
 * @module
 */
import * as varint from 'uint8-varint'
import { encodeFrame, ProtocolError } from '../../net/frames.ts'
import { DEFAULT_MAX_BLOCK_SIZE } from '../primitives/block.ts'
import { HASH_SIZE } from '../primitives/hash.ts'
import { HEADER_SIZE, decodeHeader, encodeHeader } from '../primitives/header.ts'
import type { BlockHeader } from '../primitives/header.ts'

/** Protocol id of the chain protocol on `network`. */
export function chainProtocol (network: string): string {
  return `/peerd/${network}/chain/1.0.0`
}

/** Most hashes in a locator (a locator of a chain of 2^32 blocks needs about 42). */
export const MAX_LOCATOR = 64
/** Most headers in one HEADERS answer (Bitcoin's MAX_HEADERS_RESULTS). */
export const MAX_HEADERS = 2000
/** Most blocks asked for in one GET_BLOCKS. */
export const MAX_GET_BLOCKS = 16
/** Largest response frame: a block of the maximum size and its type byte. */
export const MAX_RESPONSE_FRAME = DEFAULT_MAX_BLOCK_SIZE + 1
/** Largest request frame: a full locator and a stop hash. */
export const MAX_REQUEST_FRAME = 2 + (MAX_LOCATOR + 1) * HASH_SIZE

const T = {
  STATUS: 0x01,
  GET_HEADERS: 0x02,
  GET_BLOCKS: 0x03,
  TIP: 0x81,
  HEADERS: 0x82,
  BLOCK: 0x83,
  NOT_FOUND: 0x84
} as const

/** A request a client sends. */
export type ChainRequest =
  | { type: 'status' }
  | { type: 'get-headers', locator: Uint8Array[], stop?: Uint8Array }
  | { type: 'get-blocks', hashes: Uint8Array[] }

/** A response frame a server sends. */
export type ChainResponse =
  | { type: 'tip', height: number, hash: Uint8Array, chainwork: bigint }
  | { type: 'headers', headers: BlockHeader[] }
  | { type: 'block', bytes: Uint8Array }
  | { type: 'not-found', hash: Uint8Array }

/** A peer broke the chain protocol (a {@link ProtocolError}, like the frame reader's errors). */
export class ChainProtocolError extends ProtocolError {
  static override name = 'ChainProtocolError'
}

function frame (type: number, ...parts: Uint8Array[]): Uint8Array {
  return encodeFrame(Uint8Array.of(type), ...parts)
}

function checkHash (hash: Uint8Array): Uint8Array {
  if (hash.length !== HASH_SIZE) throw new RangeError(`a hash is ${HASH_SIZE} bytes, got ${hash.length}`)
  return hash
}

/** Encodes a request as one frame. */
export function encodeRequest (req: ChainRequest): Uint8Array {
  switch (req.type) {
    case 'status': return frame(T.STATUS)
    case 'get-headers': {
      if (req.locator.length > MAX_LOCATOR) throw new RangeError(`locator of ${req.locator.length} hashes, limit ${MAX_LOCATOR}`)
      return frame(T.GET_HEADERS, Uint8Array.of(req.locator.length), ...req.locator.map(checkHash), req.stop == null ? new Uint8Array(HASH_SIZE) : checkHash(req.stop))
    }
    case 'get-blocks': {
      if (req.hashes.length === 0 || req.hashes.length > MAX_GET_BLOCKS) throw new RangeError(`1–${MAX_GET_BLOCKS} hashes, got ${req.hashes.length}`)
      return frame(T.GET_BLOCKS, Uint8Array.of(req.hashes.length), ...req.hashes.map(checkHash))
    }
  }
}

/** Encodes a response as one frame. */
export function encodeResponse (res: ChainResponse): Uint8Array {
  switch (res.type) {
    case 'tip': {
      const fixed = new Uint8Array(4)
      new DataView(fixed.buffer).setUint32(0, res.height, true)
      const work = new Uint8Array(32)
      let w = res.chainwork
      for (let i = 31; i >= 0; i--) {
        work[i] = Number(w & 0xffn)
        w >>= 8n
      }
      return frame(T.TIP, fixed, checkHash(res.hash), work)
    }
    case 'headers': {
      if (res.headers.length > MAX_HEADERS) throw new RangeError(`${res.headers.length} headers, limit ${MAX_HEADERS}`)
      return frame(T.HEADERS, varint.encode(res.headers.length), ...res.headers.map(encodeHeader))
    }
    case 'block': return frame(T.BLOCK, res.bytes)
    case 'not-found': return frame(T.NOT_FOUND, checkHash(res.hash))
  }
}

function hashes (body: Uint8Array, at: number, count: number): Uint8Array[] {
  const out: Uint8Array[] = []
  for (let i = 0; i < count; i++) out.push(Uint8Array.from(body.subarray(at + i * HASH_SIZE, at + (i + 1) * HASH_SIZE)))
  return out
}

/** Decodes a request frame body; throws {@link ChainProtocolError} on anything malformed. */
export function decodeRequest (body: Uint8Array): ChainRequest {
  const type = body[0]
  if (type === T.STATUS) {
    if (body.length !== 1) throw new ChainProtocolError('STATUS carries no fields')
    return { type: 'status' }
  }
  if (type === T.GET_HEADERS) {
    const count = body[1] ?? 0
    if (count > MAX_LOCATOR) throw new ChainProtocolError(`locator of ${count} hashes, limit ${MAX_LOCATOR}`)
    if (body.length !== 2 + (count + 1) * HASH_SIZE) throw new ChainProtocolError('GET_HEADERS length does not match its count')
    const stop = body.subarray(2 + count * HASH_SIZE)
    return { type: 'get-headers', locator: hashes(body, 2, count), stop: stop.every((b) => b === 0) ? undefined : Uint8Array.from(stop) }
  }
  if (type === T.GET_BLOCKS) {
    const count = body[1] ?? 0
    if (count === 0 || count > MAX_GET_BLOCKS) throw new ChainProtocolError(`GET_BLOCKS of ${count} hashes, allowed 1–${MAX_GET_BLOCKS}`)
    if (body.length !== 2 + count * HASH_SIZE) throw new ChainProtocolError('GET_BLOCKS length does not match its count')
    return { type: 'get-blocks', hashes: hashes(body, 2, count) }
  }
  throw new ChainProtocolError(`unknown request type ${String(type)}`)
}

/** Decodes a response frame body; throws {@link ChainProtocolError} on anything malformed. */
export function decodeResponse (body: Uint8Array): ChainResponse {
  const type = body[0]
  if (type === T.TIP) {
    if (body.length !== 1 + 4 + HASH_SIZE + 32) throw new ChainProtocolError('TIP has the wrong length')
    const height = new DataView(body.buffer, body.byteOffset + 1, 4).getUint32(0, true)
    let chainwork = 0n
    for (const b of body.subarray(1 + 4 + HASH_SIZE)) chainwork = (chainwork << 8n) | BigInt(b)
    return { type: 'tip', height, hash: Uint8Array.from(body.subarray(5, 5 + HASH_SIZE)), chainwork }
  }
  if (type === T.HEADERS) {
    let count: number
    try {
      count = varint.decode(body, 1)
    } catch {
      throw new ChainProtocolError('HEADERS count is not a varint')
    }
    if (count > MAX_HEADERS) throw new ChainProtocolError(`${count} headers, limit ${MAX_HEADERS}`)
    const at = 1 + varint.encodingLength(count)
    if (body.length !== at + count * HEADER_SIZE) throw new ChainProtocolError('HEADERS length does not match its count')
    const headers: BlockHeader[] = []
    for (let i = 0; i < count; i++) headers.push(decodeHeader(body.subarray(at + i * HEADER_SIZE, at + (i + 1) * HEADER_SIZE)))
    return { type: 'headers', headers }
  }
  if (type === T.BLOCK) {
    if (body.length < 2) throw new ChainProtocolError('empty BLOCK')
    return { type: 'block', bytes: Uint8Array.from(body.subarray(1)) }
  }
  if (type === T.NOT_FOUND) {
    if (body.length !== 1 + HASH_SIZE) throw new ChainProtocolError('NOT_FOUND has the wrong length')
    return { type: 'not-found', hash: Uint8Array.from(body.subarray(1)) }
  }
  throw new ChainProtocolError(`unknown response type ${String(type)}`)
}
