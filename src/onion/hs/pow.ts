/**
 * The client puzzle an onion service asks for when its introductions are flooded (issue 17,
 * point 4). Tor's proposal 327 is the model: the service publishes a random seed in its
 * descriptor, a client picks an effort E and finds a nonce N with R × E ≤ 2^32 − 1, and the
 * service serves introductions highest effort first. Tor's R comes from an Equi-X solution;
 * peerd's v1 puzzle (hs-design.md, "Proof of work") takes R straight from one hash:
 *
 *     R = u32 BE of blake2b-512("peerd-hs-pow-v1" | seed | A | N | INT_32(E))[:4]
 *
 * so a client needs E hashes on average and the service one to check (bench/onion/pow.ts
 * measures both). Effort 0 means "no proof" (Tor's INTRODUCE without a PoW extension).
 *
 *     const seeds = new PowSeeds({ onRotate: republish })
 *     const sol = await solvePow({ seed: seeds.current, servicePub: A, effort: 5000 })
 *     seeds.verify(A, sol)   // 'ok'; a second time: 'replay'
 * @module
 */
import { hash, randomBytes } from 'node:crypto'

/** Personalisation string at the head of every puzzle hash (Tor: "Tor hs intro v1\0"). */
export const POW_PERSONALIZATION = 'peerd-hs-pow-v1'
/** Bytes of a puzzle nonce (Tor's HS_POW_NONCE_LEN). */
export const POW_NONCE_LEN = 16
/** Bytes of a seed (Tor's HS_POW_SEED_LEN). */
export const POW_SEED_LEN = 32
/** Bytes of the seed head an INTRODUCE names its seed by (Tor's HS_POW_SEED_HEAD_LEN). */
export const POW_SEED_HEAD_LEN = 4
/** Bytes of the service key the puzzle is bound to. */
export const POW_SERVICE_KEY_LEN = 32
/** Largest effort: efforts are u32 on the wire. */
export const POW_MAX_EFFORT = 0xffffffff
/** A seed lives a random time in this range (Tor's HS_SERVICE_POW_SEED_ROTATE_TIME_MIN/MAX: 105–120 min). */
export const POW_SEED_ROTATE_MS = { min: (7200 - 900) * 1000, max: 7200 * 1000 } as const
/** Default solved nonces remembered per seed (replay refusal; see {@link PowSeeds}). */
export const POW_MAX_REMEMBERED = 65536

const PREFIX = new TextEncoder().encode(POW_PERSONALIZATION)
const SEED_OFF = PREFIX.length
const KEY_OFF = SEED_OFF + POW_SEED_LEN
const NONCE_OFF = KEY_OFF + POW_SERVICE_KEY_LEN
const EFFORT_OFF = NONCE_OFF + POW_NONCE_LEN
const INPUT_LEN = EFFORT_OFF + 4

/** What {@link solvePow} is given. */
export interface SolvePowInit {
  /** The 32-byte seed from the service's descriptor. */
  seed: Uint8Array
  /** The service's 32-byte identity public key A (the key its address encodes). */
  servicePub: Uint8Array
  /** Effort to prove: an integer in 1 … 2^32 − 1 (expected hashes: `effort`). */
  effort: number
  /** Aborting rejects the solve with the signal's reason. */
  signal?: AbortSignal
  /** Called between slices with the hashes tried so far. */
  onProgress?: (attempts: number) => void
  /** Milliseconds of hashing between yields to the event loop (default 5). */
  sliceMs?: number
}

/** A solved puzzle: what an INTRODUCE carries (nonce, effort, seed head). */
export interface PowSolution {
  nonce: Uint8Array
  effort: number
  /** First {@link POW_SEED_HEAD_LEN} bytes of the seed it was solved for. */
  seedHead: Uint8Array
  /** Hashes it took (the work done: about `effort` on average). */
  attempts: number
}

/** What {@link verifyPow} checks. */
export interface PowClaim {
  seed: Uint8Array
  servicePub: Uint8Array
  nonce: Uint8Array
  effort: number
}

