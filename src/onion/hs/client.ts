/**
 * Reaching an onion service (issue 17, rend-spec-v3 "Client behaviour"). Given `<key>.peerd`:
 *
 * 1. The descriptor: the blinded key of the current time period names its DHT record; a random
 *    peer, reached through a three-hop circuit, fetches it (`net/dht-proxy.ts`), so neither the DHT nor
 *    that peer learns who asked. It is decrypted with the address (and a client-authorization key
 *    if the service needs one) and cached until it expires.
 * 2. A three-hop circuit to a rendezvous point of the client's choosing, told a random cookie
 *    (ESTABLISH_RENDEZVOUS); then a four-hop circuit to one of the service's introduction
 *    points, which carries INTRODUCE1 (tor builds the two at once; here one after the other): the cookie, the rendezvous point and a
 *    proof of work when the descriptor asks for one, encrypted to the service (hs-ntor).
 * 3. The service meets the client at the rendezvous point; RENDEZVOUS2 completes the handshake,
 *    whose keys become a fourth, end-to-end layer: no relay reads or alters the streams, and
 *    neither end learns the other's address.
 *
 * The joined circuit is kept per (address, isolation) for further streams, under the same
 * dirtiness rule as other circuits (10 minutes after first use), and closed once it has carried
 * no stream for {@link JOINED_IDLE_MS} or is retired (at once, or when its last stream ends):
 * each open one holds circuits at both ends, and a client that visits under many isolations must
 * not leave them all open.
 * @module
 */
import { randomBytes, randomInt } from 'node:crypto'
import type { PeerId } from '@libp2p/interface'
import { peerIdFromMultihash } from '@libp2p/peer-id'
import * as Digest from 'multiformats/hashes/digest'
import { RelayCommand } from '../cell.ts'
import type { Circuit } from '../circuit.ts'
import type { CircuitPool } from '../circuit-pool.ts'
import { MAX_DIRTINESS_MS } from '../circuit-pool.ts'
import type { RelayDirectory } from '../directory.ts'
import { NoPathError } from '../directory-errors.ts'
import { CircuitClosedError } from '../errors.ts'
import type { OnionStream } from '../stream.ts'
import { decodeOnionAddress, encodeOnionAddress } from './address.ts'
import { blindPublicKey, subcredential, timePeriod } from './blinding.ts'
import { COOKIE_LEN, INTRO_ACK, decodeIntroduceAck, encodeIntroPlaintext, encodeIntroduce1 } from './cells.ts'
import { nextMessage } from './circuit-messages.ts'
import { decryptHsDescriptor, verifyHsDescriptor } from './descriptor.ts'
import type { HsInnerDescriptor } from './descriptor.ts'
import { hsDescriptorDhtKey } from './dht.ts'
import { HsUnreachableError } from './connect-errors.ts'
import { hsNtorClientComplete, hsNtorClientIntroduce } from './hs-ntor.ts'
import { solvePow } from './pow.ts'

/** How long the client waits for the service at the rendezvous point (tor: about a circuit build timeout plus margin). */
export const RENDEZVOUS_WAIT_MS = 30_000
const ANSWER_MS = 15_000
/** Introduction points tried per connect. */
const INTRO_TRIES = 3
/** A joined circuit with no stream for this long is closed (it is rebuilt on the next visit). */
export const JOINED_IDLE_MS = 60_000
const SWEEP_MS = 15_000
/** Descriptors cached, at most. */
const MAX_CACHED = 256
/** Joined circuits kept open, at most (each pins circuits here and at the service; the pool holds 64 in all): past it the oldest is retired. */
export const MAX_JOINED = 32

/** Options of {@link HsClient}. */
export interface HsClientInit {
  network: string
  pool: CircuitPool
  directory: RelayDirectory
  self: PeerId
  /** Fetches the DHT record under `key` through a circuit (`net/dht-proxy.ts`); undefined when there is none. */
  fetchRecord: (key: Uint8Array, signal?: AbortSignal) => Promise<Uint8Array | undefined>
  /** The client-authorization secret for a service address, if the user gave one. */
  clientAuth?: (address: string) => Uint8Array | undefined
  /** Time-period length in minutes (default 1440; shorter on test networks). */
  periodMinutes?: number
  now?: () => number
}

