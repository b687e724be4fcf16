/**
 * Scenario 3, churn: a network of peerd hosts (default 16: 4 seeders, 12 downloaders), every
 * downloader fetching one file; once a downloader has a quarter of it, 30% of the hosts are
 * killed with SIGKILL (half of the seeders, among them the host every node bootstrapped from,
 * and downloaders). Checks that every survivor completes, that DHT lookups keep answering (a
 * fresh host, joined through a survivor after the kills, fetches small files announced only in
 * the DHT by survivors it is not connected to), and that killed downloaders, restarted, resume
 * and complete.
 *
 * ```
 * node bench/net/scenarios/churn.ts [--hosts 16] [--seeders hosts/4] [--probes 3] [--size MiB (64)] [--json] [--out FILE]
 * ```
 */
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { Network, PeerdDaemon, sha256File, tempDir, writeRandomFile } from '../harness/index.ts'
import { cpuMeter, median, numberOption, progress, round, runCommand } from './common.ts'
import type { Check, ScenarioResult } from './common.ts'

/** Options of the churn scenario. */
export interface ChurnOptions {
  hosts: number
  /** Default: a quarter of the hosts, at least 2. */
  seeders?: number
  sizeBytes: number
  /** Share of the hosts killed (default 0.3). */
  killShare?: number
  /** Files announced only in the DHT, looked up after the kills (default 3; 1 below 12 hosts). */
  probes?: number
  upMbit?: number
  downMbit?: number
  /** Kill once a downloader has this share of the file (default 0.25). */
  killAt?: number
}