function isEffort (effort: number): boolean {
  return Number.isInteger(effort) && effort >= 1 && effort <= POW_MAX_EFFORT
}

function puzzleInput (seed: Uint8Array, servicePub: Uint8Array, nonce: Uint8Array, effort: number): Buffer {
  const input = Buffer.alloc(INPUT_LEN)
  input.set(PREFIX, 0)
  input.set(seed, SEED_OFF)
  input.set(servicePub, KEY_OFF)
  input.set(nonce, NONCE_OFF)
  input.writeUInt32BE(effort, EFFORT_OFF)
  return input
}

// R × E ≤ 2^32 − 1 ⟺ R ≤ ⌊(2^32 − 1) / E⌋ for integer R, and the quotient is exact in a double
function limitFor (effort: number): number {
  return Math.floor(POW_MAX_EFFORT / effort)
}

function r (input: Buffer): number {
  return hash('blake2b512', input, 'buffer').readUInt32BE(0)
}

/** R for one (seed, key, nonce, effort): the u32 the effort is checked against. */
export function powHash (seed: Uint8Array, servicePub: Uint8Array, nonce: Uint8Array, effort: number): number {
  return r(puzzleInput(seed, servicePub, nonce, effort))
}

/**
 * True when `nonce` proves `effort` for this seed and service key. Hostile input is normal:
 * wrong sizes, effort 0 (no proof) or a non-u32 effort give false, never a throw.
 */
export function verifyPow (claim: PowClaim): boolean {
  const { seed, servicePub, nonce, effort } = claim
  if (seed.length !== POW_SEED_LEN || servicePub.length !== POW_SERVICE_KEY_LEN || nonce.length !== POW_NONCE_LEN) return false
  if (!isEffort(effort)) return false
  return r(puzzleInput(seed, servicePub, nonce, effort)) <= limitFor(effort)
}

// Tor's increment_and_set_nonce: the nonce is a little-endian counter from a random start
function increment (input: Buffer): void {
  for (let i = NONCE_OFF; i < EFFORT_OFF; i++) {
    const v = ((input[i] as number) + 1) & 0xff
    input[i] = v
    if (v !== 0) return
  }
}

const tick = async (): Promise<void> => { await new Promise<void>((resolve) => { setImmediate(resolve) }) }

/**
 * Finds a nonce proving `effort` (Tor's hs_pow_solve with blake2b in place of Equi-X). Hashes in
 * slices of `sliceMs` and yields between them, so a node solving stays responsive; rejects with
 * the signal's reason once it is aborted.
 */
export async function solvePow (init: SolvePowInit): Promise<PowSolution> {
  const { seed, servicePub, effort, signal, onProgress } = init
  if (seed.length !== POW_SEED_LEN) throw new RangeError(`a pow seed is ${POW_SEED_LEN} bytes, got ${seed.length}`)
  if (servicePub.length !== POW_SERVICE_KEY_LEN) throw new RangeError(`a service key is ${POW_SERVICE_KEY_LEN} bytes, got ${servicePub.length}`)
  if (!isEffort(effort)) throw new RangeError(`a pow effort is an integer in 1…${POW_MAX_EFFORT}, got ${effort}`)
  const sliceMs = init.sliceMs ?? 5
  const input = puzzleInput(seed, servicePub, randomBytes(POW_NONCE_LEN), effort)
  const limit = limitFor(effort)
  let attempts = 0
  for (;;) {
    signal?.throwIfAborted()
    const until = performance.now() + sliceMs
    do {
      // the clock is read once per 256 hashes: reading it costs about as much as a hash
      for (let i = 0; i < 256; i++) {
        attempts++
        if (r(input) <= limit) {
          return { nonce: Uint8Array.from(input.subarray(NONCE_OFF, EFFORT_OFF)), effort, seedHead: seed.slice(0, POW_SEED_HEAD_LEN), attempts }
        }
        increment(input)
      }
    } while (performance.now() < until)
    onProgress?.(attempts)
    await tick()
  }
}

