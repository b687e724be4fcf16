/**
 * Waiting for one relay message on a client circuit (issue 17): the onion-service handshakes are
 * request/answer exchanges with one hop (ESTABLISH_RENDEZVOUS → RENDEZVOUS_ESTABLISHED, then
 * RENDEZVOUS2; INTRODUCE1 → INTRODUCE_ACK; ESTABLISH_INTRO → INTRO_ESTABLISHED).
 * @module
 */
import type { RelayMessage } from '../cell.ts'
import type { Circuit } from '../circuit.ts'
import { CircuitClosedError } from '../errors.ts'

/**
 * Resolves with the data of the first message `command` from `hop` of `circuit`; rejects when the
 * circuit closes, `timeoutMs` passes or `signal` aborts. Other messages go to the handler that was
 * there before.
 */
export async function nextMessage (circuit: Circuit, hop: number, command: number, timeoutMs: number, signal?: AbortSignal): Promise<Uint8Array> {
  if (circuit.closed) throw new CircuitClosedError('the circuit closed before the answer came')
  return await new Promise<Uint8Array>((resolve, reject) => {
    const previous = circuit.onMessage
    const previousClose = circuit.onClose
    const done = (): void => {
      clearTimeout(timer)
      signal?.removeEventListener('abort', onAbort)
      if (circuit.onMessage === onMessage) circuit.onMessage = previous
      if (circuit.onClose === onClose) circuit.onClose = previousClose
    }
    const onMessage = (h: number, msg: RelayMessage): void => {
      if (h === hop && msg.command === command) { done(); resolve(msg.data); return }
      previous?.(h, msg)
    }
    const onClose = (err: CircuitClosedError): void => { done(); previousClose?.(err); reject(err) }
    const onAbort = (): void => { done(); reject(signal?.reason) }
    const timer = setTimeout(() => { done(); reject(new CircuitClosedError(`no answer (relay command ${command}) within ${timeoutMs} ms`)) }, timeoutMs)
    circuit.onMessage = onMessage
    circuit.onClose = onClose
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}
