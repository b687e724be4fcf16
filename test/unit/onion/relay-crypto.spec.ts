/**
 * Layered relay crypto (`src/onion/relay-crypto.ts`) on a simulated 3-hop circuit: a cell for
 * hop i is recognized at hop i only; cells from each hop come back to the client as that hop's;
 * a bit flipped anywhere in a body by any relay (or link) between sender and recipient is a
 * `CellIntegrityError` at the recipient; the cipher counters and digests stay in step over
 * 1,000 cells in both directions; a circuit keyed by real ntor handshakes works the same.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { describe, it } from 'node:test'
import { CELL_BODY_LEN, RelayCommand, decodeRelayBody, encodeRelayBody } from '../../../src/onion/cell.ts'
import { ntorClientComplete, ntorClientCreate, ntorKeyPair, ntorServerHandshake } from '../../../src/onion/ntor.ts'
import { HopCrypto, OnionLayers, RELAY_KEY_MATERIAL_LEN, splitRelayKeys } from '../../../src/onion/relay-crypto.ts'

/** A circuit of `n` hops: the client's layers and each relay's state, keyed alike. */
function circuit (n = 3): { client: OnionLayers, hops: HopCrypto[] } {
  const client = new OnionLayers()
  const hops: HopCrypto[] = []
  for (let i = 0; i < n; i++) {
    const keys = splitRelayKeys(randomBytes(RELAY_KEY_MATERIAL_LEN))
    client.addHop(keys)
    hops.push(new HopCrypto(keys))
  }
  return { client, hops }
}

function message (text: string, command: number = RelayCommand.DATA): Uint8Array {
  return encodeRelayBody({ command: command as typeof RelayCommand.DATA, streamId: 7, data: new TextEncoder().encode(text) })
}

function text (body: Uint8Array): string {
  return new TextDecoder().decode(decodeRelayBody(body).data)
}

/**
 * Carries a forward body from the client down the relays until one recognizes it; `tamper`
 * (hop index, body) may alter it after a hop removed its layer. Returns the index that
 * recognized it; the last hop throws when none did.
 */
function sendForward (hops: HopCrypto[], wire: Uint8Array, tamper?: (after: number, body: Uint8Array) => void): { at: number, body: Uint8Array } {
  let body = wire
  for (let i = 0; i < hops.length; i++) {
    const r = (hops[i] as HopCrypto).decryptForward(body, { lastHop: i === hops.length - 1 })
    if (r.recognized) return { at: i, body: r.body }
    body = r.body
    tamper?.(i, body)
  }
  throw new Error('unreachable: the last hop throws')
}

/** Hop `from` originates a backward body; the hops before it relay it (`tamper` after each). */
function sendBackward (hops: HopCrypto[], from: number, body: Uint8Array, tamper?: (after: number, body: Uint8Array) => void): Uint8Array {
  let wire = (hops[from] as HopCrypto).encryptBackward(body)
  tamper?.(from, wire)
  for (let i = from - 1; i >= 0; i--) {
    wire = (hops[i] as HopCrypto).relayBackward(wire)
    tamper?.(i, wire)
  }
  return wire
}

function flip (body: Uint8Array, bit: number): void {
  body[bit >> 3] = (body[bit >> 3] as number) ^ (1 << (bit & 7))
}

