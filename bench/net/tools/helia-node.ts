/**
 * An IPFS peer for the net bench: Helia 7 with Bitswap over TCP + Noise + Yamux on one host's
 * address, nothing else (no bootstrap, mDNS, routers, HTTP gateways, AutoNAT or relay), with
 * Helia's in-memory blockstore. Adapted from bench/share/helia-peer.ts to run in a namespace.
 *
 * Tuned as a user on slow, shared links would (everything else is Helia's default):
 * - libp2p's connection monitor does not abort a connection when a ping is late (as in peerd):
 *   a ping queued behind seconds of block data on a saturated 20 Mbit/s uplink times out, and
 *   the abort throws away every block in flight, which Bitswap never asks for again.
 * - Bitswap sends one 1 MiB block per message (`maxOutgoingMessageSize` 2 MiB, default 4 MiB:
 *   three blocks) and waits up to 120 s (default 10 s) for the next message on an incoming
 *   stream. In the flash crowd the seeder's 20 Mbit/s carries 8 TCP flows that share it very
 *   unevenly (tbf drops, one flow may get < 0.5 Mbit/s for 20 s); a 3 MiB message then misses
 *   10 s (and a 1 MiB one sometimes 30 s), the receiver resets the stream, and the blocks in it
 *   are lost for good: the sender marked them sent, the receiver never re-sends a want.
 *
 * - `serve FILE IP` imports FILE with the `unixfs-v1-2025` profile (peerd's, so the same CID),
 *   prints `{"cid","address"}` and serves until SIGTERM.
 * - `fetch IP` prints `{"address"}`, then reads JSON lines on stdin: `{"dial":[ADDR…]}` dials
 *   them all and prints `{"dialled":N}`; `{"cid","size"}` runs `unixfs.cat` to the end, counting
 *   bytes (printing `{"progress":BYTES}` every 2 s), prints `{"event":"done","seconds"}` and keeps
 *   serving what it holds until SIGTERM.
 */
import { createReadStream } from 'node:fs'
import { createInterface } from 'node:readline'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { withBitswap } from '@helia/bitswap'
import { withLibp2pLight } from '@helia/libp2p'
import { unixfs } from '@helia/unixfs'
import { identify } from '@libp2p/identify'
import { tcp } from '@libp2p/tcp'
import { multiaddr } from '@multiformats/multiaddr'
import { createHeliaLight } from 'helia'
import { CID } from 'multiformats/cid'

const [mode, arg1, arg2] = process.argv.slice(2)
const ip = mode === 'serve' ? arg2 : arg1
const print = (v: unknown): void => { process.stdout.write(JSON.stringify(v) + '\n') }

const helia = withBitswap(withLibp2pLight(createHeliaLight(), {
  addresses: { listen: [`/ip4/${ip ?? '127.0.0.1'}/tcp/0`] },
  transports: [tcp()],
  connectionEncrypters: [noise()],
  streamMuxers: [yamux()],
  peerDiscovery: [],
  connectionMonitor: { abortConnectionOnPingFailure: false }, // pings still run (RTT), see above
  services: { identify: identify() }
}), {
  maxOutgoingMessageSize: 2 * 1024 * 1024, // ≥ one 1 MiB block (+ framing), < two
  messageReceiveTimeout: 120_000
})
await helia.start()
const fs = unixfs(helia)
const address = helia.libp2p.getMultiaddrs()[0]?.toString()
process.on('SIGTERM', () => { void helia.stop().finally(() => { process.exit(0) }) })

if (mode === 'serve') {
  const cid = await fs.addByteStream(createReadStream(arg1 as string, { highWaterMark: 1024 * 1024 }), { profile: 'unixfs-v1-2025' })
  print({ cid: cid.toString(), address })
} else if (mode === 'fetch') {
  print({ address })
  for await (const line of createInterface({ input: process.stdin })) {
    const cmd = JSON.parse(line) as { dial?: string[], cid?: string, size?: number }
    if (cmd.dial != null) {
      await Promise.all(cmd.dial.map(async a => await helia.libp2p.dial(multiaddr(a))))
      print({ dialled: cmd.dial.length })
    } else if (cmd.cid != null) {
      const t0 = performance.now()
      let bytes = 0
      const ticker = setInterval(() => { print({ progress: bytes }) }, 2_000)
      for await (const buf of fs.cat(CID.parse(cmd.cid), { signal: AbortSignal.timeout(3_600_000) })) bytes += buf.byteLength
      clearInterval(ticker)
      const seconds = (performance.now() - t0) / 1000
      if (bytes !== cmd.size) throw new Error(`got ${bytes} of ${String(cmd.size)} bytes`)
      print({ event: 'done', seconds, bytes })
    }
  }
} else {
  process.stderr.write('usage: helia-node.ts serve FILE IP | fetch IP\n')
  process.exit(2)
}
