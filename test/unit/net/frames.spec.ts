/**
 * The one frame codec of peerd's stream protocols (`src/net/frames.ts`): written frames read
 * back whole however the stream is cut, a declared length over the limit is refused before any
 * of its body is pulled, and every failure is a typed ProtocolError, the class the block
 * exchange, chain sync and peer list errors extend (their servers penalize by it).
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import * as varint from 'uint8-varint'
import { Uint8ArrayList } from 'uint8arraylist'
import { ChainProtocolError } from '../../../src/cash/sync/protocol.ts'
import {
  encodeFrame, encodeFrameList, FrameTooLargeError, MalformedFrameError, ProtocolError, readFrameLists, readFrames
} from '../../../src/net/frames.ts'
import { PeerListError } from '../../../src/net/peer-list.ts'
import { ProtocolError as ShareProtocolError } from '../../../src/share/protocol.ts'

async function * chunks (...parts: Array<Uint8Array | Uint8ArrayList>): AsyncGenerator<Uint8Array | Uint8ArrayList> {
  yield * parts
}

async function readAll (source: AsyncIterable<Uint8Array | Uint8ArrayList>, max = 1024): Promise<number[][]> {
  const out: number[][] = []
  for await (const body of readFrames(source, max)) out.push([...body])
  return out
}

describe('net: length-prefixed frames', () => {
  it('writes a varint length, then the parts', () => {
    assert.deepEqual([...encodeFrame(Uint8Array.of(1), Uint8Array.of(2, 3))], [3, 1, 2, 3])
    assert.deepEqual([...encodeFrame()], [0])
    const big = new Uint8Array(300).fill(9)
    assert.deepEqual([...encodeFrame(big).subarray(0, 2)], [...varint.encode(300)])
  })

  it('a frame as a list references its parts, not copies', () => {
    const block = new Uint8Array(1000).fill(7)
    const list = encodeFrameList(Uint8Array.of(0x81), block)
    assert.equal(list.byteLength, 2 + 1 + 1000)
    assert.ok([...list].includes(block), 'the block is one of the chunks')
  })

  it('reads frames back cut at every byte and as lists', async () => {
    const stream = new Uint8ArrayList(encodeFrame(Uint8Array.of(1, 2)), encodeFrame(), encodeFrame(new Uint8Array(200).fill(5))).subarray()
    const expected = [[1, 2], [], Array<number>(200).fill(5)]
    assert.deepEqual(await readAll(chunks(stream)), expected)
    assert.deepEqual(await readAll(chunks(...Array.from(stream, b => Uint8Array.of(b)))), expected)
    const lists: number[][] = []
    for await (const l of readFrameLists(chunks(new Uint8ArrayList(stream.subarray(0, 5), stream.subarray(5))), 1024)) lists.push([...l.subarray()])
    assert.deepEqual(lists, expected)
  })

  it('refuses a declared length over the limit before pulling its body', async () => {
    let pulledBody = false
    const source = (async function * () {
      yield varint.encode(2 ** 32)
      pulledBody = true
      yield new Uint8Array(16)
    })()
    const err = await readAll(source).catch((e: unknown) => e)
    assert.ok(err instanceof FrameTooLargeError, String(err))
    assert.ok(err instanceof ProtocolError)
    assert.match(err.message, /prefix longer than 2 bytes, over the 1024 limit/)
    assert.equal(pulledBody, false)
    // exactly the limit is accepted; one more, in a prefix of the limit's length, is refused with its value
    assert.equal((await readAll(chunks(encodeFrame(new Uint8Array(1024))))).length, 1)
    await assert.rejects(readAll(chunks(varint.encode(1025))), { name: 'FrameTooLargeError', message: /frame of 1025 bytes over the 1024 limit/ })
  })

  it('refuses a length prefix that is not minimally encoded, cut anywhere', async () => {
    for (const padded of [[0x80, 0x00], [0x80, 0x80, 0x80, 0x00], [0x81, 0x00, 0x01], [0xff, 0x80, 0x00]]) {
      const stream = Uint8Array.from([...padded, ...new Uint8Array(300)])
      await assert.rejects(readAll(chunks(stream), 2 ** 30), MalformedFrameError, String(padded))
      await assert.rejects(readAll(chunks(...Array.from(stream, b => Uint8Array.of(b))), 2 ** 30), MalformedFrameError, String(padded))
    }
    // a one-byte zero is the minimal encoding of 0; 0x80 0x01 is 128
    assert.deepEqual(await readAll(chunks(Uint8Array.of(0x00))), [[]])
    assert.equal((await readAll(chunks(Uint8Array.from([0x80, 0x01, ...new Uint8Array(128)]))))[0]?.length, 128)
  })

  it('refuses a length that is not a varint, and a stream ending inside a frame', async () => {
    await assert.rejects(readAll(chunks(new Uint8Array(10).fill(0xff)), 2 ** 40), FrameTooLargeError)
    await assert.rejects(readAll(chunks(Uint8Array.of(0xff, 0xff))), MalformedFrameError)
    await assert.rejects(readAll(chunks(encodeFrame(Uint8Array.of(1, 2)).subarray(0, 2))), { name: 'MalformedFrameError', message: /ended inside a frame/ })
    await assert.rejects(readAll(chunks(Uint8Array.of(0x80))), MalformedFrameError)
  })

  it('the protocols built on it throw ProtocolErrors too', () => {
    assert.ok(new ChainProtocolError('x') instanceof ProtocolError)
    assert.ok(new PeerListError('x') instanceof ProtocolError)
    assert.equal(ShareProtocolError, ProtocolError)
  })
})
