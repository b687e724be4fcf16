/**
 * Scenario 6, NAT traversal: two peerd hosts, each behind its own home router (nftables
 * masquerade, {@link NatNetwork}), a public relay host between them; and, for the reference,
 * two hosts on the Internet with no NAT. For each kind of router (`eim`: endpoint-independent
 * mapping, as most home routers; `symmetric`: a random port per connection; either with
 * `+upnp`: the router runs miniupnpd, so the nodes map their port and are simply reachable):
 *
 * - how long after start each home node knows it is behind a NAT (AutoNAT) and holds a relay
 *   reservation it announces (with UPnP: knows it is public);
 * - of `attempts` fresh connections from one home node to the other's relayed address (with
 *   UPnP: its mapped address), how many end direct (hole punching, DCUtR) within 15 s;
 * - a `size` share transfer through the connection they end up with, against the same transfer
 *   between the unNATed hosts (every host's link shaped the same);
 * - the time a block mined behind one NAT takes to reach the other home (Cash over the same path).
 *
 * Targets: behind endpoint-independent NATs and behind UPnP routers ≥ 90 % of the attempts end
 * direct and the transfer runs at ≥ 95 % of the unNATed rate; behind symmetric NATs the transfer
 * completes (through the relay).
 *
 * ```
 * node bench/net/scenarios/nat.ts [--kinds eim,symmetric,eim+upnp,symmetric+upnp] [--attempts 20] [--size MiB (64)] [--mbit 20] [--json] [--out FILE]
 * ```
 */
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { encodeAddress } from '../../../src/cash/primitives/address.ts'
import { NatNetwork } from '../harness/nat.ts'
import type { NatKind } from '../harness/nat.ts'
import { PeerdDaemon, sha256File, tempDir, writeRandomFile } from '../harness/index.ts'
import { median, numberOption, progress, rateMbit, round, runCommand } from './common.ts'
import type { Check, ScenarioResult } from './common.ts'

/** A regtest address no one holds the key of: blocks mined here pay nobody. */
const BURN_ADDRESS = encodeAddress('pdrt', new Uint8Array(32).fill(7))

/** A kind of router: its NAT, and whether it offers UPnP IGD (`eim`, `symmetric+upnp`…). */
export type RouterKind = NatKind | `${NatKind}+upnp`

/** Options of the NAT scenario. */
export interface NatOptions {
  kinds: RouterKind[]
  attempts: number
  sizeBytes: number
  /** Every host's uplink and downlink, Mbit/s. */
  mbit: number
  /** Also time the transfer between unNATed hosts (default true; the short test leaves it out). */
  reference?: boolean
  /** Run the kinds at the same time, each on its own network (the short test; rates are then not comparable). */
  parallel?: boolean
  /** Attempts behind symmetric NATs without UPnP, where each fails after its punches time out (default `attempts`). */
  symmetricAttempts?: number
}

interface Status { reachability: { state: string, relayedAddresses: string[], holePunch: { attempts: number, direct: number, failed: number } } }
interface Peer { peerId: string, relayed: boolean, addresses: string[] }

/** Polls `f` every 200 ms until it returns a value other than undefined; throws after `ms`. */
async function until<T> (f: () => Promise<T | undefined>, ms: number, what: string): Promise<T> {
  const deadline = Date.now() + ms
  for (;;) {
    const v = await f().catch(() => undefined)
    if (v !== undefined) return v
    if (Date.now() > deadline) throw new Error(`timed out after ${ms / 1000} s waiting for ${what}`)
    await sleep(200)
  }
}

/** One home node's view of another peer, undefined while not connected. */
async function peerOf (d: PeerdDaemon, peerId: string): Promise<Peer | undefined> {
  return (await d.api<Peer[]>('GET', '/api/v1/peers')).find(p => p.peerId === peerId)
}

