/**
 * A relay's two onion-service roles (issue 17, rend-spec-v3 "The introduction protocol" and
 * "The rendezvous protocol"), on any peerd relay:
 *
 * - **Introduction point.** A service's circuit sends ESTABLISH_INTRO with a per-intro-point
 *   Ed25519 key, signed by that key and bound to this relay's id; the relay answers
 *   INTRO_ESTABLISHED and from then on passes every INTRODUCE1 naming that key, unchanged, to the
 *   service as INTRODUCE2, answering the client INTRODUCE_ACK. It cannot read them (they are
 *   encrypted to the service) and learns neither end's address. The service's DoS parameters
 *   (rate, burst) bound how many it passes on (Tor's intro-point rate limit, proposal 305).
 * - **Rendezvous point.** A client's circuit sends ESTABLISH_RENDEZVOUS with a 20-byte cookie; a
 *   service's circuit later sends RENDEZVOUS1 with the same cookie and its handshake reply; the
 *   relay hands the reply to the client as RENDEZVOUS2 and joins the two circuits, so each end's
 *   cells reach the other, sealed end to end beyond this hop.
 *
 * Every table is bounded (circuits per role, cookie lifetime); a malformed or unexpected message
 * tears down the circuit that sent it.
 * @module
 */
import { ed25519 } from '@noble/curves/ed25519.js'
import { RelayCommand } from '../cell.ts'
import type { RelayMessage } from '../cell.ts'
import { MalformedCellError } from '../errors.ts'
import type { OnionRelay, RelayCircuitHandle } from '../relay.ts'
import { encodeEstablishIntroSigned, INTRO_ACK, parseEstablishIntro, parseIntroduce1, COOKIE_LEN } from './cells.ts'

/** Service circuits one relay serves as introduction point. */
export const MAX_INTRO_CIRCUITS = 1024
/** Rendezvous cookies waiting for a service. */
export const MAX_PENDING_RENDEZVOUS = 4096
/** How long a cookie waits for the service (rend-spec-v3 leaves it to the relay; tor uses ~60 s). */
export const RENDEZVOUS_TIMEOUT_MS = 60_000
/** Tor's defaults for an intro point's INTRODUCE2 rate limit (HiddenServiceEnableIntroDoSRatePerSec / BurstPerSec). */
export const DEFAULT_INTRO_RATE = 25
export const DEFAULT_INTRO_BURST = 200

interface IntroEntry {
  circuit: RelayCircuitHandle
  rate: number
  burst: number
  tokens: number
  at: number
}

/** What a relay's onion-service roles have done (for status and tests). */
export interface HsRelayStats {
  introEstablished: number
  introductions: number
  introRateLimited: number
  rendezvousEstablished: number
  joined: number
}

/** Options of {@link HsRelay}. */
export interface HsRelayInit {
  relay: OnionRelay
  now?: () => number
}

/** Serves ESTABLISH_INTRO, INTRODUCE1, ESTABLISH_RENDEZVOUS and RENDEZVOUS1 on `relay`; see the module header. */
export class HsRelay {
  readonly stats: HsRelayStats = { introEstablished: 0, introductions: 0, introRateLimited: 0, rendezvousEstablished: 0, joined: 0 }
  private readonly init: HsRelayInit
  private readonly intros = new Map<string, IntroEntry>()
  private readonly introByCircuit = new Map<number, string>()
  private readonly cookies = new Map<string, { circuit: RelayCircuitHandle, at: number }>()
  private readonly cookieByCircuit = new Map<number, string>()
  /** Client circuits that sent their one INTRODUCE1 (tor's already_received_introduce1). */
  private readonly introduced = new Set<number>()

  constructor (init: HsRelayInit) {
    this.init = init
    const previous = init.relay.onMessage
    init.relay.onMessage = (circuit, msg) => {
      if (msg.command >= RelayCommand.ESTABLISH_INTRO && msg.command <= RelayCommand.INTRODUCE_ACK) this.message(circuit, msg)
      else previous?.(circuit, msg)
    }
  }

