/**
 * Decryption of incoming Noise frames without joining them into one buffer first, and outgoing
 * frames written as one buffer each.
 *
 * A Noise frame on the wire is 2 + up to 65,535 bytes, and Node.js reads a TCP socket 64 KiB at
 * a time, so almost every frame of a bulk transfer arrives split across two reads.
 * `@chainsafe/libp2p-noise` 17 then passes the split frame (a list of chunks) to the cipher, but
 * first also computes `dst = chunk.subarray(…)`, a scratch buffer its WebAssembly cipher may
 * decrypt into: for a list that joins the chunks, copying every byte received and making as much
 * garbage (a downloading daemon's CPU profile shows it: `node bench/share/profile.ts --cpu-prof
 * DIR`). Node.js's cipher (the one peerd uses for frames of 1200 bytes and more) never writes
 * into `dst`.
 *
 * {@link withFrameDecrypt} replaces the `decrypt` method of Noise's encrypted stream with the same
 * loop, asking for `dst` only when the frame is one buffer (where it is a view, not a copy). It
 * touches that stream's internals (`decrypt`, `handshake`, `metrics`), so it checks their shape
 * first and leaves the stream untouched when they differ: a later Noise release then still
 * works, only without the saving (a test notices).
 *
 * {@link patchEncrypt} replaces its `encrypt`: Noise 17 returns each frame as a list (2-byte
 * length, then the cipher's pieces: a Yamux header's, the data's, the tag), and `@libp2p/tcp`
 * makes one socket write per piece, so a relay's profile spent a quarter of its time in
 * `writeBuffer`, mostly for 2- and 16-byte writes. The same frames are copied into one buffer
 * (one memcpy per frame is far cheaper than a system call per piece).
 */
import type { ConnectionEncrypter, MessageStream, SecuredConnection } from '@libp2p/interface'
import { Uint8ArrayList } from 'uint8arraylist'

/** Noise's largest frame (its NOISE_MSG_MAX_LENGTH_BYTES) and tag length. */
const MAX_FRAME = 65535
const TAG_LENGTH = 16
/** Frames below this size go to the WebAssembly cipher (see noise-crypto.ts). */
const SMALL = 1200

type Chunk = Uint8Array | Uint8ArrayList

/** The parts of `@chainsafe/libp2p-noise`'s EncryptedMessageStream this module relies on. */
interface NoiseStreamInternals {
  decoder?: { lengthDecoder?: (data: Chunk) => number }
  decrypt: (chunk: Chunk) => Uint8ArrayList
  encrypt: (chunk: Chunk) => Uint8ArrayList
  handshake: { decrypt: (ciphertext: Chunk, dst?: Uint8Array) => Chunk, encrypt: (plaintext: Chunk) => Chunk }
  metrics?: { decryptedPackets: { increment: () => void }, decryptErrors: { increment: () => void }, encryptedPackets: { increment: () => void } }
}

function isNoiseStream (s: unknown): s is NoiseStreamInternals {
  const v = s as Partial<NoiseStreamInternals> | null
  return v != null && typeof v.decrypt === 'function' && typeof v.encrypt === 'function' && v.handshake != null &&
    typeof v.handshake.decrypt === 'function' && typeof v.handshake.encrypt === 'function'
}

/** Marks a stream whose `decrypt` was replaced (read by tests). */
export const FRAME_DECRYPT = Symbol.for('peerd.noise.frameDecrypt')
/** Marks a stream whose `encrypt` was replaced (read by tests). */
export const FRAME_ENCRYPT = Symbol.for('peerd.noise.frameEncrypt')
/** Noise's most plaintext bytes in one frame. */
const MAX_PLAINTEXT = MAX_FRAME - TAG_LENGTH

/** Thrown by {@link frameLength} when the length prefix is not all there (the decoder then waits for more). */
const NEED_MORE = new RangeError('Could not decode int16BE')

/**
 * A frame's 2-byte length prefix, as Noise's `uint16BEDecode`, but signalling "not all there
 * yet" (how the decoder ends nearly every read) with one preallocated RangeError: Noise's own
 * builds a new one, stack trace and all, per read, which a relay's profile shows costing about
 * as much as its AES.
 */