/** What an INTRODUCE's proof is checked as by {@link PowSeeds.verify}. */
export interface PowProof {
  nonce: Uint8Array
  effort: number
  seedHead: Uint8Array
}

/**
 * Outcome of {@link PowSeeds.verify}: `ok`, or why not. `no-proof` is effort 0 (the caller
 * queues it at priority 0); `replay-cache-full` is a valid proof the service cannot remember
 * without forgetting one of higher effort, refused so that it cannot be replayed.
 */
export type PowVerdict = 'ok' | 'no-proof' | 'unknown-seed' | 'replay' | 'bad-proof' | 'replay-cache-full'

/** Options of {@link PowSeeds}. */
export interface PowSeedsOptions {
  /** Shortest life of a seed (default {@link POW_SEED_ROTATE_MS}.min). */
  rotateMinMs?: number
  /** Longest life of a seed (default {@link POW_SEED_ROTATE_MS}.max). */
  rotateMaxMs?: number
  /** Solved nonces remembered per seed (default {@link POW_MAX_REMEMBERED}). */
  maxRemembered?: number
  /** Clock in ms since the epoch (default `Date.now`; tests pass a fake one). */
  now?: () => number
  /** Called after every rotation: the service republishes its descriptor with the new seed. */
  onRotate?: (seeds: PowSeeds) => void
}

interface Remembered { effort: number, key: string }

/**
 * Solved nonces of one seed, bounded. When full, the lowest-effort nonce is forgotten for one of
 * strictly higher effort, and a proof of no more than the lowest is refused: so replaying a
 * forgotten nonce never pays, since forgetting it cost the attacker a harder proof.
 */
class SeedMemory {
  readonly seed: Uint8Array
  readonly seen = new Set<string>()
  private readonly max: number
  private readonly heap: Remembered[] = [] // min-heap by effort

  constructor (seed: Uint8Array, max: number) {
    this.seed = seed
    this.max = max
  }

  has (key: string): boolean { return this.seen.has(key) }

  add (key: string, effort: number): boolean {
    if (this.seen.size >= this.max) {
      if (this.at(0).effort >= effort) return false
      this.seen.delete(this.popMin().key)
    }
    this.seen.add(key)
    this.heap.push({ effort, key })
    for (let i = this.heap.length - 1; i > 0;) {
      const p = (i - 1) >> 1
      if (this.at(p).effort <= this.at(i).effort) break
      this.swap(p, i)
      i = p
    }
    return true
  }

  private at (i: number): Remembered { return this.heap[i] as Remembered }

  private swap (i: number, j: number): void {
    const t = this.at(i)
    this.heap[i] = this.at(j)
    this.heap[j] = t
  }

  private popMin (): Remembered {
    const h = this.heap
    const top = this.at(0)
    const last = h.pop() as Remembered
    if (h.length === 0) return top
    h[0] = last
    for (let i = 0; ;) {
      const a = 2 * i + 1
      let m = i
      if (a < h.length && this.at(a).effort < this.at(m).effort) m = a
      if (a + 1 < h.length && this.at(a + 1).effort < this.at(m).effort) m = a + 1
      if (m === i) return top
      this.swap(m, i)
      i = m
    }
  }
}

const nonceKey = (nonce: Uint8Array): string => Buffer.from(nonce.buffer, nonce.byteOffset, nonce.byteLength).toString('latin1')
const sameHead = (seed: Uint8Array, head: Uint8Array): boolean => head.length === POW_SEED_HEAD_LEN && Buffer.compare(seed.subarray(0, POW_SEED_HEAD_LEN), head) === 0

/**
 * A service's puzzle seeds: the current one (in its descriptor) and the previous one (clients
 * may still hold the old descriptor), as Tor's hs_pow_service_state_t keeps them. Rotated when
 * the current one expires (by {@link start}'s timer, {@link maybeRotate} or {@link rotate});
 * the previous seed's replay memory goes with it, as in Tor's rotate_pow_seeds.
 */
