/**
 * A relay's onion-service roles (`src/onion/hs/hs-relay.ts`, issue 17 point 3). Over real relays
 * on loopback libp2p hosts: an ESTABLISH_INTRO with a bad signature, or signed for another relay,
 * ends the circuit; INTRODUCE1 for a key no service registered is answered with status 1; the
 * service's rate limit answers status 3 once its burst is spent; RENDEZVOUS1 with a cookie nobody
 * waits with ends the circuit; a joined pair carries cells both ways that the rendezvous point
 * cannot read, and tearing down either end tears down both. Over hand-made circuit handles and a
 * fake clock: the cookie table stops at MAX_PENDING_RENDEZVOUS and cookies expire after 60 s; the
 * intro table keeps one circuit per key and stops at MAX_INTRO_CIRCUITS.
 */
import assert from 'node:assert/strict'
import { generateKeyPairSync, randomBytes, sign } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import type { Libp2p } from '@libp2p/interface'
import { RelayCommand } from '../../../../src/onion/cell.ts'
import type { RelayMessage } from '../../../../src/onion/cell.ts'
import { buildCircuit } from '../../../../src/onion/circuit.ts'
import type { Circuit, PathHop } from '../../../../src/onion/circuit.ts'
import { LinkManager } from '../../../../src/onion/link.ts'
import { OnionRelay } from '../../../../src/onion/relay.ts'
import type { RelayCircuitHandle } from '../../../../src/onion/relay.ts'
import { COOKIE_LEN, INTRODUCE_LEN, INTRO_ACK, decodeIntroduceAck, encodeEstablishIntro, encodeEstablishIntroSigned } from '../../../../src/onion/hs/cells.ts'
import { nextMessage } from '../../../../src/onion/hs/circuit-messages.ts'
import { DEFAULT_INTRO_BURST, HsRelay, MAX_INTRO_CIRCUITS, MAX_PENDING_RENDEZVOUS, RENDEZVOUS_TIMEOUT_MS } from '../../../../src/onion/hs/hs-relay.ts'
import { loopbackHost } from '../../../utils/loopback-host.ts'
import { teardown } from '../../../utils/teardown.ts'
import { waitFor } from '../../../utils/index.ts'

const NETWORK = 'regtest'
const ANSWER_MS = 5_000

/** An ESTABLISH_INTRO body for a fresh auth key, signed over `relayId` (optionally spoiled). */
function establishIntro (relayId: Uint8Array, params: { rate?: number, burst?: number, badSignature?: boolean } = {}): { authKey: Uint8Array, body: Uint8Array } {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519')
  const authKey = new Uint8Array(Buffer.from(publicKey.export({ format: 'jwk' }).x as string, 'base64url'))
  const rate = params.rate ?? 0
  const burst = params.burst ?? 0
  const signature = new Uint8Array(sign(null, encodeEstablishIntroSigned(authKey, rate, burst, relayId), privateKey))
  if (params.badSignature === true) signature[10] = (signature[10] as number) ^ 0x01
  return { authKey, body: encodeEstablishIntro({ authKey, rate, burst, signature }) }
}

/** An INTRODUCE1 for `authKey`: the rest is opaque to the intro point, so random bytes do. */
function introduce1 (authKey: Uint8Array): Uint8Array {
  const body = randomBytes(INTRODUCE_LEN)
  body.set(authKey, 0)
  return new Uint8Array(body)
}

async function closedWithin (circuit: Circuit, ms: number): Promise<void> {
  if (circuit.closed) return
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => { reject(new Error(`circuit still open after ${ms} ms`)) }, ms)
    const previous = circuit.onClose
    circuit.onClose = (err) => { clearTimeout(timer); previous?.(err); resolve() }
  })
}

