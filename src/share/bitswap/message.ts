/**
 * The Bitswap message (https://specs.ipfs.tech/bitswap-protocol/, 1.0.0 to 1.2.0), encoded and
 * decoded by hand over protons-runtime's protobuf reader and writer:
 *
 * ```proto
 * message Message {
 *   message Wantlist {
 *     enum WantType { Block = 0; Have = 1; }
 *     message Entry { bytes block = 1; int32 priority = 2; bool cancel = 3; WantType wantType = 4; bool sendDontHave = 5; }
 *     repeated Entry entries = 1; bool full = 2;
 *   }
 *   message Block { bytes prefix = 1; bytes data = 2; }
 *   enum BlockPresenceType { Have = 0; DontHave = 1; }
 *   message BlockPresence { bytes cid = 1; BlockPresenceType type = 2; }
 *   Wantlist wantlist = 1; repeated bytes blocks = 2; repeated Block payload = 3;
 *   repeated BlockPresence blockPresences = 4; int32 pendingBytes = 5;
 * }
 * ```
 *
 * Decoding is strict: a size cap checked before anything is read, a cap on every list, wire
 * types checked, CIDs checked with {@link decodeCid}, and each block's CID rebuilt from its
 * prefix and the hash of its data. Anything malformed throws {@link InvalidBitswapMessageError}.
 */
import { createHash } from 'node:crypto'
import { CID } from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'
import { reader as createReader, writer as createWriter } from 'protons-runtime'
import type { Reader } from 'protons-runtime'
import { MAX_BLOCK_SIZE, MAX_CID_BYTES, SHA2_256, decodeCid, verifyBlock } from '../block.ts'
import { BlockMismatchError, InvalidBitswapMessageError } from './errors.ts'
import { cidFromPrefix, decodePrefix, encodePrefix } from './prefix.ts'

/** What a wantlist entry asks for: the block itself, or only whether the peer has it (1.2.0). */
export const WantType = { Block: 0, Have: 1 } as const
/** One of {@link WantType}. */
export type WantType = typeof WantType[keyof typeof WantType]

/** A block presence: the sender has the block, or does not (1.2.0). */
export const PresenceType = { Have: 0, DontHave: 1 } as const
/** One of {@link PresenceType}. */
export type PresenceType = typeof PresenceType[keyof typeof PresenceType]

/** One entry of a wantlist. */
export interface WantlistEntry {
  cid: CID
  priority: number
  /** Revokes an earlier entry for the same CID. */
  cancel: boolean
  wantType: WantType
  /** Ask the peer to answer DontHave rather than stay silent when it lacks the block. */
  sendDontHave: boolean
}

/** A wantlist: incremental updates, or the sender's full list when `full`. */
export interface Wantlist {
  entries: WantlistEntry[]
  full: boolean
}

/** A block in a message, with the CID its bytes hash to. */
export interface MessageBlock {
  cid: CID
  data: Uint8Array
}

/** A Have or DontHave answer for a CID. */
export interface BlockPresence {
  cid: CID
  type: PresenceType
}

/** A Bitswap message. */
export interface BitswapMessage {
  wantlist?: Wantlist
  blocks: MessageBlock[]
  blockPresences: BlockPresence[]
  pendingBytes: number
}

/** A decoded message, plus how many entries were dropped for naming CIDs peerd does not handle. */
export interface DecodedMessage extends BitswapMessage {
  ignored: number
}

/** The caps applied when decoding. */
export interface MessageLimits {
  maxMessageBytes: number
  maxWantlistEntries: number
  maxBlocks: number
  maxPresences: number
}

/** Largest message accepted or sent: 4 MiB, as go-bitswap and Helia use. */
export const MAX_MESSAGE_BYTES = 4 * 1024 * 1024

/** Default decoding caps. */
export const MESSAGE_LIMITS: Readonly<MessageLimits> = {
  maxMessageBytes: MAX_MESSAGE_BYTES,
  maxWantlistEntries: 1024,
  maxBlocks: 64,
  maxPresences: 1024
}

// protobuf wire types
const VARINT = 0
const LEN = 2