function frameLength (data: Chunk): number {
  if (data.byteLength < 2) throw NEED_MORE
  return data instanceof Uint8Array ? ((data[0] as number) << 8) | (data[1] as number) : ((data.get(0) << 8) | data.get(1))
}

/**
 * Gives a stream made by `@chainsafe/libp2p-noise` the copy-free `decrypt` described above, and
 * a length decoder that builds no error per read ({@link frameLength});
 * returns whether it did.
 */
export function patchDecrypt (connection: MessageStream): boolean {
  const s: unknown = connection
  if (!isNoiseStream(s)) return false
  s.decrypt = function (this: NoiseStreamInternals, chunk: Chunk): Uint8ArrayList {
    const output = new Uint8ArrayList()
    for (let i = 0; i < chunk.byteLength; i += MAX_FRAME) {
      const end = Math.min(i + MAX_FRAME, chunk.byteLength)
      if (end - TAG_LENGTH < i) throw new Error('Invalid chunk')
      let plaintext: Chunk
      try {
        // small frames go to the WebAssembly cipher, which decrypts into dst: a small copy then
        plaintext = chunk instanceof Uint8Array || end - i < SMALL
          ? this.handshake.decrypt(chunk.subarray(i, end), chunk.subarray(i, end - TAG_LENGTH))
          : this.handshake.decrypt(chunk.sublist(i, end))
        this.metrics?.decryptedPackets.increment()
      } catch (err) {
        this.metrics?.decryptErrors.increment()
        throw err
      }
      output.append(plaintext)
    }
    return output
  }
  if (typeof s.decoder?.lengthDecoder === 'function') s.decoder.lengthDecoder = frameLength
  Object.defineProperty(s, FRAME_DECRYPT, { value: true })
  return true
}

/**
 * Gives a stream made by `@chainsafe/libp2p-noise` an `encrypt` that returns all the frames of
 * one send (length prefix and ciphertext each, as Noise's own) in one buffer; returns whether it did.
 */
export function patchEncrypt (connection: MessageStream): boolean {
  const s: unknown = connection
  if (!isNoiseStream(s)) return false
  s.encrypt = function (this: NoiseStreamInternals, chunk: Chunk): Uint8ArrayList {
    const frames = Math.ceil(chunk.byteLength / MAX_PLAINTEXT)
    const out = Buffer.allocUnsafe(chunk.byteLength + frames * (2 + TAG_LENGTH))
    let at = 0
    for (let i = 0; i < chunk.byteLength; i += MAX_PLAINTEXT) {
      const end = Math.min(i + MAX_PLAINTEXT, chunk.byteLength)
      const data = this.handshake.encrypt(chunk instanceof Uint8Array ? chunk.subarray(i, end) : chunk.sublist(i, end))
      this.metrics?.encryptedPackets.increment()
      out.writeUInt16BE(data.byteLength, at)
      at += 2
      if (data instanceof Uint8Array) {
        out.set(data, at)
        at += data.byteLength
      } else {
        for (const piece of data) { out.set(piece, at); at += piece.byteLength }
      }
    }
    return new Uint8ArrayList(at === out.byteLength ? out : out.subarray(0, at))
  }
  Object.defineProperty(s, FRAME_ENCRYPT, { value: true })
  return true
}

/** Wraps a Noise connection encrypter so every stream it secures gets {@link patchDecrypt} and {@link patchEncrypt}. */
export function withFrameDecrypt<E> (encrypter: ConnectionEncrypter<E>): ConnectionEncrypter<E> {
  const patch = (secured: SecuredConnection<E>): SecuredConnection<E> => {
    patchDecrypt(secured.connection)
    patchEncrypt(secured.connection)
    return secured
  }
  const inbound = encrypter.secureInbound.bind(encrypter)
  const outbound = encrypter.secureOutbound.bind(encrypter)
  encrypter.secureInbound = async (connection, options) => patch(await inbound(connection, options))
  encrypter.secureOutbound = async (connection, options) => patch(await outbound(connection, options))
  return encrypter
}
