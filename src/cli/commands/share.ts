/** `peerd share`, `get`, `cat`, `ls`, `unshare` and `gc`: content-addressed file sharing. */
import { existsSync } from 'node:fs'
import { resolve } from 'node:path'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import type { ReadableStream as WebReadableStream } from 'node:stream/web'
import type { Root } from '../../api/types.ts'
import { ApiError, DaemonNotRunningError, DownloadIncompleteError, InterruptedError, InvalidArgumentError, PeerdError, StreamBrokenError, UsageError } from '../../errors.ts'
import { looksLikeLink, parseLink } from '../../share/link.ts'
import { ApiClient } from '../client.ts'
import { registerUrlHandler } from '../url-handler.ts'
import { intOption } from '../command.ts'
import { capOption } from './bandwidth.ts'
import type { Command } from '../command.ts'
import { printJson, printLines, table } from '../output.ts'
import { formatBytes, ProgressBar } from '../progress.ts'

export const share: Command = {
  name: 'share',
  summary: 'import a file or folder, pin it and announce it',
  usage: 'share PATH [--hidden] [--private] [--json]',
  help: `  --hidden   include files and folders whose names start with a dot (left out by default,
             as \`ipfs add -r\` does, so the CID matches Kubo's); symbolic links are stored as links
  --private  serve it only through this node's onion service, announced by the service's
             .peerd address instead of this node's peer id; peers asking this node directly
             are told it does not have it (needs onion routing; fetch with get --private)`,
  options: { hidden: { type: 'boolean' }, private: { type: 'boolean' } },
  args: { min: 1, max: 1 },
  async run (ctx) {
    const path = resolve(ctx.positionals[0] as string)
    const privately = ctx.values.private === true
    const r = await new ApiClient(ctx.dataDir).post<Root & { skipped: string[] }>('/api/v1/share', { path, hidden: ctx.values.hidden === true, ...(privately ? { private: true } : {}) })
    // `private` and `onion` only on a private share: the JSON of an ordinary one keeps its two keys
    if (ctx.json) printJson({ cid: r.cid, size: r.size, ...(r.private === true ? { private: true, onion: r.onion } : {}) })
    else {
      printLines(r.cid, `  ${r.type} ${r.name}, ${formatBytes(r.size)}${r.onion != null ? `, served privately at ${r.onion}` : ''}`)
      if (r.skipped.length > 0) process.stderr.write(`peerd: left out ${r.skipped.length} hidden or special entries (e.g. ${r.skipped.slice(0, 3).join(', ')}); --hidden includes hidden ones\n`)
    }
    return 0
  }
}

