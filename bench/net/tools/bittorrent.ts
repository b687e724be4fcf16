/**
 * BitTorrent (aria2c from Debian) as a {@link SwarmTool}: a minimal tracker (`tracker.ts`) in
 * the hub's namespace, a .torrent made here (`torrent.ts`, 256 KiB pieces), aria2c seeding on
 * every seeder (the input hard-linked into its directory) and downloading on every downloader.
 * No DHT, no local peer discovery: peers learn of each other from the tracker, and keep seeding
 * once they have the file. aria2 checks every piece's SHA-1; the output is compared with the
 * input's sha256 after the run.
 */
import { execFile } from 'node:child_process'
import { copyFile, link, mkdir, readFile, writeFile, chmod } from 'node:fs/promises'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { HUB_IP, sha256File, spawnIn, tempDir } from '../harness/index.ts'
import type { NetHost, Network, NsProcess } from '../harness/index.ts'
import type { FetchTime, InputFile, SwarmTool } from './swarm.ts'
import { makeTorrent } from './torrent.ts'
import type { Torrent } from './torrent.ts'

const exec = promisify(execFile)
const TRACKER = fileURLToPath(new URL('./tracker.ts', import.meta.url))
const TRACKER_PORT = 6969

/** Why aria2c cannot be used (after trying `apt-get install aria2` when it is missing), or undefined. */
export async function ensureAria2 (): Promise<string | undefined> {
  const version = async (): Promise<string | undefined> => {
    try { return (await exec('aria2c', ['--version'])).stdout.split('\n')[0] } catch { return undefined }
  }
  if (await version() != null) return undefined
  process.stderr.write('bench:net: aria2c is missing; installing Debian\'s aria2 package (apt-get install aria2)…\n')
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
  try {
    await exec('apt-get', ['install', '-y', '-q', 'aria2'], { env }).catch(async () => {
      await exec('apt-get', ['update', '-q'], { env })
      await exec('apt-get', ['install', '-y', '-q', 'aria2'], { env })
    })
  } catch (err) {
    return `aria2c is not installed and \`apt-get install aria2\` failed: ${(err as Error).message.split('\n')[0] ?? ''}`
  }
  return await version() != null ? undefined : 'aria2c is not installed'
}

/** The aria2c version line, for the report. */
export async function aria2Version (): Promise<string> {
  try { return (await exec('aria2c', ['--version'])).stdout.split('\n')[0] ?? 'aria2' } catch { return 'aria2 (missing)' }
}

function aria2Args (dir: string, torrentPath: string, hook: string, seeding: boolean): string[] {
  return [
    `--dir=${dir}`, '--enable-dht=false', '--enable-dht6=false', '--bt-enable-lpd=false', '--enable-peer-exchange=true',
    '--disable-ipv6=true', '--listen-port=6881', '--file-allocation=none', '--summary-interval=0', '--console-log-level=warn',
    '--seed-ratio=0.0', '--bt-tracker-interval=5', '--allow-overwrite=true', '--auto-file-renaming=false',
    '--check-integrity=false', '--bt-save-metadata=false', `--on-bt-download-complete=${hook}`,
    ...(seeding ? ['--bt-seed-unverified=true'] : []), torrentPath
  ]
}

/** Creates the BitTorrent tool for `net` (its tracker runs in the hub's namespace). */
export function bittorrentTool (net: Network): SwarmTool {
  let procs: NsProcess[] = []
  let tracker: NsProcess | undefined
  let torrent: { input: string, t: Torrent, path: string } | undefined
  let fetchers: Array<{ host: NetHost, dir: string, done: string }> = []
  let run: { path: string, remove: () => Promise<void> } | undefined
  let input: InputFile | undefined
  let torrentDir: { path: string } | undefined

  return {
    name: 'bittorrent',
    description: 'aria2c (Debian), 256 KiB pieces, own HTTP tracker, no DHT/LPD, PEX on',
    prepare: async (file, seeders, downloaders) => {
      input = file
      // a fresh tracker per run: no peers of an earlier run in its lists
      tracker = spawnIn(net.hub, process.execPath, [TRACKER, HUB_IP, String(TRACKER_PORT)])
      await tracker.waitForJson(v => v.listening != null)
      if (torrent?.input !== file.path) {
        torrentDir ??= await tempDir('torrent')
        const t = await makeTorrent(file.path, `http://${HUB_IP}:${TRACKER_PORT}/announce`)
        const path = join(torrentDir.path, `${t.infoHash}.torrent`)
        await writeFile(path, t.bytes)
        torrent = { input: file.path, t, path }
      }
      const tor = torrent
      run = await tempDir('bt')
      const hook = join(run.path, 'done.sh')
      // aria2 runs the hook with GID, file count and path; the host's done file comes from the env
      await writeFile(hook, '#!/bin/sh\ndate +%s.%N > "$PDNET_DONE_FILE"\n')
      await chmod(hook, 0o755)
      const start = (h: NetHost, seeding: boolean, dir: string): NsProcess => {
        const p = h.spawn('aria2c', aria2Args(dir, tor.path, hook, seeding), { env: { ...process.env, PDNET_DONE_FILE: join(dir, '..', `${h.name}.done`) } })
        procs.push(p)
        return p
      }
      for (const h of seeders) {
        const dir = join(run.path, h.name)
        await mkdir(dir, { recursive: true })
        await link(file.path, join(dir, tor.t.name)).catch(async () => { await copyFile(file.path, join(dir, tor.t.name)) })
        start(h, true, dir)
      }
      // the seeders must be known to the tracker before the clock starts
      await Promise.all(seeders.map(async h => await tracker?.waitForJson(v => v.ip === h.ip && v.left === 0 && v.announce === tor.t.infoHash, 30_000)))
      fetchers = []
      for (const h of downloaders) {
        const dir = join(run.path, h.name)
        await mkdir(dir, { recursive: true })
        fetchers.push({ host: h, dir, done: join(run.path, `${h.name}.done`) })
      }
    },
    fetchAll: async (timeoutMs) => {
      const tor = torrent as NonNullable<typeof torrent>
      const t0 = Date.now()
      for (const f of fetchers) procs.push(f.host.spawn('aria2c', aria2Args(f.dir, tor.path, join(f.dir, '..', 'done.sh'), false), { env: { ...process.env, PDNET_DONE_FILE: f.done } }))
      const times: FetchTime[] = []
      for (const f of fetchers) {
        while (true) {
          const text = await readFile(f.done, 'utf8').catch(() => '')
          if (text.trim() !== '') {
            times.push({ host: f.host.name, seconds: Number(text.trim()) - t0 / 1000 })
            break
          }
          if (Date.now() - t0 > timeoutMs) throw new Error(`aria2c on ${f.host.name} did not finish within ${timeoutMs / 1000} s`)
          await sleep(100)
        }
      }
      for (const f of fetchers) {
        if (await sha256File(join(f.dir, tor.t.name)) !== input?.sha256) throw new Error(`aria2c on ${f.host.name} wrote a file that differs from the input`)
      }
      return times
    },
    reset: async () => {
      await Promise.all([...procs, ...(tracker == null ? [] : [tracker])].map(async p => { await p.stop(5_000) }))
      procs = []
      tracker = undefined
      fetchers = []
      await run?.remove()
      run = undefined
    }
  }
}
