/** Starting and stopping the daemon's HTTP servers (the API and the gateway) the same way. */
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { ListenError } from '../errors.ts'

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
