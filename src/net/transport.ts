/**
 * peerd's connection security and stream multiplexing (Noise and Yamux), and the V8 heap setting
 * a process moving bulk data over them benefits from. Shared by the host and by the raw-stream
 * benchmark (bench/share/raw-peer.ts), so the two always run the same stack.
 */
import { setFlagsFromString } from 'node:v8'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { noiseCrypto } from './noise-crypto.ts'
import { withFrameDecrypt } from './noise-frames.ts'

/**
 * Noise, with Node.js's ChaCha20-Poly1305 and a key object imported once per session key,
 * incoming frames decrypted chunk by chunk as they came off the socket, and each outgoing message
 * handed to the socket as one buffer (noise-frames.ts).
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
 * V8's heap growing factor while peerd runs: the next full collection comes when the heap (and,
 * with the flag below, Buffer memory) reaches 4 × what the last one left alive. V8 picks a
 * factor between 1.1 and 4 by itself (4 on machines with plenty of memory, when its collector
 * keeps up); under a bulk transfer it picks low ones.
 */
export const HEAP_GROWING_PERCENT = 300

/**
 * The growing percent to set: `value` ($PEERD_HEAP_GROWING) when it is a whole number from 0
 * (V8's own choice) to 1000, else {@link HEAP_GROWING_PERCENT}, with a warning when `value` is
 * set but unusable.
 */
export function heapGrowingPercent (value: string | undefined): number {
  if (value == null || value.trim() === '') return HEAP_GROWING_PERCENT
  const v = value.trim()
  if (/^\d{1,4}$/.test(v) && Number(v) <= 1000) return Number(v)
  process.emitWarning(`PEERD_HEAP_GROWING=${JSON.stringify(value)} is not a whole number from 0 to 1000: using ${HEAP_GROWING_PERCENT}`)
  return HEAP_GROWING_PERCENT
}

/**
 * Tunes V8's garbage collector for moving bulk data, process-wide (idempotent; V8 reads these
 * flags at each collection, so setting them at start-up, before any transfer, is enough). The
 * library never calls it: the daemon launcher does (src/daemon/launch.ts), and a program
 * embedding peerd may, as it changes the whole process.
 *
 * - `--external-memory-accounted-in-global-limit` (V8 13, Node.js 24 only: older V8s do not
 *   know it and newer ones behave this way without it; crbug.com/361124432): Buffer memory
 *   (outside the JavaScript heap) is weighed against a limit that grows with the heap, not
 *   against the old generation's.
 * - `--heap-growing-percent` = {@link HEAP_GROWING_PERCENT}, or `$PEERD_HEAP_GROWING` (0: V8's
 *   own choice; see {@link heapGrowingPercent}), unless the process was started with its own
 *   `--heap-growing-percent`.
 *
 * Why: every Noise frame and every block moved is a new short-lived buffer, and under V8's
 * defaults those buffers trigger many full mark-compacts of the whole heap per GiB moved; with
 * both flags there are a few, which makes a transfer faster without raising its peak memory
 * (`npm run bench:share` shows the time, `npm run bench:share:memory` the peak RSS).
 */
export function tuneHeapForTransfers (): void {
  if (heapTuned) return
  heapTuned = true
  const growing = heapGrowingPercent(process.env.PEERD_HEAP_GROWING)
  // a program started with its own setting keeps it
  const own = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)].some(a => /^--heap[-_]growing[-_]percent\b/.test(a))
  if (growing > 0 && !own) setFlagsFromString(`--heap-growing-percent=${growing}`)
  if (Number(process.versions.v8.split('.')[0]) !== 13) return
  setFlagsFromString('--external-memory-accounted-in-global-limit')
}