/** Encodes `msg`; blocks go in the 1.1.0+ `payload` field with their CID prefix. */
export function encodeMessage (msg: BitswapMessage): Uint8Array {
  const w = createWriter()
  if (msg.wantlist != null) {
    w.uint32(1 << 3 | LEN).fork()
    for (const e of msg.wantlist.entries) {
      w.uint32(1 << 3 | LEN).fork()
      w.uint32(1 << 3 | LEN).bytes(e.cid.bytes)
      if (e.priority !== 0) w.uint32(2 << 3 | VARINT).int32(e.priority)
      if (e.cancel) w.uint32(3 << 3 | VARINT).bool(true)
      if (e.wantType !== WantType.Block) w.uint32(4 << 3 | VARINT).int32(e.wantType)
      if (e.sendDontHave) w.uint32(5 << 3 | VARINT).bool(true)
      w.ldelim()
    }
    if (msg.wantlist.full) w.uint32(2 << 3 | VARINT).bool(true)
    w.ldelim()
  }
  for (const b of msg.blocks) {
    w.uint32(3 << 3 | LEN).fork()
    w.uint32(1 << 3 | LEN).bytes(encodePrefix(b.cid))
    w.uint32(2 << 3 | LEN).bytes(b.data)
    w.ldelim()
  }
  for (const p of msg.blockPresences) {
    w.uint32(4 << 3 | LEN).fork()
    w.uint32(1 << 3 | LEN).bytes(p.cid.bytes)
    if (p.type !== PresenceType.Have) w.uint32(2 << 3 | VARINT).int32(p.type)
    w.ldelim()
  }
  if (msg.pendingBytes !== 0) w.uint32(5 << 3 | VARINT).int32(msg.pendingBytes)
  return w.finish()
}

/** Decodes and checks a message; throws {@link InvalidBitswapMessageError}. */
export function decodeMessage (bytes: Uint8Array, limits: MessageLimits = MESSAGE_LIMITS): DecodedMessage {
  if (bytes.length > limits.maxMessageBytes) {
    throw new InvalidBitswapMessageError(`message of ${bytes.length} bytes is over the ${limits.maxMessageBytes}-byte limit`)
  }
  try {
    return decodeTop(createReader(bytes), limits)
  } catch (err) {
    if (err instanceof InvalidBitswapMessageError) throw err
    // the reader's RangeErrors: a length or varint running past the end
    throw new InvalidBitswapMessageError(`malformed message: ${(err as Error).message}`, { cause: err })
  }
}

/**
 * Throws {@link BlockMismatchError} unless `block` is the block `wanted` names. A block from
 * {@link decodeMessage} carries the CID its bytes hash to, so comparing multihashes suffices;
 * a hand-made block is hashed.
 */
export function checkBlockMatches (wanted: CID, block: MessageBlock, decoded = false): void {
  const ok = decoded ? equalBytes(wanted.multihash.bytes, block.cid.multihash.bytes) : verifyBlock(wanted, block.data)
  if (!ok) throw new BlockMismatchError(wanted, block.cid)
}

function equalBytes (a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(a, b) === 0
}

/** Items seen so far, counted before they are decoded, ignored ones included. */
interface Counts { entries: number, blocks: number, presences: number }

function decodeTop (r: Reader, limits: MessageLimits): DecodedMessage {
  const msg: DecodedMessage = { blocks: [], blockPresences: [], pendingBytes: 0, ignored: 0 }
  const counts: Counts = { entries: 0, blocks: 0, presences: 0 }
  while (r.pos < r.len) {
    const [field, wire] = tag(r)
    if (field === 1) {
      expect(wire, LEN, 'wantlist')
      msg.wantlist ??= { entries: [], full: false }
      decodeWantlist(createReader(r.bytes()), msg, counts, limits)
    } else if (field === 2 || field === 3) {
      expect(wire, LEN, 'block')
      if (++counts.blocks > limits.maxBlocks) throw new InvalidBitswapMessageError(`more than ${limits.maxBlocks} blocks in one message`)
      const block = field === 2 ? decodeLegacyBlock(r.bytes()) : decodePayloadBlock(createReader(r.bytes()))
      if (block == null) msg.ignored++
      else msg.blocks.push(block)
    } else if (field === 4) {
      expect(wire, LEN, 'blockPresence')
      if (++counts.presences > limits.maxPresences) throw new InvalidBitswapMessageError(`more than ${limits.maxPresences} block presences in one message`)
      const p = decodePresence(createReader(r.bytes()))
      if (p == null) msg.ignored++
      else msg.blockPresences.push(p)
    } else if (field === 5) {
      expect(wire, VARINT, 'pendingBytes')
      msg.pendingBytes = r.int32()
    } else {
      skip(r, wire)
    }
  }
  return msg
}

function decodeWantlist (r: Reader, msg: DecodedMessage, counts: Counts, limits: MessageLimits): void {
  const wl = msg.wantlist as Wantlist
  while (r.pos < r.len) {
    const [field, wire] = tag(r)
    if (field === 1) {
      expect(wire, LEN, 'wantlist entry')
      if (++counts.entries > limits.maxWantlistEntries) {
        throw new InvalidBitswapMessageError(`more than ${limits.maxWantlistEntries} wantlist entries in one message`)
      }
      const e = decodeEntry(createReader(r.bytes()))
      if (e == null) msg.ignored++
      else wl.entries.push(e)
    } else if (field === 2) {
      expect(wire, VARINT, 'full')
      wl.full = r.bool()
    } else {
      skip(r, wire)
    }
  }
}

