/**
 * peerd's Noise decrypts incoming frames chunk by chunk (src/net/noise-frames.ts): checked on a
 * real Noise XX handshake between two peers over an in-memory connection pair, with messages of
 * every size class crossing in both directions.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { describe, it } from 'node:test'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { MessageStream, Upgrader } from '@libp2p/interface'
import { defaultLogger } from '@libp2p/logger'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { multiaddrConnectionPair } from '@libp2p/utils'
import { Uint8ArrayList } from 'uint8arraylist'
import { FRAME_DECRYPT, patchDecrypt } from '../../../src/net/noise-frames.ts'
import { peerdNoise } from '../../../src/net/transport.ts'

async function peer (): Promise<ReturnType<ReturnType<typeof peerdNoise>>> {
  const privateKey = await generateKeyPair('Ed25519')
  const upgrader = { getStreamMuxers: () => new Map() } as unknown as Upgrader
  return peerdNoise()({ privateKey, peerId: peerIdFromPrivateKey(privateKey), logger: defaultLogger(), upgrader })
}

/** Collects what `stream` receives until `bytes` have arrived. */
function receive (stream: MessageStream, bytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const got = new Uint8ArrayList()
    stream.addEventListener('message', evt => {
      got.append(evt.data)
      if (got.byteLength >= bytes) resolve(Buffer.from(got.subarray()))
    })
    stream.addEventListener('close', evt => { if (got.byteLength < bytes) reject(evt.error ?? new Error('closed early')) })
  })
}

describe('noise frames (chunk-by-chunk decryption)', () => {
  it('secures both ends with the copy-free decrypt and carries every size of message intact, both ways', async () => {
    const [a, b] = await Promise.all([peer(), peer()])
    const [outConn, inConn] = multiaddrConnectionPair()
    const [out, inb] = await Promise.all([
      a.secureOutbound(outConn, { skipStreamMuxerNegotiation: true }),
      b.secureInbound(inConn, { skipStreamMuxerNegotiation: true })
    ])
    assert.equal((out.connection as unknown as Record<symbol, unknown>)[FRAME_DECRYPT], true, 'outbound patched: a Noise upgrade changed its internals?')
    assert.equal((inb.connection as unknown as Record<symbol, unknown>)[FRAME_DECRYPT], true, 'inbound patched')

    // below the WebAssembly threshold, one frame, exactly a frame, several frames (split on the wire)
    const sizes = [1, 1199, 1200, 65519, 65520, 3 * 1024 * 1024 + 7]
    const messages = sizes.map(n => randomBytes(n))
    const total = sizes.reduce((x, y) => x + y, 0)
    const atB = receive(inb.connection, total)
    const atA = receive(out.connection, total)
    for (const m of messages) {
      // half the messages as lists of uneven pieces, as a muxer hands them over
      const data = m.length % 2 === 0 ? m : new Uint8ArrayList(m.subarray(0, m.length >> 1), m.subarray(m.length >> 1))
      out.connection.send(data)
      inb.connection.send(data)
    }
    const expected = Buffer.concat(messages)
    assert.ok((await atB).equals(expected), 'A → B intact')
    assert.ok((await atA).equals(expected), 'B → A intact')
    await out.connection.close()
    await inb.connection.close()
  })

  it('leaves a stream that is not Noise\'s alone', () => {
    const [conn] = multiaddrConnectionPair()
    assert.equal(patchDecrypt(conn), false)
    assert.equal((conn as unknown as Record<symbol, unknown>)[FRAME_DECRYPT], undefined)
  })
})
