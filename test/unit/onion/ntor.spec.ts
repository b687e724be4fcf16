/**
 * The ntor handshake (`src/onion/ntor.ts`): Tor's construction reproduces Tor's published vector
 * byte for byte; peerd's agrees on keys between client and relay; a tampered reply, a wrong relay
 * id or onion key, low-order keys, wrong lengths and a replayed onionskin each give a
 * `HandshakeError`, never a crash and never keys.
 */
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { describe, it } from 'node:test'
import { HandshakeError, HandshakeReplayError } from '../../../src/onion/errors.ts'
import { NTOR_REPLY_BYTES, PEERD_NTOR, TOR_NTOR, ntorClientComplete, ntorClientCreate, ntorKeyPair, ntorRelayId, ntorServerHandshake } from '../../../src/onion/ntor.ts'
import type { NtorRelayKeys } from '../../../src/onion/ntor.ts'
import { RELAY_KEY_MATERIAL_LEN, splitRelayKeys } from '../../../src/onion/relay-crypto.ts'
import { ReplayFilter } from '../../../src/onion/replay.ts'

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s, 'hex'))
const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex')

interface Vector { b: string, B: string, x: string, X: string, y: string, Y: string, id: string, onionskin: string, reply: string, keys: string }
const { vectors } = JSON.parse(readFileSync(new URL('../../vectors/ntor/arti-ntor-v1.json', import.meta.url), 'utf8')) as { vectors: Vector[] }

/** X25519 public keys of small order (and 0, p, p+1, which reduce to them), as libsodium lists them. */
const LOW_ORDER = [
  '0000000000000000000000000000000000000000000000000000000000000000',
  '0100000000000000000000000000000000000000000000000000000000000000',
  'e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800',
  '5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157',
  'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  'edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  'eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f'
].map(hex)

function relay (): NtorRelayKeys {
  return { id: ntorRelayId(Uint8Array.from([8, 1, 18, 32, ...new Uint8Array(32).fill(5)])), onionKeyPair: ntorKeyPair() }
}

function isHandshakeError (err: unknown): boolean {
  return err instanceof HandshakeError && err.name === 'HandshakeError'
}

