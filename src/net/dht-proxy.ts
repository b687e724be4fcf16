/**
 * DHT work done by a peer for someone it cannot see (issue 17). A node's own DHT put or get shows
 * the DHT nodes near the key its peer id; Tor uploads and fetches onion-service descriptors
 * through circuits so no HSDir learns who published or asked. Here a node opens this protocol on
 * a random peer through a three-hop circuit (`node.onion.dial`) and that peer does the put or get
 * for it. Onion-service descriptors (`/peerd/<net>/onion/hsdir/1.0.0`) and private-share records
 * (`/peerd/<net>/share-hs/1.0.0`) each run one server under their own protocol id.
 *
 * One length-prefixed frame each way: request GET (0x01) | key length (u8) | DHT key, or PUT
 * (0x02) | key length | DHT key | record; answer status (u8: 0 ok, 1 not found, 2 refused) |
 * record (GET). The answering peer checks the record with the namespace's DHT validator before
 * storing or returning it, bounds requests per remote peer (the circuit's last hop, not the
 * client) and caps concurrent work.
 * @module
 */
import type { Connection, PeerId, Stream } from '@libp2p/interface'
import type { Duplex } from 'node:stream'
import { ProtocolError, encodeFrame, readFrames } from './frames.ts'
import { PeerRateLimiter } from './rate-limit.ts'

const GET = 0x01
const PUT = 0x02
export const DHT_PROXY_STATUS = { OK: 0, NOT_FOUND: 1, REFUSED: 2 } as const
/** A record's cap (8 KiB, an onion-service descriptor's) plus the key and the op byte. */
const MAX_FRAME = 8 * 1024 + 256
const TIMEOUT_MS = 30_000
const MAX_CONCURRENT = 8

/** What the answering side needs of the DHT. */
export interface ProxiedDht {
  put: (key: Uint8Array, value: Uint8Array, options?: { signal?: AbortSignal }) => AsyncIterable<unknown>
  get: (key: Uint8Array, options?: { signal?: AbortSignal }) => AsyncIterable<{ name: string, value?: Uint8Array }>
}

/** Options of {@link DhtProxyServer}. */
export interface DhtProxyServerInit {
  host: { handle: (protocol: string, handler: (stream: Stream, connection: Connection) => void, options?: { maxInboundStreams?: number }) => Promise<void>, unhandle: (protocol: string) => Promise<void> }
  /** The protocol id it answers under (one per record namespace). */
  protocol: string
  dht: ProxiedDht
  /** The namespace's DHT validator: throws unless `value` is a valid record for `key`. */
  validate: (key: Uint8Array, value: Uint8Array) => Promise<void>
  /** Picks the best of several records (the DHT selector). */
  select: (key: Uint8Array, records: Uint8Array[]) => number
  /** The DHT namespace it serves (`peerd-hs`): any other key is refused before any DHT work. */
  namespace: string
}

/** Answers GET and PUT for peers; see the module header. */
export class DhtProxyServer {
  private readonly init: DhtProxyServerInit
  // the remote peer is a circuit's last hop, shared by many clients: generous per peer, bounded in all by MAX_CONCURRENT
  private readonly limiter = new PeerRateLimiter(1, 30)
  private running = 0
  private readonly controller = new AbortController()
  private readonly prefix: Uint8Array

  constructor (init: DhtProxyServerInit) {
    this.init = init
    this.prefix = new TextEncoder().encode(`/${init.namespace}/`)
  }

  private inNamespace (key: Uint8Array): boolean {
    return key.length > this.prefix.length && this.prefix.every((b, i) => key[i] === b)
  }

  async start (): Promise<void> {
    await this.init.host.handle(this.init.protocol, (stream, connection) => { void this.serve(stream, connection.remotePeer) }, { maxInboundStreams: 4 })
  }

  async stop (): Promise<void> {
    this.controller.abort()
    await this.init.host.unhandle(this.init.protocol).catch(() => {})
  }

