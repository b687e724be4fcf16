/**
 * Two stream edges back to back in memory (a client and an exit): writes become DATA cells of at
 * most 498 bytes, a reader that does not read stops the writer after one stream window (the write
 * callback waits), END reasons become typed errors, end() closes both ways, the exit answers the
 * 257th stream on a circuit with END RESOURCELIMIT, and a stream SENDME past the window's maximum
 * is a protocol violation.
 */
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { describe, it } from 'node:test'
import { RELAY_DATA_MAX, RelayCommand } from '../../../src/onion/cell.ts'
import type { RelayMessage } from '../../../src/onion/cell.ts'
import { MAX_STREAMS_PER_CIRCUIT, StreamEdge, decodeBegin, encodeBegin } from '../../../src/onion/edge.ts'
import type { StreamEdgeInit } from '../../../src/onion/edge.ts'
import { STREAM_WINDOW } from '../../../src/onion/flow.ts'
import { EndReason } from '../../../src/onion/stream-errors.ts'
import type { OnionStream } from '../../../src/onion/stream.ts'

/** A client edge and an exit edge joined by an in-memory circuit that delivers in order, asynchronously. */
function pair (onBegin: (exit: StreamEdge, stream: OnionStream) => void, clientInit: Partial<StreamEdgeInit> = {}): { client: StreamEdge, exit: StreamEdge, cells: RelayMessage[], violations: Error[] } {
  const cells: RelayMessage[] = []
  const violations: Error[] = []
  const ends: Array<{ edge?: StreamEdge, sent: Uint8Array, received: Uint8Array }> = [{ sent: new Uint8Array(32), received: new Uint8Array(32) }, { sent: new Uint8Array(32), received: new Uint8Array(32) }]
  const transport = (me: 0 | 1): StreamEdgeInit['transport'] => ({
    send: (command, streamId, data) => {
      const from = ends[me] as { sent: Uint8Array }
      // a running digest, as the relay crypto keeps one per direction
      from.sent = createHash('sha256').update(from.sent).update(Uint8Array.of(command, streamId >> 8, streamId & 0xff)).update(data).digest()
      const digest = from.sent
      const msg = { command, streamId, data: Uint8Array.from(data) }
      if (me === 0) cells.push(msg)
      queueMicrotask(() => {
        const to = ends[1 - me] as { edge?: StreamEdge, received: Uint8Array }
        to.received = digest
        try { to.edge?.receive(msg) } catch (err) { violations.push(err as Error) }
      })
    },
    lastSentDigest: () => (ends[me] as { sent: Uint8Array }).sent,
    lastReceivedDigest: () => (ends[me] as { received: Uint8Array }).received
  })
  const client = new StreamEdge({ transport: transport(0), ...clientInit })
  const exit: StreamEdge = new StreamEdge({ transport: transport(1), onBegin: s => { onBegin(exit, s) } })
  ;(ends[0] as { edge?: StreamEdge }).edge = client
  ;(ends[1] as { edge?: StreamEdge }).edge = exit
  return { client, exit, cells, violations }
}

async function settle (): Promise<void> {
  await new Promise(resolve => setTimeout(resolve, 20))
}

