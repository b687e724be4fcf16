/**
 * Joining the public IPFS network with no server of ours, in network namespaces that stand in for
 * the Internet: two Helia nodes speak Amino (`/ipfs/kad/1.0.0`), one as the only bootstrap peer,
 * one holding a file. Two peerd daemons on `main`, given nothing but the stand-in bootstrap peer
 * (mDNS off), find each other through the Amino rendezvous record; one fetches (`peerd get`) the
 * file only the Helia node holds, found through Amino provider records; and the Helia node
 * fetches a file only peerd shares, announced on Amino. Restarted with no bootstrap peer, a node
 * redials the peerd node it remembers.
 */
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import type { ChildProcess } from 'node:child_process'
import { describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import { createLan, netnsUnavailable } from '../utils/netns.ts'
import type { NetnsHost } from '../utils/netns.ts'
import { PEERD_BIN, waitFor } from '../utils/index.ts'
import { teardown } from '../utils/teardown.ts'

const HELIA = fileURLToPath(new URL('./fixtures/amino-helia.ts', import.meta.url))
const unavailable = await netnsUnavailable()

/** A process speaking JSON lines: the next line that matches, within `ms`. */
function lines (child: ChildProcess): (match: (v: Record<string, unknown>) => boolean, ms?: number) => Promise<Record<string, unknown>> {
  const seen: Array<Record<string, unknown>> = []
  const waiters: Array<() => void> = []
  if (child.stdout == null) throw new Error('no stdout')
  createInterface({ input: child.stdout }).on('line', line => {
    try { seen.push(JSON.parse(line) as Record<string, unknown>) } catch { return }
    for (const w of waiters.splice(0)) w()
  })
  return async (match, ms = 20_000) => await new Promise((resolve, reject) => {
    const timer = setTimeout(() => { reject(new Error(`no matching line within ${ms} ms: ${JSON.stringify(seen)}`)) }, ms)
    const check = (): void => {
      const i = seen.findIndex(match)
      if (i >= 0) { clearTimeout(timer); resolve(seen.splice(i, 1)[0] as Record<string, unknown>) } else waiters.push(check)
    }
    check()
  })
}

describe('joining Amino, the public IPFS DHT, through a stand-in bootstrap peer', { skip: unavailable }, () => {
  const td = teardown()

  it('peerd nodes find each other and Helia nodes, and content flows both ways', { timeout: 90_000 }, async () => {
    const lan = await createLan(4)
    td.add(async () => { await lan.destroy() }, 'remove the LAN')
    const [hB, hH, h1, h2] = lan.hosts as [NetnsHost, NetnsHost, NetnsHost, NetnsHost]

    const helia = (host: NetnsHost, args: string[]): { child: ChildProcess, next: ReturnType<typeof lines> } => {
      const child = td.child(host.spawn(process.execPath, [HELIA, host.ip, ...args], { stdio: ['pipe', 'pipe', 'inherit'] }))
      return { child, next: lines(child) }
    }
    const boot = helia(hB, ['server'])
    const bootInfo = await boot.next(v => v.peerId != null)
    const bootAddr = bootInfo.address as string // ends in /p2p/<peerId>
    // a DHT client: no lookup meets it, so peerd reaches it only through its provider record
    const holder = helia(hH, ['client', bootAddr])
    const holderInfo = await holder.next(v => v.peerId != null)

    interface Daemon { dir: string, peerId: string, child: ChildProcess, cli: (args: string[]) => Promise<unknown> }
    const daemon = async (host: NetnsHost, dir?: string, flags = ['--bootstrap', bootAddr]): Promise<Daemon> => {
      if (dir == null) {
        dir = await td.dir()
        // the LAN's 10.x addresses stand in for public ones: keep them in Amino records
        await writeFile(join(dir, 'config.json'), JSON.stringify({ aminoPrivateAddresses: true }))
      }
      const child = td.child(host.spawn(process.execPath, [PEERD_BIN, 'daemon', '--json', '--data-dir', dir, '--network', 'main',
        '--listen', `/ip4/${host.ip}/tcp/9470`, '--api', '127.0.0.1:0', '--no-mdns', '--log-level', 'warn', ...flags],
      { stdio: ['ignore', 'pipe', 'inherit'] }))
      const started = await lines(child)(v => v.event === 'started', 30_000)
      const cli = async (args: string[]): Promise<unknown> => {
        const { stdout } = await host.exec(process.execPath, [PEERD_BIN, ...args, '--json', '--data-dir', dir])
        return JSON.parse(stdout)
      }
      return { dir, peerId: started.peerId as string, child, cli }
    }
    const [p1, p2] = await Promise.all([daemon(h1), daemon(h2)])

    // a file only the Helia node holds, and one only peerd shares
    holder.child.stdin?.write(JSON.stringify({ add: 1_500_000 }) + '\n')
    const held = await holder.next(v => v.cid != null || v.error != null)
    assert.ok(held.cid != null, `the Helia node could not add and announce: ${JSON.stringify(held)}`)
    const file = join(p1.dir, 'shared.bin')
    const bytes = randomBytes(1_500_000)
    await writeFile(file, bytes)
    const shared = await p1.cli(['share', file]) as { cid: string }

    // the peerd nodes know of each other only through the rendezvous record on Amino
    const peersOf = async (p: Daemon): Promise<string[]> => (await p.cli(['peers']) as Array<{ peerId: string }>).map(x => x.peerId)
    await waitFor(async () => (await peersOf(p2)).includes(p1.peerId), { timeoutMs: 40_000, intervalMs: 500, what: 'the peerd nodes to find each other through Amino' })

    const holderPeers = async (): Promise<string[]> => {
      holder.child.stdin?.write(JSON.stringify({ peers: true }) + '\n')
      return (await holder.next(v => v.peers != null)).peers as string[]
    }
    assert.deepEqual(await holderPeers(), [bootInfo.peerId], 'the Helia holder knows no peerd node yet')

    // content only IPFS nodes have: found through Amino provider records, fetched over Bitswap
    const out = join(p2.dir, 'from-helia.bin')
    const got = await h2.exec(process.execPath, [PEERD_BIN, 'get', held.cid as string, '-o', out, '--timeout', '40', '--json', '--data-dir', p2.dir])
    assert.ok(got.stdout.length > 0, got.stderr)
    assert.equal(createHash('sha256').update(await readFile(out)).digest('hex'), held.sha256)
    assert.ok((await peersOf(p2)).includes(holderInfo.peerId as string), 'the peerd node connected to the Helia node that holds the file')

    // content only peerd shares: the Helia node finds it on Amino and fetches it over Bitswap
    assert.ok(!(await holderPeers()).includes(p1.peerId), 'the Helia holder is not connected to the sharer yet')
    holder.child.stdin?.write(JSON.stringify({ cat: shared.cid }) + '\n')
    const cat = await holder.next(v => v.cat === shared.cid || v.error != null, 40_000)
    assert.equal(cat.sha256, createHash('sha256').update(bytes).digest('hex'), JSON.stringify(cat))

    // restarted with no bootstrap peer, no Amino and one connection wanted, the node redials the
    // peerd node it remembers, although it met the Helia nodes more recently
    p2.child.kill('SIGTERM')
    await new Promise(resolve => p2.child.once('exit', resolve))
    const again = await daemon(h2, p2.dir, ['--bootstrap', 'none', '--no-amino', '--min-connections', '1'])
    assert.equal(again.peerId, p2.peerId)
    const link = await waitFor(async () => (await again.cli(['peers']) as Array<{ peerId: string, direction: string }>).find(p => p.peerId === p1.peerId),
      { timeoutMs: 15_000, intervalMs: 300, what: 'the restarted node to reconnect to the peerd node it knew' })
    // its own dial (the other node's rendezvous lookups would find it too, later)
    assert.equal(link.direction, 'outbound')
  })
})