interface CachedDescriptor {
  inner: HsInnerDescriptor
  expiresAt: number
}

interface Joined {
  circuit: Circuit
  firstUsedAt: number
  idleSince?: number
}

/** Client-side onion-service connections; see the module header. */
export class HsClient {
  /** Connections made and what they cost (status, tests). */
  readonly stats = { connects: 0, failures: 0, descriptorsFetched: 0, lastConnectMs: 0, powEffort: 0 }
  private readonly init: HsClientInit
  private readonly descriptors = new Map<string, CachedDescriptor>()
  private readonly joined = new Map<string, Joined>()
  private readonly pending = new Map<string, Promise<Circuit>>()
  private timer?: NodeJS.Timeout

  constructor (init: HsClientInit) {
    this.init = init
  }

  private now (): number {
    return (this.init.now ?? Date.now)()
  }

  /**
   * Opens a stream to `port` on the service at `address` (`<56 chars>.peerd`).
   *
   * @throws {OnionAddressError} for a malformed address
   * @throws {HsUnreachableError} when no descriptor is found or no introduction succeeds
   */
  async openStream (host: string, port: number, options: { isolation?: string, signal?: AbortSignal } = {}): Promise<OnionStream> {
    const servicePub = decodeOnionAddress(host)
    // one form per service (`WWW.<key>.peerd.` and `<key>.peerd` are the same): caches and client keys use it
    const address = encodeOnionAddress(servicePub)
    const key = `${address}|${options.isolation ?? ''}`
    for (let round = 0; round < 2; round++) {
      const circuit = await this.circuitFor(key, address, servicePub, options.signal)
      try {
        return await circuit.openStream({ host: address, port }, { signal: options.signal })
      } catch (err) {
        if (!circuit.closed || options.signal?.aborted === true || round === 1) throw err
        this.joined.delete(key)
      }
    }
    throw new HsUnreachableError(`${address}: no stream`)
  }

  /** Starts closing idle and dirty joined circuits. */
  start (): void {
    this.timer = setInterval(() => { this.sweep() }, SWEEP_MS)
    this.timer.unref()
  }

  /** Closes every joined circuit. */
  stop (): void {
    clearInterval(this.timer)
    for (const j of this.joined.values()) j.circuit.destroy()
    this.joined.clear()
  }

  /** Forgets joined circuits (each closes once its streams end) — `peerd onion new-circuits`. */
  retireAll (): void {
    for (const key of [...this.joined.keys()]) this.forget(key)
  }

  /** Joined circuits open now. */
  get open (): number {
    return this.joined.size
  }

  /** Drops `key`'s joined circuit: closed now if it carries no stream, else when its last one ends. */
  private forget (key: string): void {
    const j = this.joined.get(key)
    if (j == null) return
    this.joined.delete(key)
    const c = j.circuit
    if (c.streamsOpen === 0) { c.destroy(); return }
    const previous = c.onStreamCount
    c.onStreamCount = (n) => { previous?.(n); if (n === 0) c.destroy() }
  }

  private sweep (): void {
    const now = this.now()
    for (const [key, j] of [...this.joined]) {
      if (j.circuit.closed) { this.joined.delete(key); continue }
      if (j.circuit.streamsOpen > 0) j.idleSince = undefined
      else j.idleSince ??= now
      const dirty = now - j.firstUsedAt >= MAX_DIRTINESS_MS
      if (dirty || (j.idleSince != null && now - j.idleSince >= JOINED_IDLE_MS)) this.forget(key)
    }
  }

  private async circuitFor (key: string, address: string, servicePub: Uint8Array, signal?: AbortSignal): Promise<Circuit> {
    const j = this.joined.get(key)
    if (j != null && !j.circuit.closed && this.now() - j.firstUsedAt < MAX_DIRTINESS_MS) { j.idleSince = undefined; return j.circuit }
    if (j != null) this.forget(key)
    let p = this.pending.get(key)
    if (p == null) {
      p = this.connect(address, servicePub, signal)
      this.pending.set(key, p)
      void p.then(c => {
        if (this.joined.size >= MAX_JOINED) this.forget(this.joined.keys().next().value as string)
        this.forget(key)
        this.joined.set(key, { circuit: c, firstUsedAt: this.now() })
      }, () => {}).finally(() => this.pending.delete(key))
    }
    return await p
  }

