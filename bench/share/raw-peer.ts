/**
 * One side of the raw-stream benchmark: a libp2p host with peerd's transport stack (TCP,
 * Noise, Yamux) and nothing else. `serve` prints its address and, for each stream on
 * /bench/raw, sends SIZE bytes; `fetch ADDR SIZE` reads them and prints the seconds taken.
 */
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { tcp } from '@libp2p/tcp'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'

const PROTOCOL = '/bench/raw/1.0.0'
const [mode, arg1, arg2] = process.argv.slice(2)
const node = await createLibp2p({
  addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
  transports: [tcp()],
  connectionEncrypters: [noise()],
  streamMuxers: [yamux()]
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
  process.stdout.write(JSON.stringify({ address: node.getMultiaddrs()[0]?.toString() }) + '\n')
  process.on('SIGTERM', () => { void (async () => { await node.stop(); process.exit(0) })() })
} else {
  const size = Number(arg2)
  const stream = await node.dialProtocol(multiaddr(arg1 as string), PROTOCOL)
  const t0 = performance.now()
  let got = 0
  for await (const buf of stream) got += buf.byteLength
  const seconds = (performance.now() - t0) / 1000
  if (got !== size) throw new Error(`got ${got} of ${size} bytes`)
  process.stdout.write(JSON.stringify({ seconds, bytes: got }) + '\n')
  await node.stop()
  process.exit(0)
}
