/**
 * One side of the Helia benchmark: a Helia node that reaches nothing but loopback (TCP on
 * 127.0.0.1, Noise, Yamux, identify and Bitswap; no bootstrap, mDNS, routers, HTTP gateways,
 * AutoNAT or relay), with Helia's default in-memory blockstore, or with `--fs-blockstore DIR`
 * an `FsBlockstore` (blockstore-fs) in DIR, as a node that keeps what it fetches runs it.
 *
 * - `serve FILE` imports FILE with the `unixfs-v1-2025` profile (peerd's, so the same CID) and
 *   prints `{"cid","address","importSeconds","blockstore"}`, then serves it until SIGTERM.
 * - `fetch ADDR CID SIZE` dials ADDR and times `unixfs.cat(CID)` to the end, counting bytes;
 *   prints `{"seconds","bytes","blockstore"}`, and with `--fs-blockstore` also
 *   `"storedBlocks","storedBytes"`: what is in DIR afterwards (counted after the clock stops).
 */
import { createReadStream } from 'node:fs'
import { readdir, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { withBitswap } from '@helia/bitswap'
import { withLibp2pLight } from '@helia/libp2p'
import { unixfs } from '@helia/unixfs'
import { identify } from '@libp2p/identify'
import { tcp } from '@libp2p/tcp'
import { multiaddr } from '@multiformats/multiaddr'
import { FsBlockstore } from 'blockstore-fs'
import { createHeliaLight } from 'helia'
import { CID } from 'multiformats/cid'

/** The blocks FsBlockstore holds in `dir` (its files end in `.data`) and their total size. */
async function storedBlocks (dir: string): Promise<{ storedBlocks: number, storedBytes: number }> {
  let storedBlocks = 0
  let storedBytes = 0
  for (const e of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!e.isFile() || !e.name.endsWith('.data')) continue
    storedBlocks++
    storedBytes += (await stat(join(e.parentPath, e.name))).size
  }
  return { storedBlocks, storedBytes }
}

const { positionals, values } = parseArgs({ allowPositionals: true, options: { 'fs-blockstore': { type: 'string' } } })
const [mode, arg1, arg2, arg3] = positionals
const fsDir = values['fs-blockstore']
const blockstore = fsDir == null ? undefined : new FsBlockstore(fsDir)
await blockstore?.open()
const blockstoreName = blockstore == null ? 'memory' : 'fs'

const helia = withBitswap(withLibp2pLight(createHeliaLight(blockstore == null ? {} : { blockstore }), {
  addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
  transports: [tcp()],
  connectionEncrypters: [noise()],
  streamMuxers: [yamux()],
  peerDiscovery: [],
  services: { identify: identify() }
}))
await helia.start()
const fs = unixfs(helia)

if (mode === 'serve') {
  const t0 = performance.now()
  const cid = await fs.addByteStream(createReadStream(arg1 as string, { highWaterMark: 1024 * 1024 }), { profile: 'unixfs-v1-2025' })
  const importSeconds = (performance.now() - t0) / 1000
  const address = helia.libp2p.getMultiaddrs()[0]?.toString()
  process.stdout.write(JSON.stringify({ cid: cid.toString(), address, importSeconds, blockstore: blockstoreName }) + '\n')
  process.on('SIGTERM', () => { void helia.stop().then(async () => { await blockstore?.close() }).finally(() => { process.exit(0) }) })
} else if (mode === 'fetch') {
  const size = Number(arg3)
  await helia.libp2p.dial(multiaddr(arg1 as string))
  const t0 = performance.now()
  let bytes = 0
  for await (const buf of fs.cat(CID.parse(arg2 as string), { signal: AbortSignal.timeout(3_600_000) })) bytes += buf.byteLength
  const seconds = (performance.now() - t0) / 1000
  if (bytes !== size) throw new Error(`got ${bytes} of ${size} bytes`)
  await helia.stop()
  await blockstore?.close()
  const stored = fsDir == null ? {} : await storedBlocks(fsDir)
  process.stdout.write(JSON.stringify({ seconds, bytes, blockstore: blockstoreName, ...stored }) + '\n')
  process.exit(0)
} else {
  process.stderr.write('usage: helia-peer.ts serve FILE | fetch ADDR CID SIZE [--fs-blockstore DIR]\n')
  process.exit(2)
}
