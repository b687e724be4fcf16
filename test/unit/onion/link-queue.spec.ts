/**
 * The onion link's outbound queue (issue 16): a quiet circuit's cells overtake a busy circuit's
 * backlog (tor's EWMA circuitmux), a circuit past its queue cap is killed through `overflow` (or
 * by the link's own DESTROY RESOURCELIMIT), the manager's total cap kills the longest queue,
 * CREATE2 past the in-flight cap or the per-peer rate is refused before the relay sees it, and
 * the bandwidth bucket spends 514 bytes a cell and refills on the clock.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { Libp2p, Stream } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { CELL_LEN, CellCommand, encodeCell, encodeCreate2 } from '../../../src/onion/cell.ts'
import { LinkQueue, cellHeader } from '../../../src/onion/link-queue.ts'
import type { CellSink } from '../../../src/onion/link-queue.ts'
import { LinkManager } from '../../../src/onion/link.ts'
import type { LinkHost, LinkManagerInit, OnionLink } from '../../../src/onion/link.ts'
import { CellBucket, DESTROY_RESOURCELIMIT } from '../../../src/onion/relay-rate.ts'

const PEER = peerIdFromString('12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA')

/** A sink that takes `room` cells, then needs a drain; `release(n)` lets `n` more through. */
class StallingSink implements CellSink {
  readonly written: Uint8Array[] = []
  room: number
  private drained?: () => void

  constructor (room = 0) { this.room = room }

  get writableNeedsDrain (): boolean { return this.room <= 0 }

  send (bytes: Uint8Array): boolean {
    this.written.push(bytes)
    this.room--
    return this.room > 0
  }

  async onDrain (): Promise<void> {
    await new Promise<void>(resolve => { this.drained = resolve })
  }

  release (n: number): void {
    this.room += n
    this.drained?.()
  }
}

function cell (circId: number, command: CellCommand = CellCommand.RELAY): Uint8Array {
  return encodeCell({ circId, command, body: new Uint8Array(0) })
}

async function settle (): Promise<void> {
  await new Promise(resolve => setImmediate(resolve))
}

/** An OnionLink over a stream that never drains and delivers `incoming` then nothing more, and its manager. */
function stalledLink (init: Partial<LinkManagerInit> = {}, incoming: Uint8Array[] = []): { link: OnionLink, manager: LinkManager, sink: StallingSink } {
  const sink = new StallingSink(0)
  const stream = Object.assign(sink, {
    abort: () => {},
    close: async () => {},
    // the peer sends `incoming`, then nothing: the link's reader waits for ever
    [Symbol.asyncIterator]: () => ({
      next: async () => incoming.length > 0
        ? { done: false, value: incoming.shift() as Uint8Array }
        : await new Promise<IteratorResult<Uint8Array>>(() => {})
    })
  }) as unknown as Stream
  const host = { peerId: PEER } as unknown as LinkHost & Pick<Libp2p, 'peerId'>
  const manager = new LinkManager({ host, network: 'regtest', ...init })
  // the manager's own bookkeeping of an accepted stream, so its total cap sees the link
  const link = (manager as unknown as { add: (s: Stream, p: typeof PEER, i: boolean) => OnionLink }).add(stream, PEER, true)
  return { link, manager, sink }
}