  /** The service's current descriptor, from the cache or the DHT. */
  private async descriptor (address: string, servicePub: Uint8Array, signal?: AbortSignal): Promise<{ inner: HsInnerDescriptor, subcred: Uint8Array, cached: boolean }> {
    const now = this.now()
    const length = this.init.periodMinutes
    const period = timePeriod(now, length)
    const cacheKey = `${address}|${period.number}`
    const blinded = blindPublicKey(servicePub, period)
    const subcred = subcredential(servicePub, blinded)
    const cached = this.descriptors.get(cacheKey)
    if (cached != null && cached.expiresAt > now) return { inner: cached.inner, subcred, cached: true }
    // a service publishes for the current period; one whose clock is behind may still be on the previous
    for (const p of [period, timePeriod(period.startMs - 1, length)]) {
      const b = blindPublicKey(servicePub, p)
      const record = await this.init.fetchRecord(hsDescriptorDhtKey(this.init.network, b), signal).catch(() => undefined)
      if (record == null) continue
      const outer = verifyHsDescriptor(record, now)
      const inner = decryptHsDescriptor(outer, servicePub, { period: p, clientSecret: this.init.clientAuth?.(address) })
      this.stats.descriptorsFetched++
      if (this.descriptors.size >= MAX_CACHED) this.descriptors.delete(this.descriptors.keys().next().value as string)
      this.descriptors.set(cacheKey, { inner, expiresAt: outer.issuedAt * 1000 + outer.lifetimeSec * 1000 })
      return { inner, subcred: p === period ? subcred : subcredential(servicePub, b), cached: false }
    }
    throw new HsUnreachableError(`no descriptor of ${address} in the DHT (the service is not running, or not published yet: try again in a minute)`, { stage: 'descriptor' })
  }

  private async connect (address: string, servicePub: Uint8Array, signal?: AbortSignal): Promise<Circuit> {
    this.stats.connects++
    try {
      try {
        return await this.connectOnce(address, servicePub, signal)
      } catch (err) {
        // a cached descriptor may name introduction points the service has since replaced: fetch it again once
        if (!(err instanceof HsUnreachableError) || !this.dropCached(address) || signal?.aborted === true) throw err
        return await this.connectOnce(address, servicePub, signal)
      }
    } catch (err) {
      this.stats.failures++
      throw err
    }
  }

  /** Forgets the cached descriptors of `address`; true when there was one. */
  private dropCached (address: string): boolean {
    let dropped = false
    for (const k of [...this.descriptors.keys()]) if (k.startsWith(`${address}|`)) { this.descriptors.delete(k); dropped = true }
    return dropped
  }

  private async connectOnce (address: string, servicePub: Uint8Array, signal?: AbortSignal): Promise<Circuit> {
    const started = performance.now()
    const { inner, subcred } = await this.descriptor(address, servicePub, signal)
    if (inner.introPoints.length === 0) throw new HsUnreachableError(`${address} lists no introduction point`)
    const cookie = randomBytes(COOKIE_LEN)
    const rend = await this.rendezvous(cookie, signal)
    try {
      const intros = [...inner.introPoints]
      let lastError: Error | undefined
      let effort = inner.pow?.suggestedEffort ?? 0
      for (let attempt = 0; attempt < Math.min(INTRO_TRIES, intros.length + 1) && intros.length > 0; attempt++) {
        const ip = intros.splice(randomInt(intros.length), 1)[0] as HsInnerDescriptor['introPoints'][number]
        try {
          const state = await this.introduce(ip, rend.rp, cookie, subcred, servicePub, inner, effort, signal)
          const reply = await nextMessage(rend.circuit, rend.circuit.hops - 1, RelayCommand.RENDEZVOUS2, RENDEZVOUS_WAIT_MS, signal)
          rend.circuit.addVirtualHop(hsNtorClientComplete(state, reply), 'client')
          this.stats.lastConnectMs = performance.now() - started
          return rend.circuit
        } catch (err) {
          lastError = err as Error
          if (signal?.aborted === true || rend.circuit.closed) throw err
          // tor's client doubles its effort when the service did not answer in time (prop 327)
          if (inner.pow != null) effort = Math.max(1, effort * 2)
        }
      }
      throw new HsUnreachableError(`${address}: no introduction succeeded (${lastError?.message ?? 'no introduction point'})`, { cause: lastError })
    } catch (err) {
      rend.circuit.destroy()
      throw err
    }
  }

