/**
 * Yamux window updates on onion links: one per half receive window, not one per data frame.
 *
 * `@chainsafe/libp2p-yamux` answers every data frame it receives with a window update: a 12-byte
 * frame that becomes its own Noise message and socket write, and wakes the sending peer. On a
 * relay moving one batch of cells per frame that was half of all its socket writes, and socket
 * writes were the largest cost in its profile. go-yamux and hashicorp/yamux send an update only
 * once the window is at least half used; {@link lazyWindowUpdates} makes an onion link's stream
 * do the same. The sender never stalls for it: it stops only at a window of zero, and by then
 * more than half is used, so the update goes.
 *
 * It touches the stream's internals (`state`, `recvWindow`, `recvWindowCapacity`,
 * `sendWindowUpdate`), so it checks their shape first and leaves any other stream as it is.
 * @module
 */

/** Yamux's StreamState.Established: the only state whose updates may wait (others carry flags). */
const ESTABLISHED = 3

interface YamuxStreamInternals {
  state: number
  recvWindow: number
  recvWindowCapacity: number
  sendWindowUpdate: () => void
}

/** Marks a stream whose window updates were made lazy (read by tests). */
export const LAZY_WINDOW = Symbol.for('peerd.onion.lazyWindow')

function isYamuxStream (s: unknown): s is YamuxStreamInternals {
  const v = s as Partial<YamuxStreamInternals> | null
  return v != null && typeof v.sendWindowUpdate === 'function' && typeof v.state === 'number' &&
    typeof v.recvWindow === 'number' && typeof v.recvWindowCapacity === 'number'
}

/** Makes a Yamux stream send a window update only once half its receive window is used; returns whether it did. */
export function lazyWindowUpdates (stream: unknown): boolean {
  if (!isYamuxStream(stream)) return false
  const send = stream.sendWindowUpdate.bind(stream)
  stream.sendWindowUpdate = () => {
    if (stream.state === ESTABLISHED && stream.recvWindowCapacity * 2 > stream.recvWindow) return
    send()
  }
  Object.defineProperty(stream, LAZY_WINDOW, { value: true })
  return true
}