/** Splits `CID/some/path` into the CID and the path inside it. */
function splitCidPath (arg: string): { cid: string, path: string | undefined } {
  const clean = arg.replace(/^\/?ipfs\//, '')
  const i = clean.indexOf('/')
  return i < 0 ? { cid: clean, path: undefined } : { cid: clean.slice(0, i), path: clean.slice(i + 1) }
}

export const get: Command = {
  name: 'get',
  summary: 'fetch content by CID or share link from the network and save it',
  usage: 'get CID[/PATH]|LINK [--only GLOB]... [-o PATH] [--timeout S] [--private] [--max-rate RATE] [--json]',
  help: `  CID/PATH            fetch only that file or folder of a shared folder (the folders on the
                      way are read, nothing else); it is saved by itself (default ./NAME)
  LINK                a share link (\`peerd link\`): peerd://CID?provider=…, web+peerd:…, or
                      CID?provider=MULTIADDR (quote it: the shell reads ? and &); the node dials
                      its providers at once, beside the usual DHT search; a link may carry a PATH
  --only GLOB         fetch only the entries matching GLOB (repeatable), relative to PATH or the
                      root: * and ? within a name (not a leading dot), [abc], {a,b}, ** across
                      folders ('**/*.pdf', 'docs/*'); a matching folder comes whole. The output
                      is the folder tree with only those entries. A partial get leaves the root
                      partial in \`peerd ls\` (not announced; its blocks are served); a get of the
                      whole CID later completes it
  -o, --output PATH   where to save it (default: ./NAME for a PATH, or from a link when nothing
                      is there and the name does not start with a dot, else ./CID); written
                      atomically
  --timeout S         give up when no data arrives for S seconds (default 60)
  --private           through onion circuits: random peers look the providers up, each provider
                      sends its blocks through a circuit of its own, so none learns who fetched;
                      this node dials no provider and does not announce what it fetched
  --max-rate RATE     cap this download, bytes/s: 2MB, 500kB, 16Mbit (the node's --max-download
                      applies as well)
  An interrupted get resumes from the blocks already fetched when run again.`,
  options: {
    output: { type: 'string', short: 'o' },
    timeout: { type: 'string' },
    private: { type: 'boolean' },
    'max-rate': { type: 'string' },
    only: { type: 'string', multiple: true }
  },
  args: { min: 1, max: 1 },
  async run (ctx) {
    const arg = ctx.positionals[0] as string
    // a link is parsed here too: for its name, and to refuse it before the daemon is asked
    const link = looksLikeLink(arg) ? parseLink(arg) : undefined
    const { cid, path } = link != null ? { cid: link.cid.toString(), path: link.path } : splitCidPath(arg)
    const selectedPath = path?.replace(/\/+$/, '')
    const only = ctx.values.only as string[] | undefined
    // a link's name is a suggestion from whoever made it: it never replaces a file or makes a hidden one
    const named = link?.name != null && !link.name.startsWith('.') && !existsSync(resolve(link.name)) ? link.name : undefined
    // a selected entry is saved under its own name, as a whole get is under its CID
    const name = selectedPath != null && selectedPath !== '' ? selectedPath.slice(selectedPath.lastIndexOf('/') + 1) : named ?? cid
    const output = resolve((ctx.values.output as string | undefined) ?? name)
    const timeoutSeconds = intOption(ctx.values, 'timeout', 1, 86_400) ?? 60
    const maxRate = capOption(ctx.values['max-rate'], '--max-rate')
    const abort = new AbortController()
    let interrupted = false
    const onSigint = (): void => { interrupted = true; abort.abort() }
    process.once('SIGINT', onSigint)
    const bar = new ProgressBar()
    try {
      const privately = ctx.values.private === true
      const res = await new ApiClient(ctx.dataDir).stream('POST', '/api/v1/get', { ...(link != null ? { link: arg } : { cid }), output, timeoutSeconds, ...(privately ? { private: true } : {}), ...(maxRate != null && maxRate > 0 ? { maxRate } : {}), ...(link == null && selectedPath != null && selectedPath !== '' ? { path: selectedPath } : {}), ...(only != null && only.length > 0 ? { only } : {}) }, abort.signal)
      let buffered = ''
      let result: Record<string, unknown> | undefined
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        buffered += Buffer.from(chunk).toString('utf8')
        let nl: number
        while ((nl = buffered.indexOf('\n')) >= 0) {
          const ev = JSON.parse(buffered.slice(0, nl)) as Record<string, unknown>
          buffered = buffered.slice(nl + 1)
          if (ev.event === 'progress') bar.update(ev as unknown as { bytes: number, total: number, rate: number, peers: number })
          else if (ev.event === 'error') {
            const e = ev.error as { name: string, message: string }
            throw new ApiError(e.name, e.message, Number(ev.status ?? 500))
          } else if (ev.event === 'done') result = ev
        }
      }
      bar.done()
      if (result == null) throw new DownloadIncompleteError('the daemon ended the download without a result; see its log')
      // `private` only on a private get: the JSON of an ordinary one keeps its five keys
      const out = { cid: result.cid, path: result.path, size: result.size, peers: result.peers, seconds: result.seconds, ...(result.private === true ? { private: true } : {}), ...(result.selection != null ? { selection: result.selection } : {}) }
      if (ctx.json) printJson(out)
      else {
        const secs = Number(out.seconds)
        printLines(`saved ${String(out.path)} (${formatBytes(Number(out.size))}) from ${String(out.peers)} peer${out.peers === 1 ? '' : 's'}${out.private === true ? ' through onion circuits' : ''} in ${secs.toFixed(1)} s, ${formatBytes(Number(out.size) / Math.max(secs, 0.001))}/s`)
      }
      return 0
    } catch (err) {
      bar.done()
      if (interrupted) throw new InterruptedError('interrupted; run the same command again to resume from what was fetched')
      if (err instanceof PeerdError) throw err
      // the connection to the daemon broke mid-download: it stopped or was killed
      throw new DaemonNotRunningError(`the daemon stopped during the download (${(err as Error).message}); start it again and run the same command to resume from what was fetched`, { cause: err })
    } finally {
      process.off('SIGINT', onSigint)
    }
  }
}

