/**
 * The Bitswap outbox keeps its queue when it cannot open a stream only because this node's
 * earlier streams to the peer are still closing (libp2p's TooManyOutboundProtocolStreamsError):
 * before, the wants taken for the message and the rest of the queue were dropped, and a download
 * whose only provider was that peer stalled until its timeout. Unit test with a stand-in stream.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { TooManyOutboundProtocolStreamsError } from '@libp2p/interface'
import type { PeerId, Stream } from '@libp2p/interface'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import * as varint from 'uint8-varint'
import type { Uint8ArrayList } from 'uint8arraylist'
import { BITSWAP_120 } from '../../../src/share/bitswap/constants.ts'
import { decodeMessage, WantType } from '../../../src/share/bitswap/message.ts'
import { Outbox } from '../../../src/share/bitswap/outbox.ts'
import { waitFor } from '../../utils/index.ts'

/** A stream that records the frames sent on it. */
function recordingStream (frames: Uint8Array[]): Stream {
  return {
    protocol: BITSWAP_120,
    send: (data: Uint8Array | Uint8ArrayList) => {
      const bytes = data.subarray()
      frames.push(bytes.subarray(varint.encodingLength(varint.decode(bytes))))
      return true
    },
    onDrain: async () => {},
    closeRead: async () => {},
    close: async () => {},
    abort: () => {}
  } as unknown as Stream
}

describe('bitswap outbox', () => {
  it('keeps its queue while the peer\'s earlier streams are still closing, and sends it once one has gone', async () => {
    const cid = CID.createV1(raw.code, await sha256.digest(new Uint8Array([1, 2, 3])))
    const frames: Uint8Array[] = []
    const errors: Error[] = []
    let opens = 0
    const out = new Outbox({
      peerId: { toString: () => 'peer' } as unknown as PeerId,
      open: async () => {
        if (opens++ < 2) throw new TooManyOutboundProtocolStreamsError('Too many outbound protocol streams for protocol "/ipfs/bitswap/1.2.0" - 5/4')
        return recordingStream(frames)
      },
      load: async () => undefined,
      onSent: () => {},
      onError: (err) => { errors.push(err) }
    })
    try {
      out.want({ cid, priority: 1, cancel: false, wantType: WantType.Block, sendDontHave: true })
      await waitFor(() => frames.length > 0, { timeoutMs: 3_000, what: 'the want to be sent' })
      const msg = decodeMessage(frames[0] as Uint8Array)
      assert.deepEqual(msg.wantlist?.entries.map(e => e.cid.toString()), [cid.toString()])
      assert.equal(opens, 3)
      assert.deepEqual(errors, [], 'a transient stream limit is not a send failure')
    } finally {
      out.close()
    }
  })
})
