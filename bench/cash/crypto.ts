/**
 * (a) Schnorr verifications per second of the crypto libraries alone, on this one thread:
 * @noble/curves' `schnorr.verify` (the library of the tests' signer, test/utils/schnorr.ts) and, for
 * information, tiny-secp256k1's `verifySchnorr` (libsecp256k1 in WASM; what
 * `src/cash/consensus/verify.ts` and the chain's signature pool use). Both verify the same
 * valid signatures of distinct messages under 16 keys, round and round, for a fixed time.
 */
import { schnorr } from '@noble/curves/secp256k1.js'
import { signSchnorr, verifySchnorr } from 'tiny-secp256k1'
import { backgroundCores, cpuSnapshot } from '../share/cpu.ts'
import { BENCH_KEYS } from './blocks.ts'
import type { BenchKey } from './blocks.ts'

/** One library's rate. */
export interface VerifyRate {
  library: string
  verifications: number
  seconds: number
  perSecond: number
  background?: number
}

interface Check { sig: Uint8Array, msg: Uint8Array, pubkey: Uint8Array }

function checks (n: number): Check[] {
  return Array.from({ length: n }, (_, i) => {
    const key = BENCH_KEYS[i % BENCH_KEYS.length] as BenchKey
    const msg = new Uint8Array(32)
    new DataView(msg.buffer).setUint32(0, i)
    msg[31] = 0xbe
    return { sig: signSchnorr(msg, key.secret, new Uint8Array(32)), msg, pubkey: key.pubkey }
  })
}

/** Verifies round and round `set` for at least `seconds` (after a short warm-up), checking every answer. */
function rate (library: string, set: Check[], seconds: number, verify: (c: Check) => boolean): VerifyRate {
  for (let i = 0; i < 100; i++) if (!verify(set[i % set.length] as Check)) throw new Error(`${library} rejected a valid signature`)
  const cpu0 = cpuSnapshot([])
  const t0 = performance.now()
  const until = t0 + seconds * 1000
  let n = 0
  while (performance.now() < until) {
    // 50 at a time between clock reads
    for (let j = 0; j < 50; j++, n++) {
      if (!verify(set[n % set.length] as Check)) throw new Error(`${library} rejected a valid signature`)
    }
  }
  const elapsed = (performance.now() - t0) / 1000
  const r: VerifyRate = { library, verifications: n, seconds: elapsed, perSecond: n / elapsed }
  const bg = backgroundCores(cpu0, cpuSnapshot([]))
  if (bg !== undefined) r.background = bg
  return r
}

/** Measures both libraries for `seconds` each. */
export function measureVerify (seconds: number): { noble: VerifyRate, tiny: VerifyRate } {
  const set = checks(1000)
  const noble = rate('@noble/curves schnorr.verify', set, seconds, (c) => schnorr.verify(c.sig, c.msg, c.pubkey))
  const tiny = rate('tiny-secp256k1 verifySchnorr', set, seconds, (c) => verifySchnorr(c.msg, c.pubkey, c.sig))
  return { noble, tiny }
}
