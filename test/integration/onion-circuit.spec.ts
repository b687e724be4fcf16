/**
 * Onion circuits over real libp2p hosts on loopback TCP (issue 16): a client builds a three-hop
 * circuit through relays A, B and C telescopically; relay messages are recognized only by the hop
 * they are for; each relay sees only its neighbours on the circuit; every link write is one
 * 514-byte cell; a flipped bit tears the circuit down everywhere; a stopped relay ends the
 * client's circuit; malformed cells close a link without harm to the relay.
 */
import assert from 'node:assert/strict'
import { before, describe, it } from 'node:test'
import type { Libp2p, Stream } from '@libp2p/interface'
import { CELL_LEN, CellCommand, RelayCommand, encodeCell, encodeCreate2 } from '../../src/onion/cell.ts'
import { buildCircuit } from '../../src/onion/circuit.ts'
import type { Circuit, PathHop } from '../../src/onion/circuit.ts'
import { LinkManager, onionLinkProtocol } from '../../src/onion/link.ts'
import { ntorClientCreate } from '../../src/onion/ntor.ts'
import { OnionRelay } from '../../src/onion/relay.ts'
import type { OnionRelayInit } from '../../src/onion/relay.ts'
import { loopbackHost } from '../utils/loopback-host.ts'
import { teardown } from '../utils/teardown.ts'
import { waitFor } from '../utils/index.ts'

const NETWORK = 'regtest'

/** A hostile relay: flips one bit of the forward cells it passes on while `tamper` is set. */
class TamperingRelay extends OnionRelay {
  tamper = false
  protected override passForward (body: Uint8Array): Uint8Array {
    if (this.tamper) body[100] = (body[100] as number) ^ 0x01
    return body
  }
}

const host = loopbackHost

