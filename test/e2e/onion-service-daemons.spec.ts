/**
 * An onion service between real `peerd daemon` processes in network namespaces (issue 17): five
 * relays, a service host whose web server listens on its own loopback only, and a client with a
 * SOCKS5 port, each on its own host of a bridged LAN. The operator runs `peerd onion serve`, the
 * client fetches the page with `curl --socks5-hostname` by the `.peerd` address alone. Neither
 * end relays, serves the DHT or looks for more peers, so nothing but the onion code could link
 * them; their connection lists (`peerd peers`) and their sockets (`ss`) are sampled through the
 * whole test and must never show the other.
 */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { PEERD_BIN, waitFor } from '../utils/index.ts'
import { createLan, netnsUnavailable } from '../utils/netns.ts'
import type { NetnsHost } from '../utils/netns.ts'
import { teardown } from '../utils/teardown.ts'

const unavailable = await netnsUnavailable()
const PORT = 4001
const LINE = 'a page only an onion service serves'
const page = `${LINE}\n`.repeat(8000)
const pageHash = createHash('sha256').update(page).digest('hex')

describe('an onion service between daemons in network namespaces', { skip: unavailable }, () => {
  const td = teardown()

  it('curl reaches a web server by its .peerd address; client and service host never connect', { timeout: 180_000 }, async () => {
    const lan = await createLan(7)
    td.add(async () => { await lan.destroy() }, 'remove the LAN')
    const [r1, r2, r3, r4, r5, svc, cli] = lan.hosts as [NetnsHost, NetnsHost, NetnsHost, NetnsHost, NetnsHost, NetnsHost, NetnsHost]
    const dirs = new Map<NetnsHost, string>()
    const peerd = async (host: NetnsHost, ...args: string[]): Promise<unknown> => {
      const { stdout } = await host.exec(process.execPath, [PEERD_BIN, ...args, '--json', '--data-dir', dirs.get(host) as string])
      return JSON.parse(stdout)
    }
    const start = async (host: NetnsHost, extra: string[], config?: Record<string, unknown>): Promise<void> => {
      const dir = await td.dir()
      dirs.set(host, dir)
      if (config != null) await writeFile(join(dir, 'config.json'), JSON.stringify(config))
      td.child(host.spawn(process.execPath, [PEERD_BIN, 'daemon', '--data-dir', dir, '--network', 'regtest', '--no-mdns',
        '--listen', `/ip4/${host.ip}/tcp/${PORT}`, '--api', '127.0.0.1:0', '--log-level', 'warn', ...extra], { stdio: 'ignore' }))
      await waitFor(async () => await peerd(host, 'status').then(() => true, () => undefined), { timeoutMs: 30_000, intervalMs: 300, what: `the daemon on ${host.ip}` })
    }
    await start(r1, [])
    const { peerId: firstId } = await peerd(r1, 'id') as { peerId: string }
    const boot = ['--bootstrap', `/ip4/${r1.ip}/tcp/${PORT}/p2p/${firstId}`]
    await Promise.all([r2, r3, r4, r5].map(async h => { await start(h, boot) }))
    // the service's web server: on the service host's own loopback, unreachable from the LAN
    td.child(svc.spawn(process.execPath, ['-e', `const page = ${JSON.stringify(LINE + '\n')}.repeat(8000); require('http').createServer((q, r) => r.end(page)).listen(8080, '127.0.0.1')`], { stdio: 'ignore' }))
    const apart = { minConnections: 0 }
    await start(svc, [...boot, '--no-onion-relay', '--dht-client'], apart)
    await start(cli, [...boot, '--no-onion-relay', '--dht-client', '--socks', '127.0.0.1:9050'], apart)
    const ids = { svc: (await peerd(svc, 'id') as { peerId: string }).peerId, cli: (await peerd(cli, 'id') as { peerId: string }).peerId }

    // sample both ends' connection lists and sockets for the rest of the test
    const seen: string[] = []
    let sampling = true
    const sampler = (async () => {
      while (sampling) {
        const [a = [], b = []] = await Promise.all([peerd(cli, 'peers'), peerd(svc, 'peers')]).catch(() => [[], []]) as Array<Array<{ peerId: string }>>
        if (a.some(p => p.peerId === ids.svc)) seen.push('the client listed the service host as a peer')
        if (b.some(p => p.peerId === ids.cli)) seen.push('the service host listed the client as a peer')
        const { stdout } = await cli.exec('ss', ['-Htn', 'state', 'all', 'dst', svc.ip]).catch(() => ({ stdout: '' }))
        if (stdout.trim() !== '') seen.push(`client socket to the service host: ${stdout.trim()}`)
        await new Promise(resolve => setTimeout(resolve, 250))
      }
    })()
    td.add(async () => { sampling = false; await sampler }, 'stop sampling')

    for (const h of [svc, cli]) {
      await waitFor(async () => ((await peerd(h, 'onion', 'status')) as { relaysKnown: number }).relaysKnown >= 5 || undefined,
        { timeoutMs: 60_000, intervalMs: 500, what: `${h.ip} to learn the five relays` })
    }
    const served = await peerd(svc, 'onion', 'serve', '--target', '127.0.0.1:8080', '--name', 'web') as { address: string }
    assert.match(served.address, /^[a-z2-7]{56}\.peerd$/)
    await waitFor(async () => {
      const list = await peerd(svc, 'onion', 'services') as { services?: Array<{ publishedAt?: number, introPoints: number }> } | Array<{ publishedAt?: number, introPoints: number }>
      const s = (Array.isArray(list) ? list : list.services ?? [])[0]
      return s?.publishedAt != null && s.introPoints === 3 ? true : undefined
    }, { timeoutMs: 60_000, intervalMs: 500, what: 'the service to publish its descriptor with three introduction points' })

    const { stdout } = await cli.exec('curl', ['-sS', '--max-time', '90', '--socks5-hostname', '127.0.0.1:9050', `http://${served.address}/`])
    assert.equal(createHash('sha256').update(stdout).digest('hex'), pageHash, 'the page arrived whole')
    // the client's onion status shows the rendezvous circuit it used
    const { circuits } = await peerd(cli, 'onion', 'circuits') as { circuits: Array<{ purpose: string, hops: Array<{ peerId: string }> }> }
    const hs = circuits.filter(c => c.purpose === 'hs-client')
    assert.ok(hs.length >= 1, 'a rendezvous circuit is listed')
    assert.ok(hs.every(c => c.hops.every(h => h.peerId !== ids.svc)), 'the service host is never a hop of the client\'s circuits')

    sampling = false
    await sampler
    assert.deepEqual(seen, [], 'client and service host never connected')
  })
})
