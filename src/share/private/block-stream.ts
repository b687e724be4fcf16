/**
 * An onion circuit's stream (a node:stream `Duplex`) as the {@link BlockStream} a download's
 * provider stream reads and writes, so a private download runs the same block protocol code as a
 * direct one.
 * @module
 */
import type { Duplex } from 'node:stream'
import type { Uint8ArrayList } from 'uint8arraylist'
import type { BlockStream } from '../session/provider-peer.ts'

/** Wraps `duplex`; its errors reach the reader through iteration, never as an unhandled event. */
export function blockStreamOver (duplex: Duplex): BlockStream {
  // the reader's loop sees a failure as a thrown error; after it has ended, a late one is moot
  duplex.on('error', () => {})
  return {
    send: (data: Uint8Array | Uint8ArrayList) => {
      if (duplex.destroyed || duplex.writableEnded) throw new Error('the onion stream is closed')
      return duplex.write(data instanceof Uint8Array ? data : data.subarray())
    },
    abort: (err: Error) => { duplex.destroy(err) },
    [Symbol.asyncIterator]: () => duplex[Symbol.asyncIterator]() as AsyncIterator<Uint8Array>
  }
}
