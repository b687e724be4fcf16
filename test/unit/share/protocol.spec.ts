/**
 * The peerd block protocol codec: every message round-trips; every malformed, truncated,
 * oversized or unsupported input fails with ProtocolError (never another error, never a
 * partial message); frames survive any chunking of the stream, and an oversized frame is
 * refused from its length alone.
 */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { describe, it } from 'node:test'
import * as dagPb from '@ipld/dag-pb'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import * as Digest from 'multiformats/hashes/digest'
import * as varint from 'uint8-varint'
import { Uint8ArrayList } from 'uint8arraylist'
import { MAX_BLOCK_SIZE, MAX_CID_BYTES, MAX_IDENTITY_DIGEST } from '../../../src/share/block.ts'
import {
  MAX_FRAME, MAX_WANTS, MSG, ProtocolError, ROOT_STATUS, blocksProtocol, decodeMessage, encode, readFrames
} from '../../../src/share/protocol.ts'
import type { Message } from '../../../src/share/protocol.ts'
import { prng } from '../../utils/share.ts'

const DAG_CBOR = 0x71
const SHA2_512 = 0x13

function sha256 (data: Uint8Array): Uint8Array {
  return createHash('sha256').update(data).digest()
}

function cidOf (data: Uint8Array | string, codec: number = raw.code): CID {
  const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data
  return CID.createV1(codec, Digest.create(0x12, sha256(bytes)))
}

function concat (...parts: Array<Uint8Array | number[]>): Uint8Array {
  return new Uint8Array(Buffer.concat(parts.map(p => Uint8Array.from(p))))
}

/** A frame's body, after checking its length prefix is minimal and exact. */
function bodyOf (frame: Uint8ArrayList): Uint8Array {
  const whole = frame.subarray()
  const len = varint.decode(whole)
  const head = varint.encodingLength(len)
  assert.equal(whole.length, head + len, 'the length prefix covers exactly the body')
  return whole.subarray(head)
}

/** The bytes of a CID field: varint length, then the CID. */
function cidField (bytes: Uint8Array): Uint8Array {
  return concat(varint.encode(bytes.length), bytes)
}

/** A frame around `body`. */
function framed (body: Uint8Array): Uint8Array {
  return concat(varint.encode(body.length), body)
}

async function * chunks (...parts: Array<Uint8Array | Uint8ArrayList>): AsyncGenerator<Uint8Array | Uint8ArrayList> {
  yield * parts
}

async function readAll (source: AsyncIterable<Uint8Array | Uint8ArrayList>): Promise<Uint8Array[]> {
  const out: Uint8Array[] = []
  for await (const body of readFrames(source)) out.push(body)
  return out
}

/** A ProtocolError: the codec's own, or one of the frame reader's subclasses (src/net/frames.ts). */
const protocolError = (pattern?: RegExp) => (err: Error): boolean => {
  assert.ok(err instanceof ProtocolError, `expected ProtocolError, got ${err.name}: ${err.message}`)
  if (pattern != null) assert.match(err.message, pattern)
  return true
}

/** Asserts two messages carry the same fields (CIDs compared by value). */
function assertSameMessage (actual: Message, expected: Message): void {
  const norm = (m: Message): unknown => JSON.parse(JSON.stringify(m, (_k, v: unknown) => {
    if (v instanceof CID) return v.toString()
    if (v instanceof Uint8Array) return Buffer.from(v).toString('hex')
    return v
  }))
  assert.deepEqual(norm(actual), norm(expected))
}

/** The body `encode` makes for a decoded message. */
function reencode (msg: Message): Uint8Array {
  switch (msg.type) {
    case 'want': return bodyOf(encode.want(msg.cids))
    case 'cancel': return bodyOf(encode.cancel(msg.cids))
    case 'status': return bodyOf(encode.status(msg.cid))
    case 'block': return bodyOf(encode.block(msg.cid, msg.data))
    case 'dont-have': return bodyOf(encode.dontHave(msg.cid))
    case 'root': return bodyOf(encode.root(msg.cid, msg.status))
    case 'have': return bodyOf(encode.have(msg.cids))
    case 'fetching': return bodyOf(encode.fetching(msg.cids))
    case 'choke': return bodyOf(encode.choke())
    case 'unchoke': return bodyOf(encode.unchoke())
  }
}

