/**
 * Fuzzing the ntor handshake (`src/onion/ntor.ts`): mutated and random onionskins give a relay
 * reply or a `HandshakeError` (or `HandshakeReplayError`), never another error; mutated and random
 * replies give a client `HandshakeError`, and only the relay's own reply gives keys.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { NTOR_REPLY_BYTES, ntorClientComplete, ntorClientCreate, ntorKeyPair, ntorRelayId, ntorServerHandshake } from '../../src/onion/ntor.ts'
import type { NtorRelayKeys } from '../../src/onion/ntor.ts'
import { ReplayFilter } from '../../src/onion/replay.ts'
import { decodeOrTyped, fuzz, hostileBytes } from '../utils/fuzz.ts'

const TYPED = ['HandshakeError', 'HandshakeReplayError']

// fixed keys, so a seed replays the same cases
const relay: NtorRelayKeys = { id: ntorRelayId(Uint8Array.of(1, 2, 3)), onionKeyPair: ntorKeyPair(new Uint8Array(32).fill(7)) }
const key32 = fc.uint8Array({ minLength: 32, maxLength: 32 })

describe('fuzz: ntor handshake', () => {
  it('a relay answers mutated and random onionskins with a 64-byte reply or a typed error', () => {
    const replay = new ReplayFilter({ maxEntries: 64 })
    const valid = key32.map(x => ntorClientCreate(relay.id, relay.onionKeyPair.publicKey, { ephemeralKey: x }).onionskin)
    fuzz(hostileBytes(valid, 200), (skin) => {
      const out = decodeOrTyped(() => ntorServerHandshake(skin, relay, { replay }), TYPED)
      if (out != null) assert.equal(out.reply.length, NTOR_REPLY_BYTES)
    })
  })

  it('a client accepts only the relay\'s own reply: anything else is a HandshakeError', () => {
    const { state, onionskin } = ntorClientCreate(relay.id, relay.onionKeyPair.publicKey, { ephemeralKey: new Uint8Array(32).fill(9) })
    const { reply, keys } = ntorServerHandshake(onionskin, relay)
    fuzz(hostileBytes(fc.constant(reply), 200), (bytes) => {
      const got = decodeOrTyped(() => ntorClientComplete(state, bytes), TYPED)
      if (got != null) {
        assert.deepEqual(bytes, reply)
        assert.deepEqual(got, keys)
      }
    })
  })
})
