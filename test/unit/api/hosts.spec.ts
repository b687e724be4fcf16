/**
 * The API's own host names (against DNS rebinding): which `Host` headers and `Origin`s count as
 * the API's, normalised as a browser would.
 */
import assert from 'node:assert/strict'
import type { IncomingMessage } from 'node:http'
import { networkInterfaces } from 'node:os'
import { describe, it } from 'node:test'
import { ApiHosts, checkAllowedHost, normalAuthority } from '../../../src/api/hosts.ts'
import { resolveDaemonConfig } from '../../../src/daemon/config.ts'

const hostsOf = (listenHost: string, allowed: string[] = []): ApiHosts =>
  new ApiHosts({ listenHost, apiUrl: () => `http://${listenHost.includes(':') ? `[${listenHost}]` : listenHost}:9480`, allowed })

function ok (h: ApiHosts, host: string | undefined): boolean {
  try {
    h.checkHost({ headers: host == null ? {} : { host } } as unknown as IncomingMessage)
    return true
  } catch (err) {
    assert.equal((err as Error).name, 'HostNotAllowedError')
    assert.match((err as Error).message, /apiAllowedHosts/)
    return false
  }
}

describe('API host names', () => {
  it('normalises authorities as a browser does', () => {
    assert.equal(normalAuthority('LocalHost:9480', 80), 'localhost:9480')
    assert.equal(normalAuthority('localhost.:9480', 80), 'localhost:9480')
    assert.equal(normalAuthority('0x7f.1:9480', 80), '127.0.0.1:9480')
    assert.equal(normalAuthority('[0:0::1]:9480', 80), '[::1]:9480')
    assert.equal(normalAuthority('example.org', 80), 'example.org:80')
    assert.equal(normalAuthority('example.org:80', 9480), 'example.org:80')
    assert.equal(normalAuthority('example.org', 9480), 'example.org:9480')
    for (const bad of ['', 'a b', 'x/y', 'u@127.0.0.1', 'h:99999', '::1', 'h?x', 'h#x']) assert.equal(normalAuthority(bad, 80), undefined, bad)
    assert.throws(() => { checkAllowedHost('http://peerd.lan') }, { name: 'InvalidArgumentError' })
    checkAllowedHost('peerd.lan')
    checkAllowedHost('[::1]:8443')
    // the config key is checked when the daemon's config is resolved
    assert.deepEqual(resolveDaemonConfig({ dataDir: '/x', apiAllowedHosts: ['peerd.lan'] }).apiAllowedHosts, ['peerd.lan'])
    assert.deepEqual(resolveDaemonConfig({ dataDir: '/x' }).apiAllowedHosts, [])
    assert.throws(() => resolveDaemonConfig({ dataDir: '/x', apiAllowedHosts: ['peerd.lan/x'] }), /apiAllowedHosts/)
  })

  it('takes its own address, localhost and the loopback literals with its port, and nothing else', () => {
    const h = hostsOf('127.0.0.1')
    for (const good of ['127.0.0.1:9480', 'localhost:9480', 'LOCALHOST:9480', '[::1]:9480', '2130706433:9480']) assert.ok(ok(h, good), good)
    for (const bad of ['evil.example', 'evil.example:9480', 'localhost', '127.0.0.1', '127.0.0.1:9481', 'localhost.evil.example:9480', '127.0.0.1.nip.io:9480', '10.0.0.1:9480', undefined]) {
      assert.ok(!ok(h, bad), String(bad))
    }
  })

  it('adds the configured names, with the API port or their own', () => {
    const h = hostsOf('127.0.0.1', ['peerd.lan', 'peerd.example:443'])
    assert.ok(ok(h, 'peerd.lan:9480'))
    assert.ok(ok(h, 'PEERD.lan:9480'))
    assert.ok(!ok(h, 'peerd.lan'))
    assert.ok(ok(h, 'peerd.example:443'))
    assert.ok(!ok(h, 'peerd.example:9480'))
  })

  it('on a wildcard address, takes this machine\'s own IP addresses too (an IP literal cannot be rebound)', () => {
    const h = hostsOf('0.0.0.0')
    assert.ok(ok(h, '0.0.0.0:9480'), 'the URL in the api file')
    assert.ok(ok(h, '127.0.0.1:9480'))
    const own = Object.values(networkInterfaces()).flat().find(a => a != null && a.family === 'IPv4' && !a.internal)
    if (own != null) assert.ok(ok(h, `${own.address}:9480`), own.address)
    assert.ok(!ok(h, '192.0.2.1:9480'), 'an address that is not this machine\'s (TEST-NET-1)')
    assert.ok(!ok(h, 'evil.example:9480'))
  })

  it('compares an Origin with the API\'s own URLs, not with the request', () => {
    const h = hostsOf('127.0.0.1', ['peerd.example:443'])
    assert.ok(h.isOwnOrigin('http://127.0.0.1:9480'))
    assert.ok(h.isOwnOrigin('http://localhost:9480'))
    assert.ok(h.isOwnOrigin('https://peerd.example'))
    assert.ok(!h.isOwnOrigin('http://peerd.example'))
    for (const bad of ['http://127.0.0.1:8080', 'http://evil.example:9480', 'null', 'http://127.0.0.1:9480/', 'file://', 'http://u@127.0.0.1:9480']) {
      assert.ok(!h.isOwnOrigin(bad), bad)
    }
  })
})
