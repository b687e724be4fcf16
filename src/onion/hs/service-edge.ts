/**
 * The service end of a rendezvous circuit (issue 17): after the join, the service's circuit has
 * the end-to-end layer as its last (virtual) hop, and the client's BEGINs arrive there. This edge
 * serves them as an exit would, but every stream goes to the service's own target (`host:port`
 * on this machine, whatever port the client named, as Tor's HiddenServicePort maps a virtual port)
 * or to an in-process handler; nothing else is reachable through it.
 * @module
 */
import { connect } from 'node:net'
import type { Socket } from 'node:net'
import type { Circuit } from '../circuit.ts'
import { StreamEdge, STREAM_COMMANDS } from '../edge.ts'
import { EndReason } from '../stream-errors.ts'
import type { OnionStream } from '../stream.ts'

/** Streams one rendezvous circuit may carry (tor's default for onion services, HiddenServiceMaxStreams, is unlimited; peerd bounds it like an exit). */
export const MAX_SERVICE_STREAMS = 256
const CONNECT_TIMEOUT_MS = 10_000

/** Where a service's streams go. */
export type ServiceTarget = { host: string, port: number } | { handler: (stream: OnionStream, port: number) => void }

/** Serves the client's streams on `circuit` (the service side, virtual hop added); `onStream` counts them. */
export function attachServiceEdge (circuit: Circuit, target: ServiceTarget, onStream?: () => void): StreamEdge {
  const hop = circuit.hops - 1
  const edge: StreamEdge = new StreamEdge({
    transport: {
      send: (command, streamId, data) => { circuit.send(command, streamId, data, hop) },
      lastSentDigest: () => circuit.lastForwardDigest(hop),
      lastReceivedDigest: () => circuit.lastBackwardDigest(hop),
      queued: () => circuit.queuedCells
    },
    maxStreams: MAX_SERVICE_STREAMS,
    onBegin: (stream) => {
      onStream?.()
      if ('handler' in target) {
        if ('peer' in stream.target) { edge.refuse(stream, EndReason.EXITPOLICY); return }
        edge.connected(stream)
        target.handler(stream, stream.target.port)
        return
      }
      void connectTarget(edge, stream, target)
    }
  })
  const previous = circuit.onMessage
  circuit.onMessage = (h, msg) => {
    // a throw (a flow-control violation) tears the circuit down
    if (h === hop && STREAM_COMMANDS.has(msg.command)) edge.receive(msg)
    else previous?.(h, msg)
  }
  const onClose = circuit.onClose
  circuit.onClose = (err) => { edge.close(err); onClose?.(err) }
  return edge
}

async function connectTarget (edge: StreamEdge, stream: OnionStream, target: { host: string, port: number }): Promise<void> {
  if ('peer' in stream.target) { edge.refuse(stream, EndReason.EXITPOLICY); return }
  let socket: Socket
  try {
    socket = await new Promise<Socket>((resolve, reject) => {
      const s = connect({ host: target.host, port: target.port })
      const timer = setTimeout(() => { s.destroy(); reject(new Error('connect timed out')) }, CONNECT_TIMEOUT_MS)
      s.once('connect', () => { clearTimeout(timer); resolve(s) })
      s.once('error', (err) => { clearTimeout(timer); reject(err) })
    })
  } catch {
    if (!stream.destroyed) edge.refuse(stream, EndReason.CONNECTREFUSED)
    return
  }
  if (stream.destroyed) { socket.destroy(); return }
  edge.connected(stream)
  socket.on('error', (err) => { stream.destroy(err) })
  stream.on('error', () => { socket.destroy() })
  stream.on('close', () => { socket.destroy() })
  socket.on('close', () => { if (!stream.writableEnded) stream.end() })
  socket.pipe(stream)
  stream.pipe(socket)
}
