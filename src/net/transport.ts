/**
 * peerd's connection security and stream multiplexing (Noise and Yamux), and the V8 heap setting
 * a process moving bulk data over them needs. Shared by the host and by the raw-stream benchmark
 * (bench/share/raw-peer.ts), so the two always run the same stack.
 */
import { setFlagsFromString } from 'node:v8'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { noiseCrypto } from './noise-crypto.ts'
import { withFrameDecrypt } from './noise-frames.ts'

/**
 * Noise, with Node.js's ChaCha20-Poly1305 and a key object imported once per session key, and
 * incoming frames decrypted chunk by chunk as they came off the socket (noise-frames.ts).
 */
export function peerdNoise (): ReturnType<typeof noise> {
  const factory = noise({ crypto: noiseCrypto })
  return components => withFrameDecrypt(factory(components))
}

/** Yamux with its defaults. */
export function peerdYamux (): ReturnType<typeof yamux> {
  return yamux()
}

let heapTuned = false

/**
 * Makes V8 weigh Buffer memory (outside the JavaScript heap) against a limit that grows with
 * the heap, instead of against the old generation's limit (V8's
 * `--external-memory-accounted-in-global-limit`, which later V8 releases use by default; see
 * crbug.com/361124432).
 *
 * Why: every 64 KiB Noise frame is encrypted or decrypted into a new buffer, and the block
 * exchange reads and writes 1 MiB blocks, so one GiB moved allocates 2–3 GiB of short-lived
 * buffers per process. By default V8 answers with a full mark-compact every 15–20 MB of them
 * (70–80 per GiB in a peerd daemon), each marking the daemon's whole heap on its worker
 * threads: measured on a 1 GiB `peerd get` over loopback, 2–3 CPU-seconds per daemon per GiB,
 * about as much as the daemon's main thread. With the flag, 25–30 mark-compacts per GiB and
 * 1–1.5 CPU-seconds; the download's peak RSS did not grow (bench:share:memory).
 *
 * Process-wide and idempotent; V8 reads the flag at each collection, so setting it at start-up,
 * before any transfer, is enough. Only on V8 13 (Node.js 24), which has the flag: older V8s do
 * not know it (and would print an error), and newer ones are reported to behave this way
 * without it.
 */
export function tuneHeapForTransfers (): void {
  if (heapTuned) return
  heapTuned = true
  if (Number(process.versions.v8.split('.')[0]) !== 13) return
  setFlagsFromString('--external-memory-accounted-in-global-limit')
}