  private now (): number {
    return (this.init.now ?? Date.now)()
  }

  /** Service circuits this relay is an introduction point for. */
  get introCircuits (): number {
    return this.intros.size
  }

  /** Client circuits waiting at this relay for their service. */
  get pendingRendezvous (): number {
    return this.cookies.size
  }

  private message (circuit: RelayCircuitHandle, msg: RelayMessage): void {
    if (!circuit.lastHop) throw new MalformedCellError(`onion-service command ${msg.command} to a hop that is not the circuit's last`)
    switch (msg.command) {
      case RelayCommand.ESTABLISH_INTRO: this.establishIntro(circuit, msg.data); break
      case RelayCommand.INTRODUCE1: this.introduce1(circuit, msg.data); break
      case RelayCommand.ESTABLISH_RENDEZVOUS: this.establishRendezvous(circuit, msg.data); break
      case RelayCommand.RENDEZVOUS1: this.rendezvous1(circuit, msg.data); break
      default: throw new MalformedCellError(`onion-service command ${msg.command} is not for a relay`)
    }
  }

  private establishIntro (circuit: RelayCircuitHandle, data: Uint8Array): void {
    if (this.introByCircuit.has(circuit.id) || this.cookieByCircuit.has(circuit.id)) throw new MalformedCellError('ESTABLISH_INTRO on a circuit that already has an onion-service role')
    const e = parseEstablishIntro(data)
    const signed = encodeEstablishIntroSigned(e.authKey, e.rate, e.burst, this.init.relay.relayId)
    if (!ed25519.verify(e.signature, signed, e.authKey)) throw new MalformedCellError('ESTABLISH_INTRO signature does not verify')
    const key = Buffer.from(e.authKey).toString('hex')
    // the newest circuit for a key wins (a service that rebuilt its intro circuit)
    const old = this.intros.get(key)
    if (old != null) { this.intros.delete(key); this.introByCircuit.delete(old.circuit.id); old.circuit.destroy() }
    if (this.intros.size >= MAX_INTRO_CIRCUITS) throw new MalformedCellError(`this relay is introduction point for ${MAX_INTRO_CIRCUITS} services already`)
    const rate = e.rate > 0 ? e.rate : DEFAULT_INTRO_RATE
    const burst = e.burst > 0 ? Math.max(e.burst, rate) : Math.max(DEFAULT_INTRO_BURST, rate)
    this.intros.set(key, { circuit, rate, burst, tokens: burst, at: this.now() })
    this.introByCircuit.set(circuit.id, key)
    circuit.onClose(() => {
      if (this.intros.get(key)?.circuit === circuit) this.intros.delete(key)
      this.introByCircuit.delete(circuit.id)
    })
    this.stats.introEstablished++
    circuit.reply(RelayCommand.INTRO_ESTABLISHED, 0, new Uint8Array(0))
  }

  private introduce1 (circuit: RelayCircuitHandle, data: Uint8Array): void {
    if (this.introByCircuit.has(circuit.id)) throw new MalformedCellError('INTRODUCE1 on a service\'s introduction circuit')
    // one introduction per client circuit, as tor: a client that floods must pay a circuit each time
    if (this.introduced.has(circuit.id)) throw new MalformedCellError('a second INTRODUCE1 on one circuit')
    this.introduced.add(circuit.id)
    circuit.onClose(() => { this.introduced.delete(circuit.id) })
    let authKey: Uint8Array
    try {
      ({ authKey } = parseIntroduce1(data))
    } catch {
      circuit.reply(RelayCommand.INTRODUCE_ACK, 0, ack(INTRO_ACK.BAD_FORMAT))
      return
    }
    const entry = this.intros.get(Buffer.from(authKey).toString('hex'))
    if (entry == null || entry.circuit.closed) {
      circuit.reply(RelayCommand.INTRODUCE_ACK, 0, ack(INTRO_ACK.UNKNOWN_SERVICE))
      return
    }
    const now = this.now()
    entry.tokens = Math.min(entry.burst, entry.tokens + (now - entry.at) / 1000 * entry.rate)
    entry.at = now
    if (entry.tokens < 1) {
      this.stats.introRateLimited++
      circuit.reply(RelayCommand.INTRODUCE_ACK, 0, ack(INTRO_ACK.CANT_RELAY))
      return
    }
    entry.tokens--
    this.stats.introductions++
    entry.circuit.reply(RelayCommand.INTRODUCE2, 0, data)
    circuit.reply(RelayCommand.INTRODUCE_ACK, 0, ack(INTRO_ACK.SUCCESS))
  }

