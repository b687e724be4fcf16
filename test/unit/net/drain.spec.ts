/**
 * `waitForDrain` over a real Yamux stream on loopback TCP: a receiver that reads 1 MiB and then
 * stops reading must stop the sender, after the stream has already drained once (where
 * `stream.onDrain()` of @libp2p/utils 7.4 returns at once and the write buffer grows without end).
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { Stream } from '@libp2p/interface'
import { waitForDrain } from '../../../src/net/drain.ts'
import { loopbackHost } from '../../utils/loopback-host.ts'
import { teardown } from '../../utils/teardown.ts'

const PROTOCOL = '/peerd/test/drain/1.0.0'

/** Sends 64 KiB chunks for `ms`, waiting with `wait` whenever `send` says the buffer is full; the largest write buffer seen. */
async function flood (stream: Stream, ms: number, wait: (s: Stream) => Promise<void>): Promise<number> {
  const chunk = new Uint8Array(64 * 1024)
  let most = 0
  const end = Date.now() + ms
  while (Date.now() < end) {
    const ok = stream.send(chunk)
    most = Math.max(most, stream.writeBufferLength)
    if (!ok) await Promise.race([wait(stream), new Promise(resolve => setTimeout(resolve, end - Date.now()))])
  }
  return most
}

describe('waitForDrain', () => {
  const td = teardown()

  it('keeps a sender to its buffer after a first drain, while the receiver stops reading', { timeout: 30_000 }, async () => {
    const a = td.node(await loopbackHost())
    const b = td.node(await loopbackHost())
    await b.handle(PROTOCOL, async (stream) => {
      let got = 0
      for await (const c of stream) {
        got += c.byteLength
        if (got > 1024 * 1024) await new Promise(() => {}) // stops reading for good
      }
    })
    const stream = await a.dialProtocol(b.getMultiaddrs(), PROTOCOL)
    const most = await flood(stream, 1500, async s => { await waitForDrain(s) })
    stream.abort(new Error('done'))
    // the sender stops within a few of its chunks: megabytes would mean backpressure was lost
    assert.ok(most < 2 * 1024 * 1024, `write buffer grew to ${most} bytes`)
    await td.run()
  })

  it('rejects when the stream closes while waiting, and resolves at once when there is room', { timeout: 30_000 }, async () => {
    const a = td.node(await loopbackHost())
    const b = td.node(await loopbackHost())
    await b.handle(PROTOCOL, async () => { await new Promise(() => {}) })
    const stream = await a.dialProtocol(b.getMultiaddrs(), PROTOCOL)
    await waitForDrain(stream) // nothing sent yet: room
    const chunk = new Uint8Array(64 * 1024)
    while (stream.send(chunk)) { /* fill it */ }
    const waiting = waitForDrain(stream)
    stream.abort(new Error('gone'))
    await assert.rejects(waiting)
    await td.run()
  })
})