describe('stream edges', () => {
  it('encodes both BEGIN forms and decodes them back', () => {
    assert.deepEqual(decodeBegin(encodeBegin({ host: 'example.org', port: 443 })), { host: 'example.org', port: 443 })
    assert.deepEqual(decodeBegin(encodeBegin({ host: '::1', port: 80 })), { host: '::1', port: 80 })
    assert.deepEqual(decodeBegin(encodeBegin({ peer: '12D3KooWabc', protocol: '/peerd/regtest/echo/1.0.0' })), { peer: '12D3KooWabc', protocol: '/peerd/regtest/echo/1.0.0' })
    assert.throws(() => encodeBegin({ host: 'x.peer', port: 1 }), { name: 'InvalidBeginError' })
    assert.throws(() => decodeBegin(new TextEncoder().encode('no-nul:80')), { name: 'InvalidBeginError' })
    assert.throws(() => decodeBegin(Uint8Array.from([...new TextEncoder().encode('h:99999'), 0])), { name: 'InvalidBeginError' })
  })

  it('splits writes into DATA cells of at most 498 bytes and delivers them intact', async () => {
    const { client, cells } = pair((exit, s) => { exit.connected(s, '127.0.0.1'); s.pipe(s) })
    const stream = await client.open({ host: '127.0.0.1', port: 7 })
    const data = randomBytes(10_000)
    stream.write(data)
    const back: Buffer[] = []
    let got = 0
    for await (const chunk of stream) { back.push(chunk as Buffer); got += (chunk as Buffer).length; if (got >= data.length) break }
    assert.deepEqual(Buffer.concat(back), data)
    const dataCells = cells.filter(c => c.command === RelayCommand.DATA)
    assert.equal(dataCells.length, Math.ceil(data.length / RELAY_DATA_MAX))
    assert.ok(dataCells.every(c => c.data.length <= RELAY_DATA_MAX))
  })

  it('holds the writer after one stream window while the far end does not read', async () => {
    let far: OnionStream | undefined
    const { client } = pair((exit, s) => { far = s; exit.connected(s) })
    const stream = await client.open({ host: '127.0.0.1', port: 7 })
    let callbacks = 0
    const chunk = new Uint8Array(RELAY_DATA_MAX)
    for (let i = 0; i < STREAM_WINDOW + 100; i++) stream.write(chunk, () => { callbacks++ })
    await settle()
    assert.equal(client.cellsSent, STREAM_WINDOW)
    assert.equal(callbacks, STREAM_WINDOW)
    // the reader reads: stream SENDMEs reopen the window and the rest goes
    far?.resume()
    await settle()
    assert.equal(client.cellsSent, STREAM_WINDOW + 100)
  })

  it('turns END reasons into typed errors and closes both ways on end()', async () => {
    let far: OnionStream | undefined
    const { client } = pair((exit, s) => {
      if ('host' in s.target && s.target.port === 4) { exit.refuse(s, EndReason.EXITPOLICY); return }
      far = s
      s.resume()
      exit.connected(s)
    })
    await assert.rejects(client.open({ host: '10.0.0.1', port: 4 }), { name: 'StreamRefusedError', reason: EndReason.EXITPOLICY })
    const stream = await client.open({ host: '127.0.0.1', port: 5 })
    stream.resume()
    stream.end()
    await settle()
    assert.equal(far?.readableEnded, true, 'the exit side did not end')
    assert.equal(far?.destroyed, true, 'the exit side is still open for writing')
    assert.equal(client.size, 0)
    assert.equal(stream.destroyed, true)
  })

  it('answers the 257th stream on a circuit with END RESOURCELIMIT', async () => {
    const { client, exit } = pair((e, s) => { e.connected(s) }, { maxStreams: 1000 })
    const opened = await Promise.all(Array.from({ length: MAX_STREAMS_PER_CIRCUIT }, async () => await client.open({ host: '127.0.0.1', port: 1 })))
    assert.equal(exit.size, MAX_STREAMS_PER_CIRCUIT)
    await assert.rejects(client.open({ host: '127.0.0.1', port: 1 }), { name: 'StreamRefusedError', reason: EndReason.RESOURCELIMIT })
    for (const s of opened) s.destroy()
    await settle()
    assert.equal(exit.size, 0)
  })

  it('raises a protocol violation for a stream SENDME past the window and a forged circuit SENDME', async () => {
    const { client, exit, violations } = pair((e, s) => { e.connected(s) })
    const stream = await client.open({ host: '127.0.0.1', port: 1 })
    assert.throws(() => { exit.receive({ command: RelayCommand.SENDME, streamId: stream.id, data: new Uint8Array(0) }) }, { name: 'FlowControlError' })
    assert.throws(() => { exit.receive({ command: RelayCommand.SENDME, streamId: 0, data: Uint8Array.of(1, 0, 32, ...randomBytes(32)) }) }, { name: 'FlowControlError' })
    assert.deepEqual(violations, [])
  })
})