  private establishRendezvous (circuit: RelayCircuitHandle, data: Uint8Array): void {
    if (data.length !== COOKIE_LEN) throw new MalformedCellError(`ESTABLISH_RENDEZVOUS of ${data.length} bytes, not ${COOKIE_LEN}`)
    if (this.introByCircuit.has(circuit.id) || this.cookieByCircuit.has(circuit.id)) throw new MalformedCellError('ESTABLISH_RENDEZVOUS on a circuit that already has an onion-service role')
    this.expire()
    if (this.cookies.size >= MAX_PENDING_RENDEZVOUS) throw new MalformedCellError(`${MAX_PENDING_RENDEZVOUS} rendezvous circuits are waiting here already`)
    const key = Buffer.from(data).toString('hex')
    if (this.cookies.has(key)) throw new MalformedCellError('a rendezvous cookie already in use')
    this.cookies.set(key, { circuit, at: this.now() })
    this.cookieByCircuit.set(circuit.id, key)
    circuit.onClose(() => {
      if (this.cookies.get(key)?.circuit === circuit) this.cookies.delete(key)
      this.cookieByCircuit.delete(circuit.id)
    })
    this.stats.rendezvousEstablished++
    circuit.reply(RelayCommand.RENDEZVOUS_ESTABLISHED, 0, new Uint8Array(0))
  }

  private rendezvous1 (circuit: RelayCircuitHandle, data: Uint8Array): void {
    if (data.length < COOKIE_LEN || data.length > 256) throw new MalformedCellError(`RENDEZVOUS1 of ${data.length} bytes`)
    if (this.introByCircuit.has(circuit.id) || this.cookieByCircuit.has(circuit.id)) throw new MalformedCellError('RENDEZVOUS1 on a circuit that already has an onion-service role')
    this.expire()
    const key = Buffer.from(data.subarray(0, COOKIE_LEN)).toString('hex')
    const waiting = this.cookies.get(key)
    // tor closes the service's circuit when no client waits with that cookie
    if (waiting == null || waiting.circuit.closed) throw new MalformedCellError('RENDEZVOUS1 with a cookie no client is waiting with')
    this.cookies.delete(key)
    this.cookieByCircuit.delete(waiting.circuit.id)
    waiting.circuit.reply(RelayCommand.RENDEZVOUS2, 0, data.subarray(COOKIE_LEN))
    waiting.circuit.join(circuit)
    this.stats.joined++
  }

  /** Drops cookies older than {@link RENDEZVOUS_TIMEOUT_MS} (their circuits are torn down). */
  private expire (): void {
    const cutoff = this.now() - RENDEZVOUS_TIMEOUT_MS
    for (const [key, w] of this.cookies) {
      if (w.at > cutoff) break // insertion order is age order
      this.cookies.delete(key)
      this.cookieByCircuit.delete(w.circuit.id)
      w.circuit.destroy()
    }
  }
}

function ack (status: number): Uint8Array {
  return Uint8Array.of(status >> 8, status & 0xff)
}
