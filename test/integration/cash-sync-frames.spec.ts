/**
 * Chain sync's client side penalizes a peer whose answer breaks the framing (a frame length over
 * the response limit), as it does one that breaks the chain protocol's messages: the frame
 * reader's errors are ProtocolErrors (`src/net/frames.ts`). Two real nodes on loopback TCP.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { Stream } from '@libp2p/interface'
import * as varint from 'uint8-varint'
import { chainProtocol } from '../../src/cash/sync/protocol.ts'
import { waitFor } from '../utils/index.ts'
import { teardown } from '../utils/teardown.ts'

describe('cash sync: a peer answering with an oversized frame', () => {
  const td = teardown()

  it('is penalized for a STATUS answer declaring 4 GiB, which is never read', { timeout: 30_000 }, async () => {
    const [victim, liar] = await Promise.all([td.testNode(), td.testNode()])
    await liar.cash.sync.stop()
    let answered = 0
    await liar.libp2p.handle(chainProtocol('regtest'), (stream: Stream) => {
      answered++
      // a length far over MAX_RESPONSE_FRAME and a first byte of TIP; nothing else follows
      stream.send(Uint8Array.from([...varint.encode(2 ** 32), 0x81]))
      void stream.close().catch(() => {})
    })
    await victim.connect(liar.addresses()[0] as string)
    await waitFor(() => victim.scores.score(liar.peerId) > 0, { timeoutMs: 10_000, what: 'the liar penalized' })
    assert.ok(answered >= 1)
    assert.ok(victim.scores.score(liar.peerId) >= 19, `score ${victim.scores.score(liar.peerId)}: 20 for breaking the chain protocol`)
  })
})
