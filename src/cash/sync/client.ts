/**
 * The asking side of the chain protocol: one stream per request, answers checked against what
 * was asked (type, count, order) before they are handed on.
 * @module
 */
import type { PeerId } from '@libp2p/interface'
import { readFrames } from '../../net/frames.ts'
import type { PeerdHost } from '../../net/host.ts'
import { bytesEqual } from '../primitives/hash.ts'
import type { BlockHeader } from '../primitives/header.ts'
import { ChainProtocolError, MAX_RESPONSE_FRAME, decodeResponse, encodeRequest } from './protocol.ts'
import type { ChainRequest, ChainResponse } from './protocol.ts'

/** A peer's best chain, as its STATUS answer says. */
export interface PeerTip {
  height: number
  hash: Uint8Array
  chainwork: bigint
}

/** Requests to one protocol id over a host. */
export class ChainClient {
  private readonly host: PeerdHost
  private readonly protocol: string
  private readonly timeoutMs: number

  constructor (init: { host: PeerdHost, protocol: string, timeoutMs?: number }) {
    this.host = init.host
    this.protocol = init.protocol
    this.timeoutMs = init.timeoutMs ?? 30_000
  }

  private async * request (peer: PeerId, req: ChainRequest, signal?: AbortSignal): AsyncGenerator<ChainResponse> {
    const sig = signal == null ? AbortSignal.timeout(this.timeoutMs) : AbortSignal.any([signal, AbortSignal.timeout(this.timeoutMs)])
    const stream = await this.host.dialProtocol(peer, this.protocol, { signal: sig })
    const onAbort = (): void => { stream.abort(new Error('chain request timed out or was aborted')) }
    sig.addEventListener('abort', onAbort, { once: true })
    try {
      stream.send(encodeRequest(req))
      for await (const body of readFrames(stream, MAX_RESPONSE_FRAME)) yield decodeResponse(body)
      await stream.close().catch(() => {})
    } catch (err) {
      stream.abort(err as Error)
      throw err
    } finally {
      sig.removeEventListener('abort', onAbort)
    }
  }

  /** The peer's tip. */
  async status (peer: PeerId, signal?: AbortSignal): Promise<PeerTip> {
    for await (const res of this.request(peer, { type: 'status' }, signal)) {
      if (res.type !== 'tip') throw new ChainProtocolError(`expected TIP, got ${res.type}`)
      return { height: res.height, hash: res.hash, chainwork: res.chainwork }
    }
    throw new Error('no answer to STATUS (the stream closed)')
  }

  /** Headers after the fork point of `locator` on the peer's best chain. */
  async headers (peer: PeerId, locator: Uint8Array[], signal?: AbortSignal): Promise<BlockHeader[]> {
    for await (const res of this.request(peer, { type: 'get-headers', locator }, signal)) {
      if (res.type !== 'headers') throw new ChainProtocolError(`expected HEADERS, got ${res.type}`)
      return res.headers
    }
    throw new Error('no answer to GET_HEADERS (the stream closed)')
  }

  /**
   * The blocks named by `hashes`, in order: raw bytes, or undefined for those the peer says it
   * does not have. A peer that answers out of order or with too many frames breaks the protocol.
   */
  async blocks (peer: PeerId, hashes: Uint8Array[], signal?: AbortSignal): Promise<Array<Uint8Array | undefined>> {
    const out: Array<Uint8Array | undefined> = []
    for await (const res of this.request(peer, { type: 'get-blocks', hashes }, signal)) {
      if (out.length >= hashes.length) throw new ChainProtocolError('more answers than blocks asked for')
      if (res.type === 'block') out.push(res.bytes)
      else if (res.type === 'not-found' && bytesEqual(res.hash, hashes[out.length] as Uint8Array)) out.push(undefined)
      else throw new ChainProtocolError(`unexpected ${res.type} answer to GET_BLOCKS`)
    }
    // fewer answers: the stream closed early (a dropped connection is not misbehaviour)
    if (out.length !== hashes.length) throw new Error(`${out.length} answers to ${hashes.length} blocks asked for`)
    return out
  }
}
