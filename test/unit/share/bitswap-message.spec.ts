import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { describe, it } from 'node:test'
import * as dagPb from '@ipld/dag-pb'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import * as Digest from 'multiformats/hashes/digest'
import {
  MAX_MESSAGE_BYTES, PresenceType, WantType, checkBlockMatches, decodeMessage, encodeMessage
} from '../../../src/share/bitswap/index.ts'
import type { BitswapMessage } from '../../../src/share/bitswap/index.ts'
import { encodePrefix } from '../../../src/share/bitswap/prefix.ts'

function sha256 (data: Uint8Array): Uint8Array {
  return createHash('sha256').update(data).digest()
}

function cidOf (data: Uint8Array, codec: number = raw.code): CID {
  return CID.createV1(codec, Digest.create(0x12, sha256(data)))
}

/** A protobuf length-delimited field. */
function ld (field: number, bytes: Uint8Array): Uint8Array {
  return concat(varint(field << 3 | 2), varint(bytes.length), bytes)
}

/** A protobuf varint field. */
function vf (field: number, value: number): Uint8Array {
  return concat(varint(field << 3), varint(value))
}

function varint (n: number): Uint8Array {
  const out: number[] = []
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80)
    n = Math.floor(n / 128)
  }
  out.push(n)
  return Uint8Array.from(out)
}

function concat (...parts: Uint8Array[]): Uint8Array {
  return new Uint8Array(Buffer.concat(parts))
}

const isInvalid = (pattern: RegExp) => (err: Error): boolean => {
  assert.equal(err.name, 'InvalidBitswapMessageError')
  assert.match(err.message, pattern)
  return true
}

