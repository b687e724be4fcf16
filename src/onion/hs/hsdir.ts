/**
 * Onion-service descriptors reach the DHT through a stranger (issue 17). Tor uploads and fetches
 * descriptors through circuits so an HSDir never sees who published or asked; in peerd the DHT
 * nodes closest to a blinded key play the HSDir, and a node's own DHT query would show them its
 * peer id. So a service or client opens this protocol on a random peer through a three-hop
 * circuit (`node.onion.dial`) and that peer does the DHT put or get for it.
 *
 * Protocol `/peerd/<network>/onion/hsdir/1.0.0`, one length-prefixed frame each way:
 * request GET (0x01) | DHT key, or PUT (0x02) | DHT key | descriptor; answer status (u8: 0 ok,
 * 1 not found, 2 refused) | descriptor (GET). The answering peer checks the record with the
 * DHT's own validator before storing or returning it, bounds requests per remote peer (which is
 * the circuit's last hop, not the client) and caps concurrent work.
 * @module
 */
import type { Connection, PeerId, Stream } from '@libp2p/interface'
import type { Duplex } from 'node:stream'
import { ProtocolError, encodeFrame, readFrames } from '../../net/frames.ts'
import { PeerRateLimiter } from '../../net/rate-limit.ts'

const GET = 0x01
const PUT = 0x02
export const HSDIR_STATUS = { OK: 0, NOT_FOUND: 1, REFUSED: 2 } as const
/** A descriptor's cap plus the key and the op byte. */
const MAX_FRAME = 8 * 1024 + 256
const TIMEOUT_MS = 30_000
const MAX_CONCURRENT = 8

/** The protocol id. */
export function hsdirProtocol (network: string): string {
  return `/peerd/${network}/onion/hsdir/1.0.0`
}

/** What the answering side needs of the DHT. */
export interface HsdirDht {
  put: (key: Uint8Array, value: Uint8Array, options?: { signal?: AbortSignal }) => AsyncIterable<unknown>
  get: (key: Uint8Array, options?: { signal?: AbortSignal }) => AsyncIterable<{ name: string, value?: Uint8Array }>
}

/** Options of {@link HsdirServer}. */
export interface HsdirServerInit {
  host: { handle: (protocol: string, handler: (stream: Stream, connection: Connection) => void, options?: { maxInboundStreams?: number }) => Promise<void>, unhandle: (protocol: string) => Promise<void> }
  network: string
  dht: HsdirDht
  /** The DHT validator of onion-service records: throws unless `value` is a valid record for `key`. */
  validate: (key: Uint8Array, value: Uint8Array) => Promise<void>
  /** Picks the best of several records (the DHT selector). */
  select: (key: Uint8Array, records: Uint8Array[]) => number
  /** Whether `key` belongs to this namespace (checked before any DHT work). */
  isKey: (key: Uint8Array) => boolean
}

/** Answers GET and PUT for peers; see the module header. */
export class HsdirServer {
  private readonly init: HsdirServerInit
  // the remote peer is a circuit's last hop, shared by many clients: generous per peer, bounded in all by MAX_CONCURRENT
  private readonly limiter = new PeerRateLimiter(1, 30)
  private running = 0
  private readonly controller = new AbortController()

  constructor (init: HsdirServerInit) {
    this.init = init
  }

  async start (): Promise<void> {
    await this.init.host.handle(hsdirProtocol(this.init.network), (stream, connection) => { void this.serve(stream, connection.remotePeer) }, { maxInboundStreams: 4 })
  }

  async stop (): Promise<void> {
    this.controller.abort()
    await this.init.host.unhandle(hsdirProtocol(this.init.network)).catch(() => {})
  }

  private async serve (stream: Stream, peer: PeerId): Promise<void> {
    const signal = AbortSignal.any([AbortSignal.timeout(TIMEOUT_MS), this.controller.signal])
    const onAbort = (): void => { stream.abort(new ProtocolError('hsdir request timed out')) }
    signal.addEventListener('abort', onAbort, { once: true })
    try {
      if (this.running >= MAX_CONCURRENT || !this.limiter.take(peer.toString())) throw new ProtocolError('hsdir: too many requests')
      this.running++
      try {
        let req: Uint8Array | undefined
        for await (const f of readFrames(stream, MAX_FRAME)) { req = f; break }
        if (req == null || req.length < 2) throw new ProtocolError('hsdir: no request')
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
    if (key.length !== keyLen || !this.init.isKey(key)) return Uint8Array.of(HSDIR_STATUS.REFUSED)
    if (op === PUT) {
      const value = req.subarray(2 + keyLen)
      try { await this.init.validate(key, value) } catch { return Uint8Array.of(HSDIR_STATUS.REFUSED) }
      let stored = false
      for await (const ev of this.init.dht.put(key, value, { signal })) {
        if ((ev as { name?: string }).name === 'PEER_RESPONSE') stored = true
      }
      return Uint8Array.of(stored ? HSDIR_STATUS.OK : HSDIR_STATUS.NOT_FOUND)
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
      if (records.length === 0) return Uint8Array.of(HSDIR_STATUS.NOT_FOUND)
      const best = records[this.init.select(key, records)] as Uint8Array
      const out = new Uint8Array(1 + best.length)
      out.set(best, 1)
      return out
    }
    return Uint8Array.of(HSDIR_STATUS.REFUSED)
  }
}

async function exchange (duplex: Duplex, request: Uint8Array, signal?: AbortSignal): Promise<Uint8Array> {
  const onAbort = (): void => { duplex.destroy(new ProtocolError('hsdir request timed out')) }
  signal?.addEventListener('abort', onAbort, { once: true })
  try {
    // no end(): an onion stream has no half-close (END closes both ways), so the answer would be lost
    duplex.write(encodeFrame(request))
    for await (const f of readFrames(duplex, MAX_FRAME)) return f
    throw new ProtocolError('hsdir: the peer closed the stream without an answer')
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
export async function hsdirPut (duplex: Duplex, key: Uint8Array, value: Uint8Array, signal?: AbortSignal): Promise<boolean> {
  const answer = await exchange(duplex, request(PUT, key, value), signal)
  return answer[0] === HSDIR_STATUS.OK
}

/** Asks the peer at the other end of `duplex` for the record under `key`; undefined when none was found. */
export async function hsdirGet (duplex: Duplex, key: Uint8Array, signal?: AbortSignal): Promise<Uint8Array | undefined> {
  const answer = await exchange(duplex, request(GET, key), signal)
  if (answer[0] !== HSDIR_STATUS.OK) return undefined
  return answer.subarray(1)
}
