/**
 * One onion service this node hosts (issue 17, rend-spec-v3 "Service behaviour").
 *
 * - **Introduction points.** Three relays, each reached by a three-hop circuit that sends
 *   ESTABLISH_INTRO with a fresh per-intro-point Ed25519 auth key; each also has a fresh X25519
 *   key clients encrypt INTRODUCE to. A circuit that closes is replaced by a new relay (new keys)
 *   and the descriptor republished.
 * - **Descriptor.** Signed with the blinded key of the time period, its inner part encrypted to
 *   the address (and to authorized clients only, when there are some), uploaded through a
 *   circuit via a random peer (`net/dht-proxy.ts`) for the current period and, in the period's second
 *   half, the next one; republished hourly, when introduction points change, and when the
 *   suggested proof-of-work effort moves.
 * - **Introductions.** INTRODUCE2 is decrypted (hs-ntor, replay-checked), its proof of work
 *   verified, and queued by effort (`intro-queue.ts`); a bounded number at a time, the service
 *   builds a four-hop circuit to the client's rendezvous point, sends RENDEZVOUS1 and serves the
 *   client's streams on it (`service-edge.ts`).
 * @module
 */
import type { PeerId } from '@libp2p/interface'
import { peerIdFromMultihash } from '@libp2p/peer-id'
import { ed25519 } from '@noble/curves/ed25519.js'
import * as Digest from 'multiformats/hashes/digest'
import { RelayCommand } from '../cell.ts'
import { relayIdOf } from '../circuit.ts'
import type { Circuit } from '../circuit.ts'
import type { CircuitPool } from '../circuit-pool.ts'
import type { RelayDirectory } from '../directory.ts'
import { ReplayFilter } from '../replay.ts'
import { encodeOnionAddress } from './address.ts'
import { blindPublicKey, subcredential, timePeriod } from './blinding.ts'
import type { TimePeriod } from './blinding.ts'
import { decodeIntroPlaintext, encodeEstablishIntro, encodeEstablishIntroSigned, encodeRendezvous1, parseIntroduce1 } from './cells.ts'
import { nextMessage } from './circuit-messages.ts'
import { signHsDescriptor } from './descriptor.ts'
import { hsDescriptorDhtKey } from './dht.ts'
import { hsNtorServiceIntroduce } from './hs-ntor.ts'
import { EffortController, IntroDrain, IntroQueue } from './intro-queue.ts'
import { PowSeeds } from './pow.ts'
import type { StreamEdge } from '../edge.ts'
import { attachServiceEdge } from './service-edge.ts'
import type { ServiceTarget } from './service-edge.ts'
import type { HostedServiceInfo } from './types.ts'
import { x25519KeyPair } from './x25519.ts'
import type { X25519KeyPair } from './x25519.ts'

/** Introduction points a service keeps (tor's default, HiddenServiceNumIntroductionPoints). */
export const INTRO_POINTS = 3
/** Descriptor lifetime (tor: 3 hours) and republish interval (tor: 60–120 min). */
export const DESCRIPTOR_LIFETIME_SEC = 3 * 3600
export const REPUBLISH_MS = 60 * 60_000
const CHECK_MS = 15_000
const ANSWER_MS = 15_000
/** Introductions answered back to back after a quiet spell (the drain's burst; its rate is below). */
const RENDEZVOUS_AT_ONCE = 4
/** A rendezvous circuit with no stream for this long is closed (the client's closes its end after 60 s idle). */
export const RENDEZVOUS_IDLE_MS = 120_000
/** Rendezvous circuits one service keeps open, at most: past it the longest idle is closed, or the introduction dropped. */
export const MAX_RENDEZVOUS_CIRCUITS = 32
/** Introductions answered a second at most: what bounds the work a flood can cause. */
const RENDEZVOUS_PER_SEC = 8
/**
 * INTRODUCE2 decrypted per introduction point a second (burst: twice that): each costs two X25519
 * operations, so three points at this rate cost a good part of a core, and an
 * introduction point that ignores the rate limit it was given cannot spend more. The puzzle only
 * helps past this point if payers still get decrypted: hence generous, with the queue by effort
 * deciding who is answered.
 */
const INTRODUCE2_PER_SEC = 200
/**
 * The rate and burst asked of each introduction point (ESTABLISH_INTRO's DoS parameters): the
 * service's own decrypt bound above, so a flood is not cut at the introduction point before the
 * service can see who paid (tor leaves the intro-point limit off when the puzzle is on).
 */
const INTRO_POINT_RATE = INTRODUCE2_PER_SEC
const INTRO_POINT_BURST = 2 * INTRODUCE2_PER_SEC

