/** Starting and stopping the daemon's HTTP servers (the API and the gateway) the same way, and reading request bodies with timeouts. */
import type { IncomingMessage, Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { ListenError, PeerdError } from '../errors.ts'

/** A request body stopped arriving (or took longer than its limit); answered with 408. */
export class RequestTimeoutError extends PeerdError {
  static override name = 'RequestTimeoutError'
}

/** Limits of {@link readBody}. */
export interface BodyLimits {
  /** Most milliseconds the client may send nothing while the reader waits for it. */
  idleMs: number
  /** Most milliseconds for the whole body, if any. */
  totalMs?: number
}

/**
 * The chunks of a request body, failing with {@link RequestTimeoutError} when the client sends
 * nothing for `idleMs` while the reader waits (time the reader spends between chunks doesn't
 * count, so a slow disk is not the client's fault), or when the body takes over `totalMs`. A
 * large upload that keeps sending takes as long as it needs; a stalled one is cut. The request
 * is left open when the reader stops, so that an error response can still be sent.
 */
export async function * readBody (req: IncomingMessage, limits: BodyLimits): AsyncGenerator<Buffer, void, undefined> {
  const it = req.iterator({ destroyOnReturn: false })[Symbol.asyncIterator]()
  const deadline = limits.totalMs != null ? Date.now() + limits.totalMs : Infinity
  for (;;) {
    const next = it.next() as Promise<IteratorResult<Buffer>>
    next.catch(() => {}) // when the timer wins, a later failure of this read has no one to tell
    let timer: NodeJS.Timeout | undefined
    const wait = Math.max(0, Math.min(limits.idleMs, deadline - Date.now()))
    const timedOut = new Promise<'timeout'>(resolve => { timer = setTimeout(resolve, wait, 'timeout') })
    const r = await Promise.race([next, timedOut]).finally(() => { clearTimeout(timer) })
    if (r === 'timeout') {
      throw new RequestTimeoutError(Date.now() >= deadline
        ? `the request body took longer than ${limits.totalMs as number} ms`
        : `the request body stalled: nothing arrived for ${limits.idleMs} ms`)
    }
    if (r.done === true) return
    yield r.value
  }
}

/**
 * Listens on `host:port` and resolves to the base URL (`http://HOST:PORT`, IPv6 in brackets).
 * A port in use becomes a {@link ListenError} that names `what` and the `flag` to change it.
 */
export async function listenHttp (server: Server, host: string, port: number, what: string, flag: string): Promise<string> {
  await new Promise<void>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => {
      const why = err.code === 'EADDRINUSE'
        ? `address already in use: stop what uses it, or pick another with ${flag} (port 0 picks a free one)`
        : err.message
      reject(new ListenError(`cannot serve the ${what} on ${host}:${port}: ${why}`, { cause: err }))
    }
    server.once('error', onError)
    server.listen(port, host, () => {
      server.off('error', onError)
      resolve()
    })
  })
  const addr = server.address() as AddressInfo
  const h = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address
  return `http://${h}:${addr.port}`
}

/** Stops accepting requests and closes open connections. */
export async function closeHttp (server: Server): Promise<void> {
  if (!server.listening) return
  await new Promise<void>(resolve => {
    server.close(() => { resolve() })
    server.closeAllConnections()
  })
}
