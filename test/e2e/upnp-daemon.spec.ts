/**
 * UPnP IGD against a real router (issue 18): Debian's miniupnpd on a home router of the net
 * bench's NAT harness (bench/net/harness/nat.ts: nftables masquerade, unsolicited packets
 * dropped). A `peerd daemon` on the home host, UPnP on by default, maps its listening port on the
 * router and lists ROUTER_IP:PORT among its addresses; a daemon on the Internet side, which cannot
 * reach the home host otherwise, dials that address and stays connected directly (no relay);
 * when the home daemon stops, the mapping is gone from the router.
 */
import assert from 'node:assert/strict'
import { setTimeout as sleep } from 'node:timers/promises'
import { after, before, describe, it } from 'node:test'
import { janitor, netUnavailable, removeStale } from '../../bench/net/harness/index.ts'
import type { NetHost, NsProcess } from '../../bench/net/harness/index.ts'
import { NatNetwork } from '../../bench/net/harness/nat.ts'
import { PEERD_BIN, waitFor } from '../utils/index.ts'
import { teardown } from '../utils/teardown.ts'

const unavailable = await netUnavailable()
const PORT = 4001

interface Peer { peerId: string, addresses: string[] }

describe('UPnP IGD with miniupnpd', { skip: unavailable }, () => {
  const td = teardown()
  before(() => {
    janitor.installExitHook()
    removeStale()
  })
  after(async () => { await janitor.cleanup() })

  it('a daemon behind the router maps its port, a host on the Internet connects to the mapped address directly, and stop removes the mapping', { timeout: 90_000 }, async () => {
    const net = await NatNetwork.create({ publicHosts: [{ name: 'wan' }], homes: [{ nat: 'eim', upnp: true }] })
    td.add(async () => { await net.destroy() }, 'remove the router and its hosts')
    const [wan] = net.publicHosts as [NetHost]
    const { host: home, router } = net.homes[0] as NonNullable<typeof net.homes[0]>
    const dirs = new Map<NetHost, string>()
    const peerd = async <T>(host: NetHost, ...args: string[]): Promise<T> => {
      return JSON.parse(await host.run(process.execPath, [PEERD_BIN, ...args, '--json', '--data-dir', dirs.get(host) as string])) as T
    }
    const start = async (host: NetHost, extra: string[]): Promise<NsProcess> => {
      const dir = await td.dir()
      dirs.set(host, dir)
      const p = host.spawn(process.execPath, [PEERD_BIN, 'daemon', '--data-dir', dir, '--network', 'regtest', '--no-mdns',
        '--api', '127.0.0.1:0', '--log-level', 'info', ...extra])
      await waitFor(async () => await peerd(host, 'status').then(() => true, () => undefined), { timeoutMs: 30_000, intervalMs: 200, what: `the daemon on ${host.ip}` })
      return p
    }

    assert.deepEqual(await net.mappings(router), [], 'the router starts with no mapping')
    // UPnP is on by default: no flag asks for it
    const [homeDaemon] = await Promise.all([
      start(home, ['--listen', `/ip4/0.0.0.0/tcp/${PORT}`]),
      start(wan, ['--listen', `/ip4/${wan.ip}/tcp/${PORT}`, '--no-upnp'])
    ])
    const { peerId } = await peerd<{ peerId: string }>(home, 'id')
    const mapped = `/ip4/${router.publicIp}/tcp/${PORT}/p2p/${peerId}`
    await waitFor(async () => (await peerd<{ addresses: string[] }>(home, 'id')).addresses.includes(mapped) || undefined,
      { timeoutMs: 30_000, intervalMs: 250, what: `the home daemon to announce ${mapped}` })
    assert.deepEqual(await net.mappings(router), [{ externalPort: PORT, internal: `${home.ip}:${PORT}` }], 'the router holds the mapping')
    // the log line follows libp2p's address update, debounced by a second
    const logged = (): boolean => homeDaemon.stderr().split('\n').filter(l => l.includes('"addresses changed"'))
      .some(l => (JSON.parse(l) as { added: string[] }).added.includes(mapped))
    await waitFor(() => logged() || undefined, { timeoutMs: 5_000, intervalMs: 100, what: 'the home daemon to log its new address' })

    const connected = await peerd<Peer>(wan, 'connect', mapped)
    assert.equal(connected.peerId, peerId)
    // the connection lasts (AutoNAT checks run on it in the first seconds) and stays direct
    await sleep(1500)
    const peer = (await peerd<Peer[]>(wan, 'peers')).find(p => p.peerId === peerId)
    assert.ok(peer != null && peer.addresses.length > 0, 'the Internet daemon is still connected to the home daemon')
    for (const addr of peer.addresses) {
      assert.ok(addr.startsWith(`/ip4/${router.publicIp}/tcp/${PORT}`) && !addr.includes('p2p-circuit'), `a direct connection to the mapped address: ${addr}`)
    }
    // and the home node, asking its peer to dial it back (AutoNAT), finds itself reachable
    await waitFor(async () => (await peerd<{ reachability: { state: string } }>(home, 'status')).reachability.state === 'public' || undefined,
      { timeoutMs: 20_000, intervalMs: 250, what: 'the home daemon to find itself public' })

    await homeDaemon.stop()
    assert.deepEqual(await net.mappings(router), [], 'the mapping is removed when the daemon stops')
  })
})