export const link: Command = {
  name: 'link',
  summary: 'print a share link to held content, naming this node as its provider',
  usage: 'link CID [--name NAME] [--web | --plain] [--json] | link --register',
  help: `  prints peerd://CID?name=NAME&provider=MULTIADDR…: \`peerd get LINK\` on another node fetches
  from this node at once, without a DHT lookup. The providers are this node's public and
  announced addresses (relayed ones included); when it has only loopback or private ones, those
  are used and a note on stderr says the link works on this machine or its LAN only.
  --name NAME  the name the link carries (default: the name it was shared under)
  --web        web+peerd:… (the scheme a browser hands to the dashboard)
  --plain      CID?provider=…, without a scheme
  --register   (Linux desktops) make \`peerd get\` the handler of peerd:// links: writes
               ~/.local/share/applications/peerd-link.desktop and runs xdg-mime when installed`,
  options: { name: { type: 'string' }, web: { type: 'boolean' }, plain: { type: 'boolean' }, register: { type: 'boolean' } },
  args: { min: 0, max: 1 },
  async run (ctx) {
    if (ctx.values.register === true) {
      if (ctx.positionals.length > 0) throw new UsageError('link --register takes no CID')
      const r = await registerUrlHandler({ command: [process.execPath, ...(process.argv[1] != null ? [process.argv[1]] : [])], dataDir: ctx.dataDir })
      if (ctx.json) printJson(r)
      else printLines(`wrote ${r.file}`)
      if (r.xdgMime === 'missing') process.stderr.write('peerd: xdg-mime is not installed (Debian: xdg-utils): the desktop entry is written; make it the peerd:// handler in your desktop\'s settings\n')
      else if (r.xdgMime === 'failed') process.stderr.write('peerd: xdg-mime could not make it the default for peerd:// links; choose it in your desktop\'s settings\n')
      return 0
    }
    if (ctx.positionals.length === 0) throw new UsageError('link needs a CID (see `peerd ls`), or --register')
    if (ctx.values.web === true && ctx.values.plain === true) throw new InvalidArgumentError('--web and --plain: choose one')
    const q = new URLSearchParams({ cid: ctx.positionals[0] as string, style: ctx.values.web === true ? 'web+peerd' : ctx.values.plain === true ? 'plain' : 'peerd' })
    const name = ctx.values.name as string | undefined
    if (name != null) q.set('name', name)
    const r = await new ApiClient(ctx.dataDir).get<{ cid: string, link: string, providers: string[], localOnly: boolean }>(`/api/v1/link?${q.toString()}`)
    if (ctx.json) printJson(r)
    else printLines(r.link)
    if (r.providers.length === 0) process.stderr.write('peerd: this node listens on no address: the link names no provider, so others must find one through the DHT\n')
    else if (r.localOnly) process.stderr.write('peerd: this node has only loopback or private addresses: the link works on this machine or its LAN only (a public address comes from listening on one, a UPnP router or a relay reservation)\n')
    return 0
  }
}

export const cat: Command = {
  name: 'cat',
  summary: 'stream a file to stdout (starts before the download completes)',
  usage: 'cat CID[/PATH] [--timeout S]',
  options: { timeout: { type: 'string' } },
  args: { min: 1, max: 1 },
  async run (ctx) {
    const { cid, path } = splitCidPath(ctx.positionals[0] as string)
    const q = new URLSearchParams({ cid })
    if (path != null && path !== '') q.set('path', path)
    const timeout = intOption(ctx.values, 'timeout', 1, 86_400)
    if (timeout != null) q.set('timeout', String(timeout))
    const res = await new ApiClient(ctx.dataDir).stream('GET', `/api/v1/cat?${q.toString()}`)
    try {
      await pipeline(Readable.fromWeb(res.body as WebReadableStream<Uint8Array>), process.stdout)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EPIPE') return 0
      throw new StreamBrokenError(`the stream broke: ${(err as Error).message}`, { cause: err })
    }
    return 0
  }
}

export const ls: Command = {
  name: 'ls',
  summary: 'list the content this node holds',
  usage: 'ls [--json]',
  options: {},
  args: { min: 0, max: 0 },
  async run (ctx) {
    const list = await new ApiClient(ctx.dataDir).get<Root[]>('/api/v1/ls')
    if (ctx.json) printJson(list.map(r => ({ cid: r.cid, name: r.name, size: r.size, type: r.type, complete: r.complete, source: r.source, addedAt: r.addedAt, ...(r.private === true ? { private: true } : {}), ...(r.onion != null ? { onion: r.onion } : {}), ...(r.selection != null ? { selection: r.selection } : {}) })))
    else if (list.length === 0) printLines('nothing shared or downloaded yet')
    else printLines(...table(['CID', 'SIZE', 'STATE', 'NAME'], list.map(r => [r.cid, formatBytes(r.size), (r.complete ? 'complete' : r.selection != null ? `partial (${r.selection.join('; ')})` : 'partial') + (r.private === true ? (r.source === 'share' ? ', private' : ', fetched privately') : ''), r.name])))
    return 0
  }
}

export const unshare: Command = {
  name: 'unshare',
  summary: 'stop holding and announcing content (run gc to free the space)',
  usage: 'unshare CID [--json]',
  options: {},
  args: { min: 1, max: 1 },
  async run (ctx) {
    const r = await new ApiClient(ctx.dataDir).post<Root>('/api/v1/unshare', { cid: ctx.positionals[0] })
    if (ctx.json) printJson({ cid: r.cid, unshared: true })
    else printLines(`unshared ${r.cid}; run \`peerd gc\` to free its space`)
    return 0
  }
}

export const gc: Command = {
  name: 'gc',
  summary: 'delete blocks that no held content uses',
  usage: 'gc [--json]',
  options: {},
  args: { min: 0, max: 0 },
  async run (ctx) {
    const r = await new ApiClient(ctx.dataDir).post<{ removedBlocks: number, freedBytes: number }>('/api/v1/gc')
    if (ctx.json) printJson(r)
    else printLines(`removed ${r.removedBlocks} blocks, freed ${formatBytes(r.freedBytes)}`)
    return 0
  }
}