/** Runs the churn scenario; see the module comment. */
export async function churn (options: ChurnOptions): Promise<ScenarioResult> {
  const { hosts: n, sizeBytes: size } = options
  const s = options.seeders ?? Math.max(2, Math.round(n / 4))
  const probes = options.probes ?? (n >= 12 ? 3 : 1)
  const upMbit = options.upMbit ?? 50
  const downMbit = options.downMbit ?? 200
  const victims = Math.round(n * (options.killShare ?? 0.3))
  const deadSeeders = Math.min(Math.floor(s / 2), victims)
  const deadDownloaders = victims - deadSeeders
  if (s < 2 || n - s < deadDownloaders + probes + 1) throw new Error('too few hosts for these seeders, kills and probes')
  const dir = await tempDir('churn')
  const input = join(dir.path, 'input.bin')
  const sha = await writeRandomFile(input, size)
  // one more host than the network: the late joiner that makes the DHT lookups
  const net = await Network.create(Array.from({ length: n + 1 }, (_, i) => ({ name: i === n ? 'probe' : `h${i + 1}`, upMbit, downMbit })))
  try {
    const daemons = net.hosts.slice(0, n).map(h => new PeerdDaemon(h, { dataDir: join(dir.path, h.name) }))
    const [first] = daemons as [PeerdDaemon]
    await first.start()
    for (const d of daemons.slice(1)) d.bootstrap = [first.address]
    for (let i = 1; i < n; i += 4) await Promise.all(daemons.slice(i, i + 4).map(async d => { await d.start() }))
    const seeders = daemons.slice(0, s)
    const downloaders = daemons.slice(s)
    const cid = (await Promise.all(seeders.map(async d => await d.share(input))))[0] as string
    // victims: the first seeders (host 1, everyone's bootstrap, among them) and the first downloaders
    const killed = [...seeders.slice(0, deadSeeders), ...downloaders.slice(0, deadDownloaders)]
    const survivors = downloaders.slice(deadDownloaders)
    const providers = survivors.slice(0, probes)
    const probeCids: Array<{ cid: string, provider: PeerdDaemon, sha: string }> = []
    for (const [i, p] of providers.entries()) {
      const path = join(dir.path, `probe-${i}.bin`)
      const probeSha = await writeRandomFile(path, 1024 * 1024)
      probeCids.push({ cid: await p.share(path), provider: p, sha: probeSha })
    }
    // every node has found a few others through the bootstrap host before the downloads start
    for (const d of daemons) {
      for (let t = 0; t < 60 && (await d.peers()).length < Math.min(4, n - 1); t++) await sleep(500)
    }
    const busy = cpuMeter(net.namespaces())
    const t0 = performance.now()
    const timeout = Math.max(300, Math.round(size * 8 / (upMbit * 1e6) * 20))
    const gets = downloaders.map(d => ({ d, get: d.prepareGet(cid, join(d.dataDir, 'out.bin'), timeout) }))
    await Promise.all(gets.map(async g => await g.get.ready))
    const running = gets.map(g => ({ d: g.d, done: g.get.go().then(r => ({ ok: true as const, at: (performance.now() - t0) / 1000, r }), (err: Error) => ({ ok: false as const, at: (performance.now() - t0) / 1000, err })) }))
    // kill once one of three surviving downloaders has a quarter of the file (or has finished)
    const watch = survivors[survivors.length - 1] as PeerdDaemon
    const watched = survivors.slice(-3)
    let watchDone = false
    for (const w of watched) void running.find(r => r.d === w)?.done.finally(() => { watchDone = true })
    while (!watchDone) {
      const got = await Promise.all(watched.map(async w => (await w.transfers().catch(() => []))[0]?.progress.bytes ?? 0))
      if (Math.max(...got) >= size * (options.killAt ?? 0.25)) break
      await sleep(250)
    }
    const killedAt = (performance.now() - t0) / 1000
    await Promise.all(killed.map(async d => { await d.kill() }))
    progress(`churn: killed ${killed.map(d => d.host.name).join(', ')} at ${round(killedAt, 1)} s`)

    // DHT lookups after the kills, from a host that joins through a survivor
    // it dials no more peers than its bootstrap by itself (--min-connections 1): a provider it
    // reaches is one the DHT told it of
    const probe = new PeerdDaemon(net.host('probe'), { dataDir: join(dir.path, 'probe'), bootstrap: [watch.address], extraArgs: ['--min-connections', '1'] })
    await probe.start()
    const lookups = []
    for (const pc of probeCids) {
      const connected = (await probe.peers()).includes(pc.provider.peerId)
      const t = performance.now()
      const out = join(probe.dataDir, `${pc.cid}.bin`)
      const ok = await probe.get(pc.cid, out, 60).then(async () => await sha256File(out) === pc.sha, () => false)
      lookups.push({ cid: pc.cid, provider: pc.provider.host.name, connectedBefore: connected, ok, seconds: round((performance.now() - t) / 1000) })
    }

    const outcomes = await Promise.all(running.filter(r => survivors.includes(r.d)).map(async r => ({ d: r.d, ...(await r.done) })))
    const cpu = busy()
    let verified = 0
    for (const o of outcomes) if (o.ok && await sha256File(join(o.d.dataDir, 'out.bin')) === sha) verified++
    // the killed downloaders come back (same data dir) and resume
    const restarted = killed.filter(d => downloaders.includes(d))
    const resumes = await Promise.all(restarted.map(async d => {
      await d.start()
      const r = await d.get(cid, join(d.dataDir, 'out.bin'), timeout).then(x => x, () => undefined)
      return r != null && await sha256File(join(d.dataDir, 'out.bin')) === sha
    }))
    const times = outcomes.filter(o => o.ok).map(o => o.at)
    const failed = outcomes.filter(o => !o.ok).map(o => `${o.d.host.name}: ${o.ok ? '' : o.err.message}`)
    const checks: Check[] = [
      { name: 'survivors that completed (file checked)', value: verified, target: `= ${survivors.length}`, pass: verified === survivors.length },
      { name: 'DHT lookups answered after the kills', value: lookups.filter(l => l.ok).length, target: `= ${lookups.length}`, pass: lookups.every(l => l.ok) },
      { name: 'killed downloaders that resumed after a restart', value: resumes.filter(Boolean).length, target: `= ${restarted.length}`, pass: resumes.every(Boolean) }
    ]
    return {
      id: 'churn',
      title: `3. churn (peerd): ${n} hosts, ${victims} killed with SIGKILL during the download`,
      params: { hosts: n, seeders: s, downloaders: n - s, killed: victims, sizeMiB: size / 2 ** 20, upMbit, downMbit },
      rows: [{
        'killed at s': round(killedAt, 1),
        killed: killed.map(d => d.host.name).join(' '),
        'survivors done': `${verified}/${survivors.length}`,
        'first/median/last s': times.length === 0 ? '-' : `${round(Math.min(...times), 1)} / ${round(median(times), 1)} / ${round(Math.max(...times), 1)}`,
        'DHT lookups ok': `${lookups.filter(l => l.ok).length}/${lookups.length}`,
        'lookup s': lookups.map(l => l.seconds).join(' '),
        'resumed': `${resumes.filter(Boolean).length}/${restarted.length}`,
        'cores busy (bench)': `${cpu.busy} (${cpu.ours})`
      }],
      checks,
      notes: [
        `lookups: a fresh host (--min-connections 1) joins through ${watch.host.name} after the kills and gets ${probes} 1 MiB files, each shared by one survivor; connected to that survivor before its get: ${lookups.map(l => l.connectedBefore ? 'yes' : 'no').join(', ')}`,
        ...failed.map(f => `failed: ${f}`)
      ],
      data: { killedAt, times, lookups, resumes, cpu }
    }
  } finally {
    await net.destroy()
    await dir.remove()
  }
}

if (import.meta.main) {
  await runCommand('usage: node bench/net/scenarios/churn.ts [--hosts 16] [--seeders hosts/4] [--probes 3] [--size MiB (64)] [--json] [--out FILE]',
    { hosts: { type: 'string' }, seeders: { type: 'string' }, probes: { type: 'string' }, size: { type: 'string' } },
    async (values, report) => {
      const hosts = numberOption(values, 'hosts', 16)
      report(await churn({
        hosts,
        seeders: values.seeders == null ? undefined : numberOption(values, 'seeders', 4),
        probes: values.probes == null ? undefined : numberOption(values, 'probes', 3),
        sizeBytes: Math.round(numberOption(values, 'size', 64) * 2 ** 20)
      }))
    })
}
