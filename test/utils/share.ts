/**
 * Helpers for the file-sharing tests: random files and their digests, comparing folder trees,
 * a teardown stack, the CLI run with raw-byte output and signals, and the daemon's API.
 */
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { createHash, randomBytes, randomFillSync } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { mkdir, open, readdir, readFile } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import type { Libp2p, Stream, StreamHandler } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'
import * as lp from 'it-length-prefixed'
import type { PeerdNode } from '../../src/node/node.ts'
import { BITSWAP_120, decodeMessage, encodeMessage } from '../../src/share/bitswap/index.ts'
import type { DecodedMessage, WantlistEntry } from '../../src/share/bitswap/index.ts'
import type { SessionProgress } from '../../src/share/session.ts'
import { decodeMessage as decodeBlockMessage, readFrames } from '../../src/share/protocol.ts'
import type { Message as BlockMessage } from '../../src/share/protocol.ts'
import { PEERD_BIN, rawPeer, waitFor } from './index.ts'
import type { DaemonProcess } from './index.ts'
import type { Teardown } from './teardown.ts'

export const MiB = 1024 * 1024

/** Writes `size` random bytes to `path` (in 1 MiB pieces) and returns their SHA-256 (hex). */
export async function writeRandomFile (path: string, size: number): Promise<string> {
  await mkdir(dirname(path), { recursive: true })
  const hash = createHash('sha256')
  const fh = await open(path, 'w')
  try {
    const buf = Buffer.alloc(Math.min(MiB, Math.max(size, 1)))
    for (let done = 0; done < size;) {
      const n = Math.min(buf.length, size - done)
      const piece = buf.subarray(0, n)
      randomFillSync(piece)
      hash.update(piece)
      await fh.write(piece, 0, n)
      done += n
    }
  } finally {
    await fh.close()
  }
  return hash.digest('hex')
}

/** SHA-256 (hex) of a file, streamed. */
export async function sha256File (path: string): Promise<string> {
  const hash = createHash('sha256')
  for await (const chunk of createReadStream(path, { highWaterMark: MiB })) hash.update(chunk as Buffer)
  return hash.digest('hex')
}

/** SHA-256 (hex) of bytes. */
export function sha256Hex (bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex')
}

/**
 * Every entry under `root`, by relative path: `dir` for a folder, else the file's SHA-256.
 * Two folders hold the same tree when their digests are deep-equal.
 */
export async function treeDigest (root: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {}
  const walk = async (dir: string, rel: string): Promise<void> => {
    for (const e of await readdir(dir, { withFileTypes: true })) {
      const r = rel === '' ? e.name : `${rel}/${e.name}`
      if (e.isDirectory()) {
        out[r] = 'dir'
        await walk(join(dir, e.name), r)
      } else {
        out[r] = await sha256File(join(dir, e.name))
      }
    }
  }
  await walk(root, '')
  return out
}

/** A valid CID (raw, sha2-256) of random bytes: content no node has. */
export async function unknownCid (): Promise<string> {
  return CID.createV1(raw.code, await sha256.digest(randomBytes(32))).toString()
}

/** Deterministic pseudo-random bytes (xorshift32 from a seed other than 0): a failure can be replayed, and chunks of it differ. */
export function prng (seed: number): (n: number) => Uint8Array {
  let s = seed >>> 0
  return (n: number) => {
    const out = new Uint8Array(n)
    for (let i = 0; i < n; i++) {
      s ^= s << 13; s >>>= 0
      s ^= s >>> 17
      s ^= s << 5; s >>>= 0
      out[i] = s & 0xff
    }
    return out
  }
}

/** A bare peer speaking Bitswap 1.2.0 to `node` on one long-lived stream, as Kubo does: `send` wants, read `received`. */
export async function bitswapClient (td: Teardown, node: PeerdNode): Promise<{ peer: Libp2p, send: (entries: WantlistEntry[]) => void, received: DecodedMessage[] }> {
  const peer = td.node(await rawPeer())
  const received: DecodedMessage[] = []
  await peer.handle(BITSWAP_120, (stream) => {
    void (async () => {
      for await (const frame of lp.decode(stream)) received.push(decodeMessage(frame.subarray()))
    })().catch(() => {})
  })
  await peer.dial(multiaddr(node.addresses()[0] as string))
  const stream = await peer.dialProtocol(node.libp2p.peerId, BITSWAP_120)
  const send = (entries: WantlistEntry[]): void => {
    stream.send(lp.encode.single(encodeMessage({ wantlist: { entries, full: false }, blocks: [], blockPresences: [], pendingBytes: 0 })))
  }
  return { peer, send, received }
}

/** `node` with its block protocol handler replaced by `handler`: a scripted or hostile provider. */
export async function withBlockHandler (node: PeerdNode, handler: StreamHandler): Promise<PeerdNode> {
  await node.libp2p.unhandle(node.share.protocol)
  await node.libp2p.handle(node.share.protocol, handler)
  return node
}

export { exists } from './cli.ts'