interface IntroPoint {
  relay: PeerId
  onionKey: Uint8Array
  authSecret: Uint8Array
  authKey: Uint8Array
  enc: X25519KeyPair
  replay: ReplayFilter
  circuit: Circuit
  tokens: number
  at: number
}

interface PendingIntro {
  cookie: Uint8Array
  rp: { peerId: PeerId, onionKey: Uint8Array }
  reply: Uint8Array
  keys: Uint8Array
}

/** Options of {@link HostedService}. */
export interface HostedServiceInit {
  name: string
  /** The service's Ed25519 identity seed (32 bytes): its address. */
  identitySeed: Uint8Array
  target: ServiceTarget
  /** How the target is shown (`host:port`, or a description of an in-process handler). */
  targetLabel: string
  network: string
  pool: CircuitPool
  directory: RelayDirectory
  self: PeerId
  /** Stores a DHT record through a circuit (`net/dht-proxy.ts`); true when some DHT node took it. */
  storeRecord: (key: Uint8Array, value: Uint8Array) => Promise<boolean>
  /** Client-authorization public keys (X25519, 32 bytes each); empty: anyone with the address. */
  authorizedClients?: Uint8Array[]
  /** Require a puzzle from the start (else only under a flood). */
  pow?: boolean
  periodMinutes?: number
  introPoints?: number
  now?: () => number
  onLog?: (message: string) => void
}

/** A hosted onion service; see the module header. */
export class HostedService {
  readonly name: string
  readonly address: string
  readonly servicePub: Uint8Array
  private readonly init: HostedServiceInit
  private readonly intros = new Map<string, IntroPoint>()
  private readonly rendezvous = new Map<Circuit, { edge: StreamEdge, idleSince?: number }>()
  private readonly queue: IntroQueue<PendingIntro>
  private readonly drain: IntroDrain<PendingIntro>
  private readonly effort: EffortController
  private readonly seeds = new PowSeeds({ onRotate: () => { this.dirty = true } })
  private readonly counters = { introductions: 0, rendezvous: 0, dropped: 0, streams: 0 }
  private timer?: NodeJS.Timeout
  private stopped = false
  private dirty = true
  private publishedAt?: number
  private revision?: number
  private lastPeriod?: number
  private maintaining?: Promise<void>
  private subcreds?: { period: number, values: Uint8Array[] }

  constructor (init: HostedServiceInit) {
    this.init = init
    this.name = init.name
    this.servicePub = ed25519.getPublicKey(init.identitySeed)
    this.address = encodeOnionAddress(this.servicePub)
    this.queue = new IntroQueue<PendingIntro>({ onDrop: () => { this.counters.dropped++ } })
    this.effort = new EffortController(this.queue, { initialEffort: init.pow === true ? 1 : 0, onChange: () => { this.dirty = true } })
    this.drain = new IntroDrain<PendingIntro>({
      queue: this.queue,
      handle: async (entry) => { await this.meet(entry.item) },
      ratePerSec: RENDEZVOUS_PER_SEC,
      burst: RENDEZVOUS_AT_ONCE,
      suggestedEffort: () => this.effort.suggestedEffort,
      onError: (err) => { this.log(`rendezvous failed: ${(err as Error).message}`) }
    })
  }

  private now (): number {
    return (this.init.now ?? Date.now)()
  }

  private log (message: string): void {
    this.init.onLog?.(`onion service ${this.name}: ${message}`)
  }

  /** Whether introductions must carry a proof of work now. */
  get powEnabled (): boolean {
    return this.init.pow === true || this.effort.suggestedEffort > 0
  }

  /** Starts keeping introduction points and publishing; resolves after the first attempt (it keeps trying in the background). */
  async start (): Promise<void> {
    this.seeds.start()
    this.effort.start()
    this.timer = setInterval(() => { this.sweepRendezvous(); void this.maintain() }, CHECK_MS)
    this.timer.unref()
    await this.maintain()
  }

  async stop (): Promise<void> {
    this.stopped = true
    clearInterval(this.timer)
    this.seeds.stop()
    this.effort.stop()
    this.drain.stop()
    await this.maintaining?.catch(() => {})
    for (const ip of this.intros.values()) ip.circuit.destroy()
    this.intros.clear()
    for (const c of [...this.rendezvous.keys()]) c.destroy()
    this.rendezvous.clear()
  }

  info (): HostedServiceInfo {
    return {
      name: this.name,
      address: this.address,
      target: this.init.targetLabel,
      introPoints: this.intros.size,
      ...(this.publishedAt != null ? { publishedAt: this.publishedAt, revision: this.revision } : {}),
      authorizedClients: this.init.authorizedClients?.length ?? 0,
      pow: { enabled: this.powEnabled, suggestedEffort: this.effort.suggestedEffort },
      stats: { ...this.counters }
    }
  }