/** Runs the scenario for one NAT kind. */
async function runKind (kind: RouterKind, options: NatOptions, input: string, sha: string, dir: string): Promise<Record<string, number | string | boolean>> {
  const link = { upMbit: options.mbit, downMbit: options.mbit }
  const nat = kind.replace('+upnp', '') as NatKind
  const upnp = kind.endsWith('+upnp')
  const net = await NatNetwork.create({ publicHosts: [{ name: 'relay' }, link, link], homes: [{ nat, upnp, ...link }, { nat, upnp, ...link }] })
  try {
    const [relayHost, open1, open2] = net.publicHosts as [typeof net.publicHosts[0], typeof net.publicHosts[0], typeof net.publicHosts[0]]
    const relay = new PeerdDaemon(relayHost, { dataDir: join(dir, `${kind}-relay`) })
    await relay.start()
    const homes = net.homes.map((h, i) => new PeerdDaemon(h.host, { dataDir: join(dir, `${kind}-home${i + 1}`), bootstrap: [relay.address] }))
    const started = Date.now()
    await Promise.all(homes.map(async h => { await h.start() }))
    // behind UPnP the router forwards the port: the node must find itself public; else private with a reservation
    const reachableAfter = await Promise.all(homes.map(async h => {
      await until(async () => {
        const s = await h.api<Status>('GET', '/api/v1/status')
        if (upnp) return s.reachability.state === 'public' ? true : undefined
        return s.reachability.state === 'private' && s.reachability.relayedAddresses.length > 0 ? true : undefined
      }, 90_000, upnp ? `${h.host.name} to find itself reachable through its UPnP mapping` : `${h.host.name} to know it is behind a NAT and hold a relay reservation`)
      return (Date.now() - started) / 1000
    }))
    progress(`${kind}: ${upnp ? 'reachable at its mapped address' : 'reachable through the relay'} after ${reachableAfter.map(s => round(s, 1)).join(' s, ')} s`)
    const [a, b] = homes as [PeerdDaemon, PeerdDaemon]
    // the address a user would paste: the relayed one behind a NAT, the mapped public one behind UPnP
    const bAddress = upnp
      ? (await b.api<{ addresses: string[] }>('GET', '/api/v1/id')).addresses.find(x => x.startsWith(`/ip4/${net.homes[1]?.router.publicIp ?? ''}/tcp/`)) as string
      : (await b.api<Status>('GET', '/api/v1/status')).reachability.relayedAddresses[0] as string
    if (bAddress == null) throw new Error(`${b.host.name} announces no address on its router's public IP`)
    let direct = 0
    const punchSeconds: number[] = []
    const attempts = kind === 'symmetric' ? options.symmetricAttempts ?? options.attempts : options.attempts
    for (let i = 0; i < attempts; i++) {
      if (i > 0) {
        await a.api('POST', '/api/v1/peers/disconnect', { peerId: b.peerId })
        await until(async () => (await peerOf(b, a.peerId)) == null ? true : undefined, 10_000, 'the disconnect to reach the other side')
      }
      const t0 = Date.now()
      // a user whose dial fails tries again; a second failure ends the run
      await a.connect(bAddress).catch(async (err: Error) => {
        progress(`${kind}: attempt ${i + 1}: connect failed (${err.message.slice(0, 160)}), trying again`)
        await sleep(1_000)
        await a.connect(bAddress)
      })
      const ended = await until(async () => {
        const p = await peerOf(a, b.peerId)
        return p != null && !p.relayed ? 'direct' : Date.now() - t0 > 15_000 ? 'relayed' : undefined
      }, 20_000, 'the connection to settle')
      if (ended === 'direct') { direct++; punchSeconds.push((Date.now() - t0) / 1000) }
      progress(`${kind}: attempt ${i + 1}/${attempts}: ${ended}`)
    }
    if (process.env.PDNET_NAT_LOG != null) for (const d of [a, b]) process.stderr.write(d.log().split('\n').filter(l => /hole|punch|AutoNAT|reachab/i.test(l)).join('\n') + '\n')
    // the connection the homes ended up with must last (a punched one once died with its dial's timer)
    const directAddr = (await peerOf(a, b.peerId))?.addresses.find(x => !x.includes('/p2p-circuit'))
    await sleep(8_000)
    const directKept = directAddr != null && (await peerOf(a, b.peerId))?.addresses.includes(directAddr) === true
    const via = (await peerOf(a, b.peerId))?.relayed === false ? 'direct' : 'relay'
    const cid = await b.share(input)
    const out = join(dir, `${kind}-out.bin`)
    const got = await a.get(cid, out, 900)
    const intact = await sha256File(out) === sha
    // Cash over the same connection: a block mined behind one NAT reaches the other home
    const mined = Date.now()
    await b.api('POST', '/api/v1/mine', { blocks: 1, address: BURN_ADDRESS })
    await until(async () => (await a.api<{ height: number }>('GET', '/api/v1/chain/info')).height >= 1 ? true : undefined, 30_000, 'the block to reach the other home')
    const blockSeconds = (Date.now() - mined) / 1000
    // the reference: the same transfer between two hosts on the Internet
    let refSeconds = NaN
    if (options.reference !== false) {
      const o1 = new PeerdDaemon(open1, { dataDir: join(dir, `${kind}-open1`) })
      await o1.start()
      const o2 = new PeerdDaemon(open2, { dataDir: join(dir, `${kind}-open2`), bootstrap: [o1.address] })
      await o2.start()
      const refCid = await o2.share(input)
      refSeconds = (await o1.get(refCid, join(dir, `${kind}-ref.bin`), 900)).seconds
    }
    const stats = (await b.api<Status>('GET', '/api/v1/status')).reachability.holePunch
    return {
      kind,
      reachableSeconds: round(Math.max(...reachableAfter), 1),
      attempts,
      directShare: round(direct / attempts, 2),
      directKept,
      punchSeconds: punchSeconds.length === 0 ? 0 : round(median(punchSeconds), 2),
      via,
      rateMbit: round(rateMbit(options.sizeBytes, got.seconds), 1),
      refRateMbit: round(rateMbit(options.sizeBytes, refSeconds), 1),
      ratio: round(refSeconds / got.seconds, 3),
      intact,
      blockSeconds: round(blockSeconds, 2),
      punchAttempts: stats.attempts,
      punchDirect: stats.direct
    }
  } finally {
    await net.destroy()
  }
}

