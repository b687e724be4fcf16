/**
 * Batched link writes (issue 16, relay CPU per byte): cells queued in one task leave in one
 * write of whole cells, in EWMA order; the bandwidth bucket still caps a batch cell by cell; a
 * DESTROY still goes alone and first; a full sink still holds the batch back until its drain.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { CELL_LEN, CellCommand, encodeCell } from '../../../src/onion/cell.ts'
import { LinkQueue, cellHeader } from '../../../src/onion/link-queue.ts'
import type { CellSink } from '../../../src/onion/link-queue.ts'
import { CellBucket } from '../../../src/onion/relay-rate.ts'

/** A sink that records each write and needs a drain once `full` is set. */
class RecordingSink implements CellSink {
  readonly writes: Uint8Array[] = []
  full = false
  private drained?: () => void

  get writableNeedsDrain (): boolean { return this.full }

  send (bytes: Uint8Array): boolean {
    this.writes.push(bytes)
    return !this.full
  }

  async onDrain (): Promise<void> {
    await new Promise<void>(resolve => { this.drained = resolve })
  }

  drain (): void {
    this.full = false
    this.drained?.()
  }
}

function cell (circId: number, tag = 0, command: CellCommand = CellCommand.RELAY): Uint8Array {
  return encodeCell({ circId, command, body: Uint8Array.of(tag) })
}

/** The cells of one write, split back. */
function cellsOf (write: Uint8Array): Uint8Array[] {
  assert.equal(write.length % CELL_LEN, 0, `a write of ${write.length} bytes is not whole cells`)
  return Array.from({ length: write.length / CELL_LEN }, (_, i) => write.subarray(i * CELL_LEN, (i + 1) * CELL_LEN))
}

async function settle (): Promise<void> {
  await new Promise(resolve => setImmediate(resolve))
}

describe('onion link batched writes', () => {
  it('writes the cells queued in one task as one write of whole cells, each circuit in order', async () => {
    const sink = new RecordingSink()
    const written: number[] = []
    const q = new LinkQueue({ sink, maxBatchCells: 64, onWritten: c => { written.push(cellHeader(c).circId) } })
    for (let i = 0; i < 10; i++) { q.push(1, cell(1, i)); q.push(2, cell(2, i)) }
    assert.equal(sink.writes.length, 0, 'nothing is written before the task ends')
    await settle()
    assert.equal(sink.writes.length, 1)
    const cells = cellsOf(sink.writes[0] as Uint8Array)
    assert.equal(cells.length, 20)
    for (const id of [1, 2]) assert.deepEqual(cells.filter(c => cellHeader(c).circId === id).map(c => c[5]), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
    // EWMA alternates two equally busy circuits
    assert.deepEqual(cells.slice(0, 4).map(c => cellHeader(c).circId).sort(), [1, 1, 2, 2])
    assert.equal(written.length, 20, 'onWritten still sees every cell')
    assert.equal(q.size, 0)
  })

  it('splits a backlog into writes of at most maxBatchCells', async () => {
    const sink = new RecordingSink()
    const q = new LinkQueue({ sink, maxBatchCells: 8 })
    for (let i = 0; i < 20; i++) q.push(1, cell(1, i))
    await settle()
    assert.deepEqual(sink.writes.map(w => w.length / CELL_LEN), [8, 8, 4])
  })

  it('spends the bucket per cell: a batch holds no more cells than the tokens allow', (t) => {
    t.mock.timers.enable({ apis: ['setTimeout', 'setImmediate'] })
    let clock = 0
    const now = (): number => clock
    const bucket = new CellBucket({ bytesPerSec: 10 * CELL_LEN, burstBytes: 3 * CELL_LEN }, now)
    const sink = new RecordingSink()
    const q = new LinkQueue({ sink, bucket: () => bucket, now, maxBatchCells: 64 })
    for (let i = 0; i < 10; i++) q.push(1, cell(1, i))
    t.mock.timers.tick(0)
    assert.deepEqual(sink.writes.map(w => w.length / CELL_LEN), [3], 'the burst, as one write')
    clock += 200; t.mock.timers.tick(200)
    assert.equal(sink.writes.reduce((n, w) => n + w.length / CELL_LEN, 0), 5, 'ten cells a second')
    assert.equal(q.size, 5)
    q.close()
  })

  it('writes a DESTROY alone and ahead of queued data', async () => {
    const sink = new RecordingSink()
    const q = new LinkQueue({ sink, maxBatchCells: 64 })
    for (let i = 0; i < 5; i++) q.push(1, cell(1, i))
    q.pushControl(cell(9, 0, CellCommand.DESTROY))
    await settle()
    assert.deepEqual(sink.writes.map(w => w.length / CELL_LEN), [1, 5])
    assert.deepEqual(cellHeader(sink.writes[0] as Uint8Array), { circId: 9, command: CellCommand.DESTROY })
  })

  it('holds cells back while the sink needs a drain, then batches them', async () => {
    const sink = new RecordingSink()
    sink.full = true
    const q = new LinkQueue({ sink, maxBatchCells: 64 })
    for (let i = 0; i < 30; i++) q.push(1, cell(1, i))
    await settle()
    assert.equal(sink.writes.length, 0)
    sink.drain()
    await settle()
    assert.deepEqual(sink.writes.map(w => w.length / CELL_LEN), [30])
    assert.deepEqual(cellsOf(sink.writes[0] as Uint8Array).map(c => c[5]), Array.from({ length: 30 }, (_, i) => i))
  })
})
