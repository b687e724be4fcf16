/**
 * Fuzzing the onion link's cells (`src/onion/cell.ts`) and relay crypto
 * (`src/onion/relay-crypto.ts`): a valid stream of cells cut into arbitrary chunks reads back the
 * same cells; mutated and random streams, in arbitrary chunks, give cells or the codec's typed
 * errors, never another error; relay bodies, EXTEND2, CREATE2, CREATED2 and DESTROY bodies
 * likewise; any relay message round trips through a 3-hop circuit, and any 509 bytes a relay
 * did not seal are a `CellIntegrityError` (or, by chance 2^-48, a recognized cell).
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import {
  CELL_BODY_LEN, CELL_LEN, CellCommand, CellReader, HANDSHAKE_NTOR, LS_IPV4, LS_PEER_ID, RELAY_DATA_MAX, RelayCommand,
  decodeCell, decodeCreate2, decodeCreated2, decodeDestroy, decodeExtend2, decodeRelayBody, encodeCell, encodeCreate2, encodeExtend2, encodeRelayBody
} from '../../src/onion/cell.ts'
import type { Cell, RelayMessage } from '../../src/onion/cell.ts'
import { HopCrypto, OnionLayers, RELAY_KEY_MATERIAL_LEN, splitRelayKeys } from '../../src/onion/relay-crypto.ts'
import { concatBytes, decodeOrTyped, fuzz, hostileBytes, splitAt } from '../utils/fuzz.ts'

/** Every error the cell codec and the relay crypto throw on hostile input. */
const TYPED = ['MalformedCellError', 'CellSizeError', 'UnknownCellCommandError', 'UnknownRelayCommandError', 'CellIntegrityError']

const command = fc.constantFrom(...Object.values(CellCommand))
const cellArb: fc.Arbitrary<Cell> = fc.tuple(command, fc.integer({ min: 1, max: 0xffffffff }), fc.uint8Array({ maxLength: CELL_BODY_LEN }))
  .map(([c, id, body]) => {
    const full = new Uint8Array(CELL_BODY_LEN)
    full.set(body)
    return { circId: c === CellCommand.PADDING ? 0 : id, command: c, body: full }
  })
const cellsArb = fc.array(cellArb, { maxLength: 6 })
const cuts = fc.array(fc.nat(), { maxLength: 12 })

const relayArb: fc.Arbitrary<RelayMessage> = fc.record({
  command: fc.constantFrom(...Object.values(RelayCommand)),
  streamId: fc.integer({ min: 0, max: 0xffff }),
  data: fc.uint8Array({ maxLength: RELAY_DATA_MAX })
}).map(m => ({ ...m })) // fast-check's records have no prototype; decoded messages do

const extendArb = fc.record({
  linkSpecifiers: fc.uniqueArray(fc.oneof(
    fc.uint8Array({ minLength: 32, maxLength: 32 }).map(d => ({ type: LS_PEER_ID, value: Uint8Array.of(0x12, 32, ...d) })),
    fc.uint8Array({ minLength: 6, maxLength: 6 }).map(v => ({ type: LS_IPV4, value: v })),
    fc.tuple(fc.integer({ min: 4, max: 0x7f }), fc.uint8Array({ maxLength: 40 })).map(([type, value]) => ({ type, value }))
  ), { maxLength: 4, selector: l => l.type }), // a known type twice is refused
  handshakeType: fc.constant(HANDSHAKE_NTOR),
  handshake: fc.uint8Array({ maxLength: 200 })
}).map(e => ({ ...e, linkSpecifiers: e.linkSpecifiers.map(l => ({ ...l })) }))

function readAll (chunks: Uint8Array[]): Cell[] {
  const reader = new CellReader()
  const out = chunks.flatMap(c => reader.push(c))
  reader.end()
  return out
}