describe('onion link queue', () => {
  it('writes a quiet circuit\'s cells ahead of a busy circuit\'s backlog (EWMA)', async () => {
    const sink = new StallingSink(0)
    const q = new LinkQueue({ sink })
    const BUSY = 1
    const QUIET = 2
    for (let i = 0; i < 200; i++) q.push(BUSY, cell(BUSY))
    sink.release(50)
    await settle()
    assert.equal(sink.written.length, 50)
    for (let i = 0; i < 3; i++) q.push(QUIET, cell(QUIET))
    sink.release(10)
    await settle()
    const next = sink.written.slice(50).map(c => cellHeader(c).circId)
    // the busy circuit wrote 50 cells already, so the quiet one's three go first; FIFO order would put them after 150 more
    assert.deepEqual(next.slice(0, 3), [QUIET, QUIET, QUIET], `order after the quiet cells were queued: ${next.join(',')}`)
    assert.equal(q.size, 200 - 60 + 3)
  })

  it('writes DESTROY ahead of every circuit\'s data and keeps each circuit\'s cells in order', async () => {
    const sink = new StallingSink(0)
    const q = new LinkQueue({ sink })
    for (let i = 0; i < 5; i++) q.push(1, encodeCell({ circId: 1, command: CellCommand.RELAY, body: Uint8Array.of(i) }))
    q.pushControl(cell(7, CellCommand.DESTROY))
    sink.release(100)
    await settle()
    assert.deepEqual(sink.written.map(c => cellHeader(c)), [{ circId: 7, command: CellCommand.DESTROY }, ...Array(5).fill({ circId: 1, command: CellCommand.RELAY })])
    assert.deepEqual(sink.written.slice(1).map(c => c[5]), [0, 1, 2, 3, 4])
  })

  it('calls the circuit\'s overflow past its cap and drops its queue', () => {
    const { link, manager } = stalledLink({ maxQueuedCellsPerCircuit: 100 })
    let overflows = 0
    const circId = link.register({ cell: () => {}, linkClosed: () => {}, overflow: () => { overflows++; link.unregister(circId) } })
    for (let i = 0; i < 100; i++) link.send({ circId, command: CellCommand.RELAY, body: new Uint8Array(0) })
    assert.equal(overflows, 0)
    assert.equal(link.queuedCells(circId), 100)
    link.send({ circId, command: CellCommand.RELAY, body: new Uint8Array(0) })
    assert.equal(overflows, 1)
    assert.equal(link.queuedCells(), 0)
    assert.equal(manager.queuedCells, 0)
    assert.equal(manager.stats.circuitsKilled, 1)
  })

  it('without an overflow hook, sends DESTROY RESOURCELIMIT itself and tells the owner linkClosed', async () => {
    const { link, manager, sink } = stalledLink({ maxQueuedCellsPerCircuit: 10 })
    const closed: Error[] = []
    const circId = link.register({ cell: () => {}, linkClosed: err => { if (err != null) closed.push(err) } })
    for (let i = 0; i < 11; i++) link.send({ circId, command: CellCommand.RELAY, body: new Uint8Array(0) })
    assert.equal(closed.length, 1)
    assert.equal(closed[0]?.name, 'OnionLimitError')
    assert.equal(link.circuitCount, 0)
    assert.equal(manager.queuedCells, 1, 'only the DESTROY waits')
    sink.release(5)
    await settle()
    assert.equal(sink.written.length, 1)
    assert.deepEqual(cellHeader(sink.written[0] as Uint8Array), { circId, command: CellCommand.DESTROY })
    assert.equal(sink.written[0]?.[5], DESTROY_RESOURCELIMIT)
  })

  it('kills the circuit with the longest queue when the manager\'s total passes its cap', () => {
    const { link, manager } = stalledLink({ maxQueuedBytes: 100 * CELL_LEN })
    const killed: string[] = []
    const big = link.register({ cell: () => {}, linkClosed: () => {}, overflow: () => { killed.push('big'); link.unregister(big) } })
    const small = link.register({ cell: () => {}, linkClosed: () => {}, overflow: () => { killed.push('small'); link.unregister(small) } })
    for (let i = 0; i < 30; i++) link.send({ circId: small, command: CellCommand.RELAY, body: new Uint8Array(0) })
    for (let i = 0; i < 70; i++) link.send({ circId: big, command: CellCommand.RELAY, body: new Uint8Array(0) })
    assert.deepEqual(killed, [])
    link.send({ circId: small, command: CellCommand.RELAY, body: new Uint8Array(0) })
    assert.deepEqual(killed, ['big'])
    assert.equal(manager.queuedCells, 31)
  })

  it('refuses CREATE2 past the in-flight cap and the per-peer rate with DESTROY RESOURCELIMIT, before onCreate', async () => {
    const creates = (from: number, n: number): Uint8Array[] => Array.from({ length: n }, (_, i) => encodeCell({ circId: from + i, command: CellCommand.CREATE2, body: encodeCreate2({ handshakeType: 2, handshake: new Uint8Array(84) }) }))
    const handed: number[] = []
    // the link is the opener, so the peer's ids are those without the high bit
    const { manager, sink } = stalledLink({ createRate: { perSec: 1000, burst: 1000 }, maxPendingCreates: 8, onCreate: (_l, c) => { handed.push(c.circId) } }, [...creates(1, 100)])
    await settle()
    assert.deepEqual(handed, [1, 2, 3, 4, 5, 6, 7, 8], 'unanswered CREATE2 cap the ones in flight')
    assert.equal(manager.stats.createsRefused, 92)
    sink.release(1000)
    await settle()
    const destroys = sink.written.filter(c => cellHeader(c).command === CellCommand.DESTROY)
    assert.equal(destroys.length, 92)
    assert.ok(destroys.every(c => c[5] === DESTROY_RESOURCELIMIT))

    const limited = stalledLink({ createRate: { perSec: 1, burst: 5 }, onCreate: (_l, c) => { handed.push(c.circId) } }, [...creates(1001, 20)])
    await settle()
    assert.deepEqual(handed.slice(8), [1001, 1002, 1003, 1004, 1005], 'the burst of the per-peer rate')
    assert.equal(limited.manager.stats.createsRefused, 15)

    // a relay extending others' circuits is not held to a client's rate (tor's dos_cc counts clients only); the in-flight cap still holds
    const fromRelay: number[] = []
    const relay = stalledLink({ createRate: { perSec: 1, burst: 5 }, maxPendingCreates: 12, isRelay: () => true, onCreate: (_l, c) => { fromRelay.push(c.circId) } }, [...creates(2001, 20)])
    await settle()
    assert.equal(fromRelay.length, 12)
    assert.equal(relay.manager.stats.createsRefused, 8)
  })

  it('spends 514 bytes a cell from the bucket and refills it on the clock', (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] })
    let clock = 0
    const now = (): number => clock
    // 5140 bytes/s = 10 cells/s, a burst of 3 cells
    const bucket = new CellBucket({ bytesPerSec: 10 * CELL_LEN, burstBytes: 3 * CELL_LEN }, now)
    const sink = new StallingSink(1_000_000)
    const q = new LinkQueue({ sink, bucket: () => bucket, now })
    for (let i = 0; i < 10; i++) q.push(1, cell(1))
    assert.equal(sink.written.length, 3, 'the burst')
    assert.equal(bucket.waitMs(), 100)
    clock += 99; t.mock.timers.tick(99)
    assert.equal(sink.written.length, 3)
    clock += 1; t.mock.timers.tick(1)
    assert.equal(sink.written.length, 4)
    for (let i = 0; i < 5; i++) { clock += 100; t.mock.timers.tick(100) }
    assert.equal(sink.written.length, 9, 'ten cells a second')
    // a long pause refills only the burst
    for (let i = 0; i < 10; i++) q.push(1, cell(1))
    clock += 10_000; t.mock.timers.tick(10_000)
    assert.equal(sink.written.length, 9 + 3)
    assert.equal(q.size, 11 - 3)
    q.close()
  })
})
