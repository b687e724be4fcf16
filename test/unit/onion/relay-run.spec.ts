/**
 * Relayed runs (issue 16, relay CPU per byte): a relay passes consecutive cells of one circuit
 * through its cipher in one call and queues them as one buffer. Checked here: the run gives
 * byte for byte what one call per cell gives (same cipher stream, same encoded cells), and a
 * queued run leaves as a view of that buffer, in order, mixed correctly with other circuits.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { describe, it } from 'node:test'
import { CELL_BODY_LEN, CELL_LEN, CellCommand, RelayCommand, encodeCell, encodeCellRun, encodeRelayBody } from '../../../src/onion/cell.ts'
import { LinkQueue } from '../../../src/onion/link-queue.ts'
import type { CellSink } from '../../../src/onion/link-queue.ts'
import { HopCrypto, OnionLayers, splitRelayKeys } from '../../../src/onion/relay-crypto.ts'

class RecordingSink implements CellSink {
  readonly writes: Uint8Array[] = []
  readonly writableNeedsDrain = false
  send (bytes: Uint8Array): boolean { this.writes.push(bytes); return true }
  async onDrain (): Promise<void> {}
}

describe('onion relayed runs', () => {
  it('relays a run of bodies through one cipher call exactly as one call per body, across runs', () => {
    const keys = randomBytes(128)
    const one = new HopCrypto(splitRelayKeys(keys))
    const run = new HopCrypto(splitRelayKeys(keys))
    const bodies = Array.from({ length: 70 }, () => randomBytes(CELL_BODY_LEN))
    const each = Buffer.concat(bodies.map(b => one.relayBackward(Uint8Array.from(b))))
    const runs = Buffer.concat([run.relayBackwardRun(bodies.slice(0, 1)), run.relayBackwardRun(bodies.slice(1, 64)), run.relayBackwardRun(bodies.slice(64))])
    assert.ok(runs.equals(each), 'the run path must give the per-cell path\'s bytes')
    assert.throws(() => run.relayBackwardRun([new Uint8Array(CELL_BODY_LEN - 1)]), /relay body of 508 bytes/)
  })

  it('removes a forward layer from a run as one call per body does, recognizing the same cells', () => {
    const keys = splitRelayKeys(randomBytes(128))
    const client = new OnionLayers()
    client.addHop(keys) // hop 0: the relay under test
    client.addHop(splitRelayKeys(randomBytes(128)))
    const one = new HopCrypto(keys)
    const run = new HopCrypto(keys)
    // cells for this hop between cells that pass through to the next
    const wire: Uint8Array[] = []
    for (let i = 0; i < 20; i++) {
      const body = encodeRelayBody({ command: RelayCommand.DATA, streamId: 1, data: Uint8Array.of(i) })
      wire.push(client.encryptForward(body, i % 7 === 3 ? 0 : 1).slice())
    }
    const each = wire.map(b => one.decryptForward(Uint8Array.from(b)))
    const plain = run.decryptForwardRun(wire)
    for (let i = 0; i < wire.length; i++) {
      const body = plain.subarray(i * CELL_BODY_LEN, (i + 1) * CELL_BODY_LEN)
      assert.equal(run.recognizeForward(body), (each[i] as { recognized: boolean }).recognized, `cell ${i}`)
      assert.ok(Buffer.from(body).equals((each[i] as { body: Uint8Array }).body), `cell ${i}'s bytes`)
    }
    assert.equal(each.filter(e => e.recognized).length, 3, 'cells 3, 10 and 17 are this hop\'s')
    assert.ok(Buffer.from(run.lastForwardDigest).equals(one.lastForwardDigest))
  })

  it('encodes a run as the cells encodeCell makes, and refuses a partial body or a non-circuit command', () => {
    const bodies = randomBytes(3 * CELL_BODY_LEN)
    const run = encodeCellRun(0x80000005, CellCommand.RELAY, bodies)
    const each = Buffer.concat([0, 1, 2].map(i => encodeCell({ circId: 0x80000005, command: CellCommand.RELAY, body: bodies.subarray(i * CELL_BODY_LEN, (i + 1) * CELL_BODY_LEN) })))
    assert.ok(Buffer.from(run).equals(each))
    assert.throws(() => encodeCellRun(5, CellCommand.RELAY, bodies.subarray(1)), /not whole cells/)
    assert.throws(() => encodeCellRun(5, CellCommand.PADDING, bodies), /not a circuit's/)
    assert.throws(() => encodeCellRun(0, CellCommand.RELAY, bodies), /non-zero uint32/)
  })

  it('writes a queued run as a view of its buffer, and copies when other circuits\' cells interleave', async () => {
    const sink = new RecordingSink()
    const q = new LinkQueue({ sink, maxBatchCells: 64 })
    const run = encodeCellRun(7, CellCommand.RELAY, randomBytes(10 * CELL_BODY_LEN))
    for (let i = 0; i < 10; i++) q.push(7, run.subarray(i * CELL_LEN, (i + 1) * CELL_LEN))
    await new Promise(resolve => setImmediate(resolve))
    assert.equal(sink.writes.length, 1)
    const w = sink.writes[0] as Uint8Array
    assert.equal(w.buffer, run.buffer, 'a run in order is written without a copy')
    assert.ok(Buffer.from(w).equals(run))

    const other = encodeCell({ circId: 9, command: CellCommand.RELAY, body: new Uint8Array(1) })
    for (let i = 0; i < 2; i++) q.push(7, run.subarray(i * CELL_LEN, (i + 1) * CELL_LEN))
    q.push(9, other)
    await new Promise(resolve => setImmediate(resolve))
    const mixed = sink.writes[1] as Uint8Array
    assert.equal(mixed.length, 3 * CELL_LEN)
    assert.notEqual(mixed.buffer, run.buffer)
    const got = [0, 1, 2].map(i => Buffer.from(mixed.subarray(i * CELL_LEN, (i + 1) * CELL_LEN)))
    assert.equal(got.filter(c => c.equals(other)).length, 1, 'the other circuit\'s cell is in the write')
    assert.ok(got.some(c => c.equals(run.subarray(0, CELL_LEN))) && got.some(c => c.equals(run.subarray(CELL_LEN, 2 * CELL_LEN))))
  })
})