describe('fuzz: onion cells', () => {
  it('a valid stream of cells, cut anywhere, reads back the same cells', () => {
    fuzz(fc.tuple(cellsArb, cuts), ([cells, at]) => {
      const stream = concatBytes(cells.map(encodeCell))
      assert.equal(stream.length, cells.length * CELL_LEN)
      assert.deepEqual(readAll(splitAt(stream, at)), cells)
    })
  })

  it('mutated and random streams, cut anywhere, give cells or typed errors', () => {
    const streams = hostileBytes(cellsArb.map(cells => concatBytes(cells.map(encodeCell))), 3 * CELL_LEN)
    fuzz(fc.tuple(streams, cuts), ([stream, at]) => {
      const cells = decodeOrTyped(() => readAll(splitAt(stream, at)), TYPED)
      if (cells != null) {
        assert.equal(stream.length, cells.length * CELL_LEN)
        assert.deepEqual(cells.map(encodeCell), [...splitAt(stream, cells.map((_c, i) => (i + 1) * CELL_LEN))])
      }
      decodeOrTyped(() => decodeCell(stream), TYPED)
    })
  })

  it('relay bodies round trip; mutated and random ones decode or fail typed', () => {
    fuzz(relayArb, (msg) => assert.deepEqual(decodeRelayBody(encodeRelayBody(msg)), msg), 0.5)
    fuzz(hostileBytes(relayArb.map(encodeRelayBody), 600), (body) => { decodeOrTyped(() => decodeRelayBody(body), TYPED) })
  })

  it('EXTEND2, CREATE2, CREATED2 and DESTROY bodies decode or fail typed', () => {
    fuzz(extendArb, (e) => assert.deepEqual(decodeExtend2(encodeExtend2(e)), e), 0.5)
    fuzz(hostileBytes(extendArb.map(encodeExtend2)), (data) => {
      decodeOrTyped(() => decodeExtend2(data), TYPED)
      decodeOrTyped(() => decodeCreate2(data), TYPED)
      decodeOrTyped(() => decodeCreated2(data), TYPED)
      decodeOrTyped(() => decodeDestroy(data), TYPED)
    })
    fuzz(hostileBytes(fc.uint8Array({ maxLength: 300 }).map(h => encodeCreate2({ handshakeType: HANDSHAKE_NTOR, handshake: h }))), (body) => {
      decodeOrTyped(() => decodeCreate2(body), TYPED)
    }, 0.5)
  })
})

describe('fuzz: relay crypto', () => {
  function circuit (): { client: OnionLayers, hops: HopCrypto[] } {
    const client = new OnionLayers()
    const hops: HopCrypto[] = []
    for (let i = 0; i < 3; i++) {
      const keys = splitRelayKeys(randomBytes(RELAY_KEY_MATERIAL_LEN))
      client.addHop(keys)
      hops.push(new HopCrypto(keys))
    }
    return { client, hops }
  }

  it('any relay message to or from any hop round trips through a 3-hop circuit', () => {
    const { client, hops } = circuit()
    fuzz(fc.tuple(relayArb, fc.integer({ min: 0, max: 2 })), ([msg, hop]) => {
      let body = client.encryptForward(encodeRelayBody(msg), hop)
      for (let i = 0; i < hop; i++) body = (hops[i] as HopCrypto).decryptForward(body).body
      const last = (hops[hop] as HopCrypto).decryptForward(body, { lastHop: true })
      assert.ok(last.recognized)
      assert.deepEqual(decodeRelayBody(last.body), msg)
      let back = (hops[hop] as HopCrypto).encryptBackward(encodeRelayBody(msg))
      for (let i = hop - 1; i >= 0; i--) back = (hops[i] as HopCrypto).relayBackward(back)
      const got = client.decryptBackward(back)
      assert.equal(got.hop, hop)
      assert.deepEqual(decodeRelayBody(got.body), msg)
    }, 0.5)
  })

  it('509 bytes nobody sealed are refused at the client and at a last hop, typed', () => {
    fuzz(fc.uint8Array({ minLength: CELL_BODY_LEN, maxLength: CELL_BODY_LEN }), (body) => {
      const { client, hops } = circuit()
      decodeOrTyped(() => client.decryptBackward(body), TYPED)
      decodeOrTyped(() => (hops[2] as HopCrypto).decryptForward(body, { lastHop: true }), TYPED)
    }, 0.5)
  })
})