describe('relay crypto (tor1 with AES-256-CTR and SHA-256)', () => {
  it('a forward cell is recognized at its target hop only, and decrypts to the message', () => {
    const { client, hops } = circuit()
    for (const target of [0, 1, 2, 2, 0, 1]) {
      const wire = client.encryptForward(message(`to hop ${target}`), target)
      assert.equal(wire.length, CELL_BODY_LEN)
      const { at, body } = sendForward(hops, wire)
      assert.equal(at, target)
      assert.equal(text(body), `to hop ${target}`)
    }
  })

  it('a backward cell from each hop decrypts at the client as that hop\'s', () => {
    const { client, hops } = circuit()
    for (const from of [2, 0, 1, 2, 1, 0]) {
      const { hop, body } = client.decryptBackward(sendBackward(hops, from, message(`from hop ${from}`)))
      assert.equal(hop, from)
      assert.equal(text(body), `from hop ${from}`)
    }
  })

  it('the wire bytes differ at every hop and hide the plaintext', () => {
    const { client, hops } = circuit()
    const plain = message('a'.repeat(400))
    const seen: Uint8Array[] = []
    sendForward(hops, client.encryptForward(Uint8Array.from(plain), 2), (_i, b) => { seen.push(Uint8Array.from(b)) })
    assert.equal(seen.length, 2)
    assert.notDeepEqual(seen[0], seen[1])
    for (const b of seen) assert.ok(!Buffer.from(b).includes(Buffer.from('aaaaaaaa')))
  })

  it('a bit flipped anywhere in a forward body by any hop before the target fails the check at the recipient', () => {
    let cases = 0
    for (const target of [1, 2]) {
      for (let tamperer = -1; tamperer < target; tamperer++) { // -1: on the link from the client
        for (let byte = 0; byte < CELL_BODY_LEN; byte++) {
          const { client, hops } = circuit()
          const bit = byte * 8 + (byte % 8)
          const wire = client.encryptForward(message('pay 1 coin'), target)
          if (tamperer === -1) flip(wire, bit)
          assert.throws(() => sendForward(hops, wire, (i, b) => { if (i === tamperer) flip(b, bit) }), { name: 'CellIntegrityError' })
          cases++
        }
      }
    }
    assert.equal(cases, CELL_BODY_LEN * 5)
  })

  it('a bit flipped anywhere in a backward body by any hop after the sender fails the check at the client', () => {
    let cases = 0
    for (const from of [0, 1, 2]) {
      for (let tamperer = from; tamperer >= 0; tamperer--) { // the link after hop `tamperer`
        for (let byte = 0; byte < CELL_BODY_LEN; byte++) {
          const { client, hops } = circuit()
          const bit = byte * 8 + ((byte + 3) % 8)
          const wire = sendBackward(hops, from, message('here is 1 coin'), (i, b) => { if (i === tamperer) flip(b, bit) })
          assert.throws(() => client.decryptBackward(wire), { name: 'CellIntegrityError' })
          cases++
        }
      }
    }
    assert.equal(cases, CELL_BODY_LEN * 6)
  })

  it('a cell replayed on the link fails the check (the counter and digest have moved on)', () => {
    const { client, hops } = circuit()
    const wire = client.encryptForward(message('once'), 2)
    assert.equal(sendForward(hops, Uint8Array.from(wire)).at, 2)
    assert.throws(() => sendForward(hops, wire), { name: 'CellIntegrityError' })
  })

  it('counters and digests stay in step over 1,000 cells each way, interleaved across hops', () => {
    const { client, hops } = circuit()
    for (let n = 0; n < 1000; n++) {
      const target = (n * 7) % 3
      const { at, body } = sendForward(hops, client.encryptForward(message(`f${n}`), target))
      assert.equal(at, target)
      assert.equal(text(body), `f${n}`)
      const from = (n * 5) % 3
      const back = client.decryptBackward(sendBackward(hops, from, message(`b${n}`)))
      assert.equal(back.hop, from)
      assert.equal(text(back.body), `b${n}`)
    }
    // both ends agree on the running digest: proposal 289's SENDME tag
    assert.deepEqual(client.lastForwardDigest(2), hops[2]?.lastForwardDigest)
    assert.deepEqual(client.lastBackwardDigest(1), hops[1]?.lastBackwardDigest)
    assert.equal(client.lastForwardDigest(2).length, 32)
  })

  it('a hop with other keys recognizes nothing', () => {
    const { client } = circuit(1)
    const stranger = new HopCrypto(splitRelayKeys(randomBytes(RELAY_KEY_MATERIAL_LEN)))
    assert.throws(() => stranger.decryptForward(client.encryptForward(message('x'), 0), { lastHop: true }), { name: 'CellIntegrityError' })
    assert.throws(() => client.decryptBackward(stranger.encryptBackward(message('y'))), { name: 'CellIntegrityError' })
  })

  it('a circuit keyed by ntor handshakes with each hop carries cells both ways', () => {
    const client = new OnionLayers()
    const hops: HopCrypto[] = []
    for (let i = 0; i < 3; i++) {
      const relay = { id: randomBytes(32), onionKeyPair: ntorKeyPair() }
      const { state, onionskin } = ntorClientCreate(relay.id, relay.onionKeyPair.publicKey)
      const { reply, keys } = ntorServerHandshake(onionskin, relay)
      hops.push(new HopCrypto(splitRelayKeys(keys)))
      client.addHop(splitRelayKeys(ntorClientComplete(state, reply)))
    }
    for (const hop of [0, 1, 2]) {
      assert.equal(sendForward(hops, client.encryptForward(message(`to ${hop}`), hop)).at, hop)
      assert.equal(text(client.decryptBackward(sendBackward(hops, hop, message(`from ${hop}`))).body), `from ${hop}`)
    }
  })

  it('refuses key material and bodies of the wrong size, and hops the circuit does not have', () => {
    assert.throws(() => splitRelayKeys(randomBytes(RELAY_KEY_MATERIAL_LEN - 1)), { name: 'InvalidArgumentError' })
    assert.throws(() => new OnionLayers().encryptForward(message('x'), 0), { name: 'InvalidArgumentError' })
    assert.throws(() => circuit(1).client.encryptForward(message('x'), 1), { name: 'InvalidArgumentError' })
    assert.throws(() => circuit(1).hops[0]?.relayBackward(new Uint8Array(10)), { name: 'InvalidArgumentError' })
    assert.throws(() => circuit(1).client.decryptBackward(new Uint8Array(CELL_BODY_LEN + 1)), { name: 'InvalidArgumentError' })
  })
})
