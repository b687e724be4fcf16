/**
 * A link's queue waits for its stream's 'drain' event, not for `onDrain()`: @libp2p/utils 7's
 * `onDrain()` returns its first, already resolved promise again after a first drain, so a queue
 * that trusted it spun in microtasks with the stream still full (a relay pinned at 100 % CPU,
 * seen in bench:onion:loopback --upload). The sink here behaves as such a stream.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { CELL_LEN, CellCommand, encodeCell } from '../../../src/onion/cell.ts'
import { LinkQueue } from '../../../src/onion/link-queue.ts'
import type { CellSink } from '../../../src/onion/link-queue.ts'

/** Full after each write until 'drain'; onDrain() always resolved, as the library's is after a first drain. */
class StaleDrainSink extends EventTarget implements CellSink {
  readonly writes: Uint8Array[] = []
  writableNeedsDrain = false
  onDrainCalls = 0
  send (bytes: Uint8Array): boolean { this.writes.push(bytes); this.writableNeedsDrain = true; return false }
  async onDrain (): Promise<void> { this.onDrainCalls++ }
  drain (): void { this.writableNeedsDrain = false; this.dispatchEvent(new Event('drain')) }
}

describe('onion link queue and a stream that needs draining', () => {
  it('writes again only on the stream\'s drain event, without spinning, and closes with the stream', async () => {
    const sink = new StaleDrainSink()
    const errors: Error[] = []
    const q = new LinkQueue({ sink, maxBatchCells: 2, onError: err => { errors.push(err) } })
    for (let i = 0; i < 6; i++) q.push(1, encodeCell({ circId: 1, command: CellCommand.RELAY, body: Uint8Array.of(i) }))
    await new Promise(resolve => setImmediate(resolve))
    await new Promise(resolve => setTimeout(resolve, 20))
    assert.equal(sink.writes.length, 1, 'one batch, then the stream is full')
    assert.equal(sink.onDrainCalls, 0, 'onDrain() is not trusted')
    sink.drain()
    assert.equal(sink.writes.length, 2)
    sink.drain()
    assert.equal(sink.writes.length, 3)
    assert.equal(q.size, 0)
    assert.deepEqual(sink.writes.map(w => w.length), [2 * CELL_LEN, 2 * CELL_LEN, 2 * CELL_LEN])
    q.push(1, encodeCell({ circId: 1, command: CellCommand.RELAY, body: new Uint8Array(1) }))
    q.push(1, encodeCell({ circId: 1, command: CellCommand.RELAY, body: new Uint8Array(1) }))
    await new Promise(resolve => setImmediate(resolve))
    sink.dispatchEvent(Object.assign(new Event('close'), { error: new Error('reset') }))
    assert.equal(errors[0]?.message, 'reset', 'a stream closing while the queue waits closes the queue with its error')
    assert.equal(q.size, 0)
  })
})