export class PowSeeds {
  private cur: SeedMemory
  private prev: SeedMemory | undefined
  private expiry = 0
  private timer: ReturnType<typeof setTimeout> | undefined
  private readonly minMs: number
  private readonly maxMs: number
  private readonly max: number
  private readonly now: () => number
  private readonly onRotate: ((seeds: PowSeeds) => void) | undefined

  constructor (options: PowSeedsOptions = {}) {
    this.minMs = options.rotateMinMs ?? POW_SEED_ROTATE_MS.min
    this.maxMs = options.rotateMaxMs ?? POW_SEED_ROTATE_MS.max
    this.max = options.maxRemembered ?? POW_MAX_REMEMBERED
    this.now = options.now ?? Date.now
    this.onRotate = options.onRotate
    if (!(this.minMs > 0 && this.maxMs >= this.minMs)) throw new RangeError(`seed lifetime ${this.minMs}…${this.maxMs} ms`)
    if (!Number.isSafeInteger(this.max) || this.max < 1) throw new RangeError(`maxRemembered must be a positive integer, got ${this.max}`)
    this.cur = this.fresh()
  }

  /** The seed clients should solve for now (the descriptor's). */
  get current (): Uint8Array { return this.cur.seed }
  /** The seed before it, still accepted; none before the first rotation. */
  get previous (): Uint8Array | undefined { return this.prev?.seed }
  /** When the current seed is due to rotate, in ms since the epoch (the descriptor's expiresAt). */
  get expiresAt (): number { return this.expiry }

  /** Nonces remembered under the current and previous seeds. */
  get remembered (): number { return this.cur.seen.size + (this.prev?.seen.size ?? 0) }

  private fresh (): SeedMemory {
    let seed: Uint8Array
    // the new seed's head must differ from the one it replaces: heads name seeds on the wire
    do {
      seed = randomBytes(POW_SEED_LEN)
    } while (this.cur != null && sameHead(this.cur.seed, seed.subarray(0, POW_SEED_HEAD_LEN)))
    this.expiry = this.now() + this.minMs + Math.floor(Math.random() * (this.maxMs - this.minMs + 1))
    return new SeedMemory(new Uint8Array(seed), this.max)
  }

  /** Makes a new current seed now; the current one becomes the previous, the previous is forgotten. */
  rotate (): void {
    this.prev = this.cur
    this.cur = this.fresh()
    if (this.timer != null) this.schedule()
    this.onRotate?.(this)
  }

  /** Rotates if the current seed has expired; true if it did. */
  maybeRotate (): boolean {
    if (this.now() < this.expiry) return false
    this.rotate()
    return true
  }

  /** Rotates on a timer (unref'd: it never keeps a process alive) until {@link stop}. */
  start (): void {
    if (this.timer == null) this.schedule()
  }

  stop (): void {
    clearTimeout(this.timer)
    this.timer = undefined
  }

  private schedule (): void {
    clearTimeout(this.timer)
    const delay = Math.min(Math.max(0, this.expiry - this.now()) + 1, 2 ** 31 - 1)
    this.timer = setTimeout(() => { if (!this.maybeRotate()) this.schedule() }, delay)
    this.timer.unref?.()
  }

  /**
   * Checks an INTRODUCE's proof for `servicePub` (Tor's hs_pow_verify): the seed named by its
   * head, not seen before under that seed, and valid; an accepted nonce is remembered.
   */
  verify (servicePub: Uint8Array, proof: PowProof): PowVerdict {
    if (proof.effort === 0) return 'no-proof'
    const mem = [this.cur, this.prev].find((m) => m != null && sameHead(m.seed, proof.seedHead))
    if (mem == null) return 'unknown-seed'
    if (proof.nonce.length !== POW_NONCE_LEN) return 'bad-proof'
    const key = nonceKey(proof.nonce)
    if (mem.has(key)) return 'replay'
    if (!verifyPow({ seed: mem.seed, servicePub, nonce: proof.nonce, effort: proof.effort })) return 'bad-proof'
    return mem.add(key, proof.effort) ? 'ok' : 'replay-cache-full'
  }
}