  /** Keeps the introduction points and the published descriptor current. */
  async maintain (): Promise<void> {
    if (this.stopped) return
    if (this.maintaining != null) { await this.maintaining; return }
    this.maintaining = (async () => {
      const want = this.init.introPoints ?? INTRO_POINTS
      for (let tries = 0; this.intros.size < want && tries < want * 2 && !this.stopped; tries++) {
        try {
          await this.addIntroPoint()
          this.dirty = true
        } catch (err) {
          this.log(`introduction point not established: ${(err as Error).message}`)
        }
      }
      const period = timePeriod(this.now(), this.init.periodMinutes)
      if (period.number !== this.lastPeriod) this.dirty = true
      if (this.publishedAt != null && this.now() - this.publishedAt > REPUBLISH_MS) this.dirty = true
      if (this.dirty && this.intros.size > 0 && !this.stopped) await this.publish(period)
    })().finally(() => { this.maintaining = undefined })
    await this.maintaining
  }

  private async addIntroPoint (): Promise<void> {
    const self = this.init.self.toString()
    const used = new Set(this.intros.keys())
    const candidates = this.init.directory.relays().filter(r => r.verified && !used.has(r.descriptor.peerId.toString()) && r.descriptor.peerId.toString() !== self)
    if (candidates.length === 0) throw new Error('no relay in the view to use (wait for descriptors from peers)')
    const relay = (candidates[Math.floor(Math.random() * candidates.length)] as typeof candidates[number]).descriptor
    const circuit = await this.init.pool.buildTo({ peerId: relay.peerId, onionKey: relay.onionKey }, { hops: 3, purpose: 'hs-service', pinned: true })
    const authSecret = ed25519.utils.randomSecretKey()
    const authKey = ed25519.getPublicKey(authSecret)
    const relayId = relayIdOf(relay.peerId)
    const signature = ed25519.sign(encodeEstablishIntroSigned(authKey, INTRO_POINT_RATE, INTRO_POINT_BURST, relayId), authSecret)
    circuit.send(RelayCommand.ESTABLISH_INTRO, 0, encodeEstablishIntro({ authKey, rate: INTRO_POINT_RATE, burst: INTRO_POINT_BURST, signature }))
    try {
      await nextMessage(circuit, circuit.hops - 1, RelayCommand.INTRO_ESTABLISHED, ANSWER_MS)
    } catch (err) {
      circuit.destroy()
      throw err
    }
    const ip: IntroPoint = { relay: relay.peerId, onionKey: relay.onionKey, authSecret, authKey, enc: x25519KeyPair(), replay: new ReplayFilter(), circuit, tokens: 2 * INTRODUCE2_PER_SEC, at: this.now() }
    const key = relay.peerId.toString()
    this.intros.set(key, ip)
    const hop = circuit.hops - 1
    circuit.onMessage = (h, msg) => {
      if (h === hop && msg.command === RelayCommand.INTRODUCE2) this.introduced(ip, msg.data)
    }
    const onClose = circuit.onClose
    circuit.onClose = (err) => {
      onClose?.(err)
      if (this.intros.get(key) === ip) this.intros.delete(key)
      this.dirty = true
      if (!this.stopped) void this.maintain()
    }
    this.log(`introduction point ${key} established`)
  }

  /** An INTRODUCE2: decrypt, check, queue by effort. Bad ones are dropped quietly (the intro point cannot tell which are bad). */
  private introduced (ip: IntroPoint, data: Uint8Array): void {
    this.counters.introductions++
    const now = this.now()
    ip.tokens = Math.min(2 * INTRODUCE2_PER_SEC, ip.tokens + (now - ip.at) / 1000 * INTRODUCE2_PER_SEC)
    ip.at = now
    if (ip.tokens < 1) { this.counters.dropped++; return }
    ip.tokens--
    try {
      const intro = parseIntroduce1(data)
      const subcreds = this.subcredentials(now)
      const result = hsNtorServiceIntroduce({ authKey: ip.authKey, encKeyPair: ip.enc, subcredential: subcreds, encrypted: intro.encrypted, macPrefix: intro.macPrefix, replay: ip.replay })
      const plain = decodeIntroPlaintext(result.plaintext)
      let effort = 0
      if (this.powEnabled) {
        const verdict = plain.pow == null ? 'no-proof' : this.seeds.verify(this.servicePub, plain.pow)
        if (verdict === 'ok') effort = plain.pow?.effort ?? 0
        else if (verdict !== 'no-proof') { this.counters.dropped++; return }
      }
      const rp = { peerId: peerIdFromMultihash(Digest.decode(plain.rpPeerId)), onionKey: plain.rpOnionKey }
      this.queue.push({ cookie: plain.cookie, rp, reply: result.reply, keys: result.keys }, effort)
      this.drain.kick()
    } catch (err) {
      this.counters.dropped++
      this.log(`introduction dropped: ${(err as Error).message}`)
    }
  }

