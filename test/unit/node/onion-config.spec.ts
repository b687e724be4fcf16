/**
 * The onion settings of a node and a daemon: their defaults, each `peerd daemon` flag as the CLI
 * parses it, the same keys in config.json, and the values refused with a message that says what
 * to write instead (a rate without a clear unit, a SOCKS proxy open to the network, a policy
 * rule that does not parse).
 */
import assert from 'node:assert/strict'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { parseCommandArgs } from '../../../src/cli/command.ts'
import { daemon, daemonConfigFromArgs } from '../../../src/cli/commands/daemon.ts'
import { readConfigFile } from '../../../src/daemon/config.ts'
import type { DaemonConfig } from '../../../src/daemon/config.ts'
import { DEFAULT_ONION_RELAY_RATE, parseByteRate, resolveNodeConfig } from '../../../src/node/config.ts'
import { tempDir } from '../../utils/index.ts'
import { randomPeerId } from '../../utils/cli.ts'

describe('onion config', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>
  before(async () => { dir = await tempDir('peerd-onion-config-') })
  after(async () => { await dir.cleanup() })

  /** The daemon config `peerd daemon ARGS` would run with (no config.json). */
  const flags = async (...args: string[]): Promise<DaemonConfig> =>
    await daemonConfigFromArgs(parseCommandArgs(daemon, [...args, '--data-dir', dir.path]))

  it('defaults: a middle relay at 1 MB/s, no exit, no SOCKS proxy', async () => {
    const c = resolveNodeConfig({ dataDir: '/x' })
    assert.equal(c.onionRelay, true)
    assert.equal(c.onionRelayRate, 1_000_000)
    assert.equal(DEFAULT_ONION_RELAY_RATE, 1_000_000)
    assert.equal(c.onionExit, false)
    assert.equal(c.onionExitPolicy, undefined)
    assert.equal(c.socks, undefined)
    assert.equal(c.socksAllowRemote, false)
    const d = await flags()
    assert.deepEqual([d.onionRelay, d.onionRelayRate, d.onionExit, d.socks], [true, 1_000_000, false, undefined])
  })

  it('parses each flag', async () => {
    assert.equal((await flags('--no-onion-relay')).onionRelay, false)
    assert.equal((await flags('--onion-exit')).onionExit, true)
    assert.deepEqual((await flags('--onion-exit', '--onion-exit-policy', 'accept *:80, accept  *:443,reject *:*')).onionExitPolicy, ['accept *:80', 'accept *:443', 'reject *:*'])
    const s = await flags('--socks', '127.0.0.1:9050')
    assert.deepEqual([s.socks, s.socksAllowRemote], ['127.0.0.1:9050', false])
    assert.equal((await flags('--socks', '[::1]:9050')).socks, '[::1]:9050')
    assert.equal((await flags('--socks', 'localhost:0')).socks, 'localhost:0')
    const remote = await flags('--socks', '0.0.0.0:9050', '--socks-allow-remote')
    assert.deepEqual([remote.socks, remote.socksAllowRemote], ['0.0.0.0:9050', true])
    for (const [text, rate] of [['1500000', 1_500_000], ['1.5MB', 1_500_000], ['500kB', 500_000], ['12Mbit', 1_500_000], ['2MiB', 2 * 1024 * 1024], ['1 GB/s', 1e9]] as const) {
      assert.equal((await flags('--onion-relay-rate', text)).onionRelayRate, rate, text)
    }
  })

  it('refuses a rate it cannot read, or out of range, saying how to write one', async () => {
    for (const bad of ['fast', '12Mb', '1,5MB', '-3MB', '1e6', '']) {
      assert.equal(parseByteRate(bad), undefined, bad)
      await assert.rejects(flags('--onion-relay-rate', bad), (e: Error) => e.name === 'UsageError' && e.message.includes(`not "${bad}"`) && /1\.5MB, 500kB or 12Mbit/.test(e.message), bad)
    }
    await assert.rejects(flags('--onion-relay-rate', '5kB'), (e: Error) => e.name === 'InvalidArgumentError' && /from 10000 to 10000000000, not 5000/.test(e.message))
    assert.throws(() => resolveNodeConfig({ dataDir: '/x', onionRelayRate: 1.5e6 + 0.5 }), /whole number of bytes per second/)
  })

  it('refuses a non-loopback SOCKS address without --socks-allow-remote, and a SOCKS address that is no HOST:PORT', async () => {
    for (const host of ['0.0.0.0:9050', '192.168.1.5:9050', '[::]:9050', 'proxy.example:1080']) {
      await assert.rejects(flags('--socks', host), (e: Error) => e.name === 'InvalidArgumentError' && e.message.includes(`non-loopback address ${host}`) && e.message.includes('--socks-allow-remote'), host)
    }
    await assert.rejects(flags('--socks', '9050'), /invalid --socks "9050": expected HOST:PORT/)
  })

  it('refuses an exit policy rule that does not parse, naming it; an empty policy; an exit that is no relay', async () => {
    await assert.rejects(flags('--onion-exit', '--onion-exit-policy', 'accept *:80,allow *:443'), (e: Error) => e instanceof Error && /"allow \*:443"/.test(e.message) && /accept\|reject/.test(e.message))
    await assert.rejects(flags('--onion-exit', '--onion-exit-policy', 'accept *:99999'), /"accept \*:99999"/)
    assert.throws(() => resolveNodeConfig({ dataDir: '/x', onionExit: true, onionExitPolicy: [] }), /onionExitPolicy is empty/)
    await assert.rejects(flags('--onion-exit', '--no-onion-relay'), /an onion exit is a relay: drop --no-onion-relay/)
  })

  it('reads --onion-family as peer ids and refuses what is not one, or more than a descriptor carries', async () => {
    const a = (await randomPeerId())
    const b = (await randomPeerId())
    assert.deepEqual((await flags('--onion-family', `${a}, ${b}`)).onionFamily, [a, b])
    await assert.rejects(flags('--onion-family', `${a},nonsense`), /"nonsense" is not a peer id/)
    const many = await Promise.all(Array.from({ length: 17 }, async () => await randomPeerId()))
    assert.throws(() => resolveNodeConfig({ dataDir: '/x', onionFamily: many }), /at most 16/)
  })

  it('refuses an exit policy too long for a relay descriptor, and takes one that fits', () => {
    const ports = (n: number): string[] => Array.from({ length: n }, (_, i) => `accept *:${1000 + 2 * i}`)
    assert.throws(() => resolveNodeConfig({ dataDir: '/x', onionExit: true, onionExitPolicy: ports(60) }), /relay descriptor carries at most 64/)
    assert.equal(resolveNodeConfig({ dataDir: '/x', onionExit: true, onionExitPolicy: ports(40) }).onionExitPolicy?.length, 40)
  })

  it('reads the same keys from config.json, and names a wrong type', async () => {
    const file = join(dir.path, 'config.json')
    try {
      await writeFile(file, JSON.stringify({ onionRelay: true, onionRelayRate: 250_000, onionExit: true, onionExitPolicy: ['accept *:443', 'reject *:*'], socks: '127.0.0.1:9150', socksAllowRemote: false }))
      const c = await flags()
      assert.deepEqual([c.onionRelayRate, c.onionExit, c.onionExitPolicy, c.socks], [250_000, true, ['accept *:443', 'reject *:*'], '127.0.0.1:9150'])
      // flags win over the file
      assert.equal((await flags('--onion-relay-rate', '2MB')).onionRelayRate, 2_000_000)
      await writeFile(file, JSON.stringify({ onionRelayRate: '1MB' }))
      await assert.rejects(readConfigFile(dir.path), /"onionRelayRate" must be a number/)
      await writeFile(file, JSON.stringify({ onionExitPolicy: 'accept *:443' }))
      await assert.rejects(readConfigFile(dir.path), /"onionExitPolicy" must be an array of strings/)
    } finally {
      await writeFile(file, '{}')
    }
  })
})
