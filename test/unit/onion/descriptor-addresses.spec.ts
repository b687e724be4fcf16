/**
 * The addresses a relay declares in its descriptor (at most 8): off regtest the public ones come
 * first, so a dual-stack host's global IPv6 addresses and a UPnP-mapped address are not cut
 * behind its loopback and LAN ones.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { descriptorAddresses } from '../../../src/onion/service.ts'

const ID = '12D3KooWSPvrpCksAqQgn9R3X2sZgJRXCPjzZhCzdEQ1XrDtoosi'
const host = (ip: string, port: string): string => `/${ip.includes(':') ? 'ip6' : 'ip4'}/${ip}/tcp/${port}/p2p/${ID}`
// as libp2p lists them: per listener, loopback first
const listed = ['9470', '9471/ws'].flatMap(port => ['127.0.0.1', '192.168.1.20', '::1', 'fd12:3456::20', '2001:db8:1:2::20', '2001:db8:1:2:abcd::7'].map(ip => host(ip, port)))
const mapped = host('198.51.100.7', '9470')

describe('relay descriptor addresses', () => {
  it('puts public addresses first on main, keeping at most 8', () => {
    const out = descriptorAddresses([...listed, mapped], 'main')
    assert.equal(out.length, 8)
    assert.deepEqual(out.slice(0, 5), [
      host('2001:db8:1:2::20', '9470'), host('2001:db8:1:2:abcd::7', '9470'),
      host('2001:db8:1:2::20', '9471/ws'), host('2001:db8:1:2:abcd::7', '9471/ws'), mapped
    ])
  })

  it('keeps libp2p\'s order on regtest, where every address counts', () => {
    assert.deepEqual(descriptorAddresses([...listed, mapped], 'regtest'), listed.slice(0, 8))
  })
})
