/**
 * Onion link limits over real libp2p hosts on loopback TCP (issue 16): a relay's bandwidth cap
 * delivers a flood at the cap's rate, a next hop that stops reading gets the flooding circuit
 * killed instead of the relay's memory filled, and a burst of CREATE2 from one peer is refused
 * with DESTROY RESOURCELIMIT before any handshake while another client is still served.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { Libp2p, Stream } from '@libp2p/interface'
import { CELL_LEN, CellCommand, CellReader, RelayCommand, encodeCell, encodeCreate2 } from '../../src/onion/cell.ts'
import type { Cell } from '../../src/onion/cell.ts'
import { buildCircuit } from '../../src/onion/circuit.ts'
import type { Circuit } from '../../src/onion/circuit.ts'
import { LinkManager, onionLinkProtocol } from '../../src/onion/link.ts'
import { ntorClientCreate } from '../../src/onion/ntor.ts'
import { OnionRelay } from '../../src/onion/relay.ts'
import type { RelayCircuitHandle } from '../../src/onion/relay.ts'
import { DESTROY_RESOURCELIMIT } from '../../src/onion/relay-rate.ts'
import { loopbackHost } from '../utils/loopback-host.ts'
import { teardown } from '../utils/teardown.ts'
import { waitFor } from '../utils/index.ts'

const NETWORK = 'regtest'
/** Cells the receiving hop acknowledges at once (a stand-in for SENDMEs, which are not built yet). */
const ACK_EVERY = 50
/** Cells a client keeps unacknowledged: under the relay's per-circuit cap of 1000. */
const WINDOW = 500

const host = loopbackHost

/** Client → A → B: three hosts, two relays, the client's links; `onMessage` is B's. */
async function twoHops (td: ReturnType<typeof teardown>, onMessage?: (c: RelayCircuitHandle, msg: { command: number, streamId: number, data: Uint8Array }) => void): Promise<{ client: Libp2p, a: Libp2p, b: Libp2p, relayA: OnionRelay, relayB: OnionRelay, links: LinkManager, circuit: Circuit }> {
  const [client, a, b] = [td.node(await host()), td.node(await host()), td.node(await host())]
  const relayA = new OnionRelay({ host: a, network: NETWORK })
  const relayB = new OnionRelay({ host: b, network: NETWORK, onMessage })
  for (const r of [relayA, relayB]) { await r.start(); td.add(async () => { await r.stop() }, 'stop a relay') }
  const links = new LinkManager({ host: client, network: NETWORK })
  td.add(async () => { await links.stop() }, 'stop the client links')
  await client.dial(a.getMultiaddrs())
  await a.dial(b.getMultiaddrs())
  const circuit = await buildCircuit(links, [{ peerId: a.peerId, onionKey: relayA.onionKey }, { peerId: b.peerId, onionKey: relayB.onionKey }])
  return { client, a, b, relayA, relayB, links, circuit }
}

/** The onion link stream `node` has with `peer`. */
function linkStream (node: Libp2p, peer: Libp2p): Stream {
  const stream = node.getConnections(peer.peerId).flatMap(c => c.streams).find(s => s.protocol === onionLinkProtocol(NETWORK))
  assert.ok(stream != null, 'no onion link stream')
  return stream
}

async function tick (): Promise<void> {
  await new Promise(resolve => setImmediate(resolve))
}

