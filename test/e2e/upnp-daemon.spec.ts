/**
 * UPnP IGD against a real router (issue 18): Debian's miniupnpd on a router namespace that
 * masquerades a home LAN behind its WAN address 11.0.0.1 (test/utils/upnp-router.ts). A
 * `peerd daemon` on the home host, UPnP on by default, maps its listening port on the router and
 * lists 11.0.0.1:PORT among its addresses; a daemon on the WAN side, with no route into the LAN,
 * dials that address and stays connected directly (no relay; AutoNAT's dial-back no longer closes
 * the connection it came over); when the home daemon stops, the mapping is gone from the router.
 */
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { setTimeout as sleep } from 'node:timers/promises'
import { describe, it } from 'node:test'
import { PEERD_BIN, waitFor } from '../utils/index.ts'
import { netnsUnavailable } from '../utils/netns.ts'
import type { NetnsHost } from '../utils/netns.ts'
import { teardown } from '../utils/teardown.ts'
import { createUpnpRouter, HOME_IP, upnpUnavailable, WAN_HOST_IP, WAN_IP } from '../utils/upnp-router.ts'

const unavailable = await netnsUnavailable() ?? await upnpUnavailable()
const PORT = 4001

interface Peer { peerId: string, addresses: string[] }

describe('UPnP IGD with miniupnpd', { skip: unavailable }, () => {
  const td = teardown()

  it('a daemon behind the router maps its port, a WAN host connects to the mapped address directly, and stop removes the mapping', { timeout: 90_000 }, async () => {
    const net = await createUpnpRouter()
    td.add(async () => { await net.destroy() }, 'remove the router and its hosts')
    const dirs = new Map<NetnsHost, string>()
    const peerd = async <T>(host: NetnsHost, ...args: string[]): Promise<T> => {
      const { stdout } = await host.exec(process.execPath, [PEERD_BIN, ...args, '--json', '--data-dir', dirs.get(host) as string])
      return JSON.parse(stdout) as T
    }
    const logs = new Map<NetnsHost, string>()
    const start = async (host: NetnsHost, extra: string[]): Promise<ReturnType<NetnsHost['spawn']>> => {
      const dir = await td.dir()
      dirs.set(host, dir)
      const child = td.child(host.spawn(process.execPath, [PEERD_BIN, 'daemon', '--data-dir', dir, '--network', 'regtest', '--no-mdns',
        '--api', '127.0.0.1:0', '--log-level', 'info', ...extra], { stdio: ['ignore', 'ignore', 'pipe'] }))
      child.stderr?.on('data', (d: Buffer) => { logs.set(host, (logs.get(host) ?? '') + d.toString()) })
      await waitFor(async () => await peerd(host, 'status').then(() => true, () => undefined), { timeoutMs: 30_000, intervalMs: 200, what: `the daemon on ${host.ip}` })
      return child
    }

    assert.deepEqual(await net.mappings(), [], 'the router starts with no mapping')
    // UPnP is on by default: no flag asks for it
    const [homeDaemon] = await Promise.all([
      start(net.home, ['--listen', `/ip4/0.0.0.0/tcp/${PORT}`]),
      start(net.wan, ['--listen', `/ip4/${WAN_HOST_IP}/tcp/${PORT}`, '--no-upnp'])
    ])
    const { peerId } = await peerd<{ peerId: string }>(net.home, 'id')
    const mapped = `/ip4/${WAN_IP}/tcp/${PORT}/p2p/${peerId}`
    await waitFor(async () => (await peerd<{ addresses: string[] }>(net.home, 'id')).addresses.includes(mapped) || undefined,
      { timeoutMs: 30_000, intervalMs: 250, what: `the home daemon to announce ${mapped}` })
    assert.deepEqual(await net.mappings(), [{ protocol: 'TCP', externalPort: PORT, internal: `${HOME_IP}:${PORT}` }], 'the router holds the mapping')
    // the log line follows libp2p's address update, debounced by a second
    const logged = (): boolean => (logs.get(net.home) ?? '').split('\n').filter(l => l.includes('"addresses changed"'))
      .some(l => (JSON.parse(l) as { added: string[] }).added.includes(mapped))
    await waitFor(() => logged() || undefined, { timeoutMs: 5_000, intervalMs: 100, what: 'the home daemon to log its new address' })

    const connected = await peerd<Peer>(net.wan, 'connect', mapped)
    assert.equal(connected.peerId, peerId)
    // the connection lasts (AutoNAT checks run on it in the first second) and stays direct
    await sleep(1500)
    const peer = (await peerd<Peer[]>(net.wan, 'peers')).find(p => p.peerId === peerId)
    assert.ok(peer != null && peer.addresses.length > 0, 'the WAN daemon is still connected to the home daemon')
    for (const addr of peer.addresses) {
      assert.ok(addr.startsWith(`/ip4/${WAN_IP}/tcp/${PORT}`) && !addr.includes('p2p-circuit'), `a direct connection to the mapped address: ${addr}`)
    }

    homeDaemon.kill('SIGTERM')
    await once(homeDaemon, 'exit')
    assert.deepEqual(await net.mappings(), [], 'the mapping is removed when the daemon stops')
  })
})
