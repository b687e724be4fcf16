/**
 * Waiting for a libp2p stream's write buffer to drain, which is what gives a sender backpressure.
 *
 * Not `stream.onDrain()`: in @libp2p/utils 7.4 the promise it makes is resolved on the first
 * 'drain' and never replaced, so every later call returns at once while the stream is still full,
 * and a loop of `if (!stream.send(x)) await stream.onDrain()` then buffers without bound. This
 * waits for the next 'drain' event itself.
 * @module
 */
import type { MessageStreamEvents, StreamCloseEvent } from '@libp2p/interface'
import { PeerdError } from '../errors.ts'

/** The stream closed (or was reset) while a sender waited for room in it. */
export class WriteClosedError extends PeerdError {
  static override name = 'WriteClosedError'
}

/** What {@link waitForDrain} needs of a stream. */
export interface Drainable {
  readonly writableNeedsDrain: boolean
  readonly status: string
  addEventListener: <K extends keyof MessageStreamEvents>(type: K, listener: (evt: MessageStreamEvents[K]) => void) => void
  removeEventListener: <K extends keyof MessageStreamEvents>(type: K, listener: (evt: MessageStreamEvents[K]) => void) => void
}

/**
 * Resolves once `stream` takes more data (at once if it already does); rejects when it closes
 * first, or with the signal's reason.
 */
export async function waitForDrain (stream: Drainable, options: { signal?: AbortSignal } = {}): Promise<void> {
  if (!stream.writableNeedsDrain) return
  if (stream.status !== 'open') throw new WriteClosedError(`the stream is ${stream.status}`)
  options.signal?.throwIfAborted()
  await new Promise<void>((resolve, reject) => {
    const done = (): void => {
      stream.removeEventListener('drain', onDrain)
      stream.removeEventListener('close', onClose)
      options.signal?.removeEventListener('abort', onAbort)
    }
    const onDrain = (): void => { done(); resolve() }
    const onClose = (evt: StreamCloseEvent): void => { done(); reject(evt.error ?? new WriteClosedError('the stream closed while waiting to write')) }
    const onAbort = (): void => { done(); reject(options.signal?.reason) }
    stream.addEventListener('drain', onDrain)
    stream.addEventListener('close', onClose)
    options.signal?.addEventListener('abort', onAbort, { once: true })
  })
}