  /** A three-hop circuit to a random relay, told `cookie`. */
  private async rendezvous (cookie: Uint8Array, signal?: AbortSignal): Promise<{ circuit: Circuit, rp: { peerId: PeerId, onionKey: Uint8Array } }> {
    const self = this.init.self.toString()
    const relays = this.init.directory.relays().filter(r => r.verified && r.descriptor.peerId.toString() !== self)
    if (relays.length < 3) throw new NoPathError(`the relay view has ${relays.length} usable relays; a rendezvous circuit needs 3`)
    let lastError: Error | undefined
    for (let attempt = 0; attempt < 3; attempt++) {
      const rp = relays[randomInt(relays.length)]?.descriptor
      if (rp == null) break
      let circuit: Circuit | undefined
      try {
        circuit = await this.init.pool.buildTo({ peerId: rp.peerId, onionKey: rp.onionKey }, { hops: 3, purpose: 'hs-client', pinned: true, signal })
        circuit.send(RelayCommand.ESTABLISH_RENDEZVOUS, 0, cookie)
        await nextMessage(circuit, circuit.hops - 1, RelayCommand.RENDEZVOUS_ESTABLISHED, ANSWER_MS, signal)
        return { circuit, rp: { peerId: rp.peerId, onionKey: rp.onionKey } }
      } catch (err) {
        circuit?.destroy()
        lastError = err as Error
        if (signal?.aborted === true || err instanceof NoPathError) throw err
      }
    }
    throw new CircuitClosedError(`no rendezvous point: ${lastError?.message ?? 'none usable'}`, { cause: lastError })
  }

  /** Sends INTRODUCE1 through a four-hop circuit to `ip`; resolves with the handshake state once the introduction point acknowledged it. */
  private async introduce (ip: HsInnerDescriptor['introPoints'][number], rp: { peerId: PeerId, onionKey: Uint8Array }, cookie: Uint8Array, subcred: Uint8Array, servicePub: Uint8Array, inner: HsInnerDescriptor, effort: number, signal?: AbortSignal): Promise<ReturnType<typeof hsNtorClientIntroduce>['state']> {
    const pow = inner.pow != null && effort > 0
      ? await solvePow({ seed: inner.pow.seed, servicePub, effort, signal })
      : undefined
    if (pow != null) this.stats.powEffort = pow.effort
    const peerId = peerIdFromMultihash(Digest.decode(ip.peerId))
    const circuit = await this.init.pool.buildTo({ peerId, onionKey: ip.onionKey }, { hops: 4, purpose: 'hs-client', pinned: true, signal })
    try {
      const plaintext = encodeIntroPlaintext({ cookie, rpOnionKey: rp.onionKey, rpPeerId: rp.peerId.toMultihash().bytes, pow })
      const { encrypted, state } = hsNtorClientIntroduce({ authKey: ip.authKey, encKey: ip.encKey, subcredential: subcred, plaintext, macPrefix: ip.authKey })
      circuit.send(RelayCommand.INTRODUCE1, 0, encodeIntroduce1(ip.authKey, encrypted))
      const status = decodeIntroduceAck(await nextMessage(circuit, circuit.hops - 1, RelayCommand.INTRODUCE_ACK, ANSWER_MS, signal))
      if (status !== INTRO_ACK.SUCCESS) throw new HsUnreachableError(`introduction point ${peerId.toString()} answered status ${status}`)
      return state
    } finally {
      circuit.destroy()
    }
  }
}
