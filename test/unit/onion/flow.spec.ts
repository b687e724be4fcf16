/**
 * Flow control (tor-spec "Flow control", proposal 289): stream windows open and close as tor's,
 * a circuit SENDME is v1 with the full 32-byte running digest of the cell that triggered it, and
 * the sender accepts exactly the digest its own relay crypto recorded, checked end to end with
 * real onion layers: a wrong digest, or a SENDME with nothing owed, is a FlowControlError.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { describe, it } from 'node:test'
import { RelayCommand, encodeRelayBody } from '../../../src/onion/cell.ts'
import { CIRCUIT_SENDME_INC, CircuitDeliverCounter, CircuitSendmeTags, STREAM_SENDME_INC, STREAM_WINDOW, StreamWindows, decodeSendme, encodeSendme } from '../../../src/onion/flow.ts'
import { HopCrypto, OnionLayers, RELAY_KEY_MATERIAL_LEN, splitRelayKeys } from '../../../src/onion/relay-crypto.ts'

describe('stream windows', () => {
  it('closes the package window after 500 cells and reopens it by 50 per SENDME, never past 500', () => {
    const w = new StreamWindows()
    for (let i = 0; i < STREAM_WINDOW; i++) assert.equal(w.takePackage(), true)
    assert.equal(w.takePackage(), false)
    w.sendme()
    for (let i = 0; i < STREAM_SENDME_INC; i++) assert.equal(w.takePackage(), true)
    assert.equal(w.takePackage(), false)
    for (let i = 0; i < STREAM_WINDOW / STREAM_SENDME_INC; i++) w.sendme()
    assert.throws(() => { w.sendme() }, { name: 'FlowControlError' })
  })

  it('refuses a DATA cell past the deliver window and reopens it as the reader consumes', () => {
    const w = new StreamWindows()
    for (let i = 0; i < STREAM_WINDOW; i++) w.received()
    assert.throws(() => { w.received() }, { name: 'FlowControlError' })
    const due = Array.from({ length: 100 }, () => w.consume()).filter(Boolean).length
    assert.equal(due, 2)
    assert.equal(w.deliver, 100)
  })
})

describe('circuit SENDME v1', () => {
  it('encodes version 1, a 32-byte length and the tag, and refuses v0, other versions and lengths', () => {
    const tag = randomBytes(32)
    const body = encodeSendme(tag)
    assert.deepEqual([...body.subarray(0, 3)], [1, 0, 32])
    assert.deepEqual(decodeSendme(body), new Uint8Array(tag))
    assert.throws(() => decodeSendme(new Uint8Array(0)), { name: 'FlowControlError' })
    assert.throws(() => decodeSendme(Uint8Array.of(2, 0, 32, ...tag)), { name: 'FlowControlError' })
    assert.throws(() => decodeSendme(Uint8Array.of(1, 0, 20, ...tag.subarray(0, 20))), { name: 'FlowControlError' })
    assert.throws(() => decodeSendme(Uint8Array.of(1, 0, 32, ...tag.subarray(0, 31))), { name: 'FlowControlError' })
  })

  it('accepts the digest the receiving hop saw for every 31st DATA cell, and refuses a wrong one', () => {
    const keys = splitRelayKeys(randomBytes(RELAY_KEY_MATERIAL_LEN))
    const layers = new OnionLayers()
    layers.addHop(keys)
    const hop = new HopCrypto(keys)
    const tags = new CircuitSendmeTags()
    const deliver = new CircuitDeliverCounter()
    const sendmes: Uint8Array[] = []
    for (let i = 0; i < 3 * CIRCUIT_SENDME_INC; i++) {
      const wire = layers.encryptForward(encodeRelayBody({ command: RelayCommand.DATA, streamId: 1, data: randomBytes(100) }), 0)
      if (tags.sent()) tags.remember(layers.lastForwardDigest(0))
      assert.equal(hop.decryptForward(wire, { lastHop: true }).recognized, true)
      if (deliver.received()) sendmes.push(encodeSendme(hop.lastForwardDigest))
    }
    assert.equal(sendmes.length, 3)
    assert.equal(tags.outstanding, 3)
    tags.acknowledge(decodeSendme(sendmes[0] as Uint8Array))
    // the third SENDME's digest is not the one owed next
    assert.throws(() => { tags.acknowledge(decodeSendme(sendmes[2] as Uint8Array)) }, { name: 'FlowControlError', message: /digest/ })
  })

  it('refuses a SENDME when none is owed (it would open the window past its maximum)', () => {
    const tags = new CircuitSendmeTags()
    for (let i = 0; i < CIRCUIT_SENDME_INC - 1; i++) assert.equal(tags.sent(), false)
    assert.throws(() => { tags.acknowledge(randomBytes(32)) }, { name: 'FlowControlError', message: /nothing to acknowledge/ })
  })
})
