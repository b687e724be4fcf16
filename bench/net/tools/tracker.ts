/**
 * A minimal HTTP BitTorrent tracker (BEP 3 announce, BEP 23 compact peer lists), for the net
 * bench's BitTorrent peers. It runs in the hub's namespace, so only the bench's own hosts reach
 * it. Prints `{"listening":"IP:PORT"}` once it listens; stops on SIGTERM.
 *
 * ```
 * node tracker.ts IP PORT
 * ```
 */
import { createServer } from 'node:http'
import { bencode } from './torrent.ts'

/** Announces of one peer. */
interface PeerEntry { ip: string, port: number, left: number, seen: number }

const [host = '127.0.0.1', portText = '6969'] = process.argv.slice(2)
const swarms = new Map<string, Map<string, PeerEntry>>()
const INTERVAL = 5

/** Query parameters as raw bytes (info_hash and peer_id are binary, not UTF-8). */
function rawParams (query: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>()
  for (const part of query.split('&')) {
    const [k, v = ''] = part.split('=')
    if (k == null || k === '') continue
    const bytes: number[] = []
    for (let i = 0; i < v.length; i++) {
      if (v[i] === '%' && i + 2 < v.length) { bytes.push(parseInt(v.slice(i + 1, i + 3), 16)); i += 2 } else if (v[i] === '+') bytes.push(32)
      else bytes.push(v.charCodeAt(i))
    }
    out.set(decodeURIComponent(k), Buffer.from(bytes))
  }
  return out
}

const server = createServer((req, res) => {
  const [path, query = ''] = (req.url ?? '').split('?')
  const fail = (why: string): void => { res.end(bencode({ 'failure reason': why })) }
  if (path !== '/announce') { res.statusCode = 404; fail('not found'); return }
  const q = rawParams(query)
  const infoHash = q.get('info_hash')
  const peerId = q.get('peer_id')
  const port = Number(q.get('port')?.toString())
  if (infoHash?.length !== 20 || peerId == null || !(port > 0)) { fail('bad announce'); return }
  const ip = (req.socket.remoteAddress ?? '').replace(/^::ffff:/, '')
  const key = infoHash.toString('hex')
  const swarm = swarms.get(key) ?? new Map<string, PeerEntry>()
  swarms.set(key, swarm)
  const id = peerId.toString('hex')
  const event = q.get('event')?.toString() ?? ''
  const left = Number(q.get('left')?.toString() ?? 0)
  if (event === 'stopped') swarm.delete(id)
  else swarm.set(id, { ip, port, left, seen: Date.now() })
  // one line per announce: the harness waits for its seeders to be known before timing
  process.stdout.write(JSON.stringify({ announce: key, ip, port, left, event }) + '\n')
  const others = [...swarm.entries()].filter(([pid, p]) => pid !== id && Date.now() - p.seen < 60_000).map(([, p]) => p)
  const compact = Buffer.concat(others.map(p => {
    const b = Buffer.alloc(6)
    p.ip.split('.').forEach((o, i) => { b[i] = Number(o) })
    b.writeUInt16BE(p.port, 4)
    return b
  }))
  const complete = others.filter(p => p.left === 0).length
  res.setHeader('content-type', 'text/plain')
  res.end(bencode({ interval: INTERVAL, 'min interval': INTERVAL, complete, incomplete: others.length - complete, peers: compact }))
})
server.listen(Number(portText), host, () => { process.stdout.write(JSON.stringify({ listening: `${host}:${portText}` }) + '\n') })
process.on('SIGTERM', () => { server.close(); process.exit(0) })
