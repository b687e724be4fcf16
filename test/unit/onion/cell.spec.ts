/**
 * The onion link's cell codec (`src/onion/cell.ts`): link cells are always 514 bytes and round
 * trip; relay bodies round trip with tor-spec's padding (four zero bytes, then random); CREATE2,
 * CREATED2, DESTROY and EXTEND2 (with peerd's peer-id link specifier) round trip; malformed input
 * fails with its typed error; the cell reader gives the same cells however the stream is cut.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { generateKeyPair } from '@libp2p/crypto/keys'
import {
  CELL_BODY_LEN, CELL_LEN, CellCommand, CellReader, HANDSHAKE_NTOR, LS_ED25519_ID, LS_IPV4, LS_PEER_ID, RELAY_DATA_MAX, RELAY_HEADER_LEN, RelayCommand,
  decodeCell, decodeCreate2, decodeCreated2, decodeDestroy, decodeExtend2, decodeRelayBody, encodeCell, encodeCreate2, encodeCreated2,
  encodeDestroy, encodeExtend2, encodeRelayBody, extend2PeerId, peerIdSpecifier
} from '../../../src/onion/cell.ts'
import type { Cell } from '../../../src/onion/cell.ts'

function bytes (n: number, fill = 0xab): Uint8Array {
  return new Uint8Array(n).fill(fill)
}

function cellOf (circId: number, command: number, body = bytes(CELL_BODY_LEN, circId & 0xff)): Uint8Array {
  const out = new Uint8Array(CELL_LEN)
  new DataView(out.buffer).setUint32(0, circId)
  out[4] = command
  out.set(body, 5)
  return out
}

describe('onion link cells', () => {
  it('every command encodes to exactly 514 bytes and decodes back', () => {
    for (const command of Object.values(CellCommand)) {
      for (const body of [new Uint8Array(0), bytes(1), bytes(CELL_BODY_LEN)]) {
        const circId = command === CellCommand.PADDING ? 0 : 0x80000001
        const wire = encodeCell({ circId, command, body })
        assert.equal(wire.length, CELL_LEN)
        const back = decodeCell(wire)
        assert.equal(back.circId, circId)
        assert.equal(back.command, command)
        assert.equal(back.body.length, CELL_BODY_LEN)
        assert.deepEqual(back.body.subarray(0, body.length), body)
        assert.ok(back.body.subarray(body.length).every(b => b === 0), 'short bodies are zero-padded')
      }
    }
  })

  it('refuses a wrong size, an unknown command and a circuit command on circuit id 0', () => {
    assert.throws(() => decodeCell(new Uint8Array(CELL_LEN - 1)), { name: 'CellSizeError' })
    assert.throws(() => decodeCell(new Uint8Array(CELL_LEN + 1)), { name: 'CellSizeError' })
    assert.throws(() => decodeCell(new Uint8Array(0)), { name: 'CellSizeError' })
    assert.throws(() => decodeCell(cellOf(7, 1)), { name: 'UnknownCellCommandError' }) // CREATE (TAP): not peerd's
    assert.throws(() => decodeCell(cellOf(7, 7)), { name: 'UnknownCellCommandError' }) // VERSIONS: variable-length
    assert.throws(() => decodeCell(cellOf(0, CellCommand.RELAY)), { name: 'MalformedCellError' })
    assert.throws(() => encodeCell({ circId: 0, command: CellCommand.RELAY, body: new Uint8Array(0) }), { name: 'InvalidArgumentError' })
    assert.throws(() => encodeCell({ circId: 2 ** 32, command: CellCommand.RELAY, body: new Uint8Array(0) }), { name: 'InvalidArgumentError' })
    assert.throws(() => encodeCell({ circId: 1, command: CellCommand.RELAY, body: bytes(CELL_BODY_LEN + 1) }), { name: 'InvalidArgumentError' })
  })
})

describe('relay cell bodies', () => {
  it('round trip at every data length, padded with four zero bytes then random bytes', () => {
    const lengths = [0, 1, 100, RELAY_DATA_MAX - 5, RELAY_DATA_MAX - 4, RELAY_DATA_MAX - 3, RELAY_DATA_MAX]
    for (const len of lengths) {
      const data = bytes(len, 0x5a)
      const body = encodeRelayBody({ command: RelayCommand.DATA, streamId: 0xbeef, data })
      assert.equal(body.length, CELL_BODY_LEN)
      const msg = decodeRelayBody(body)
      assert.equal(msg.command, RelayCommand.DATA)
      assert.equal(msg.streamId, 0xbeef)
      assert.deepEqual(msg.data, data)
      const padding = body.subarray(RELAY_HEADER_LEN + len)
      assert.ok(padding.subarray(0, 4).every(b => b === 0), `length ${len}: the first four padding bytes are zero`)
    }
    // the random part differs between two cells of the same message (a false failure has chance 2^-3856)
    const a = encodeRelayBody({ command: RelayCommand.DROP, streamId: 0, data: new Uint8Array(0) })
    const b = encodeRelayBody({ command: RelayCommand.DROP, streamId: 0, data: new Uint8Array(0) })
    assert.notDeepEqual(a.subarray(RELAY_HEADER_LEN + 4), b.subarray(RELAY_HEADER_LEN + 4))
  })

  it('every relay command round trips', () => {
    for (const command of Object.values(RelayCommand)) {
      assert.equal(decodeRelayBody(encodeRelayBody({ command, streamId: 1, data: bytes(3) })).command, command)
    }
  })

  it('refuses too much data, unknown commands, a nonzero recognized field and a wrong size', () => {
    assert.throws(() => encodeRelayBody({ command: RelayCommand.DATA, streamId: 1, data: bytes(RELAY_DATA_MAX + 1) }), { name: 'InvalidArgumentError' })
    assert.throws(() => encodeRelayBody({ command: RelayCommand.DATA, streamId: 0x10000, data: bytes(1) }), { name: 'InvalidArgumentError' })
    const body = encodeRelayBody({ command: RelayCommand.DATA, streamId: 1, data: bytes(10) })
    const tooLong = Uint8Array.from(body); new DataView(tooLong.buffer).setUint16(9, RELAY_DATA_MAX + 1)
    assert.throws(() => decodeRelayBody(tooLong), { name: 'MalformedCellError' })
    const unknown = Uint8Array.from(body); unknown[0] = 6 // EXTEND (TAP): not peerd's
    assert.throws(() => decodeRelayBody(unknown), { name: 'UnknownRelayCommandError' })
    const unrecognized = Uint8Array.from(body); unrecognized[2] = 1
    assert.throws(() => decodeRelayBody(unrecognized), { name: 'MalformedCellError' })
    assert.throws(() => decodeRelayBody(body.subarray(1)), { name: 'CellSizeError' })
  })
})

describe('circuit messages', () => {
  it('CREATE2, CREATED2 and DESTROY round trip through a cell body', () => {
    const handshake = bytes(84, 0x11)
    const create = encodeCell({ circId: 9, command: CellCommand.CREATE2, body: encodeCreate2({ handshakeType: HANDSHAKE_NTOR, handshake }) })
    assert.deepEqual(decodeCreate2(decodeCell(create).body), { handshakeType: HANDSHAKE_NTOR, handshake })
    const reply = bytes(64, 0x22)
    assert.deepEqual(decodeCreated2(decodeCell(encodeCell({ circId: 9, command: CellCommand.CREATED2, body: encodeCreated2(reply) })).body), reply)
    assert.equal(decodeDestroy(decodeCell(encodeCell({ circId: 9, command: CellCommand.DESTROY, body: encodeDestroy(8) })).body), 8)
    const lying = Uint8Array.from(decodeCell(create).body); lying[2] = 0x02; lying[3] = 0x00 // HLEN 512 > the body
    assert.throws(() => decodeCreate2(lying), { name: 'MalformedCellError' })
  })

  it('EXTEND2 carries a libp2p peer id and the handshake, and round trips through a relay body', async () => {
    const peerId = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
    const id = peerId.toMultihash().bytes
    const ext = { linkSpecifiers: [{ type: LS_IPV4, value: bytes(6) }, peerIdSpecifier(id)], handshakeType: HANDSHAKE_NTOR, handshake: bytes(84, 7) }
    const body = encodeRelayBody({ command: RelayCommand.EXTEND2, streamId: 0, data: encodeExtend2(ext) })
    const back = decodeExtend2(decodeRelayBody(body).data)
    assert.deepEqual(back, ext)
    assert.deepEqual(extend2PeerId(back), id)
    // a sha2-256 peer id (an RSA key's) is a peer id as well
    assert.equal(peerIdSpecifier(Uint8Array.of(0x12, 32, ...bytes(32))).type, LS_PEER_ID)
  })

  it('refuses malformed link specifiers with MalformedCellError', () => {
    const enc = (linkSpecifiers: Array<{ type: number, value: Uint8Array }>): Uint8Array =>
      encodeExtend2({ linkSpecifiers, handshakeType: HANDSHAKE_NTOR, handshake: bytes(4) })
    const good = Uint8Array.of(0x12, 32, ...bytes(32))
    for (const bad of [
      enc([{ type: LS_IPV4, value: bytes(5) }]), // wrong fixed length
      enc([{ type: LS_ED25519_ID, value: bytes(31) }]),
      enc([{ type: LS_PEER_ID, value: Uint8Array.of(0x12, 31, ...bytes(31)) }]), // sha2-256 of 31 bytes
      enc([{ type: LS_PEER_ID, value: Uint8Array.of(0x13, 32, ...bytes(32)) }]), // not identity or sha2-256
      enc([{ type: LS_PEER_ID, value: Uint8Array.of(0x00, 5, ...bytes(4)) }]), // declared length past the value
      enc([{ type: LS_PEER_ID, value: good }, { type: LS_PEER_ID, value: good }]), // two peer ids
      Uint8Array.of(1, LS_PEER_ID, 40, 0x12) // ends inside a specifier
    ]) assert.throws(() => decodeExtend2(bad), { name: 'MalformedCellError' })
    assert.throws(() => extend2PeerId(decodeExtend2(enc([{ type: LS_IPV4, value: bytes(6) }]))), { name: 'MalformedCellError' })
    // an unknown specifier type is kept verbatim
    assert.deepEqual(decodeExtend2(enc([{ type: 0x42, value: bytes(3) }])).linkSpecifiers, [{ type: 0x42, value: bytes(3) }])
    assert.throws(() => peerIdSpecifier(bytes(3)), { name: 'InvalidArgumentError' })
    assert.throws(() => enc([{ type: 0x42, value: bytes(RELAY_DATA_MAX) }]), { name: 'InvalidArgumentError' })
  })
})

describe('the cell reader', () => {
  const cells: Cell[] = [
    { circId: 0, command: CellCommand.PADDING, body: bytes(CELL_BODY_LEN, 0) },
    { circId: 5, command: CellCommand.RELAY, body: bytes(CELL_BODY_LEN, 1) },
    { circId: 0xffffffff, command: CellCommand.DESTROY, body: bytes(CELL_BODY_LEN, 2) }
  ]
  const stream = new Uint8Array(cells.length * CELL_LEN)
  cells.forEach((c, i) => stream.set(encodeCell(c), i * CELL_LEN))

  it('gives the same cells whether the stream comes whole, byte by byte or cut at every offset', () => {
    const run = (chunks: Uint8Array[]): Cell[] => {
      const r = new CellReader()
      const out = chunks.flatMap(c => r.push(c))
      assert.ok(r.bufferedBytes < CELL_LEN)
      r.end()
      return out
    }
    assert.deepEqual(run([stream]), cells)
    assert.deepEqual(run([...stream].map(b => Uint8Array.of(b))), cells)
    for (let cut = 0; cut <= stream.length; cut += 7) {
      assert.deepEqual(run([stream.subarray(0, cut), stream.subarray(cut)]), cells)
    }
  })

  it('holds a partial cell, then fails at the end of a stream that stops inside one', () => {
    const r = new CellReader()
    assert.deepEqual(r.push(stream.subarray(0, CELL_LEN + 10)), cells.slice(0, 1))
    assert.equal(r.bufferedBytes, 10)
    assert.throws(() => r.end(), { name: 'CellSizeError' })
  })

  it('fails with the cell\'s typed error on a malformed cell', () => {
    assert.throws(() => new CellReader().push(cellOf(3, 200)), { name: 'UnknownCellCommandError' })
  })
})