/** Runs the NAT scenario; see the module comment. */
export async function natTraversal (options: NatOptions): Promise<ScenarioResult> {
  const dir = await tempDir('nat')
  try {
    const input = join(dir.path, 'input.bin')
    const sha = await writeRandomFile(input, options.sizeBytes)
    const rows: Array<Record<string, number | string | boolean>> = []
    const checks: Check[] = []
    if (options.parallel === true) rows.push(...await Promise.all(options.kinds.map(async kind => await runKind(kind, options, input, sha, dir.path))))
    else for (const kind of options.kinds) rows.push(await runKind(kind, options, input, sha, dir.path))
    for (const r of rows) {
      const kind = r.kind as RouterKind
      if (kind === 'symmetric') checks.push({ name: 'symmetric: the transfer went through the relay', value: r.via === 'relay' ? 1 : 0, target: '= 1', pass: r.via === 'relay' })
      checks.push({ name: `${kind}: transfer completes intact`, value: r.intact === true ? 1 : 0, target: '= 1', pass: r.intact === true })
      if (kind !== 'symmetric') {
        checks.push({ name: `${kind}: the direct connection lasts (8 s on)`, value: r.directKept === true ? 1 : 0, target: '= 1', pass: r.directKept === true })
        checks.push({ name: `${kind}: attempts ending direct`, value: r.directShare as number, target: '≥ 0.9', pass: (r.directShare as number) >= 0.9 })
        if (options.reference !== false) checks.push({ name: `${kind}: rate vs unNATed`, value: r.ratio as number, target: '≥ 0.95', pass: (r.ratio as number) >= 0.95 })
      }
    }
    return {
      id: 'nat',
      title: 'NAT traversal: AutoNAT, relay reservations, hole punching',
      params: { kinds: options.kinds, attempts: options.attempts, sizeMiB: options.sizeBytes / 2 ** 20, mbit: options.mbit },
      rows: rows.map(r => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, typeof v === 'boolean' ? String(v) : v]))),
      checks,
      notes: ['routers: nftables masquerade (eim keeps ports; symmetric = fully-random), unsolicited packets dropped'],
      data: { rows }
    }
  } finally {
    await dir.remove()
  }
}

if (import.meta.main) {
  await runCommand('usage: node bench/net/scenarios/nat.ts [--kinds eim,symmetric,eim+upnp,symmetric+upnp] [--attempts 20] [--size MiB (64)] [--mbit 20] [--json] [--out FILE]', {
    kinds: { type: 'string' },
    attempts: { type: 'string' },
    size: { type: 'string' },
    mbit: { type: 'string' }
  }, async (values, report) => {
    const kinds = String(values.kinds ?? 'eim,symmetric,eim+upnp,symmetric+upnp').split(',') as RouterKind[]
    if (kinds.some(k => !/^(eim|symmetric)(\+upnp)?$/.test(k))) throw new Error('--kinds: a list of eim, symmetric, eim+upnp, symmetric+upnp')
    report(await natTraversal({
      kinds,
      attempts: numberOption(values, 'attempts', 20),
      sizeBytes: Math.round(numberOption(values, 'size', 64) * 2 ** 20),
      mbit: numberOption(values, 'mbit', 20)
    }))
  })
}