function decodeEntry (r: Reader): WantlistEntry | undefined {
  let cidBytes: Uint8Array | undefined
  const e = { priority: 0, cancel: false, wantType: WantType.Block as WantType, sendDontHave: false }
  while (r.pos < r.len) {
    const [field, wire] = tag(r)
    if (field === 1) {
      expect(wire, LEN, 'entry CID')
      cidBytes = r.bytes()
    } else if (field === 2) {
      expect(wire, VARINT, 'priority')
      e.priority = r.int32()
    } else if (field === 3) {
      expect(wire, VARINT, 'cancel')
      e.cancel = r.bool()
    } else if (field === 4) {
      expect(wire, VARINT, 'wantType')
      const t = r.int32()
      if (t !== WantType.Block && t !== WantType.Have) throw new InvalidBitswapMessageError(`unknown want type ${t}`)
      e.wantType = t
    } else if (field === 5) {
      expect(wire, VARINT, 'sendDontHave')
      e.sendDontHave = r.bool()
    } else {
      skip(r, wire)
    }
  }
  const cid = wireCid(cidBytes, 'wantlist entry')
  return cid == null ? undefined : { cid, ...e }
}

function decodePayloadBlock (r: Reader): MessageBlock | undefined {
  let prefix: Uint8Array | undefined
  let data: Uint8Array | undefined
  while (r.pos < r.len) {
    const [field, wire] = tag(r)
    if (field === 1) {
      expect(wire, LEN, 'block prefix')
      prefix = r.bytes()
    } else if (field === 2) {
      expect(wire, LEN, 'block data')
      data = r.bytes()
    } else {
      skip(r, wire)
    }
  }
  if (prefix == null) throw new InvalidBitswapMessageError('block without a prefix')
  data ??= new Uint8Array(0)
  if (data.length > MAX_BLOCK_SIZE) throw new InvalidBitswapMessageError(`block of ${data.length} bytes is over the ${MAX_BLOCK_SIZE}-byte limit`)
  const cid = cidFromPrefix(decodePrefix(prefix), data)
  return cid == null ? undefined : { cid, data }
}

/** Bitswap 1.0.0 sends bare blocks: their CID is the CIDv0 of their sha2-256. */
function decodeLegacyBlock (data: Uint8Array): MessageBlock {
  if (data.length > MAX_BLOCK_SIZE) throw new InvalidBitswapMessageError(`block of ${data.length} bytes is over the ${MAX_BLOCK_SIZE}-byte limit`)
  const digest = Digest.create(SHA2_256, createHash('sha256').update(data).digest()) as Digest.Digest<typeof SHA2_256, 32>
  return { cid: CID.createV0(digest), data }
}

function decodePresence (r: Reader): BlockPresence | undefined {
  let cidBytes: Uint8Array | undefined
  let type: PresenceType = PresenceType.Have
  while (r.pos < r.len) {
    const [field, wire] = tag(r)
    if (field === 1) {
      expect(wire, LEN, 'presence CID')
      cidBytes = r.bytes()
    } else if (field === 2) {
      expect(wire, VARINT, 'presence type')
      const t = r.int32()
      if (t !== PresenceType.Have && t !== PresenceType.DontHave) throw new InvalidBitswapMessageError(`unknown block presence type ${t}`)
      type = t
    } else {
      skip(r, wire)
    }
  }
  const cid = wireCid(cidBytes, 'block presence')
  return cid == null ? undefined : { cid, type }
}

/**
 * A CID from the wire. Malformed bytes throw; a well-formed CID of a codec or hash peerd does
 * not handle (a Kubo peer may well ask for dag-cbor) gives undefined, and the entry is skipped.
 */
function wireCid (bytes: Uint8Array | undefined, what: string): CID | undefined {
  if (bytes == null || bytes.length === 0) throw new InvalidBitswapMessageError(`${what} without a CID`)
  if (bytes.length > MAX_CID_BYTES) throw new InvalidBitswapMessageError(`${what} CID of ${bytes.length} bytes`)
  const cid = decodeCid(bytes)
  if (cid != null) return cid
  try {
    CID.decode(bytes)
  } catch (err) {
    throw new InvalidBitswapMessageError(`malformed ${what} CID: ${(err as Error).message}`, { cause: err })
  }
  return undefined
}

function tag (r: Reader): [number, number] {
  const t = r.uint32()
  const field = t >>> 3
  if (field === 0) throw new InvalidBitswapMessageError('field number 0')
  return [field, t & 7]
}

function expect (wire: number, want: number, what: string): void {
  if (wire !== want) throw new InvalidBitswapMessageError(`${what} has wire type ${wire}, expected ${want}`)
}

/** Skips an unknown field; groups (wire types 3 and 4) are not proto3 and are refused. */
function skip (r: Reader, wire: number): void {
  if (wire === VARINT) r.skip()
  else if (wire === 1) r.skip(8)
  else if (wire === LEN) r.skip(r.uint32())
  else if (wire === 5) r.skip(4)
  else throw new InvalidBitswapMessageError(`unsupported wire type ${wire}`)
}