describe('peerd block protocol codec', () => {
  const leaf = new TextEncoder().encode('hello peerd')
  const rawCid = cidOf(leaf)
  const node = dagPb.encode(dagPb.prepare({ Data: Uint8Array.of(8, 2), Links: [{ Hash: rawCid, Tsize: leaf.length }] }))
  const pbCid = cidOf(node, dagPb.code)
  const v0 = CID.createV0(Digest.create(0x12, sha256(node)) as Digest.Digest<0x12, 32>)
  const identity = CID.createV1(raw.code, Digest.create(0x00, new TextEncoder().encode('inline')))
  const cbor = CID.createV1(DAG_CBOR, Digest.create(0x12, sha256(leaf)))
  const sha512 = CID.createV1(raw.code, Digest.create(SHA2_512, createHash('sha512').update(leaf).digest()))

  it('names the protocol per network', () => {
    assert.equal(blocksProtocol('regtest'), '/peerd/regtest/blocks/1.2.0')
  })

  describe('round trips', () => {
    const many = Array.from({ length: MAX_WANTS }, (_, i) => cidOf(`block ${i}`))
    const cases: Array<{ name: string, frame: Uint8ArrayList, msg: Message, type: number }> = [
      { name: 'want one CID', frame: encode.want([rawCid]), msg: { type: 'want', cids: [rawCid] }, type: MSG.WANT },
      { name: 'want raw, dag-pb, CIDv0 and identity CIDs', frame: encode.want([rawCid, pbCid, v0, identity]), msg: { type: 'want', cids: [rawCid, pbCid, v0, identity] }, type: MSG.WANT },
      { name: `want MAX_WANTS (${MAX_WANTS}) CIDs`, frame: encode.want(many), msg: { type: 'want', cids: many }, type: MSG.WANT },
      { name: 'cancel', frame: encode.cancel([pbCid, rawCid]), msg: { type: 'cancel', cids: [pbCid, rawCid] }, type: MSG.CANCEL },
      { name: `cancel MAX_WANTS CIDs`, frame: encode.cancel(many), msg: { type: 'cancel', cids: many }, type: MSG.CANCEL },
      { name: 'status', frame: encode.status(pbCid), msg: { type: 'status', cid: pbCid }, type: MSG.STATUS },
      { name: 'block', frame: encode.block(rawCid, leaf), msg: { type: 'block', cid: rawCid, data: leaf }, type: MSG.BLOCK },
      { name: 'block with no bytes (the empty raw block)', frame: encode.block(cidOf(''), new Uint8Array()), msg: { type: 'block', cid: cidOf(''), data: new Uint8Array() }, type: MSG.BLOCK },
      { name: 'block of a CIDv0', frame: encode.block(v0, node), msg: { type: 'block', cid: v0, data: node }, type: MSG.BLOCK },
      { name: 'dont-have', frame: encode.dontHave(rawCid), msg: { type: 'dont-have', cid: rawCid }, type: MSG.DONT_HAVE },
      { name: 'root none', frame: encode.root(pbCid, ROOT_STATUS.NONE), msg: { type: 'root', cid: pbCid, status: ROOT_STATUS.NONE }, type: MSG.ROOT },
      { name: 'root partial', frame: encode.root(pbCid, ROOT_STATUS.PARTIAL), msg: { type: 'root', cid: pbCid, status: ROOT_STATUS.PARTIAL }, type: MSG.ROOT },
      { name: 'root complete', frame: encode.root(pbCid, ROOT_STATUS.COMPLETE), msg: { type: 'root', cid: pbCid, status: ROOT_STATUS.COMPLETE }, type: MSG.ROOT },
      { name: 'root announcing', frame: encode.root(pbCid, ROOT_STATUS.ANNOUNCING), msg: { type: 'root', cid: pbCid, status: ROOT_STATUS.ANNOUNCING }, type: MSG.ROOT },
      { name: 'have', frame: encode.have([rawCid, pbCid]), msg: { type: 'have', cids: [rawCid, pbCid] }, type: MSG.HAVE },
      { name: 'root seeding', frame: encode.root(pbCid, ROOT_STATUS.SEEDING), msg: { type: 'root', cid: pbCid, status: ROOT_STATUS.SEEDING }, type: MSG.ROOT },
      { name: 'fetching', frame: encode.fetching([rawCid, pbCid]), msg: { type: 'fetching', cids: [rawCid, pbCid] }, type: MSG.FETCHING },
      { name: 'choke', frame: encode.choke(), msg: { type: 'choke' }, type: MSG.CHOKE },
      { name: 'unchoke', frame: encode.unchoke(), msg: { type: 'unchoke' }, type: MSG.UNCHOKE },
      { name: 'have MAX_WANTS CIDs', frame: encode.have(many), msg: { type: 'have', cids: many }, type: MSG.HAVE }
    ]
    for (const c of cases) {
      it(c.name, async () => {
        const body = bodyOf(c.frame)
        assert.equal(body[0], c.type, 'type byte')
        assertSameMessage(decodeMessage(body), c.msg)
        // and through the frame reader
        const [read, ...rest] = await readAll(chunks(c.frame))
        assert.equal(rest.length, 0)
        assert.ok(read != null)
        assertSameMessage(decodeMessage(read), c.msg)
      })
    }

    it('has the documented byte layout (a wire-format regression check)', () => {
      // length, type, CID length, CID, status
      assert.deepEqual(encode.root(rawCid, ROOT_STATUS.COMPLETE).subarray(),
        concat([1 + 1 + 36 + 1, MSG.ROOT, 36], rawCid.bytes, [2]))
      // length, type, count, (CID length, CID)*
      assert.deepEqual(encode.want([rawCid, pbCid]).subarray(),
        concat([1 + 1 + 37 + 37, MSG.WANT, 2, 36], rawCid.bytes, [36], pbCid.bytes))
      // a block's bytes run to the end of the frame
      assert.deepEqual(encode.block(rawCid, leaf).subarray(),
        concat([1 + 37 + leaf.length, MSG.BLOCK, 36], rawCid.bytes, leaf))
    })

    it(`carries a block of MAX_BLOCK_SIZE (${MAX_BLOCK_SIZE}) bytes and refuses one byte more`, () => {
      const big = new Uint8Array(MAX_BLOCK_SIZE).fill(7)
      const frame = encode.block(rawCid, big)
      assert.ok(frame.byteLength <= MAX_FRAME + varint.encodingLength(MAX_FRAME))
      const msg = decodeMessage(bodyOf(frame))
      assert.equal(msg.type, 'block')
      assert.equal(msg.type === 'block' ? msg.data.length : -1, MAX_BLOCK_SIZE)
      const over = concat([MSG.BLOCK], cidField(rawCid.bytes), new Uint8Array(MAX_BLOCK_SIZE + 1))
      assert.throws(() => decodeMessage(over), protocolError(/size limit/))
    })

    it('refuses to encode an empty list or more than MAX_WANTS CIDs', () => {
      assert.throws(() => encode.want([]), protocolError(/1 to 256/))
      assert.throws(() => encode.cancel([]), protocolError())
      assert.throws(() => encode.want([...many, rawCid]), protocolError(/not 257/))
      assert.throws(() => encode.cancel([...many, rawCid]), protocolError())
    })
  })

  describe('decoding rejects', () => {
    it('an empty frame and unknown message types', () => {
      assert.throws(() => decodeMessage(new Uint8Array()), protocolError(/ends early/))
      const known = new Set<number>(Object.values(MSG))
      for (let t = 0; t < 256; t++) {
        if (known.has(t)) continue
        assert.throws(() => decodeMessage(concat([t], cidField(rawCid.bytes))), protocolError(/unknown message type/), `type 0x${t.toString(16)}`)
      }
    })

    it('every truncation of a message (for a block: up to the end of its CID)', () => {
      const frames = [
        encode.want([rawCid, pbCid, v0]), encode.cancel([pbCid]), encode.status(rawCid),
        encode.dontHave(v0), encode.root(pbCid, ROOT_STATUS.PARTIAL)
      ]
      for (const f of frames) {
        const body = bodyOf(f)
        for (let n = 0; n < body.length; n++) {
          assert.throws(() => decodeMessage(body.subarray(0, n)), protocolError(), `type 0x${(body[0] as number).toString(16)} cut to ${n} of ${body.length}`)
        }
      }
      // a block's data is delimited by the frame, so only its header can be cut short
      const block = bodyOf(encode.block(rawCid, leaf))
      for (let n = 0; n < 1 + 1 + rawCid.bytes.length; n++) {
        assert.throws(() => decodeMessage(block.subarray(0, n)), protocolError(), `block cut to ${n}`)
      }
    })

    it(`a WANT or CANCEL of 0 or more than MAX_WANTS (${MAX_WANTS}) CIDs`, () => {
      for (const type of [MSG.WANT, MSG.CANCEL]) {
        assert.throws(() => decodeMessage(concat([type, 0])), protocolError(/empty CID list/))
        // the count alone is refused: no CID follows, so nothing was read for it
        assert.throws(() => decodeMessage(concat([type], varint.encode(MAX_WANTS + 1))), protocolError(/257 over its limit 256/))
        assert.throws(() => decodeMessage(concat([type], varint.encode(2 ** 40))), protocolError(/over its limit/))
        // a count larger than the CIDs present
        assert.throws(() => decodeMessage(concat([type, 2], cidField(rawCid.bytes))), protocolError())
      }
    })

    it(`a CID longer than MAX_CID_BYTES (${MAX_CID_BYTES}), from its length alone`, () => {
      const long = CID.createV1(raw.code, Digest.create(0x00, new Uint8Array(200).fill(1)))
      assert.ok(long.bytes.length > MAX_CID_BYTES)
      for (const frame of [encode.status(long), encode.want([long]), encode.dontHave(long), encode.block(long, new Uint8Array(200).fill(1)), encode.root(long, ROOT_STATUS.NONE)]) {
        assert.throws(() => decodeMessage(bodyOf(frame)), protocolError(new RegExp(`over its limit ${MAX_CID_BYTES}`)))
      }
      // the declared length is checked before the bytes: a header with no CID after it
      assert.throws(() => decodeMessage(concat([MSG.STATUS], varint.encode(MAX_CID_BYTES + 1))), protocolError(new RegExp(`over its limit ${MAX_CID_BYTES}`)))
      // the longest accepted CID, of exactly MAX_CID_BYTES: an identity CID of the longest digest
      const edge = CID.createV1(raw.code, Digest.create(0x00, new Uint8Array(MAX_IDENTITY_DIGEST).fill(2)))
      assert.equal(edge.bytes.length, MAX_CID_BYTES)
      assertSameMessage(decodeMessage(bodyOf(encode.status(edge))), { type: 'status', cid: edge })
    })

    it('a malformed CID', () => {
      const bad: Array<[string, Uint8Array]> = [
        ['empty', new Uint8Array()],
        ['digest cut short', rawCid.bytes.subarray(0, 20)],
        ['digest longer than declared', concat(rawCid.bytes, [0])],
        ['version 2', concat([2], rawCid.bytes.subarray(1))],
        ['codec as a two-byte varint', concat([1, 0xd5, 0x00], rawCid.bytes.subarray(2))],
        ['not a CID', new TextEncoder().encode('not a cid at all, no')]
      ]
      for (const [what, bytes] of bad) {
        for (const type of [MSG.STATUS, MSG.DONT_HAVE, MSG.WANT]) {
          const body = type === MSG.WANT ? concat([type, 1], cidField(bytes)) : concat([type], cidField(bytes))
          assert.throws(() => decodeMessage(body), protocolError(/malformed or unsupported CID/), `${what} in type ${type}`)
        }
      }
    })

    it('a CID written with an explicit version byte 0 (not a binary CID: it would be read as another CID)', () => {
      // multiformats reads <0x00><codec><multihash> as the CIDv0 (dag-pb) of that multihash,
      // whatever the codec: the decoded CID is not the one on the wire
      const digest = rawCid.multihash.bytes
      for (const codec of [raw.code, dagPb.code]) {
        const bytes = concat([0x00, codec], digest)
        assert.throws(() => decodeMessage(concat([MSG.STATUS], cidField(bytes))), protocolError(/malformed or unsupported CID/), `version 0, codec 0x${codec.toString(16)}`)
      }
    })

    it('a varint over 2^53 (a ProtocolError, not a RangeError)', () => {
      // an 8-byte varint worth 81 * 2^49: past Number.MAX_SAFE_INTEGER
      const huge = [0x94, 0xd7, 0x90, 0x92, 0xcc, 0xb5, 0x99, 0x51]
      assert.ok(varint.decode(Uint8Array.from(huge)) > Number.MAX_SAFE_INTEGER)
      assert.throws(() => decodeMessage(concat([MSG.STATUS], huge)), protocolError(/over its limit|bad varint/))
      assert.throws(() => decodeMessage(concat([MSG.WANT], huge)), protocolError(/over its limit|bad varint/))
    })

    it('a CID of an unsupported codec or hash (dag-cbor, sha2-512)', () => {
      for (const cid of [cbor, sha512]) {
        assert.throws(() => decodeMessage(bodyOf(encode.status(cid))), protocolError(/malformed or unsupported CID/), cid.toString())
        assert.throws(() => decodeMessage(bodyOf(encode.want([rawCid, cid]))), protocolError(/malformed or unsupported CID/))
        assert.throws(() => decodeMessage(bodyOf(encode.block(cid, leaf))), protocolError(/malformed or unsupported CID/))
      }
    })

    it('trailing bytes after a message', () => {
      const frames = [
        encode.want([rawCid]), encode.cancel([rawCid]), encode.status(rawCid),
        encode.dontHave(rawCid), encode.root(rawCid, ROOT_STATUS.COMPLETE)
      ]
      for (const f of frames) {
        assert.throws(() => decodeMessage(concat(bodyOf(f), [0])), protocolError(/trailing bytes/))
        assert.throws(() => decodeMessage(concat(bodyOf(f), rawCid.bytes)), protocolError(/trailing bytes/))
      }
    })

    it('an unknown root status', () => {
      for (const status of [5, 0x7f, 0x80, 0xff]) {
        assert.throws(() => decodeMessage(concat([MSG.ROOT], cidField(rawCid.bytes), [status])), protocolError(/unknown root status/))
      }
    })

    it('non-minimal varints (one message, one encoding)', () => {
      // a count of 1 written in two bytes
      assert.throws(() => decodeMessage(concat([MSG.WANT, 0x81, 0x00], cidField(rawCid.bytes))), protocolError())
      // a CID length of 36 written in two bytes
      assert.throws(() => decodeMessage(concat([MSG.STATUS, 0xa4, 0x00], rawCid.bytes)), protocolError())
    })

    it('random bytes: a ProtocolError or a message that re-encodes to the same bytes, nothing else', () => {
      const rand = prng(0x5eed)
      const valid = [encode.want([rawCid, pbCid]), encode.status(v0), encode.root(pbCid, 1), encode.block(rawCid, leaf), encode.dontHave(rawCid)].map(bodyOf)
      const wrong = new Map<string, string>() // kind of failure -> first input showing it
      for (let i = 0; i < 3000; i++) {
        let body: Uint8Array
        if (i % 2 === 0) {
          // a valid body with a byte or two changed
          body = Uint8Array.from(valid[i % valid.length] as Uint8Array)
          const r = rand(4)
          const at = (r[0] as number) % body.length
          body[at] = (body[at] as number) ^ ((r[1] as number) | 1)
          if (i % 4 === 0) body[(r[2] as number) % body.length] = r[3] as number
        } else {
          // a known type byte and random fields
          const r = rand(1 + ((i * 7) % 90))
          r[0] = [MSG.WANT, MSG.CANCEL, MSG.STATUS, MSG.BLOCK, MSG.DONT_HAVE, MSG.ROOT][i % 6] as number
          body = r
        }
        const input = Buffer.from(body).toString('hex')
        let msg: Message
        try {
          msg = decodeMessage(body)
        } catch (err) {
          const e = err as Error
          const kind = `${e.name}: ${e.message}`
          if (e.name !== 'ProtocolError' && !wrong.has(kind)) wrong.set(kind, input)
          continue
        }
        const kind = 'accepted a non-canonical encoding'
        if (Buffer.from(reencode(msg)).toString('hex') !== input && !wrong.has(kind)) wrong.set(kind, input)
      }
      assert.deepEqual(Object.fromEntries(wrong), {})
    })
  })

  describe('readFrames', () => {
    const frames = [
      encode.want([rawCid, pbCid]), encode.status(v0), encode.block(rawCid, leaf),
      encode.block(pbCid, node), encode.dontHave(rawCid), encode.root(pbCid, ROOT_STATUS.COMPLETE),
      encode.cancel([rawCid])
    ]
    const stream = concat(...frames.map(f => f.subarray()))
    const expected = frames.map(f => Buffer.from(bodyOf(f)).toString('hex'))
    const hex = (bodies: Uint8Array[]): string[] => bodies.map(b => Buffer.from(b).toString('hex'))

    it('reads frames split into single bytes', async () => {
      const bytes = Array.from(stream, b => Uint8Array.of(b))
      assert.deepEqual(hex(await readAll(chunks(...bytes))), expected)
    })

    it('reads frames split at random points, as Uint8Arrays and Uint8ArrayLists', async () => {
      const rand = prng(42)
      for (let round = 0; round < 50; round++) {
        const parts: Array<Uint8Array | Uint8ArrayList> = []
        for (let at = 0; at < stream.length;) {
          const n = 1 + ((rand(1)[0] as number) % 40)
          const piece = stream.subarray(at, at + n)
          parts.push(round % 2 === 0 ? piece : new Uint8ArrayList(piece.subarray(0, 1), piece.subarray(1)))
          at += n
        }
        assert.deepEqual(hex(await readAll(chunks(...parts))), expected, `round ${round}`)
      }
    })

    it('reads many frames from one chunk', async () => {
      const hundred = concat(...Array.from({ length: 100 }, () => stream))
      const bodies = await readAll(chunks(hundred))
      assert.equal(bodies.length, 100 * frames.length)
      assert.deepEqual(hex(bodies.slice(0, frames.length)), expected)
      assert.deepEqual(hex(bodies.slice(-frames.length)), expected)
    })

    it('yields a frame as soon as it is complete, before the stream goes on', async () => {
      const first = frames[0]?.subarray() as Uint8Array
      const seen: string[] = []
      let bodiesSoFar = 0
      const source = (async function * () {
        yield first
        // by now the first frame must have been handed out
        seen.push(`at pull: ${bodiesSoFar}`)
        yield frames[1]?.subarray() as Uint8Array
      })()
      for await (const _ of readFrames(source)) bodiesSoFar++
      assert.deepEqual(seen, ['at pull: 1'])
      assert.equal(bodiesSoFar, 2)
    })

    it('reads an empty stream and a zero-length frame', async () => {
      assert.deepEqual(await readAll(chunks()), [])
      const [empty] = await readAll(chunks(Uint8Array.of(0)))
      assert.equal(empty?.length, 0)
      assert.throws(() => decodeMessage(empty as Uint8Array), protocolError(/ends early/))
    })

    it(`refuses a declared length over MAX_FRAME (${MAX_FRAME}) before reading the body`, async () => {
      let pulledAfterHeader = false
      const source = (async function * () {
        yield varint.encode(MAX_FRAME + 1)
        pulledAfterHeader = true
        yield new Uint8Array(MAX_FRAME + 1)
      })()
      await assert.rejects(readAll(source), protocolError(new RegExp(`${MAX_FRAME + 1} bytes over the ${MAX_FRAME} limit`)))
      assert.equal(pulledAfterHeader, false, 'nothing after the length was read')
      // a huge declared length, split across chunks
      const huge = varint.encode(2 ** 50)
      await assert.rejects(readAll(chunks(huge.subarray(0, 3), huge.subarray(3))), protocolError(/over the .* limit/))
    })

    it('accepts a frame of exactly MAX_FRAME bytes', async () => {
      const body = concat([MSG.BLOCK], cidField(rawCid.bytes), new Uint8Array(MAX_FRAME - 2 - rawCid.bytes.length))
      assert.equal(body.length, MAX_FRAME)
      const [read] = await readAll(chunks(framed(body)))
      assert.equal(read?.length, MAX_FRAME)
    })

    it('refuses a frame length that never ends', async () => {
      await assert.rejects(readAll(chunks(new Uint8Array(10).fill(0xff))), protocolError(/bad frame length|over the/))
    })

    it('refuses a stream that ends inside a frame or its length', async () => {
      const whole = frames[2]?.subarray() as Uint8Array
      await assert.rejects(readAll(chunks(whole.subarray(0, whole.length - 1))), protocolError(/ended inside a frame/))
      await assert.rejects(readAll(chunks(stream, Uint8Array.of(0x80))), protocolError(/ended inside a frame/))
    })
  })
})