describe('onion-service relay roles over real relays', () => {
  const td = teardown()
  let links: LinkManager
  let relays: OnionRelay[]
  let roles: HsRelay[]
  /** The intro points' clock: frozen while a test counts tokens, else the real one. */
  let frozenAt: number | undefined
  let hops: PathHop[]
  let hosts: Libp2p[]

  before(async () => {
    const client = td.node(await loopbackHost())
    hosts = [td.node(await loopbackHost()), td.node(await loopbackHost()), td.node(await loopbackHost())]
    relays = []
    roles = []
    for (const host of hosts) {
      const relay = new OnionRelay({ host, network: NETWORK })
      roles.push(new HsRelay({ relay, now: () => frozenAt ?? Date.now() }))
      await relay.start()
      td.add(async () => { await relay.stop() }, 'stop a relay')
      relays.push(relay)
    }
    links = new LinkManager({ host: client, network: NETWORK })
    td.add(async () => { await links.stop() }, 'stop the client links')
    const [a, b, c] = hosts as [Libp2p, Libp2p, Libp2p]
    for (const h of hosts) await client.dial(h.getMultiaddrs())
    await a.dial(b.getMultiaddrs())
    await a.dial(c.getMultiaddrs())
    await b.dial(c.getMultiaddrs())
    hops = hosts.map((h, i) => ({ peerId: h.peerId, onionKey: (relays[i] as OnionRelay).onionKey }))
  })

  const relay = (i: number): OnionRelay => relays[i] as OnionRelay
  const role = (i: number): HsRelay => roles[i] as HsRelay
  const hop = (i: number): PathHop => hops[i] as PathHop

  /** A service's intro circuit R1 → R2 (its INTRODUCE2 cells collected), established with `params`. */
  async function serviceIntro (params: { rate?: number, burst?: number } = {}): Promise<{ circuit: Circuit, authKey: Uint8Array, introduce2: Uint8Array[] }> {
    const circuit = await buildCircuit(links, [hop(1), hop(2)])
    const { authKey, body } = establishIntro(relay(2).relayId, params)
    circuit.send(RelayCommand.ESTABLISH_INTRO, 0, body)
    await nextMessage(circuit, 1, RelayCommand.INTRO_ESTABLISHED, ANSWER_MS)
    const introduce2: Uint8Array[] = []
    circuit.onMessage = (h, msg) => { if (h === 1 && msg.command === RelayCommand.INTRODUCE2) introduce2.push(msg.data) }
    return { circuit, authKey, introduce2 }
  }

  /** One client introduction to R2 on a circuit of its own (as a client sends one per circuit); the ACK's status. */
  async function introduce (data: Uint8Array, via = links): Promise<number> {
    const circuit = await buildCircuit(via, [hop(2)])
    try {
      circuit.send(RelayCommand.INTRODUCE1, 0, data)
      return decodeIntroduceAck(await nextMessage(circuit, 0, RelayCommand.INTRODUCE_ACK, ANSWER_MS))
    } finally {
      circuit.destroy()
    }
  }

  it('destroys the circuit of an ESTABLISH_INTRO whose signature does not verify', async () => {
    const before = role(2).introCircuits
    const circuit = await buildCircuit(links, [hop(0), hop(2)])
    circuit.send(RelayCommand.ESTABLISH_INTRO, 0, establishIntro(relay(2).relayId, { badSignature: true }).body)
    await closedWithin(circuit, ANSWER_MS)
    assert.equal(role(2).introCircuits, before)
  })

  it('destroys the circuit of an ESTABLISH_INTRO signed for another relay, which that relay accepts', async () => {
    const before = role(2).stats.introEstablished
    const forR1 = establishIntro(relay(1).relayId)
    const circuit = await buildCircuit(links, [hop(0), hop(2)])
    circuit.send(RelayCommand.ESTABLISH_INTRO, 0, forR1.body)
    await closedWithin(circuit, ANSWER_MS)
    assert.equal(role(2).stats.introEstablished, before)
    // the same bytes at the relay they were signed for: the binding was the only fault
    const right = await buildCircuit(links, [hop(0), hop(1)])
    right.send(RelayCommand.ESTABLISH_INTRO, 0, forR1.body)
    await nextMessage(right, 1, RelayCommand.INTRO_ESTABLISHED, ANSWER_MS)
    assert.equal(role(1).introCircuits, 1)
    right.destroy()
    await waitFor(() => role(1).introCircuits === 0, { timeoutMs: ANSWER_MS, what: 'R1 to forget the closed intro circuit' })
  })

  it('answers INTRODUCE1 for an unknown auth key with status 1, a malformed one with status 2, and keeps the circuit', async () => {
    const circuit = await buildCircuit(links, [hop(0), hop(2)])
    circuit.send(RelayCommand.INTRODUCE1, 0, introduce1(randomBytes(32)))
    assert.equal(decodeIntroduceAck(await nextMessage(circuit, 1, RelayCommand.INTRODUCE_ACK, ANSWER_MS)), INTRO_ACK.UNKNOWN_SERVICE)
    assert.equal(circuit.closed, false)
    const fresh = await buildCircuit(links, [hop(0), hop(2)])
    fresh.send(RelayCommand.INTRODUCE1, 0, randomBytes(INTRODUCE_LEN - 1))
    assert.equal(decodeIntroduceAck(await nextMessage(fresh, 1, RelayCommand.INTRODUCE_ACK, ANSWER_MS)), INTRO_ACK.BAD_FORMAT)
    circuit.destroy()
    fresh.destroy()
  })

  it('passes INTRODUCE1 unchanged to the service as INTRODUCE2 up to its burst, then answers status 3 until tokens come back at its rate', async (t) => {
    frozenAt = Date.now()
    t.after(() => { frozenAt = undefined })
    const service = await serviceIntro({ rate: 2, burst: 5 })
    t.after(() => { service.circuit.destroy() })
    const sent = Array.from({ length: 7 }, () => introduce1(service.authKey))
    const statuses: number[] = []
    for (const data of sent) statuses.push(await introduce(data))
    assert.deepEqual(statuses, [0, 0, 0, 0, 0, 3, 3])
    await waitFor(() => service.introduce2.length >= 5, { timeoutMs: ANSWER_MS, what: 'five INTRODUCE2 at the service' })
    assert.deepEqual(service.introduce2.map(b => Buffer.from(b).toString('hex')), sent.slice(0, 5).map(b => Buffer.from(b).toString('hex')))
    // one second at 2 a second: two more pass, the third does not
    frozenAt += 1000
    const later = [await introduce(introduce1(service.authKey)), await introduce(introduce1(service.authKey)), await introduce(introduce1(service.authKey))]
    assert.deepEqual(later, [0, 0, 3])
    service.circuit.destroy()
    await waitFor(() => role(2).introCircuits === 0, { timeoutMs: ANSWER_MS, what: 'R2 to forget the intro circuit' })
    // the service is gone: its key is unknown now
    assert.equal(await introduce(introduce1(service.authKey)), INTRO_ACK.UNKNOWN_SERVICE)
  })

  it('limits a service that asked for no particular rate to tor\'s default burst of 200', async (t) => {
    frozenAt = Date.now()
    t.after(() => { frozenAt = undefined })
    // a relay takes 50 CREATE2 at once from one peer (relay-rate.ts): five clients make the 201 circuits
    const clients: LinkManager[] = []
    for (let i = 0; i < 5; i++) {
      const host = td.node(await loopbackHost())
      const l = new LinkManager({ host, network: NETWORK })
      td.add(async () => { await l.stop() }, 'stop a client\'s links')
      // the relay dials out: libp2p refuses more than 5 inbound connections a second from one address
      await (hosts[2] as Libp2p).dial(host.getMultiaddrs())
      clients.push(l)
    }
    const service = await serviceIntro()
    t.after(() => { service.circuit.destroy() })
    const limitedBefore = role(2).stats.introRateLimited
    const statuses: number[] = []
    for (let i = 0; i < DEFAULT_INTRO_BURST + 1; i += 20) {
      const batch = Array.from({ length: Math.min(20, DEFAULT_INTRO_BURST + 1 - i) }, async (_, j) => await introduce(introduce1(service.authKey), clients[(i + j) % clients.length]))
      statuses.push(...await Promise.all(batch))
    }
    assert.equal(statuses.filter(s => s === INTRO_ACK.SUCCESS).length, DEFAULT_INTRO_BURST)
    assert.equal(statuses.filter(s => s === INTRO_ACK.CANT_RELAY).length, 1)
    assert.equal(role(2).stats.introRateLimited, limitedBefore + 1)
    await waitFor(() => service.introduce2.length === DEFAULT_INTRO_BURST, { timeoutMs: ANSWER_MS, what: `${DEFAULT_INTRO_BURST} INTRODUCE2 at the service` })
    service.circuit.destroy()
  })

  it('destroys the circuit of a RENDEZVOUS1 whose cookie no client waits with', async () => {
    const joinedBefore = role(2).stats.joined
    const circuit = await buildCircuit(links, [hop(1), hop(2)])
    circuit.send(RelayCommand.RENDEZVOUS1, 0, randomBytes(COOKIE_LEN + 64))
    await closedWithin(circuit, ANSWER_MS)
    assert.equal(role(2).stats.joined, joinedBefore)
  })

  /** A client circuit R0 → R2 waiting with a cookie, and a service circuit R1 → R2 that met it; both with the end-to-end layer. */
  async function joinedPair (): Promise<{ client: Circuit, service: Circuit, handshake: Uint8Array, rendezvous2: Uint8Array }> {
    const cookie = randomBytes(COOKIE_LEN)
    const client = await buildCircuit(links, [hop(0), hop(2)])
    client.send(RelayCommand.ESTABLISH_RENDEZVOUS, 0, cookie)
    await nextMessage(client, 1, RelayCommand.RENDEZVOUS_ESTABLISHED, ANSWER_MS)
    const service = await buildCircuit(links, [hop(1), hop(2)])
    const handshake = randomBytes(64)
    const got = nextMessage(client, 1, RelayCommand.RENDEZVOUS2, ANSWER_MS)
    service.send(RelayCommand.RENDEZVOUS1, 0, Buffer.concat([cookie, handshake]))
    const rendezvous2 = await got
    // the keys hs-ntor would give both ends; any 128 bytes show the rendezvous point's part
    const keys = randomBytes(128)
    client.addVirtualHop(new Uint8Array(keys), 'client')
    service.addVirtualHop(new Uint8Array(keys), 'service')
    return { client, service, handshake, rendezvous2 }
  }

  it('joins the pair at the rendezvous point: cells it cannot read pass both ways, and DESTROY of either end tears down both', async () => {
    const recognizedBefore = relay(2).stats.recognized[RelayCommand.DATA] ?? 0
    const pair = await joinedPair()
    assert.deepEqual(Buffer.from(pair.rendezvous2), Buffer.from(pair.handshake), 'RENDEZVOUS2 carries the service\'s Y | AUTH as sent')
    const atService: RelayMessage[] = []
    const atClient: RelayMessage[] = []
    pair.service.onMessage = (h, msg) => { if (h === 2) atService.push(msg) }
    pair.client.onMessage = (h, msg) => { if (h === 2) atClient.push(msg) }
    pair.client.send(RelayCommand.DATA, 7, new TextEncoder().encode('to the service'))
    pair.service.send(RelayCommand.DATA, 7, new TextEncoder().encode('to the client'))
    await waitFor(() => atService.length > 0 && atClient.length > 0, { timeoutMs: ANSWER_MS, what: 'a cell each way through the join' })
    assert.equal(new TextDecoder().decode(atService[0]?.data), 'to the service')
    assert.equal(new TextDecoder().decode(atClient[0]?.data), 'to the client')
    assert.equal(relay(2).stats.recognized[RelayCommand.DATA] ?? 0, recognizedBefore, 'the rendezvous point read none of them')
    // the client leaves: the service's circuit ends too
    pair.client.destroy()
    await closedWithin(pair.service, ANSWER_MS)
    // and the other way round
    const second = await joinedPair()
    second.service.destroy()
    await closedWithin(second.client, ANSWER_MS)
    await waitFor(() => relays.every(r => r.circuitCount === 0), { timeoutMs: ANSWER_MS, what: 'every relay to free the joined circuits' })
    assert.equal(role(2).pendingRendezvous, 0)
  })
})