describe('bitswap message codec', () => {
  const leaf = new TextEncoder().encode('hello bitswap')
  const leafCid = cidOf(leaf)
  const node = dagPb.encode(dagPb.prepare({ Data: Uint8Array.of(8, 1), Links: [{ Hash: leafCid, Tsize: leaf.length }] }))
  const nodeCid = cidOf(node, dagPb.code)
  const v0 = CID.createV0(Digest.create(0x12, sha256(node)) as Digest.Digest<0x12, 32>)

  it('round-trips wantlist entries, blocks, presences and pendingBytes', () => {
    const msg: BitswapMessage = {
      wantlist: {
        full: true,
        entries: [
          { cid: leafCid, priority: 5, cancel: false, wantType: WantType.Have, sendDontHave: true },
          { cid: nodeCid, priority: -3, cancel: true, wantType: WantType.Block, sendDontHave: false },
          { cid: v0, priority: 0, cancel: false, wantType: WantType.Block, sendDontHave: true }
        ]
      },
      blocks: [{ cid: leafCid, data: leaf }, { cid: nodeCid, data: node }, { cid: v0, data: node }],
      blockPresences: [{ cid: leafCid, type: PresenceType.Have }, { cid: nodeCid, type: PresenceType.DontHave }],
      pendingBytes: 1234
    }
    const back = decodeMessage(encodeMessage(msg))
    assert.equal(back.ignored, 0)
    assert.equal(back.pendingBytes, 1234)
    assert.equal(back.wantlist?.full, true)
    assert.deepEqual(back.wantlist?.entries.map(e => ({ ...e, cid: e.cid.toString() })), msg.wantlist?.entries.map(e => ({ ...e, cid: e.cid.toString() })))
    assert.deepEqual(back.blocks.map(b => b.cid.toString()), [leafCid.toString(), nodeCid.toString(), v0.toString()])
    assert.deepEqual(back.blocks.map(b => Buffer.from(b.data).toString('hex')), [leaf, node, node].map(d => Buffer.from(d).toString('hex')))
    assert.deepEqual(back.blockPresences.map(p => [p.cid.toString(), p.type]), [[leafCid.toString(), 0], [nodeCid.toString(), 1]])
  })

  it('encodes an empty message as zero bytes, and decodes it', () => {
    const bytes = encodeMessage({ blocks: [], blockPresences: [], pendingBytes: 0 })
    assert.equal(bytes.length, 0)
    assert.deepEqual(decodeMessage(bytes), { blocks: [], blockPresences: [], pendingBytes: 0, ignored: 0 })
  })

  it('reads the wire layout of the spec, written field by field, and skips unknown fields', () => {
    const entry = concat(ld(1, leafCid.bytes), vf(2, 1), vf(4, 1), vf(5, 1), vf(9, 42))
    const bytes = concat(
      ld(1, concat(ld(1, entry), vf(2, 0))),
      ld(3, concat(ld(1, encodePrefix(leafCid)), ld(2, leaf))),
      ld(2, node), // a Bitswap 1.0.0 bare block
      ld(4, concat(ld(1, nodeCid.bytes), vf(2, 1))),
      ld(15, Uint8Array.of(1, 2, 3))
    )
    const msg = decodeMessage(bytes)
    assert.equal(msg.wantlist?.entries.length, 1)
    const e = msg.wantlist?.entries[0]
    assert.ok(e?.cid.equals(leafCid))
    assert.equal(e?.wantType, WantType.Have)
    assert.equal(e?.sendDontHave, true)
    assert.equal(e?.cancel, false)
    assert.ok(msg.blocks[0]?.cid.equals(leafCid))
    assert.ok(msg.blocks[1]?.cid.equals(v0), 'a bare block is named by its CIDv0')
    assert.equal(msg.blockPresences[0]?.type, PresenceType.DontHave)
  })

  it('skips (and counts) entries for CIDs of codecs peerd does not handle', () => {
    const cbor = CID.createV1(0x71, Digest.create(0x12, sha256(leaf)))
    const bytes = concat(ld(1, ld(1, ld(1, cbor.bytes))), ld(4, ld(1, cbor.bytes)))
    const msg = decodeMessage(bytes)
    assert.equal(msg.wantlist?.entries.length, 0)
    assert.equal(msg.blockPresences.length, 0)
    assert.equal(msg.ignored, 2)
  })

  it('rejects a message over 4 MiB before reading it', () => {
    assert.throws(() => decodeMessage(new Uint8Array(MAX_MESSAGE_BYTES + 1)), isInvalid(/over the 4194304-byte limit/))
  })

  it('rejects truncated and garbage input', () => {
    const good = encodeMessage({ blocks: [{ cid: leafCid, data: leaf }], blockPresences: [], pendingBytes: 0 })
    assert.throws(() => decodeMessage(good.subarray(0, good.length - 3)), isInvalid(/malformed message/))
    assert.throws(() => decodeMessage(Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0xff)), isInvalid(/./))
    assert.throws(() => decodeMessage(Uint8Array.of(0x00, 0x01)), isInvalid(/field number 0/))
    assert.throws(() => decodeMessage(Uint8Array.of(0x0b, 0x0c)), isInvalid(/wire type 3/))
  })

  it('rejects wrong wire types, unknown enum values and missing CIDs', () => {
    assert.throws(() => decodeMessage(vf(1, 7)), isInvalid(/wantlist has wire type 0/))
    assert.throws(() => decodeMessage(ld(1, ld(1, concat(ld(1, leafCid.bytes), vf(4, 7))))), isInvalid(/unknown want type 7/))
    assert.throws(() => decodeMessage(ld(4, concat(ld(1, leafCid.bytes), vf(2, 2)))), isInvalid(/unknown block presence type 2/))
    assert.throws(() => decodeMessage(ld(1, ld(1, vf(2, 1)))), isInvalid(/entry without a CID/))
    assert.throws(() => decodeMessage(ld(1, ld(1, ld(1, Uint8Array.of(1, 0x55, 0x12, 3, 1))))), isInvalid(/malformed wantlist entry CID/))
    assert.throws(() => decodeMessage(ld(1, ld(1, ld(1, new Uint8Array(200))))), isInvalid(/CID of 200 bytes/))
  })

  it('enforces the list limits', () => {
    const entries = Array.from({ length: 1025 }, () => ({ cid: leafCid, priority: 1, cancel: false, wantType: WantType.Block, sendDontHave: false }))
    const many = encodeMessage({ wantlist: { entries, full: false }, blocks: [], blockPresences: [], pendingBytes: 0 })
    assert.throws(() => decodeMessage(many), isInvalid(/more than 1024 wantlist entries/))
    assert.equal(decodeMessage(many, { maxMessageBytes: MAX_MESSAGE_BYTES, maxWantlistEntries: 2000, maxBlocks: 64, maxPresences: 1024 }).wantlist?.entries.length, 1025)

    const blocks = Array.from({ length: 65 }, () => ({ cid: leafCid, data: leaf }))
    assert.throws(() => decodeMessage(encodeMessage({ blocks, blockPresences: [], pendingBytes: 0 })), isInvalid(/more than 64 blocks/))

    const blockPresences = Array.from({ length: 1025 }, () => ({ cid: leafCid, type: PresenceType.Have }))
    assert.throws(() => decodeMessage(encodeMessage({ blocks: [], blockPresences, pendingBytes: 0 })), isInvalid(/more than 1024 block presences/))
  })

  it('rejects oversized blocks and malformed or truncated-hash prefixes', () => {
    const big = new Uint8Array(2 * 1024 * 1024 + 1)
    assert.throws(() => decodeMessage(encodeMessage({ blocks: [{ cid: cidOf(big), data: big }], blockPresences: [], pendingBytes: 0 })), isInvalid(/over the 2097152-byte limit/))
    assert.throws(() => decodeMessage(ld(3, concat(ld(1, Uint8Array.of(0x01, 0x55, 0x12)), ld(2, leaf)))), isInvalid(/malformed block prefix/))
    assert.throws(() => decodeMessage(ld(3, concat(ld(1, Uint8Array.of(0x01, 0x55, 0x12, 20)), ld(2, leaf)))), isInvalid(/sha2-256 prefix with a 20-byte digest/))
    assert.throws(() => decodeMessage(ld(3, concat(ld(1, Uint8Array.of(0x00, 0x55, 0x12, 32)), ld(2, leaf)))), isInvalid(/CIDv0 block prefix must be dag-pb/))
    assert.throws(() => decodeMessage(ld(3, concat(ld(1, Uint8Array.of(0x01, 0x55, 0x12, 32, 0)), ld(2, leaf)))), isInvalid(/trailing bytes/))
    assert.throws(() => decodeMessage(ld(3, ld(2, leaf))), isInvalid(/block without a prefix/))
  })

  it('names a block by the hash of its bytes, so a block whose bytes do not match the wanted CID is rejected', () => {
    const tampered = Uint8Array.from(leaf)
    tampered[0] = (tampered[0] as number) ^ 0xff
    const msg = decodeMessage(encodeMessage({ blocks: [{ cid: leafCid, data: tampered }], blockPresences: [], pendingBytes: 0 }))
    const block = msg.blocks[0]
    assert.ok(block != null)
    assert.notEqual(block.cid.toString(), leafCid.toString(), 'the decoded CID is the hash of the bytes, not the sender\'s claim')
    const mismatch = (err: Error): boolean => err.name === 'BlockMismatchError' && err.message.includes(leafCid.toString())
    assert.throws(() => { checkBlockMatches(leafCid, block, true) }, mismatch)
    assert.throws(() => { checkBlockMatches(leafCid, block) }, mismatch)
    // a hand-made block claiming the wanted CID is hashed, not believed
    assert.throws(() => { checkBlockMatches(leafCid, { cid: leafCid, data: tampered }) }, mismatch)
    const honest = decodeMessage(encodeMessage({ blocks: [{ cid: leafCid, data: leaf }], blockPresences: [], pendingBytes: 0 })).blocks[0]
    assert.ok(honest != null)
    checkBlockMatches(leafCid, honest, true)
    checkBlockMatches(leafCid, honest)
  })
})
