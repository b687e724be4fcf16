import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { canonicalIp, connectionGroupOf, isLoopback, prefixOf } from '../../../src/net/addresses.ts'

describe('address keys for peer scoring', () => {
  it('writes each address one way: IPv6 in full, IPv4-mapped IPv6 as IPv4', () => {
    assert.equal(canonicalIp('203.0.113.7'), '203.0.113.7')
    assert.equal(canonicalIp('2001:DB8::1'), '2001:db8:0:0:0:0:0:1')
    assert.equal(canonicalIp('2001:db8:0:0::1'), '2001:db8:0:0:0:0:0:1')
    assert.equal(canonicalIp('::ffff:203.0.113.7'), '203.0.113.7')
    assert.equal(canonicalIp('::ffff:cb00:7107'), '203.0.113.7')
    assert.equal(canonicalIp('fe80::1%eth0'), 'fe80:0:0:0:0:0:0:1')
    assert.equal(canonicalIp('not an address'), undefined)
  })

  it('groups IPv4 by /24 and IPv6 by /48', () => {
    assert.equal(prefixOf('203.0.113.7'), '203.0.113.0/24')
    assert.equal(prefixOf('::ffff:203.0.113.200'), '203.0.113.0/24')
    assert.equal(prefixOf('2001:db8:abcd:12::1'), '2001:db8:abcd::/48')
    assert.equal(prefixOf('2001:db8:abcd:ffff::2'), '2001:db8:abcd::/48')
    assert.equal(prefixOf('x'), undefined)
  })

  it('counts connections per IPv4 address and per IPv6 /64', () => {
    assert.equal(connectionGroupOf('203.0.113.7'), '203.0.113.7')
    assert.equal(connectionGroupOf('::ffff:203.0.113.7'), '203.0.113.7')
    assert.equal(connectionGroupOf('2001:db8:abcd:12::1'), '2001:db8:abcd:12::/64')
    assert.equal(connectionGroupOf('2001:db8:abcd:12:8000::2'), '2001:db8:abcd:12::/64')
    assert.equal(connectionGroupOf('::1'), '0:0:0:0:0:0:0:1')
    assert.equal(connectionGroupOf('junk'), undefined)
  })

  it('knows loopback addresses', () => {
    for (const ip of ['127.0.0.1', '127.3.2.1', '::1', '0:0::1', '::ffff:127.0.0.1']) assert.equal(isLoopback(ip), true, ip)
    for (const ip of ['192.168.1.1', '10.0.0.1', '::', '2001:db8::1', 'junk']) assert.equal(isLoopback(ip), false, ip)
  })
})
