/**
 * Onion links send Yamux window updates once per half receive window (src/onion/link-window.ts,
 * issue 16's relay CPU per byte), not once per data frame: checked over real libp2p hosts on
 * loopback TCP, where 16 MiB of cells cross a link intact and in order while the receiving side
 * sends a small fraction of the window updates stock Yamux sends (one per data frame).
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { Libp2p, Stream } from '@libp2p/interface'
import { CELL_BODY_LEN, CellCommand } from '../../src/onion/cell.ts'
import type { Cell } from '../../src/onion/cell.ts'
import { LinkManager, onionLinkProtocol } from '../../src/onion/link.ts'
import { LAZY_WINDOW } from '../../src/onion/link-window.ts'
import { loopbackHost } from '../utils/loopback-host.ts'
import { teardown } from '../utils/teardown.ts'
import { waitFor } from '../utils/index.ts'

const NETWORK = 'regtest'
const CELLS = 32 * 1024 // 16 MiB of bodies

function linkStream (node: Libp2p, peer: Libp2p): Stream {
  const stream = node.getConnections(peer.peerId).flatMap(c => c.streams).find(s => s.protocol === onionLinkProtocol(NETWORK))
  assert.ok(stream != null, 'no onion link stream')
  return stream
}

describe('onion link window updates', () => {
  it('carries 16 MiB in order with one window update per half window, not one per frame', async (t) => {
    const td = teardown()
    t.after(async () => { await td.run() })
    const [a, b] = [td.node(await loopbackHost()), td.node(await loopbackHost())]
    const got: number[] = []
    const lb = new LinkManager({
      host: b,
      network: NETWORK,
      onCreate: (link, cell) => { link.accept(cell.circId, { cell: (c: Cell) => { got.push(new DataView(c.body.buffer, c.body.byteOffset).getUint32(0)) }, linkClosed: () => {} }) }
    })
    const la = new LinkManager({ host: a, network: NETWORK })
    for (const l of [la, lb]) { await l.start(); td.add(async () => { await l.stop() }, 'stop links') }
    await a.dial(b.getMultiaddrs())
    const link = await la.get(b.peerId)
    const circId = link.register({ cell: () => {}, linkClosed: () => {} })
    link.send({ circId, command: CellCommand.CREATE2, body: new Uint8Array(4) })
    await waitFor(() => lb.size === 1, { what: 'the inbound link' })
    const inbound = linkStream(b, a) as unknown as Record<string | symbol, unknown>
    assert.equal(inbound[LAZY_WINDOW], true, 'the receiving link stream is patched: a Yamux upgrade changed its internals?')
    assert.equal((linkStream(a, b) as unknown as Record<symbol, unknown>)[LAZY_WINDOW], true)
    // count B's window updates and the data frames it receives (Yamux frame type 1 is a window update)
    let updates = 0
    let frames = 0
    const sendFrame = inbound.sendFrame as (header: { type: number }, data?: unknown) => boolean
    inbound.sendFrame = (header: { type: number }, data?: unknown) => { if (header.type === 1) updates++; return sendFrame(header, data) }
    const handleData = inbound.handleData as (frame: unknown) => void
    inbound.handleData = (frame: unknown) => { frames++; handleData.call(inbound, frame) }

    for (let sent = 0; sent < CELLS;) {
      // a little at a time, as circuit flow control would
      const until = Math.min(CELLS, sent + 500) // under the per-circuit queue cap (1000)
      for (; sent < until; sent++) {
        const body = new Uint8Array(CELL_BODY_LEN)
        new DataView(body.buffer).setUint32(0, sent)
        link.send({ circId, command: CellCommand.RELAY, body })
      }
      await waitFor(() => got.length >= sent - 250, { what: 'cells to arrive', intervalMs: 2 })
    }
    await waitFor(() => got.length === CELLS, { what: 'the last cells' })
    assert.ok(got.every((n, i) => n === i), 'every cell arrived, in order')
    t.diagnostic(`${frames} data frames, ${updates} window updates`)
    assert.ok(frames > 100, `only ${frames} data frames`)
    assert.ok(updates * 4 < frames, `${updates} window updates for ${frames} data frames: one per frame is stock Yamux`)
  })
})
