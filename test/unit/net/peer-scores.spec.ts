/**
 * Peer scores count against the peer id, its IP address and its /24 (/48) network, so fresh
 * peer ids do not escape a penalty; every table stays bounded. Unit tests of the scores and
 * the gater together, with a stand-in for the libp2p host (its connections and hang-ups).
 */
import assert from 'node:assert/strict'
import { afterEach, beforeEach, describe, it, mock } from 'node:test'
import type { Connection, MultiaddrConnection, PeerId } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'
import { PeerdGater } from '../../../src/net/gater.ts'
import type { PeerdHost } from '../../../src/net/host.ts'
import { BAN_SCORE, PeerScores } from '../../../src/net/scores.ts'
import { createLogger } from '../../../src/utils/logger.ts'

const log = createLogger({ level: 'silent' })

/** A peer id stand-in: scores and the gater only use its string form. */
function peer (name: string): PeerId {
  return { toString: () => name, equals: (o: unknown) => String(o) === name } as unknown as PeerId
}

function conn (id: PeerId, ip: string, direction: 'inbound' | 'outbound' = 'inbound'): Connection {
  const family = ip.includes(':') ? 'ip6' : 'ip4'
  return { remotePeer: id, remoteAddr: multiaddr(`/${family}/${ip}/tcp/4001`), direction, status: 'open' } as unknown as Connection
}

function inbound (ip: string): MultiaddrConnection {
  const family = ip.includes(':') ? 'ip6' : 'ip4'
  return { remoteAddr: multiaddr(`/${family}/${ip}/tcp/50000`) } as unknown as MultiaddrConnection
}

/** A node with the given open connections (mutable) and a record of whom it hung up on. */
function setup (options: { maxConnections?: number, maxScored?: number } = {}): { scores: PeerScores, gater: PeerdGater, open: Connection[], hungUp: string[] } {
  const open: Connection[] = []
  const hungUp: string[] = []
  const gater = new PeerdGater({ maxConnectionsPerIp: 1000, maxConnections: options.maxConnections, connections: () => open })
  const host = {
    getConnections: (id?: PeerId) => open.filter(c => id == null || c.remotePeer.toString() === id.toString()),
    hangUp: async (id: PeerId) => { hungUp.push(id.toString()) }
  } as unknown as PeerdHost
  const scores = new PeerScores({ host: () => host, gater, log, maxScored: options.maxScored })
  return { scores, gater, open, hungUp }
}