describe('onion link limits', () => {
  it('delivers a flood through a relay capped at 1 MB/s at 1 MB/s', async (t) => {
    const td = teardown()
    t.after(async () => { await td.run() })
    const arrivals: number[] = []
    const { relayA, circuit } = await twoHops(td, (c, msg) => {
      if (msg.command !== RelayCommand.DROP) return
      arrivals.push(performance.now())
      if (arrivals.length % ACK_EVERY === 0) c.reply(RelayCommand.DATA, 0, new Uint8Array(0))
    })
    relayA.links.setRate({ bytesPerSec: 1_000_000 })
    let acked = 0
    let wake: (() => void) | undefined
    circuit.onMessage = () => { acked += ACK_EVERY; wake?.() }
    const payload = new Uint8Array(400)
    const start = performance.now()
    let sent = 0
    let maxQueued = 0
    while (performance.now() - start < 4_000) {
      if (sent - acked >= WINDOW) {
        await new Promise<void>(resolve => { wake = resolve; setTimeout(resolve, 50) })
        continue
      }
      circuit.send(RelayCommand.DROP, 0, payload)
      sent++
      maxQueued = Math.max(maxQueued, relayA.links.queuedCells)
      if (sent % 64 === 0) await tick()
    }
    assert.ok(!circuit.closed, 'the circuit survived the flood')
    // after the first second's burst, the bucket alone sets the pace
    const from = arrivals.findIndex(at => at - start >= 1_500)
    const last = arrivals.length - 1
    assert.ok(from > 0 && last - from > 100, `${arrivals.length} cells arrived`)
    const cellsPerSec = (last - from) / ((arrivals[last] as number) - (arrivals[from] as number)) * 1000
    // B also sends one ack cell back through A per ACK_EVERY cells, which spends A's bucket too
    const bytesPerSec = cellsPerSec * CELL_LEN * (ACK_EVERY + 1) / ACK_EVERY
    console.log(`# relay capped at 1,000,000 B/s wrote ${Math.round(bytesPerSec).toLocaleString('en')} B/s (${Math.round(cellsPerSec)} cells/s delivered after the burst, ${arrivals.length} cells in 4 s; A's queues peaked at ${maxQueued} cells; counters ${JSON.stringify(relayA.links.stats)})`)
    assert.ok(bytesPerSec > 750_000 && bytesPerSec < 1_250_000, `${Math.round(bytesPerSec)} B/s`)
    assert.ok(relayA.links.stats.bytesWritten >= arrivals.length * CELL_LEN)
    circuit.destroy()
  })

  it('kills the flooding circuit when the next hop stops reading, with the relay\'s queue bounded', async (t) => {
    const td = teardown()
    t.after(async () => { await td.run() })
    const { a, b, relayA, circuit, links } = await twoHops(td)
    // B stops reading its link from A: yamux stops granting A window, A's writes must wait
    linkStream(b, a).pause()
    const toB = linkStream(a, b)
    const heapBefore = process.memoryUsage().heapUsed
    let reason: Error | undefined
    circuit.onClose = (err) => { reason = err }
    let sent = 0
    let maxQueued = 0
    let maxStreamBuffer = 0
    const started = performance.now()
    while (!circuit.closed && sent < 20_000 && performance.now() - started < 15_000) {
      // the client's own link is not the bottleneck: keep its queue short
      if (links.queuedCells > 100) { await tick(); continue }
      circuit.send(RelayCommand.DROP, 0, new Uint8Array(400))
      sent++
      if (sent % 32 === 0) {
        maxQueued = Math.max(maxQueued, relayA.links.queuedCells)
        maxStreamBuffer = Math.max(maxStreamBuffer, toB.writeBufferLength)
        await tick()
      }
    }
    await waitFor(() => circuit.closed, { timeoutMs: 5_000, what: 'the flooding circuit to be killed' })
    const heapGrowth = process.memoryUsage().heapUsed - heapBefore
    console.log(`# stalled next hop: circuit killed after ${sent} cells sent (${reason?.message ?? ''}); A's queue peaked at ${maxQueued} cells, its stream buffer at ${maxStreamBuffer} bytes, heap grew ${(heapGrowth / 2 ** 20).toFixed(1)} MiB; counters ${JSON.stringify(relayA.links.stats)}`)
    assert.ok(maxQueued <= 1000 + 2, `A queued ${maxQueued} cells`)
    assert.ok(maxStreamBuffer <= 64 * 1024, `A's stream buffered ${maxStreamBuffer} bytes`)
    assert.ok(relayA.links.stats.circuitsKilled >= 1)
    await waitFor(() => relayA.circuitCount === 0 && relayA.links.queuedCells <= 1, { timeoutMs: 5_000, what: 'A to free the circuit and its queue' })
  })

  it('refuses most of a burst of 500 CREATE2 from one peer with DESTROY RESOURCELIMIT, and still serves others', async (t) => {
    const td = teardown()
    t.after(async () => { await td.run() })
    const [flooder, well, a] = [td.node(await host()), td.node(await host()), td.node(await host())]
    const relay = new OnionRelay({ host: a, network: NETWORK })
    await relay.start()
    td.add(async () => { await relay.stop() }, 'stop the relay')
    await flooder.dial(a.getMultiaddrs())
    await well.dial(a.getMultiaddrs())

    const stream = await flooder.dialProtocol(a.peerId, onionLinkProtocol(NETWORK))
    const answers: Cell[] = []
    void (async () => {
      const reader = new CellReader()
      try { for await (const chunk of stream) answers.push(...reader.push(chunk)) } catch { /* closed at teardown */ }
    })()
    const onionskin = (): Uint8Array => encodeCreate2({ handshakeType: 2, handshake: ntorClientCreate(relay.relayId, relay.onionKey).onionskin })
    const skins = Array.from({ length: 500 }, onionskin)
    const started = performance.now()
    for (let i = 0; i < 500; i++) stream.send(encodeCell({ circId: (0x80000000 | (i + 1)) >>> 0, command: CellCommand.CREATE2, body: skins[i] as Uint8Array }))
    await waitFor(() => answers.length >= 500, { timeoutMs: 10_000, what: 'an answer to each CREATE2' })
    const ms = performance.now() - started
    const created = answers.filter(c => c.command === CellCommand.CREATED2).length
    const refused = answers.filter(c => c.command === CellCommand.DESTROY && c.body[0] === DESTROY_RESOURCELIMIT).length
    console.log(`# 500 CREATE2 in a burst: ${created} handshakes done, ${refused} refused with RESOURCELIMIT, all answered in ${ms.toFixed(0)} ms; relay circuitsCreated ${relay.stats.circuitsCreated}, createsRefused ${relay.links.stats.createsRefused}`)
    assert.equal(created + refused, 500)
    assert.ok(refused >= 430, `${refused} refused`)
    assert.ok(created <= 70, `${created} handshakes done`)
    assert.equal(relay.stats.circuitsCreated, created, 'no handshake for a refused CREATE2')
    assert.equal(relay.links.stats.createsRefused, refused)

    // another peer is served at once
    const links = new LinkManager({ host: well, network: NETWORK })
    td.add(async () => { await links.stop() }, 'stop the well-behaved client links')
    const circuit = await buildCircuit(links, [{ peerId: a.peerId, onionKey: relay.onionKey }])
    assert.equal(circuit.hops, 1)
    circuit.destroy()
    // and the flooder again once its bucket refilled a little
    await new Promise(resolve => setTimeout(resolve, 300))
    const before = answers.length
    stream.send(encodeCell({ circId: (0x80000000 | 1000) >>> 0, command: CellCommand.CREATE2, body: onionskin() }))
    await waitFor(() => answers.length > before, { timeoutMs: 5_000, what: 'an answer to a later CREATE2' })
    assert.equal(answers[before]?.command, CellCommand.CREATED2)
  })
})
