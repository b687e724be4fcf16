/**
 * IPv6 between real `peerd daemon` processes in network namespaces (issue 18): two hosts on a LAN
 * with both an IPv4 and an IPv6 address, each daemon listening on both families on one port (as
 * the `main` defaults do). The second joins through the first's `/ip6/` address only; the file it
 * fetches and the block the first mines reach it over that IPv6 connection, and no IPv4 one opens.
 */
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { encodeAddress } from '../../src/cash/primitives/address.ts'
import { PEERD_BIN, waitFor } from '../utils/index.ts'
import { createLan, netnsUnavailable } from '../utils/netns.ts'
import type { NetnsHost } from '../utils/netns.ts'
import { xOnlyPublicKey } from '../utils/schnorr.ts'
import { teardown } from '../utils/teardown.ts'

const unavailable = await netnsUnavailable()
const PORT = 4001
const ADDRESS = encodeAddress('pdrt', xOnlyPublicKey(new Uint8Array(32).fill(7)))

describe('two daemons over IPv6 in network namespaces', { skip: unavailable }, () => {
  const td = teardown()

  it('join by an /ip6/ address, share a file and propagate a block over IPv6 only', { timeout: 90_000 }, async () => {
    const lan = await createLan(2, { ipv6: true })
    td.add(async () => { await lan.destroy() }, 'remove the LAN')
    const [a, b] = lan.hosts as [NetnsHost, NetnsHost]
    const dirs = new Map<NetnsHost, string>()
    const peerd = async <T>(host: NetnsHost, ...args: string[]): Promise<T> => {
      const { stdout } = await host.exec(process.execPath, [PEERD_BIN, ...args, '--json', '--data-dir', dirs.get(host) as string])
      return JSON.parse(stdout) as T
    }
    const start = async (host: NetnsHost, extra: string[]): Promise<void> => {
      const dir = await td.dir()
      dirs.set(host, dir)
      td.child(host.spawn(process.execPath, [PEERD_BIN, 'daemon', '--data-dir', dir, '--network', 'regtest', '--no-mdns',
        '--listen', `/ip4/0.0.0.0/tcp/${PORT}`, '--listen', `/ip6/::/tcp/${PORT}`, '--api', '127.0.0.1:0', '--log-level', 'warn', '--no-upnp', ...extra], { stdio: 'ignore' }))
      await waitFor(async () => await peerd(host, 'status').then(() => true, () => undefined), { timeoutMs: 30_000, intervalMs: 200, what: `the daemon on ${host.ip}` })
    }
    await start(a, [])
    const idA = await peerd<{ peerId: string, addresses: string[] }>(a, 'id')
    const v6 = `/ip6/${a.ip6 as string}/tcp/${PORT}/p2p/${idA.peerId}`
    assert.ok(idA.addresses.includes(v6), `peerd id lists the IPv6 address ${v6}: ${idA.addresses.join(' ')}`)
    assert.ok(idA.addresses.includes(`/ip4/${a.ip}/tcp/${PORT}/p2p/${idA.peerId}`), 'and the IPv4 one on the same port')

    await start(b, ['--bootstrap', v6])
    const peersOf = async (host: NetnsHost): Promise<Array<{ peerId: string, addresses: string[] }>> => await peerd(host, 'peers')
    await waitFor(async () => (await peersOf(b)).some(p => p.peerId === idA.peerId) || undefined, { timeoutMs: 20_000, intervalMs: 200, what: 'B to connect to A' })

    const content = randomBytes(512 * 1024 + 77)
    const file = join(dirs.get(a) as string, 'file.bin')
    await writeFile(file, content)
    const { cid } = await peerd<{ cid: string }>(a, 'share', file)
    const out = join(dirs.get(b) as string, 'got.bin')
    await peerd(b, 'get', cid, '-o', out)
    assert.equal(createHash('sha256').update(await readFile(out)).digest('hex'), createHash('sha256').update(content).digest('hex'), 'the file arrived whole')

    const { blocks } = await peerd<{ blocks: string[] }>(a, 'mine', '--blocks', '1', '--address', ADDRESS)
    await waitFor(async () => (await peerd<{ tip: string }>(b, 'chain', 'info')).tip === blocks[0] || undefined,
      { timeoutMs: 20_000, intervalMs: 200, what: 'the mined block to reach B' })

    // every connection between them, seen from either side, is IPv6
    const toA = (await peersOf(b)).find(p => p.peerId === idA.peerId)
    assert.ok(toA != null && toA.addresses.length > 0)
    for (const addr of toA.addresses) assert.ok(addr.startsWith(`/ip6/${a.ip6 as string}/tcp/${PORT}`), `B's connection to A is over IPv6: ${addr}`)
    const idB = await peerd<{ peerId: string }>(b, 'id')
    const toB = (await peersOf(a)).find(p => p.peerId === idB.peerId)
    assert.ok(toB != null && toB.addresses.length > 0)
    for (const addr of toB.addresses) assert.ok(addr.startsWith(`/ip6/${b.ip6 as string}/`), `A's connection from B is over IPv6: ${addr}`)
  })
  it('on main the default listen addresses add IPv6; a host without IPv6 starts on IPv4 alone and says so once', { timeout: 90_000 }, async () => {
    const lan = await createLan(2, { ipv6: true })
    td.add(async () => { await lan.destroy() }, 'remove the LAN')
    const [dual, v4only] = lan.hosts as [NetnsHost, NetnsHost]
    // a host whose interfaces have no IPv6: binding [::] still works, but no IPv6 address is there
    await v4only.exec('sysctl', ['-qw', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1', 'net.ipv6.conf.lo.disable_ipv6=1', 'net.ipv6.conf.eth0.disable_ipv6=1'])
    const started = await Promise.all([dual, v4only].map(async host => {
      const dir = await td.dir()
      const child = td.child(host.spawn(process.execPath, [PEERD_BIN, 'daemon', '--data-dir', dir, '--network', 'main', '--no-mdns',
        '--api', '127.0.0.1:0', '--log-level', 'warn', '--no-upnp'], { stdio: ['ignore', 'ignore', 'pipe'] }))
      let stderr = ''
      child.stderr?.on('data', (d: Buffer) => { stderr += d.toString() })
      const id = async (): Promise<{ peerId: string, addresses: string[] }> =>
        JSON.parse((await host.exec(process.execPath, [PEERD_BIN, 'id', '--json', '--data-dir', dir])).stdout) as { peerId: string, addresses: string[] }
      const { peerId, addresses } = await waitFor(async () => await id().catch(() => undefined), { timeoutMs: 30_000, intervalMs: 200, what: `the main daemon on ${host.ip}` })
      return { peerId, addresses, stderr: () => stderr }
    }))
    const [d, v4] = started as [typeof started[0], typeof started[0]]
    for (const suffix of ['tcp/9470', 'tcp/9471/ws']) {
      assert.ok(d.addresses.includes(`/ip6/${dual.ip6 as string}/${suffix}/p2p/${d.peerId}`), `IPv6 ${suffix} is listed: ${d.addresses.join(' ')}`)
      assert.ok(d.addresses.includes(`/ip4/${dual.ip}/${suffix}/p2p/${d.peerId}`), `IPv4 ${suffix} is listed beside it`)
      assert.ok(v4.addresses.includes(`/ip4/${v4only.ip}/${suffix}/p2p/${v4.peerId}`), `the IPv4-only host listens on IPv4 ${suffix}`)
    }
    assert.deepEqual(v4.addresses.filter(a => a.startsWith('/ip6/')), [], 'the IPv4-only host lists no IPv6 address')
    assert.equal(v4.stderr().match(/IPv6 is not available/g)?.length, 1, `the IPv4-only host says once that it has no IPv6: ${v4.stderr()}`)
    assert.doesNotMatch(d.stderr(), /IPv6 is not available/, 'the dual-stack host does not')
  })
})