  /** The subcredentials a client may have used now (this period's, the next's, the last's), computed once a period: blinding costs milliseconds. */
  private subcredentials (now: number): Uint8Array[] {
    const period = timePeriod(now, this.init.periodMinutes)
    if (this.subcreds?.period !== period.number) {
      const periods = [period, timePeriod(period.endMs, this.init.periodMinutes), timePeriod(period.startMs - 1, this.init.periodMinutes)]
      this.subcreds = { period: period.number, values: periods.map(p => subcredential(this.servicePub, blindPublicKey(this.servicePub, p))) }
    }
    return this.subcreds.values
  }

  /** Closes rendezvous circuits idle for {@link RENDEZVOUS_IDLE_MS}. */
  private sweepRendezvous (): void {
    const now = this.now()
    for (const [c, r] of [...this.rendezvous]) {
      if (c.closed) { this.rendezvous.delete(c); continue }
      if (r.edge.size > 0) r.idleSince = undefined
      else r.idleSince ??= now
      if (r.idleSince != null && now - r.idleSince >= RENDEZVOUS_IDLE_MS) c.destroy()
    }
  }

  /** Room for one more rendezvous circuit: the longest idle one is closed at the cap; false when none is idle. */
  private makeRoom (): boolean {
    if (this.rendezvous.size < MAX_RENDEZVOUS_CIRCUITS) return true
    let idlest: Circuit | undefined
    let since = Infinity
    for (const [c, r] of this.rendezvous) {
      if (r.edge.size > 0) continue
      const t = r.idleSince ?? this.now()
      if (t < since) { since = t; idlest = c }
    }
    idlest?.destroy()
    return idlest != null
  }

  /** Meets a client at its rendezvous point and serves its streams. */
  private async meet (p: PendingIntro): Promise<void> {
    if (this.stopped) return
    if (!this.makeRoom()) { this.counters.dropped++; return }
    const circuit = await this.init.pool.buildTo(p.rp, { hops: 4, purpose: 'hs-service', pinned: true })
    circuit.send(RelayCommand.RENDEZVOUS1, 0, encodeRendezvous1(p.cookie, p.reply))
    circuit.addVirtualHop(p.keys, 'service')
    this.counters.rendezvous++
    const edge = attachServiceEdge(circuit, this.init.target, () => { this.counters.streams++ })
    this.rendezvous.set(circuit, { edge })
    const onClose = circuit.onClose
    circuit.onClose = (err) => { onClose?.(err); this.rendezvous.delete(circuit) }
  }

  /** Signs and uploads the descriptor for `period` (and the next one in the period's second half). */
  private async publish (period: TimePeriod): Promise<void> {
    this.dirty = false
    const revision = Math.max(Math.floor(this.now() / 1000), (this.revision ?? 0) + 1)
    const pow = this.powEnabled ? { seed: this.seeds.current, suggestedEffort: Math.max(1, this.effort.suggestedEffort), expiresAt: Math.floor(this.seeds.expiresAt / 1000) } : undefined
    const inner = {
      pow,
      introPoints: [...this.intros.values()].map(ip => ({ peerId: ip.relay.toMultihash().bytes, onionKey: ip.onionKey, authKey: ip.authKey, encKey: ip.enc.publicKey }))
    }
    const periods = [period]
    if (this.now() - period.startMs > (period.endMs - period.startMs) / 2) periods.push(timePeriod(period.endMs, this.init.periodMinutes))
    let stored = 0
    for (const p of periods) {
      const bytes = signHsDescriptor({ identitySeed: this.init.identitySeed, period: p, revision, issuedAt: Math.floor(this.now() / 1000), lifetimeSec: DESCRIPTOR_LIFETIME_SEC, inner, clientAuthKeys: this.init.authorizedClients })
      const key = hsDescriptorDhtKey(this.init.network, blindPublicKey(this.servicePub, p))
      try {
        if (await this.init.storeRecord(key, bytes)) stored++
      } catch (err) {
        this.log(`descriptor upload failed: ${(err as Error).message}`)
      }
    }
    if (stored === 0) { this.dirty = true; return }
    this.revision = revision
    this.publishedAt = this.now()
    this.lastPeriod = period.number
    this.log(`descriptor revision ${revision} published (${inner.introPoints.length} introduction points${pow != null ? `, proof of work effort ${pow.suggestedEffort}` : ''})`)
  }
}
