/**
 * The gater's per-IP inbound cap: an IPv4 peer counts by its address, an IPv6 peer by its /64
 * (a host holds a whole /64 and could otherwise open the cap's worth from each of its addresses).
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { Connection, MultiaddrConnection } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'
import { PeerdGater } from '../../../src/net/gater.ts'

function family (ip: string): string { return ip.includes(':') ? 'ip6' : 'ip4' }

function open (ip: string): Connection {
  return { remoteAddr: multiaddr(`/${family(ip)}/${ip}/tcp/4001`), direction: 'inbound', status: 'open' } as unknown as Connection
}

function inbound (ip: string): MultiaddrConnection {
  return { remoteAddr: multiaddr(`/${family(ip)}/${ip}/tcp/50000`) } as unknown as MultiaddrConnection
}

describe('per-IP inbound cap', () => {
  it('counts IPv6 peers by /64: other addresses of the same /64 hit the cap, the next /64 does not', () => {
    const conns: Connection[] = []
    const gater = new PeerdGater({ maxConnectionsPerIp: 2, connections: () => conns })
    conns.push(open('2001:db8:1:2::a'), open('2001:db8:1:2:ffff::b'))
    assert.equal(gater.denyInboundConnection(inbound('2001:db8:1:2::c')), true, 'a third address of one /64 was let in')
    assert.equal(gater.denyInboundConnection(inbound('2001:DB8:1:2:0:0:0:d')), true, 'another spelling of the same /64 was let in')
    assert.equal(gater.denyInboundConnection(inbound('2001:db8:1:3::a')), false, 'the next /64 was refused')
  })

  it('counts IPv4 peers by address, an IPv4-mapped IPv6 address as its IPv4', () => {
    const conns: Connection[] = [open('203.0.113.7'), open('::ffff:203.0.113.7')]
    const gater = new PeerdGater({ maxConnectionsPerIp: 2, connections: () => conns })
    assert.equal(gater.denyInboundConnection(inbound('203.0.113.7')), true)
    assert.equal(gater.denyInboundConnection(inbound('203.0.113.8')), false, 'a neighbour of the same /24 was refused')
  })

  it('counts ::1 alone, not as a /64', () => {
    const conns: Connection[] = [open('::1'), open('::1')]
    const gater = new PeerdGater({ maxConnectionsPerIp: 2, connections: () => conns })
    assert.equal(gater.denyInboundConnection(inbound('::1')), true)
    assert.equal(gater.denyInboundConnection(inbound('::2')), false)
  })
})
