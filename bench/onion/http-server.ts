/**
 * The onion bench's web server, run on the server host: a plain `node:http` server that answers
 * `GET /bytes/N` with N bytes (random, generated once, repeated), as OnionPerf's TGen server
 * sends its 50 KiB and 5 MiB transfers. Up to 64 GiB, so the CPU measurement can pull 1 GiB
 * through a circuit without a file on disk.
 *
 * ```
 * node bench/onion/http-server.ts HOST PORT     # prints {"event":"listening","port":P}
 * ```
 */
import { randomBytes } from 'node:crypto'
import { createServer } from 'node:http'
import type { ServerResponse } from 'node:http'

/** The largest body the server sends. */
export const MAX_BODY = 64 * 2 ** 30

const block = randomBytes(256 * 1024)

/** Writes `size` bytes to `res`, waiting for the socket to drain between blocks. */
function send (res: ServerResponse, size: number): void {
  let left = size
  const more = (): void => {
    while (left > 0) {
      const n = Math.min(left, block.length)
      left -= n
      if (!res.write(n === block.length ? block : block.subarray(0, n))) { res.once('drain', more); return }
    }
    res.end()
  }
  more()
}

if (import.meta.main) {
  const [host = '0.0.0.0', port = '8080'] = process.argv.slice(2)
  const server = createServer((req, res) => {
    const m = /^\/bytes\/(\d{1,12})$/.exec(req.url ?? '')
    const size = m == null ? NaN : Number(m[1])
    if (req.method !== 'GET' || !(size >= 0 && size <= MAX_BODY)) {
      res.writeHead(404, { 'content-length': 0 }).end()
      return
    }
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': size })
    send(res, size)
  })
  server.listen(Number(port), host, () => {
    const addr = server.address()
    process.stdout.write(JSON.stringify({ event: 'listening', port: typeof addr === 'object' && addr != null ? addr.port : Number(port) }) + '\n')
  })
}
