import assert from 'node:assert/strict'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { parseHostPort, readConfigFile, resolveDaemonConfig } from '../../../src/daemon/config.ts'
import { resolveNodeConfig } from '../../../src/node/config.ts'
import { isLoopbackHost } from '../../../src/daemon/daemon.ts'
import { tempDir } from '../../utils/index.ts'

const PEER = '12D3KooWHhLmhVHuEotzGANMh1mGmxR1nTHYCUF6und3GioJNRqH'

describe('node config', () => {
  it('fills per-network defaults', () => {
    const main = resolveDaemonConfig({ dataDir: '/x' })
    assert.equal(main.network, 'main')
    assert.deepEqual(main.listen, ['/ip4/0.0.0.0/tcp/9470', '/ip4/0.0.0.0/tcp/9471/ws', '/ip6/::/tcp/9470', '/ip6/::/tcp/9471/ws'])
    assert.equal(main.api, '127.0.0.1:9480')
    assert.equal(main.mdns, true)
    assert.equal(main.upnp, true)
    const reg = resolveDaemonConfig({ dataDir: '/x', network: 'regtest' })
    assert.equal(reg.api, '127.0.0.1:0')
    assert.ok(reg.listen.every(a => a.startsWith('/ip4/127.0.0.1/')))
  })

  it('rejects bad values with a message naming them', () => {
    assert.throws(() => resolveNodeConfig({ dataDir: '/x', network: 'nope' as 'main' }), /unknown network "nope"/)
    assert.throws(() => resolveNodeConfig({ dataDir: '/x', listen: ['/not/an/addr'] }), (e: Error) => e.name === 'InvalidArgumentError' && e.message.includes('/not/an/addr'))
    assert.throws(() => resolveNodeConfig({ dataDir: '/x', listen: ['/ip4/1.2.3.4/udp/5'] }), /not a TCP or WebSocket address/)
    assert.throws(() => resolveNodeConfig({ dataDir: '/x', bootstrap: ['/ip4/127.0.0.1/tcp/1'] }), /must end in \/p2p\/<peerId>/)
    assert.throws(() => resolveNodeConfig({ dataDir: '/x', maxConnections: -1 }), /maxConnections/)
    assert.throws(() => resolveNodeConfig({ dataDir: '/x', upnp: 'yes' as unknown as boolean }), /upnp must be true or false/)
    assert.doesNotThrow(() => resolveNodeConfig({ dataDir: '/x', bootstrap: [`/ip4/127.0.0.1/tcp/1/p2p/${PEER}`] }))
  })

  it('parses HOST:PORT, including IPv6 in brackets', () => {
    assert.deepEqual(parseHostPort('127.0.0.1:0'), { host: '127.0.0.1', port: 0 })
    assert.deepEqual(parseHostPort('[::1]:9480'), { host: '::1', port: 9480 })
    assert.deepEqual(parseHostPort('localhost:80'), { host: 'localhost', port: 80 })
    for (const bad of ['127.0.0.1', ':80', '1.2.3.4:99999', 'a:b']) assert.throws(() => parseHostPort(bad), /HOST:PORT/)
  })

  it('tells loopback API hosts from others', () => {
    for (const h of ['127.0.0.1', '127.1.2.3', '::1', 'localhost']) assert.equal(isLoopbackHost(h), true, h)
    for (const h of ['0.0.0.0', '192.168.1.2', '::', 'example.com']) assert.equal(isLoopbackHost(h), false, h)
  })

  it('reads config.json, and names an unknown key or a wrong type', async () => {
    const d = await tempDir()
    try {
      assert.deepEqual(await readConfigFile(d.path), {})
      await writeFile(join(d.path, 'config.json'), JSON.stringify({ network: 'regtest', bootstrap: [], mdns: false }))
      assert.deepEqual(await readConfigFile(d.path), { network: 'regtest', bootstrap: [], mdns: false })
      await writeFile(join(d.path, 'config.json'), JSON.stringify({ netwrok: 'regtest' }))
      await assert.rejects(readConfigFile(d.path), /unknown key "netwrok"/)
      await writeFile(join(d.path, 'config.json'), JSON.stringify({ mdns: 'yes' }))
      await assert.rejects(readConfigFile(d.path), /"mdns" must be a boolean/)
      await writeFile(join(d.path, 'config.json'), '{ broken')
      await assert.rejects(readConfigFile(d.path), (e: Error) => e.name === 'ConfigError' && /not valid JSON/.test(e.message))
    } finally {
      await d.cleanup()
    }
  })
})