/** A circuit handle as HsRelay sees one, recording what the relay did with it. */
interface FakeCircuit extends RelayCircuitHandle {
  replies: RelayMessage[]
  joinedWith?: RelayCircuitHandle
}

describe('onion-service relay tables', () => {
  let now = 1_700_000_000_000
  let nextId = 1
  const relayId = new Uint8Array(randomBytes(20))
  // HsRelay needs the relay's id and its message hook, nothing else
  const fakeRelay = { relayId, onMessage: undefined as ((c: RelayCircuitHandle, m: RelayMessage) => void) | undefined }
  const hs = new HsRelay({ relay: fakeRelay as unknown as OnionRelay, now: () => now })
  after(() => { fakeRelay.onMessage = undefined })

  function circuit (): FakeCircuit {
    const closers: Array<() => void> = []
    let closed = false
    const c: FakeCircuit = {
      id: nextId++,
      lastHop: true,
      get closed () { return closed },
      replies: [],
      reply: (command, streamId, data) => { c.replies.push({ command, streamId, data }) },
      destroy: () => { if (closed) return; closed = true; for (const fn of closers.splice(0)) fn() },
      onClose: (fn) => { if (closed) fn(); else closers.push(fn) },
      lastForwardDigest: new Uint8Array(20),
      lastBackwardDigest: new Uint8Array(20),
      queuedBackward: 0,
      join: (other) => { c.joinedWith = other }
    }
    return c
  }

  /** Hands `data` to the relay as `command` on `c`; true when the relay accepted it (a throw makes the real relay destroy the circuit). */
  function send (c: FakeCircuit, command: RelayCommand, data: Uint8Array): boolean {
    const hook = fakeRelay.onMessage as (c: RelayCircuitHandle, m: RelayMessage) => void
    try {
      hook(c, { command, streamId: 0, data })
      return true
    } catch (err) {
      assert.equal((err as Error).name, 'MalformedCellError')
      return false
    }
  }

  it('holds at most MAX_PENDING_RENDEZVOUS cookies, frees one when its circuit closes, and drops them all once they are 60 s old', () => {
    const waiting: FakeCircuit[] = []
    for (let i = 0; i < MAX_PENDING_RENDEZVOUS; i++) {
      const c = circuit()
      assert.equal(send(c, RelayCommand.ESTABLISH_RENDEZVOUS, randomBytes(COOKIE_LEN)), true)
      waiting.push(c)
    }
    assert.equal(hs.pendingRendezvous, MAX_PENDING_RENDEZVOUS)
    const refused = circuit()
    assert.equal(send(refused, RelayCommand.ESTABLISH_RENDEZVOUS, randomBytes(COOKIE_LEN)), false, 'one cookie past the bound')
    assert.equal(hs.pendingRendezvous, MAX_PENDING_RENDEZVOUS)
    ;(waiting.pop() as FakeCircuit).destroy()
    assert.equal(hs.pendingRendezvous, MAX_PENDING_RENDEZVOUS - 1)
    assert.equal(send(circuit(), RelayCommand.ESTABLISH_RENDEZVOUS, randomBytes(COOKIE_LEN)), true, 'a closed circuit\'s slot is free again')
    now += RENDEZVOUS_TIMEOUT_MS + 1
    const fresh = circuit()
    assert.equal(send(fresh, RelayCommand.ESTABLISH_RENDEZVOUS, randomBytes(COOKIE_LEN)), true)
    assert.equal(hs.pendingRendezvous, 1)
    assert.ok(waiting.every(c => c.closed), 'every expired cookie\'s circuit was torn down')
    fresh.destroy()
    assert.equal(hs.pendingRendezvous, 0)
  })

  it('refuses a cookie already waiting and a second role on one circuit', () => {
    const cookie = randomBytes(COOKIE_LEN)
    const a = circuit()
    assert.equal(send(a, RelayCommand.ESTABLISH_RENDEZVOUS, cookie), true)
    assert.equal(send(circuit(), RelayCommand.ESTABLISH_RENDEZVOUS, cookie), false)
    assert.equal(send(a, RelayCommand.ESTABLISH_RENDEZVOUS, randomBytes(COOKIE_LEN)), false)
    assert.equal(send(a, RelayCommand.ESTABLISH_INTRO, establishIntro(relayId).body), false)
    assert.equal(send(a, RelayCommand.RENDEZVOUS1, Buffer.concat([cookie, randomBytes(64)])), false, 'a circuit cannot meet itself')
    assert.equal(send(circuit(), RelayCommand.ESTABLISH_RENDEZVOUS, randomBytes(COOKIE_LEN - 1)), false, 'a short cookie')
    const service = circuit()
    assert.equal(send(service, RelayCommand.RENDEZVOUS1, Buffer.concat([cookie, randomBytes(64)])), true)
    assert.equal(a.joinedWith, service)
    assert.equal(a.replies.at(-1)?.command, RelayCommand.RENDEZVOUS2)
    assert.equal(send(circuit(), RelayCommand.RENDEZVOUS1, Buffer.concat([cookie, randomBytes(64)])), false, 'a cookie is used once')
    a.destroy()
    service.destroy()
  })

  it('does not join a client whose cookie waited longer than RENDEZVOUS_TIMEOUT_MS', () => {
    const cookie = randomBytes(COOKIE_LEN)
    const client = circuit()
    assert.equal(send(client, RelayCommand.ESTABLISH_RENDEZVOUS, cookie), true)
    now += RENDEZVOUS_TIMEOUT_MS + 1
    const service = circuit()
    const accepted = send(service, RelayCommand.RENDEZVOUS1, Buffer.concat([cookie, randomBytes(64)]))
    client.destroy()
    service.destroy()
    assert.equal(accepted, false, 'a 60 s old cookie was joined')
    assert.equal(client.joinedWith, undefined)
  })

  it('keeps one intro circuit per auth key (the newest) and at most MAX_INTRO_CIRCUITS', () => {
    const first = circuit()
    const e = establishIntro(relayId)
    assert.equal(send(first, RelayCommand.ESTABLISH_INTRO, e.body), true)
    const second = circuit()
    assert.equal(send(second, RelayCommand.ESTABLISH_INTRO, e.body), true)
    assert.equal(first.closed, true, 'the older circuit for the key is torn down')
    assert.equal(hs.introCircuits, 1)
    const client = circuit()
    assert.equal(send(client, RelayCommand.INTRODUCE1, introduce1(e.authKey)), true)
    assert.equal(second.replies.at(-1)?.command, RelayCommand.INTRODUCE2)
    assert.equal(first.replies.some(m => m.command === RelayCommand.INTRODUCE2), false)
    assert.equal(send(second, RelayCommand.INTRODUCE1, introduce1(e.authKey)), false, 'INTRODUCE1 on the service\'s own intro circuit')

    const held = [second]
    for (let i = 1; i < MAX_INTRO_CIRCUITS; i++) {
      const c = circuit()
      assert.equal(send(c, RelayCommand.ESTABLISH_INTRO, establishIntro(relayId).body), true)
      held.push(c)
    }
    assert.equal(hs.introCircuits, MAX_INTRO_CIRCUITS)
    assert.equal(send(circuit(), RelayCommand.ESTABLISH_INTRO, establishIntro(relayId).body), false, 'one intro circuit past the bound')
    assert.equal(hs.introCircuits, MAX_INTRO_CIRCUITS)
    for (const c of held) c.destroy()
    assert.equal(hs.introCircuits, 0)
  })

  it('refuses a second INTRODUCE1 on one client circuit', () => {
    const service = circuit()
    const e = establishIntro(relayId)
    assert.equal(send(service, RelayCommand.ESTABLISH_INTRO, e.body), true)
    const client = circuit()
    assert.equal(send(client, RelayCommand.INTRODUCE1, introduce1(e.authKey)), true)
    const second = send(client, RelayCommand.INTRODUCE1, introduce1(e.authKey))
    const passed = service.replies.filter(m => m.command === RelayCommand.INTRODUCE2).length
    service.destroy()
    client.destroy()
    assert.equal(passed, 1, `${passed} INTRODUCE2 from one client circuit`)
    assert.equal(second, false)
  })
})