  private async serve (stream: Stream, peer: PeerId): Promise<void> {
    const signal = AbortSignal.any([AbortSignal.timeout(TIMEOUT_MS), this.controller.signal])
    const onAbort = (): void => { stream.abort(new ProtocolError('DHT proxy request timed out')) }
    signal.addEventListener('abort', onAbort, { once: true })
    try {
      if (this.running >= MAX_CONCURRENT || !this.limiter.take(peer.toString())) throw new ProtocolError('DHT proxy: too many requests')
      this.running++
      try {
        let req: Uint8Array | undefined
        for await (const f of readFrames(stream, MAX_FRAME)) { req = f; break }
        if (req == null || req.length < 2) throw new ProtocolError('DHT proxy: no request')
        const answer = await this.answer(req, signal)
        stream.send(encodeFrame(answer))
        await stream.close({ signal })
      } finally {
        this.running--
      }
    } catch (err) {
      stream.abort(err as Error)
    } finally {
      signal.removeEventListener('abort', onAbort)
    }
  }

  private async answer (req: Uint8Array, signal: AbortSignal): Promise<Uint8Array> {
    const op = req[0]
    const keyLen = req[1] as number
    const key = req.subarray(2, 2 + keyLen)
    if (key.length !== keyLen || !this.inNamespace(key)) return Uint8Array.of(DHT_PROXY_STATUS.REFUSED)
    if (op === PUT) {
      const value = req.subarray(2 + keyLen)
      try { await this.init.validate(key, value) } catch { return Uint8Array.of(DHT_PROXY_STATUS.REFUSED) }
      let stored = false
      for await (const ev of this.init.dht.put(key, value, { signal })) {
        if ((ev as { name?: string }).name === 'PEER_RESPONSE') stored = true
      }
      return Uint8Array.of(stored ? DHT_PROXY_STATUS.OK : DHT_PROXY_STATUS.NOT_FOUND)
    }
    if (op === GET) {
      const records: Uint8Array[] = []
      try {
        for await (const ev of this.init.dht.get(key, { signal })) {
          if (ev.name === 'VALUE' && ev.value != null && records.length < 16) {
            try { await this.init.validate(key, ev.value); records.push(ev.value) } catch { /* a bad record is skipped */ }
          }
        }
      } catch { /* not found anywhere: the answer says so */ }
      if (records.length === 0) return Uint8Array.of(DHT_PROXY_STATUS.NOT_FOUND)
      const best = records[this.init.select(key, records)] as Uint8Array
      const out = new Uint8Array(1 + best.length)
      out.set(best, 1)
      return out
    }
    return Uint8Array.of(DHT_PROXY_STATUS.REFUSED)
  }
}

async function exchange (duplex: Duplex, request: Uint8Array, signal?: AbortSignal): Promise<Uint8Array> {
  const onAbort = (): void => { duplex.destroy(new ProtocolError('DHT proxy request timed out')) }
  signal?.addEventListener('abort', onAbort, { once: true })
  try {
    // no end(): an onion stream has no half-close (END closes both ways), so the answer would be lost
    duplex.write(encodeFrame(request))
    for await (const f of readFrames(duplex, MAX_FRAME)) return f
    throw new ProtocolError('DHT proxy: the peer closed the stream without an answer')
  } finally {
    signal?.removeEventListener('abort', onAbort)
    duplex.destroy()
  }
}

function request (op: number, key: Uint8Array, value?: Uint8Array): Uint8Array {
  const out = new Uint8Array(2 + key.length + (value?.length ?? 0))
  out[0] = op
  out[1] = key.length
  out.set(key, 2)
  if (value != null) out.set(value, 2 + key.length)
  return out
}

/** Asks the peer at the other end of `duplex` to store `value` under `key`; true when at least one DHT node took it. */
export async function dhtProxyPut (duplex: Duplex, key: Uint8Array, value: Uint8Array, signal?: AbortSignal): Promise<boolean> {
  const answer = await exchange(duplex, request(PUT, key, value), signal)
  return answer[0] === DHT_PROXY_STATUS.OK
}

/** Asks the peer at the other end of `duplex` for the record under `key`; undefined when none was found. */
export async function dhtProxyGet (duplex: Duplex, key: Uint8Array, signal?: AbortSignal): Promise<Uint8Array | undefined> {
  const answer = await exchange(duplex, request(GET, key), signal)
  if (answer[0] !== DHT_PROXY_STATUS.OK) return undefined
  return answer.subarray(1)
}