/** A CLI run that keeps stdout as bytes. */
export interface CliBytesResult { code: number | null, signal: NodeJS.Signals | null, stdout: Buffer, stderr: string, ms: number }

/** A `peerd` process started by {@link spawnCli}. */
export interface CliProcess { child: ChildProcess, result: Promise<CliBytesResult> }

/** Starts `peerd ARGS` without waiting; `result` settles when it exits (SIGKILL after `timeoutMs`). */
export function spawnCli (args: string[], options: { cwd?: string, timeoutMs?: number } = {}): CliProcess {
  const started = Date.now()
  const child = spawn(process.execPath, [PEERD_BIN, ...args], { cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'] })
  const out: Buffer[] = []
  let stderr = ''
  child.stdout?.on('data', (d: Buffer) => { out.push(d) })
  child.stderr?.on('data', (d: Buffer) => { stderr += d.toString() })
  const timer = setTimeout(() => { child.kill('SIGKILL') }, options.timeoutMs ?? 60_000)
  const result = new Promise<CliBytesResult>(resolve => {
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      resolve({ code, signal, stdout: Buffer.concat(out), stderr, ms: Date.now() - started })
    })
  })
  return { child, result }
}

/** Runs `peerd ARGS` to the end, stdout kept as bytes. */
export async function runCliBytes (args: string[], options: { cwd?: string, timeoutMs?: number } = {}): Promise<CliBytesResult> {
  return await spawnCli(args, options).result
}

/** A TCP (non-WebSocket) address of a daemon, for `--bootstrap`. */
export function tcpAddress (d: DaemonProcess): string {
  const addr = d.addresses.find(x => x.includes('/tcp/') && !x.includes('/ws'))
  if (addr == null) throw new Error(`no TCP address in ${JSON.stringify(d.addresses)}`)
  return addr
}

/** GET `path` of a daemon's API with its cookie. */
export async function apiGet<T> (daemon: DaemonProcess, path: string): Promise<T> {
  const cookie = (await readFile(join(daemon.dataDir, 'cookie'), 'utf8')).trim()
  const res = await fetch(daemon.api + path, { headers: { authorization: `Bearer ${cookie}` }, signal: AbortSignal.timeout(5_000) })
  if (!res.ok) throw new Error(`GET ${path}: HTTP ${res.status} ${await res.text()}`)
  return await res.json() as T
}

/** A download as `GET /api/v1/transfers` lists it. */
export interface TransferJson { cid: string, startedAt: string, progress: SessionProgress }

/** The progress of `cid`'s download on a daemon, if one runs. */
export async function daemonProgress (daemon: DaemonProcess, cid: string): Promise<SessionProgress | undefined> {
  return (await apiGet<TransferJson[]>(daemon, '/api/v1/transfers')).find(t => t.cid === cid)?.progress
}

/** Fraction of a download done, counting only once the whole DAG's size (`size` bytes of data) is known. */
export function fractionDone (p: SessionProgress | undefined, size: number): number {
  if (p == null || p.total < size) return 0
  return p.bytes / p.total
}

/** A raw block-protocol stream from `from` to `to`, with every message it receives so far. */
export async function openBlockStream (from: PeerdNode, to: PeerdNode): Promise<{ stream: Stream, got: BlockMessage[] }> {
  const stream = await from.libp2p.dialProtocol(to.libp2p.peerId, to.share.protocol)
  const got: BlockMessage[] = []
  void (async () => {
    try {
      for await (const body of readFrames(stream)) got.push(decodeBlockMessage(body))
    } catch {
      // closed by the test
    }
  })()
  return { stream, got }
}

/** Waits until `node` knows that `peer` speaks the block protocol (identify has run). */
export async function waitForBlockProtocol (node: PeerdNode, peer: PeerdNode): Promise<void> {
  await waitFor(async () => (await node.libp2p.peerStore.get(peer.libp2p.peerId)).protocols.includes(node.share.protocol), {
    what: `${node.peerId.slice(-6)} to see that ${peer.peerId.slice(-6)} speaks ${node.share.protocol}`
  })
}

/** Waits until `node`'s DHT lookup of `cid` returns a provider record of `provider`. */
export async function waitForProviderRecord (node: PeerdNode, cid: string, provider: PeerdNode): Promise<void> {
  const key = CID.parse(cid)
  await waitFor(async () => {
    for await (const ev of node.libp2p.services.dht.findProviders(key, { signal: AbortSignal.timeout(2_000) })) {
      if (ev.name === 'PROVIDER' && ev.providers.some(p => p.id.equals(provider.libp2p.peerId))) return true
    }
    return false
  }, { timeoutMs: 20_000, intervalMs: 250, what: `a DHT provider record of ${provider.peerId.slice(-6)} for ${cid}` })
}

/** The temporary name a download to `target` is built under (see src/share/output.ts). */
export function partPath (target: string, cid: string): string {
  return join(dirname(target), `.${basename(target)}.${cid.slice(-12)}.peerd-part`)
}
