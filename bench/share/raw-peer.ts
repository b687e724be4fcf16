/**
 * One side of the raw-stream benchmark: a libp2p host with TCP, Noise and Yamux and nothing
 * else. By default it runs peerd's transport stack (Noise and Yamux as configured in
 * src/net/transport.ts, and its V8 heap setting); with `--stock`, js-libp2p as anyone runs it:
 * `noise()` and `yamux()` with their defaults and no heap setting.
 *
 * - `serve SIZE [--stock]` prints its address and, for each stream on /bench/raw, sends SIZE bytes;
 * - `fetch ADDR SIZE [--stock] [--out FILE]` reads them and prints the seconds taken; with
 *   `--out`, it also writes what it reads to FILE, as it comes, each piece at its offset with at
 *   most 16 MiB of writes in flight (as `peerd get` writes its output), and the clock stops when
 *   the last write is done and the file closed.
 */
import { open } from 'node:fs/promises'
import { parseArgs } from 'node:util'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { tcp } from '@libp2p/tcp'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'
import { peerdNoise, peerdYamux, tuneHeapForTransfers } from '../../src/net/transport.ts'

const PROTOCOL = '/bench/raw/1.0.0'
const { positionals, values } = parseArgs({ allowPositionals: true, options: { stock: { type: 'boolean', default: false }, out: { type: 'string' } } })
const [mode, arg1, arg2] = positionals
const stock = values.stock
if (!stock) tuneHeapForTransfers() // as a peerd daemon does
const node = await createLibp2p({
  addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
  transports: [tcp()],
  connectionEncrypters: [stock ? noise() : peerdNoise()],
  streamMuxers: [stock ? yamux() : peerdYamux()]
})

if (mode === 'serve') {
  const size = Number(arg1)
  const chunk = new Uint8Array(1024 * 1024).fill(7)
  await node.handle(PROTOCOL, async (stream) => {
    let sent = 0
    while (sent < size) {
      const n = Math.min(chunk.length, size - sent)
      if (!stream.send(n === chunk.length ? chunk : chunk.subarray(0, n))) await stream.onDrain()
      sent += n
    }
    await stream.close()
  })
  process.stdout.write(JSON.stringify({ address: node.getMultiaddrs()[0]?.toString(), stock }) + '\n')
  process.on('SIGTERM', () => { void (async () => { await node.stop(); process.exit(0) })() })
} else {
  const size = Number(arg2)
  const stream = await node.dialProtocol(multiaddr(arg1 as string), PROTOCOL)
  const t0 = performance.now()
  let got = 0
  const fh = values.out == null ? undefined : await open(values.out, 'w')
  const writing = new Set<Promise<unknown>>()
  let queued = 0
  for await (const buf of stream) {
    if (fh != null) {
      const data = buf.subarray() // a copy only when the piece spans several chunks
      const w = fh.write(data, 0, data.byteLength, got).then(({ bytesWritten }) => {
        if (bytesWritten !== data.byteLength) throw new Error('short write')
      }).finally(() => {
        queued -= data.byteLength
        writing.delete(w)
      })
      writing.add(w) // a failed write rejects the Promise.race or Promise.all below
      queued += data.byteLength
      if (queued > 16 * 1024 * 1024) await Promise.race(writing)
    }
    got += buf.byteLength
  }
  await Promise.all(writing)
  await fh?.close()
  const seconds = (performance.now() - t0) / 1000
  if (got !== size) throw new Error(`got ${got} of ${size} bytes`)
  process.stdout.write(JSON.stringify({ seconds, bytes: got, stock, out: values.out }) + '\n')
  await node.stop()
  process.exit(0)
}
