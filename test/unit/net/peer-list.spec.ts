/** The peer list protocol's codec: round trips, and every limit refused before it is trusted. */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import * as varint from 'uint8-varint'
import { decodePeerList, encodePeerList, MAX_LISTED_PEERS, peerListProtocol } from '../../../src/net/peer-list.ts'

async function ids (n: number): Promise<string[]> {
  return await Promise.all(Array.from({ length: n }, async () => peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()))
}

/** The body of an encoded frame (the frame length stripped). */
function body (frame: Uint8Array): Uint8Array {
  return frame.subarray(varint.encodingLength(varint.decode(frame)))
}

describe('peer list codec', () => {
  it('names the protocol after the network', () => {
    assert.equal(peerListProtocol('regtest'), '/peerd/regtest/peers/1.0.0')
  })

  it('round-trips peer ids, and an empty list', async () => {
    const list = await ids(5)
    assert.deepEqual(decodePeerList(body(encodePeerList(list))), list)
    assert.deepEqual(decodePeerList(body(encodePeerList([]))), [])
  })

  it('keeps at most MAX_LISTED_PEERS when encoding', async () => {
    const list = await ids(MAX_LISTED_PEERS + 3)
    assert.equal(decodePeerList(body(encodePeerList(list))).length, MAX_LISTED_PEERS)
  })

  it('refuses a count over the limit, a bad id, a short body and trailing bytes', async () => {
    assert.throws(() => decodePeerList(varint.encode(MAX_LISTED_PEERS + 1)), /over the 64 limit/)
    const junk = new TextEncoder().encode('not-a-peer-id')
    assert.throws(() => decodePeerList(Uint8Array.from([1, junk.length, ...junk])), /not a peer id/)
    assert.throws(() => decodePeerList(Uint8Array.from([1, 52, 1, 2, 3])), /bad peer id length/)
    assert.throws(() => decodePeerList(Uint8Array.from([1, 100])), /bad peer id length/)
    const good = body(encodePeerList(await ids(1)))
    assert.throws(() => decodePeerList(Uint8Array.from([...good, 0])), /trailing/)
  })
})
