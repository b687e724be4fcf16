/**
 * Length-prefixed frames, the framing of peerd's own stream protocols (block exchange, chain
 * sync, peer list): an unsigned varint length, then that many bytes. The reader checks a
 * declared length against the caller's limit before it buffers any of the body, and never
 * holds more than one frame.
 *
 * ```ts
 * stream.send(encodeFrame(Uint8Array.of(0x01), payload))
 * for await (const body of readFrames(stream, MAX_FRAME)) handle(body)
 * ```
 * @module
 */
import * as varint from 'uint8-varint'
import { Uint8ArrayList } from 'uint8arraylist'
import { PeerdError } from '../errors.ts'

/** A peer broke a protocol: its framing or a message. Each protocol's own errors extend it. */
export class ProtocolError extends PeerdError {
  static override name = 'ProtocolError'
}

/** A frame declared a length over the reader's limit (refused before its body is read). */
export class FrameTooLargeError extends ProtocolError {
  static override name = 'FrameTooLargeError'
}

/** A frame's length is not a minimal varint, or the stream ended inside a frame. */
export class MalformedFrameError extends ProtocolError {
  static override name = 'MalformedFrameError'
}

/** One frame of `parts` as chunks, without copying them (a block's bytes stay where they are). */
export function encodeFrameList (...parts: Uint8Array[]): Uint8ArrayList {
  const len = parts.reduce((n, p) => n + p.length, 0)
  return new Uint8ArrayList(varint.encode(len), ...parts)
}

/** One frame of `parts`, copied into one buffer. */
export function encodeFrame (...parts: Uint8Array[]): Uint8Array {
  return encodeFrameList(...parts).subarray()
}

/**
 * Splits a byte stream into frame bodies (without their lengths), each as one buffer. A
 * declared length over `maxFrame` fails with {@link FrameTooLargeError} before any of it is read,
 * as does a length prefix longer than `maxFrame`'s own; a length that is not minimally encoded
 * (the unsigned-varint rule) fails with {@link MalformedFrameError}.
 */
export async function * readFrames (source: AsyncIterable<Uint8Array | Uint8ArrayList>, maxFrame: number): AsyncGenerator<Uint8Array> {
  for await (const body of readFrameLists(source, maxFrame)) yield body.subarray()
}

/** {@link readFrames}, yielding each body as the chunks it arrived in (no copy). */
export async function * readFrameLists (source: AsyncIterable<Uint8Array | Uint8ArrayList>, maxFrame: number): AsyncGenerator<Uint8ArrayList> {
  const maxHead = varint.encodingLength(maxFrame)
  const buf = new Uint8ArrayList()
  for await (const chunk of source) {
    buf.append(chunk)
    while (buf.byteLength > 0) {
      const prefix = readLength(buf, maxFrame, maxHead)
      if (prefix == null) break // the varint itself is split across chunks
      const [len, head] = prefix
      if (buf.byteLength < head + len) break
      const body = buf.sublist(head, head + len)
      buf.consume(head + len)
      yield body
    }
  }
  if (buf.byteLength > 0) throw new MalformedFrameError('stream ended inside a frame')
}

/**
 * The frame length at the start of `buf` and its size in bytes, or undefined while its last byte
 * has not arrived. Decoded here rather than by `uint8-varint`, which accepts padded encodings
 * (0x80 0x00 for 0): one frame would then have many encodings, and a padded prefix up to ten bytes.
 */
function readLength (buf: Uint8ArrayList, maxFrame: number, maxHead: number): [number, number] | undefined {
  let len = 0
  for (let i = 0; i < buf.byteLength; i++) {
    if (i === maxHead) throw new FrameTooLargeError(`frame length prefix longer than ${maxHead} bytes, over the ${maxFrame} limit`)
    const b = buf.get(i)
    len += (b & 0x7f) * 2 ** (7 * i)
    if ((b & 0x80) !== 0) continue
    if (b === 0 && i > 0) throw new MalformedFrameError('frame length is not minimally encoded')
    if (len > maxFrame) throw new FrameTooLargeError(`frame of ${len} bytes over the ${maxFrame} limit`)
    return [len, i + 1]
  }
  return undefined
}
