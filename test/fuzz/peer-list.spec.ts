/**
 * Fuzzing the peer list answer (`src/net/peer-list.ts`): lists of real peer ids round-trip;
 * mutated and random bodies, and streams of them cut anywhere, decode to peer ids that
 * re-encode to the same bytes, or throw `PeerListError` (`FrameTooLargeError` or `MalformedFrameError` from the frame reader),
 * never another error; a frame length or count claiming gigabytes is refused unread.
 */
import assert from 'node:assert/strict'
import { before, describe, it } from 'node:test'
import { generateKeyPairFromSeed, privateKeyFromRaw } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey, peerIdFromString } from '@libp2p/peer-id'
import fc from 'fast-check'
import { base58btc } from 'multiformats/bases/base58'
import * as Digest from 'multiformats/hashes/digest'
import * as varint from 'uint8-varint'
import { MAX_FRAME, MAX_LISTED_PEERS, decodePeerList, encodePeerList } from '../../src/net/peer-list.ts'
import { readFrames } from '../../src/net/frames.ts'
import { concatBytes, decodeOrTyped, decodeOrTypedAsync, fuzz, fuzzAsync, hostileBytes, splitAt } from '../utils/fuzz.ts'

const TYPED = ['PeerListError']

function body (frame: Uint8Array): Uint8Array {
  return frame.subarray(varint.encodingLength(varint.decode(frame)))
}

async function * chunks (parts: Uint8Array[]): AsyncGenerator<Uint8Array> {
  for (const p of parts) yield p
}

describe('fuzz: peer list', () => {
  let keyed: string[] = []
  before(async () => {
    // fixed keys, so a seed replays the same cases
    const ed = await Promise.all([1, 2, 3].map(async (i) => await generateKeyPairFromSeed('Ed25519', new Uint8Array(32).fill(i))))
    const secp = [4, 5].map(i => privateKeyFromRaw(new Uint8Array(32).fill(i)))
    keyed = [...ed, ...secp].map(k => peerIdFromPrivateKey(k).toString())
  })

  /** Peer ids: Ed25519 and secp256k1 ones from real keys, and RSA-style sha2-256 ones (`Qm…`). */
  const peerId = (): fc.Arbitrary<string> => fc.oneof(
    fc.constantFrom(...keyed),
    fc.uint8Array({ minLength: 32, maxLength: 32 }).map(d => base58btc.encode(Digest.create(0x12, d).bytes).slice(1))
  )
  const list = (): fc.Arbitrary<string[]> => fc.array(peerId(), { maxLength: MAX_LISTED_PEERS })

  it('round-trips lists of peer ids', () => {
    fuzz(list(), (ids) => { assert.deepStrictEqual(decodePeerList(body(encodePeerList(ids))), ids) }, 0.5)
  })

  it('decodes mutated and random bodies to ids that re-encode to the same bytes, or throws PeerListError', () => {
    fuzz(hostileBytes(list().map(ids => body(encodePeerList(ids)))), (b) => {
      const ids = decodeOrTyped(() => decodePeerList(b), TYPED)
      if (ids != null) assert.deepStrictEqual(body(encodePeerList(ids)), b)
    })
  })

  it('reads an answer cut into arbitrary chunks, and a mutated one to ids or typed errors', async () => {
    await fuzzAsync(fc.tuple(list(), fc.array(fc.nat(), { maxLength: 8 })), async ([ids, cuts]) => {
      const got: string[][] = []
      for await (const b of readFrames(chunks(splitAt(encodePeerList(ids), cuts)), MAX_FRAME)) got.push(decodePeerList(b))
      assert.deepStrictEqual(got, [ids])
    }, 0.25)
    await fuzzAsync(fc.tuple(hostileBytes(list().map(encodePeerList)), fc.array(fc.nat(), { maxLength: 8 })), async ([bytes, cuts]) => {
      await decodeOrTypedAsync(async () => {
        for await (const b of readFrames(chunks(splitAt(bytes, cuts)), MAX_FRAME)) decodePeerList(b)
      }, [...TYPED, 'FrameTooLargeError', 'MalformedFrameError'])
    }, 0.5)
  })

  it('refuses an id that parses only as another id (found by this target)', () => {
    // 'QmNLei7Bd' 0x80 'H6JR…': the byte decodes to U+FFFD, which base58 read as other digits
    const spelled = new TextEncoder().encode('QmNLei7BdxH6JRKX5oE7zwBYqwRywLiyXhiPEMbQWtj6tX')
    spelled[9] = 0x80
    assert.throws(() => decodePeerList(concatBytes([Uint8Array.of(1, spelled.length), spelled])), { name: 'PeerListError', message: /not a peer id/ })
    // another spelling of a peer id: its CID form
    const qm = base58btc.encode(Digest.create(0x12, new Uint8Array(32).fill(7)).bytes).slice(1)
    const cidForm = new TextEncoder().encode(peerIdFromString(qm).toCID().toString())
    assert.ok(cidForm.length <= 64)
    assert.throws(() => decodePeerList(concatBytes([Uint8Array.of(1, cidForm.length), cidForm])), { name: 'PeerListError' })
  })

  it('refuses a count of 2^53 with PeerListError, not RangeError (found by this target)', () => {
    assert.throws(() => decodePeerList(Uint8Array.from([128, 128, 128, 128, 128, 128, 128, 16])), { name: 'PeerListError' })
  })

  it('refuses a frame or a count of gigabytes unread', async () => {
    const before = process.memoryUsage().arrayBuffers
    await assert.rejects(async () => { for await (const _ of readFrames(chunks([varint.encode(2 ** 32)]), MAX_FRAME)) assert.fail() }, { name: 'FrameTooLargeError' })
    assert.throws(() => decodePeerList(concatBytes([varint.encode(2 ** 32), new Uint8Array(64)])), { name: 'PeerListError' })
    assert.throws(() => decodePeerList(concatBytes([Uint8Array.of(1), varint.encode(2 ** 32), new Uint8Array(64)])), { name: 'PeerListError' })
    assert.ok(process.memoryUsage().arrayBuffers - before < 16 * 1024 * 1024)
  })
})