describe('onion circuits through three relays', () => {
  const td = teardown()
  let client: Libp2p
  let hosts: Libp2p[]
  let relays: OnionRelay[]
  let tampering: TamperingRelay
  let links: LinkManager
  /** Sizes of every chunk any node wrote on a link. */
  const writes: number[] = []
  /** Relay messages each relay got for itself. */
  const got: Array<Array<{ command: number, data: string }>> = [[], [], []]
  let path: PathHop[]

  before(async () => {
    client = td.node(await host())
    hosts = [td.node(await host()), td.node(await host()), td.node(await host())]
    relays = hosts.map((h, i) => {
      const init: OnionRelayInit = {
        host: h,
        network: NETWORK,
        onWrite: (_peer, chunk) => { writes.push(chunk.length) },
        onMessage: (circuit, msg) => {
          const data = new TextDecoder().decode(msg.data)
          got[i]?.push({ command: msg.command, data })
          if (msg.command === RelayCommand.DATA) circuit.reply(RelayCommand.DATA, msg.streamId, new TextEncoder().encode(`pong ${data}`))
        }
      }
      return i === 0 ? new TamperingRelay(init) : new OnionRelay(init)
    })
    tampering = relays[0] as TamperingRelay
    for (const r of relays) { await r.start(); td.add(async () => { await r.stop() }, 'stop a relay') }
    links = new LinkManager({ host: client, network: NETWORK, onWrite: (_link, chunk) => { writes.push(chunk.length) } })
    td.add(async () => { await links.stop() }, 'stop the client links')
    // each node learns its successor's address, as the DHT or a peer exchange would tell it
    const [a, b, c] = hosts as [Libp2p, Libp2p, Libp2p]
    await client.dial(a.getMultiaddrs())
    await a.dial(b.getMultiaddrs())
    await b.dial(c.getMultiaddrs())
    path = hosts.map((h, i) => ({ peerId: h.peerId, onionKey: (relays[i] as OnionRelay).onionKey }))
  })

  function recognized (i: number, command: number): number {
    return (relays[i] as OnionRelay).stats.recognized[command] ?? 0
  }

  async function closedWithin (circuit: Circuit, ms: number): Promise<Error> {
    if (circuit.closed) return new Error('already closed')
    return await new Promise<Error>((resolve, reject) => {
      const timer = setTimeout(() => { reject(new Error(`circuit still open after ${ms} ms`)) }, ms)
      circuit.onClose = (err) => { clearTimeout(timer); resolve(err) }
    })
  }

  it('relays a message to the third hop only, and its reply back decrypted as the third hop\'s', async () => {
    const circuit = await buildCircuit(links, path)
    assert.equal(circuit.hops, 3)
    const replies: Array<{ hop: number, data: string }> = []
    circuit.onMessage = (hop, msg) => { replies.push({ hop, data: new TextDecoder().decode(msg.data) }) }
    circuit.send(RelayCommand.DROP, 0, new TextEncoder().encode('for A'), 0)
    circuit.send(RelayCommand.DROP, 0, new TextEncoder().encode('for B'), 1)
    circuit.send(RelayCommand.DROP, 0, new TextEncoder().encode('drop me'))
    circuit.send(RelayCommand.DATA, 7, new TextEncoder().encode('ping'))
    await waitFor(() => replies.length > 0, { timeoutMs: 5_000, what: 'the reply' })
    assert.deepEqual(replies, [{ hop: 2, data: 'pong ping' }])
    assert.deepEqual(got, [
      [{ command: RelayCommand.DROP, data: 'for A' }],
      [{ command: RelayCommand.DROP, data: 'for B' }],
      [{ command: RelayCommand.DROP, data: 'drop me' }, { command: RelayCommand.DATA, data: 'ping' }]
    ])
    for (const i of [0, 1]) {
      assert.equal(recognized(i, RelayCommand.DATA), 0, `relay ${i} recognized a message for hop 3`)
      assert.equal(recognized(i, RelayCommand.DROP), 1, `relay ${i} recognized another hop's DROP`)
      assert.equal(recognized(i, RelayCommand.EXTEND2), 1, `relay ${i} extended once`)
    }

    // each relay exchanged this circuit's cells with its predecessor and successor only
    const [a, b, c] = hosts.map(h => h.peerId.toString()) as [string, string, string]
    const seen = relays.map(r => r.circuitPeers().map(p => [...p].sort()))
    assert.deepEqual(seen, [[[client.peerId.toString(), b].sort()], [[a, c].sort()], [[b]]])

    // every write on every link was a whole number of cells (a batch): no message length shows
    const cellsWritten = writes.reduce((sum, n) => sum + n / CELL_LEN, 0)
    assert.ok(cellsWritten >= 3 + 2 + 2 + 2, `${cellsWritten} cells in ${writes.length} writes`)
    assert.deepEqual(writes.filter(n => n === 0 || n % CELL_LEN !== 0), [], 'writes that are not whole cells')

    circuit.destroy()
    await waitFor(() => relays.every(r => r.circuitCount === 0), { timeoutMs: 5_000, what: 'the DESTROY to free every relay\'s entry' })
  })

  it('bounds the circuits on one link', async (t) => {
    const bounded = new LinkManager({ host: client, network: NETWORK, maxCircuitsPerLink: 1 })
    t.after(async () => { await bounded.stop() })
    const circuit = await buildCircuit(bounded, path.slice(0, 1))
    await assert.rejects(buildCircuit(bounded, path.slice(0, 1)), { name: 'OnionLimitError' })
    circuit.destroy()
    await waitFor(() => (relays[0] as OnionRelay).circuitCount === 0, { timeoutMs: 5_000, what: 'A to free the circuit' })
    ;(await buildCircuit(bounded, path.slice(0, 1))).destroy()
  })

  it('destroys a circuit that carries more than 8 RELAY_EARLY cells', async () => {
    const circuit = await buildCircuit(links, path)
    const replies: string[] = []
    circuit.onMessage = (_hop, msg) => { replies.push(new TextDecoder().decode(msg.data)) }
    // the build's two EXTEND2 cells passed A as RELAY_EARLY: six more reach the limit of 8
    for (let i = 0; i < 6; i++) circuit.send(RelayCommand.DROP, 0, new Uint8Array(0), 2, true)
    circuit.send(RelayCommand.DATA, 1, new TextEncoder().encode('eight'))
    await waitFor(() => replies.length > 0, { timeoutMs: 5_000, what: 'a reply after 8 RELAY_EARLY cells' })
    const closed = closedWithin(circuit, 5_000)
    circuit.send(RelayCommand.DROP, 0, new Uint8Array(0), 2, true)
    assert.equal((await closed).name, 'CircuitClosedError')
    await waitFor(() => relays.every(r => r.circuitCount === 0), { timeoutMs: 5_000, what: 'every relay to free the circuit' })
  })

  it('refuses a replayed CREATE2 handshake with DESTROY', async () => {
    const link = await links.get((hosts[0] as Libp2p).peerId)
    const { onionskin } = ntorClientCreate(tampering.relayId, tampering.onionKey)
    const answers: number[] = []
    const ids: number[] = []
    for (let i = 0; i < 2; i++) {
      const circId = link.register({ cell: c => { answers.push(c.command); link.unregister(circId) }, linkClosed: () => {} })
      ids.push(circId)
      link.send({ circId, command: CellCommand.CREATE2, body: encodeCreate2({ handshakeType: 2, handshake: onionskin }) })
      await waitFor(() => answers.length > i, { timeoutMs: 5_000, what: `an answer to CREATE2 number ${i + 1}` })
    }
    assert.deepEqual(answers, [CellCommand.CREATED2, CellCommand.DESTROY])
    link.send({ circId: ids[0] as number, command: CellCommand.DESTROY, body: new Uint8Array(1) })
    await waitFor(() => tampering.circuitCount === 0, { timeoutMs: 5_000, what: 'A to free the first circuit' })
  })

  it('closes a link that sends malformed cells, and the relay keeps serving', async () => {
    const errorsBefore = tampering.stats.linkErrors
    const [a] = hosts as [Libp2p]
    const protocol = onionLinkProtocol(NETWORK)
    const ended = async (stream: Stream): Promise<void> => {
      await waitFor(() => stream.status !== 'open' || stream.readableEnded, { timeoutMs: 5_000, what: 'the relay to close the link' })
    }
    // an unknown cell command
    const bad = new Uint8Array(CELL_LEN)
    bad.set([0, 0, 0, 1, 0xee])
    let s = await client.dialProtocol(a.peerId, protocol)
    s.send(bad)
    await ended(s)
    // CREATE2 on a circuit id of the relay's half (the opener's ids have the high bit set)
    s = await client.dialProtocol(a.peerId, protocol)
    s.send(encodeCell({ circId: 5, command: CellCommand.CREATE2, body: encodeCreate2({ handshakeType: 2, handshake: new Uint8Array(96) }) }))
    await ended(s)
    // a stream that ends inside a cell
    s = await client.dialProtocol(a.peerId, protocol)
    s.send(new Uint8Array(100))
    await s.close()
    await waitFor(() => tampering.stats.linkErrors >= errorsBefore + 3, { timeoutMs: 5_000, what: 'three link errors' })

    const circuit = await buildCircuit(links, path)
    const replies: string[] = []
    circuit.onMessage = (_hop, msg) => { replies.push(new TextDecoder().decode(msg.data)) }
    circuit.send(RelayCommand.DATA, 1, new TextEncoder().encode('still there?'))
    await waitFor(() => replies.length > 0, { timeoutMs: 5_000, what: 'a reply over a new circuit' })
    circuit.destroy()
    await waitFor(() => relays.every(r => r.circuitCount === 0), { timeoutMs: 5_000, what: 'entries freed' })
  })

  it('tears the circuit down everywhere when a relay flips a bit in a forward cell', async () => {
    const circuit = await buildCircuit(links, path)
    const failuresBefore = (relays[2] as OnionRelay).stats.integrityFailures
    const closed = closedWithin(circuit, 5_000)
    tampering.tamper = true
    try {
      circuit.send(RelayCommand.DATA, 1, new TextEncoder().encode('tampered'))
      const err = await closed
      assert.equal(err.name, 'CircuitClosedError')
    } finally {
      tampering.tamper = false
    }
    assert.equal((relays[2] as OnionRelay).stats.integrityFailures, failuresBefore + 1)
    assert.ok(!got[2]?.some(m => m.data === 'tampered'))
    await waitFor(() => relays.every(r => r.circuitCount === 0), { timeoutMs: 5_000, what: 'every relay to free the circuit' })
  })

  it('ends the client\'s circuit when the middle relay stops', async () => {
    const circuit = await buildCircuit(links, path)
    const closed = closedWithin(circuit, 5_000)
    const started = Date.now()
    // the host goes away without a word from its relay: its links just close
    await (hosts[1] as Libp2p).stop()
    const err = await closed
    assert.equal(err.name, 'CircuitClosedError')
    assert.ok(Date.now() - started < 5_000)
    await waitFor(() => (relays[0] as OnionRelay).circuitCount === 0 && (relays[2] as OnionRelay).circuitCount === 0, { timeoutMs: 5_000, what: 'A and C to free the circuit' })
  })
})
