/**
 * Length-prefixed frames over a libp2p v3 stream. Reading applies backpressure: once more than
 * a few messages' worth of bytes wait to be handled, the stream is paused (Yamux then stops
 * granting send window), and resumed when the handler catches up. So a peer that sends faster
 * than blocks can be verified and written costs bounded memory.
 */
import type { AbortOptions, Stream, StreamCloseEvent, StreamMessageEvent } from '@libp2p/interface'
import * as lp from 'it-length-prefixed'
import type { Uint8ArrayList } from 'uint8arraylist'
import { waitForDrain } from '../../net/drain.ts'

/** Pause reading once this many received bytes wait to be decoded: one full message. */
const HIGH_WATER = 4 * 1024 * 1024
/** Resume below this. */
const LOW_WATER = 1024 * 1024
/** What may still arrive after pausing: Yamux's largest stream window (16 MiB), plus margin. */
const PAUSED_READ_BUFFER = 24 * 1024 * 1024

/** Yields each frame's bytes; a frame over `maxFrameBytes` throws before it is buffered. */
export async function * readFrames (stream: Stream, maxFrameBytes: number): AsyncGenerator<Uint8Array> {
  for await (const frame of lp.decode(flowControlled(stream), { maxDataLength: maxFrameBytes })) {
    yield frame.subarray()
  }
}

/** Sends one length-prefixed frame, waiting for the stream to drain when its buffer is full. */
export async function writeFrame (stream: Stream, bytes: Uint8Array, options: AbortOptions): Promise<void> {
  if (!stream.send(lp.encode.single(bytes))) await waitForDrain(stream, options)
}

async function * flowControlled (stream: Stream): AsyncGenerator<Uint8Array | Uint8ArrayList> {
  const queue: Array<Uint8Array | Uint8ArrayList> = []
  let queued = 0
  let ended = stream.readableEnded
  let error: Error | undefined
  let wake: (() => void) | undefined
  const notify = (): void => {
    const w = wake
    wake = undefined
    w?.()
  }
  const onMessage = (evt: StreamMessageEvent): void => {
    queue.push(evt.data)
    queued += evt.data.byteLength
    if (queued > HIGH_WATER && stream.readStatus === 'readable') stream.pause()
    notify()
  }
  const onEnd = (): void => { ended = true; notify() }
  const onClose = (evt: StreamCloseEvent): void => {
    ended = true
    error = evt.error
    notify()
  }
  stream.maxReadBufferLength = Math.max(stream.maxReadBufferLength, PAUSED_READ_BUFFER)
  stream.addEventListener('message', onMessage)
  stream.addEventListener('end', onEnd)
  stream.addEventListener('close', onClose)
  try {
    while (true) {
      const next = queue.shift()
      if (next != null) {
        queued -= next.byteLength
        if (queued < LOW_WATER && stream.readStatus === 'paused') stream.resume()
        yield next
        continue
      }
      if (error != null) throw error
      if (ended) return
      await new Promise<void>(resolve => { wake = resolve })
    }
  } finally {
    stream.removeEventListener('message', onMessage)
    stream.removeEventListener('end', onEnd)
    stream.removeEventListener('close', onClose)
  }
}