describe('peer scores', () => {
  // scores decay with time: a clock that moves only when a test says so
  beforeEach(() => { mock.timers.enable({ apis: ['Date'], now: 1_000_000 }) })
  afterEach(() => { mock.timers.reset() })

  it('stay bounded under 100,000 distinct peer ids, the least recently penalised forgotten first', () => {
    const { scores } = setup()
    for (let i = 0; i < 100_000; i++) scores.penalize(peer(`p${i}`), 1, 'test')
    assert.equal(scores.score('p99999'), 1)
    assert.equal(scores.score('p0'), 0, 'the first of 100,000 peers is still held')
    const sizes = scores.sizes()
    assert.ok(sizes.peers <= 10_000, `${sizes.peers} peer scores held`)
  })

  it('add up exactly for offences a moment apart, and decay by one point a whole minute', () => {
    const { scores } = setup()
    const id = peer('twice')
    scores.penalize(id, 50, 'test')
    mock.timers.tick(1_500)
    assert.equal(scores.penalize(id, 50, 'test'), true, 'two 50-point offences 1.5 s apart did not ban')
    assert.equal(scores.isBanned(id), true)
    mock.timers.tick(60_000) // 61.5 s after the first
    assert.equal(scores.score(id), 99)
    scores.penalize(id, 1, 'test') // the 1.5 s already run toward the next point are kept
    mock.timers.tick(58_499)
    assert.equal(scores.score(id), 100)
    mock.timers.tick(1)
    assert.equal(scores.score(id), 99)
  })

  it('drop entries that decayed to zero', () => {
    const { scores, open } = setup()
    const a = peer('a')
    open.push(conn(a, '198.51.100.1'))
    scores.penalize(a, 5, 'test')
    assert.deepEqual(scores.sizes(), { peers: 1, addresses: 1, networks: 1 })
    mock.timers.tick(6 * 60_000) // 5 points decay in 5 minutes
    scores.penalize(peer('b'), 5, 'test')
    assert.deepEqual(scores.sizes(), { peers: 1, addresses: 1, networks: 1 })
    assert.equal(scores.score(a), 0)
  })

  it('fresh peer ids from one address together get the address refused', () => {
    const { scores, gater, open, hungUp } = setup()
    const ip = '203.0.113.5'
    for (let i = 0; i < 5; i++) {
      const id = peer(`fresh-${i}`)
      open.push(conn(id, ip))
      assert.equal(gater.denyInboundConnection(inbound(ip)), false, `fresh peer ${i} was refused before the address reached its score`)
      scores.penalize(id, 20, 'test') // 20 points each: no single peer id comes near a ban
      assert.equal(scores.isBanned(id), false)
    }
    assert.equal(gater.denyInboundConnection(inbound(ip)), true, 'a sixth peer id from the address was let in')
    assert.equal(scores.addressScore(ip), 100)
    assert.equal(gater.discouragement(ip), 'address')
    assert.deepEqual(hungUp, ['fresh-4'], 'the peer that took the address over its score is disconnected')
    // the rest of its /24 is not refused for one address
    assert.equal(gater.denyInboundConnection(inbound('203.0.113.6')), false)
  })

  it('a banned peer\'s address is refused, also when the peer has gone before its penalty', () => {
    const { scores, gater } = setup()
    const id = peer('gone')
    // seen by the gater at the handshake, no longer connected when the verdict comes
    assert.equal(gater.denyInboundEncryptedConnection(id, inbound('192.0.2.44')), false)
    scores.penalize(id, BAN_SCORE, 'invalid block')
    assert.equal(scores.isBanned(id), true)
    assert.equal(gater.denyInboundConnection(inbound('192.0.2.44')), true)
    // lifting the peer's ban lifts its address's discouragement too
    gater.unban('gone')
    assert.equal(gater.denyInboundConnection(inbound('192.0.2.44')), false)
  })

  it('add up over a /24 with a higher threshold, then refuse the whole /24', () => {
    const { scores, gater, open } = setup()
    const banned = 4 // NETWORK_DISCOURAGE_SCORE / BAN_SCORE
    for (let i = 1; i <= banned; i++) {
      assert.equal(gater.denyInboundConnection(inbound('203.0.113.200')), false, `the /24 was refused after ${i - 1} bans`)
      const id = peer(`n${i}`)
      open.push(conn(id, `203.0.113.${i}`))
      scores.penalize(id, BAN_SCORE, 'test')
    }
    assert.equal(gater.denyInboundConnection(inbound('203.0.113.200')), true)
    assert.equal(gater.discouragement('203.0.113.200'), 'network')
    assert.equal(scores.networkScore('203.0.113.99'), 400)
    assert.equal(gater.denyInboundConnection(inbound('203.0.114.1')), false, 'the next /24 is not refused')
  })

  it('add up over an IPv6 /48', () => {
    const { scores, gater, open } = setup()
    for (let i = 1; i <= 4; i++) {
      const id = peer(`v6-${i}`)
      open.push(conn(id, `2001:db8:77:${i}::1`))
      scores.penalize(id, BAN_SCORE, 'test')
    }
    assert.equal(gater.denyInboundConnection(inbound('2001:db8:77:ffff::9')), true)
    assert.equal(gater.denyInboundConnection(inbound('2001:db8:78::1')), false)
  })

  it('never count a relayed peer\'s points against its relay\'s address', () => {
    const { scores, gater, open } = setup()
    const id = peer('behind-relay')
    const relayed = { remotePeer: id, remoteAddr: multiaddr('/ip4/198.51.100.9/tcp/4001/p2p/12D3KooWRBy97UB99e3J6hiPesre1MZeuNQvfan4gBziswrRJsNK/p2p-circuit'), direction: 'inbound', status: 'open' }
    open.push(relayed as unknown as Connection)
    scores.penalize(id, BAN_SCORE, 'test')
    assert.equal(scores.isBanned(id), true)
    assert.equal(gater.denyInboundConnection(inbound('198.51.100.9')), false, 'the relay was refused for a peer it relayed')
    assert.equal(scores.addressScore('198.51.100.9'), 0)
  })

  it('refuse no relayed peer for its relay\'s discouraged address or network', () => {
    const { gater } = setup()
    gater.discourage('198.51.100.9', 60_000)
    gater.discourage('198.51.100.9', 60_000, { network: true })
    const relay = '/ip4/198.51.100.9/tcp/4001/p2p/12D3KooWRBy97UB99e3J6hiPesre1MZeuNQvfan4gBziswrRJsNK'
    const relayed = { remoteAddr: multiaddr(`${relay}/p2p-circuit/p2p/12D3KooWJWoaqZhDaoEFshF7Rh1bpY9ohihFhzcW6d69Lr2NASuq`) } as unknown as MultiaddrConnection
    assert.equal(gater.denyInboundConnection(relayed), false, 'a peer behind the relay was refused')
    assert.equal(gater.denyInboundConnection(inbound('198.51.100.9')), true, 'the relay\'s own address is still refused')
  })

  it('dial no discouraged address (but loopback, and a peer behind a discouraged relay)', () => {
    const { gater } = setup()
    gater.discourage('203.0.113.7', 60_000)
    gater.discourage('2001:db8:99::1', 60_000, { network: true })
    gater.discourage('127.0.0.1', 60_000)
    assert.equal(gater.denyDialMultiaddr(multiaddr('/ip4/203.0.113.7/tcp/4001')), true)
    assert.equal(gater.denyDialMultiaddr(multiaddr('/ip6/2001:db8:99:5::3/tcp/4001')), true, 'an address of a discouraged /48')
    assert.equal(gater.denyDialMultiaddr(multiaddr('/ip4/203.0.113.8/tcp/4001')), false)
    assert.equal(gater.denyDialMultiaddr(multiaddr('/ip4/127.0.0.1/tcp/4001')), false, 'local nodes share 127.0.0.1')
    assert.equal(gater.denyDialMultiaddr(multiaddr('/ip4/203.0.113.7/tcp/4001/p2p/12D3KooWRBy97UB99e3J6hiPesre1MZeuNQvfan4gBziswrRJsNK/p2p-circuit/p2p/12D3KooWJWoaqZhDaoEFshF7Rh1bpY9ohihFhzcW6d69Lr2NASuq')), false)
  })

  it('on loopback, discourage only the address and refuse it only when no connection slot is spare', () => {
    const { scores, gater, open, hungUp } = setup({ maxConnections: 4 })
    for (let i = 0; i < 5; i++) {
      const id = peer(`local-${i}`)
      open.push(conn(id, '127.0.0.1'))
      scores.penalize(id, 20, 'test')
    }
    assert.deepEqual(hungUp, [], 'honest local nodes share 127.0.0.1: none is cut off for the others\' points')
    open.splice(0, open.length - 2) // two connections left: two slots free
    assert.equal(gater.denyInboundConnection(inbound('127.0.0.1')), false)
    open.push(conn(peer('x'), '127.0.0.1')) // three of four: the next would leave none spare
    assert.equal(gater.denyInboundConnection(inbound('127.0.0.1')), true)
    assert.equal(gater.discouragement('127.0.0.1'), 'address')
    // a loopback peer's own ban still cuts it off; no loopback network is discouraged
    scores.penalize(peer('x'), BAN_SCORE, 'test')
    assert.deepEqual(hungUp, ['x'])
    assert.equal(gater.discouragement('127.0.0.2'), undefined)
    assert.equal(scores.networkScore('127.0.0.1'), 0)
  })
})