describe('ntor handshake', () => {
  it('reproduces Tor\'s vector (arti\'s testvec): onionskin, reply and keys', () => {
    assert.ok(vectors.length > 0)
    for (const v of vectors) {
      const kp = ntorKeyPair(hex(v.b))
      assert.equal(toHex(kp.publicKey), v.B)
      const { state, onionskin } = ntorClientCreate(hex(v.id), hex(v.B), { params: TOR_NTOR, ephemeralKey: hex(v.x) })
      assert.equal(toHex(state.publicKey), v.X)
      assert.equal(toHex(onionskin), v.onionskin)
      const server = ntorServerHandshake(onionskin, { id: hex(v.id), onionKeyPair: kp }, { params: TOR_NTOR, ephemeralKey: hex(v.y) })
      assert.equal(toHex(server.reply), v.reply)
      assert.equal(toHex(server.keys), v.keys)
      assert.equal(toHex(ntorClientComplete(state, server.reply)), v.keys)
    }
  })

  it('peerd\'s PROTOID gives other keys than Tor\'s for the same inputs', () => {
    const v = vectors[0] as Vector
    const peerdParams = { ...PEERD_NTOR, idLen: TOR_NTOR.idLen, keyLen: TOR_NTOR.keyLen }
    const { onionskin } = ntorClientCreate(hex(v.id), hex(v.B), { params: peerdParams, ephemeralKey: hex(v.x) })
    const server = ntorServerHandshake(onionskin, { id: hex(v.id), onionKeyPair: ntorKeyPair(hex(v.b)) }, { params: peerdParams, ephemeralKey: hex(v.y) })
    assert.notEqual(toHex(server.reply), v.reply)
    assert.notEqual(toHex(server.keys), v.keys)
  })

  it('client and relay agree on KEY_LEN bytes of keys, fresh for each handshake', () => {
    const r = relay()
    const seen = new Set<string>()
    for (let i = 0; i < 3; i++) {
      const { state, onionskin } = ntorClientCreate(r.id, r.onionKeyPair.publicKey)
      assert.equal(onionskin.length, PEERD_NTOR.idLen + 64)
      const { reply, keys } = ntorServerHandshake(onionskin, r)
      assert.equal(reply.length, NTOR_REPLY_BYTES)
      assert.equal(keys.length, PEERD_NTOR.keyLen)
      assert.deepEqual(ntorClientComplete(state, reply), keys)
      seen.add(toHex(keys))
    }
    assert.equal(seen.size, 3)
  })

  it('peerd\'s KEY_LEN is one hop\'s relay key material (Df | Db | Kf | Kb)', () => {
    assert.equal(PEERD_NTOR.keyLen, RELAY_KEY_MATERIAL_LEN)
    const r = relay()
    const { keys } = ntorServerHandshake(ntorClientCreate(r.id, r.onionKeyPair.publicKey).onionskin, r)
    const split = splitRelayKeys(keys)
    assert.deepEqual([split.df, split.db, split.kf, split.kb].map(k => k.length), [32, 32, 32, 32])
  })

  it('a flipped bit anywhere in the reply → HandshakeError', () => {
    const r = relay()
    const { state, onionskin } = ntorClientCreate(r.id, r.onionKeyPair.publicKey)
    const { reply } = ntorServerHandshake(onionskin, r)
    for (const at of [0, 17, 31, 32, 50, 63]) {
      const bad = Uint8Array.from(reply)
      bad[at] = (bad[at] as number) ^ 0x04
      assert.throws(() => ntorClientComplete(state, bad), isHandshakeError, `bit flipped at byte ${at}`)
    }
  })

  it('a relay refuses an onionskin for another relay id or onion key', () => {
    const r = relay()
    const other = relay()
    const wrongId = ntorClientCreate(ntorRelayId(Uint8Array.of(1, 2, 3)), r.onionKeyPair.publicKey).onionskin
    const wrongKey = ntorClientCreate(r.id, other.onionKeyPair.publicKey).onionskin
    assert.throws(() => ntorServerHandshake(wrongId, r), isHandshakeError)
    assert.throws(() => ntorServerHandshake(wrongKey, r), isHandshakeError)
  })

  it('a client refuses the reply of a relay that does not hold the onion key it named', () => {
    const r = relay()
    const impostor: NtorRelayKeys = { id: r.id, onionKeyPair: ntorKeyPair() }
    const { state, onionskin } = ntorClientCreate(r.id, r.onionKeyPair.publicKey)
    // the impostor answers as if the onionskin named its own key
    const forged = Uint8Array.from(onionskin)
    forged.set(impostor.onionKeyPair.publicKey, r.id.length)
    const { reply } = ntorServerHandshake(forged, impostor)
    assert.throws(() => ntorClientComplete(state, reply), isHandshakeError)
  })

  it('a client refuses a reply made for another relay id', () => {
    const r = relay()
    const { state, onionskin } = ntorClientCreate(r.id, r.onionKeyPair.publicKey)
    const otherId = ntorRelayId(Uint8Array.of(9))
    const forged = Uint8Array.from(onionskin)
    forged.set(otherId, 0)
    const { reply } = ntorServerHandshake(forged, { id: otherId, onionKeyPair: r.onionKeyPair })
    assert.throws(() => ntorClientComplete(state, reply), isHandshakeError)
  })

  it('low-order or all-zero keys → HandshakeError on either side, no crash', () => {
    const r = relay()
    for (const point of LOW_ORDER) {
      const skin = new Uint8Array(PEERD_NTOR.idLen + 64)
      skin.set(r.id, 0)
      skin.set(r.onionKeyPair.publicKey, 32)
      skin.set(point, 64)
      assert.throws(() => ntorServerHandshake(skin, r), isHandshakeError, `X = ${toHex(point)}`)

      const { state, onionskin } = ntorClientCreate(r.id, r.onionKeyPair.publicKey)
      const { reply } = ntorServerHandshake(onionskin, r)
      const badY = Uint8Array.from(reply)
      badY.set(point, 0)
      assert.throws(() => ntorClientComplete(state, badY), isHandshakeError, `Y = ${toHex(point)}`)

      const lowB = ntorClientCreate(r.id, point)
      assert.throws(() => ntorClientComplete(lowB.state, reply), isHandshakeError, `B = ${toHex(point)}`)
    }
  })

  it('wrong lengths → HandshakeError before any work (the replay filter is untouched)', () => {
    const r = relay()
    const replay = new ReplayFilter()
    const { state, onionskin } = ntorClientCreate(r.id, r.onionKeyPair.publicKey)
    for (const n of [0, 1, 63, 95, 97, 1 << 16]) {
      const skin = new Uint8Array(n)
      skin.set(onionskin.subarray(0, Math.min(n, onionskin.length)))
      assert.throws(() => ntorServerHandshake(skin, r, { replay }), isHandshakeError, `onionskin of ${n} bytes`)
      assert.throws(() => ntorClientComplete(state, new Uint8Array(n)), isHandshakeError, `reply of ${n} bytes`)
    }
    assert.equal(replay.size(r.onionKeyPair.publicKey), 0)
    assert.throws(() => ntorClientCreate(r.id.subarray(1), r.onionKeyPair.publicKey), isHandshakeError)
    assert.throws(() => ntorClientCreate(r.id, new Uint8Array(33)), isHandshakeError)
    assert.throws(() => ntorClientCreate(r.id, r.onionKeyPair.publicKey, { params: { ...PEERD_NTOR, keyLen: 255 * 32 + 1 } }), isHandshakeError)
  })

  it('a replayed onionskin is refused with HandshakeReplayError; a fresh one is still answered', () => {
    const r = relay()
    const replay = new ReplayFilter()
    const { onionskin } = ntorClientCreate(r.id, r.onionKeyPair.publicKey)
    ntorServerHandshake(onionskin, r, { replay })
    assert.throws(() => ntorServerHandshake(onionskin, r, { replay }), (err: unknown) => err instanceof HandshakeReplayError && err instanceof HandshakeError && err.name === 'HandshakeReplayError')
    // a fresh handshake with the same relay still works
    ntorServerHandshake(ntorClientCreate(r.id, r.onionKeyPair.publicKey).onionskin, r, { replay })
    assert.equal(replay.size(r.onionKeyPair.publicKey), 2)
  })
})
