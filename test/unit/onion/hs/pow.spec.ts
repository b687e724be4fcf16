/**
 * The onion-service client puzzle (`src/onion/hs/pow.ts`): a solved nonce verifies and nothing
 * else does (other seed, key, effort or nonce), a replay is refused, the expected work grows
 * linearly with the effort, a solve keeps the event loop running and can be aborted, and seeds
 * rotate with their replay memory.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { describe, it } from 'node:test'
import {
  POW_MAX_EFFORT, POW_NONCE_LEN, POW_SEED_HEAD_LEN, PowSeeds, powHash, solvePow, verifyPow
} from '../../../../src/onion/hs/pow.ts'

const servicePub = randomBytes(32)

function flip (b: Uint8Array, i = 0): Uint8Array {
  const c = Uint8Array.from(b)
  c[i] = (c[i] as number) ^ 1
  return c
}

describe('onion service proof of work', () => {
  it('a solved nonce verifies; another seed, key, effort or nonce does not', async () => {
    const seed = randomBytes(32)
    const effort = 20_000
    const sol = await solvePow({ seed, servicePub, effort })
    assert.equal(sol.nonce.length, POW_NONCE_LEN)
    assert.equal(sol.effort, effort)
    assert.deepEqual(sol.seedHead, seed.subarray(0, POW_SEED_HEAD_LEN))
    assert.ok(powHash(seed, servicePub, sol.nonce, effort) * effort <= POW_MAX_EFFORT)
    assert.equal(verifyPow({ seed, servicePub, nonce: sol.nonce, effort }), true)
    // each of these passes by chance with probability 1/20000
    assert.equal(verifyPow({ seed: flip(seed), servicePub, nonce: sol.nonce, effort }), false)
    assert.equal(verifyPow({ seed, servicePub: flip(servicePub, 31), nonce: sol.nonce, effort }), false)
    assert.equal(verifyPow({ seed, servicePub, nonce: flip(sol.nonce, 15), effort }), false)
    assert.equal(verifyPow({ seed, servicePub, nonce: sol.nonce, effort: effort * 2 }), false)
    // effort is hashed in: a nonce for E claimed at a lower effort does not verify either
    assert.equal(verifyPow({ seed, servicePub, nonce: sol.nonce, effort: effort - 1 }), false)
  })

  it('refuses malformed claims without throwing', () => {
    const seed = randomBytes(32)
    const nonce = randomBytes(16)
    assert.equal(verifyPow({ seed, servicePub, nonce, effort: 0 }), false)
    assert.equal(verifyPow({ seed, servicePub, nonce, effort: -1 }), false)
    assert.equal(verifyPow({ seed, servicePub, nonce, effort: 1.5 }), false)
    assert.equal(verifyPow({ seed, servicePub, nonce, effort: POW_MAX_EFFORT + 1 }), false)
    assert.equal(verifyPow({ seed: seed.subarray(1), servicePub, nonce, effort: 1 }), false)
    assert.equal(verifyPow({ seed, servicePub: servicePub.subarray(1), nonce, effort: 1 }), false)
    assert.equal(verifyPow({ seed, servicePub, nonce: nonce.subarray(1), effort: 1 }), false)
    // effort 1 is R ≤ 2^32 − 1: any well-formed nonce proves it
    assert.equal(verifyPow({ seed, servicePub, nonce, effort: 1 }), true)
  })

  it('solvePow refuses bad arguments', async () => {
    const seed = randomBytes(32)
    await assert.rejects(solvePow({ seed, servicePub, effort: 0 }), RangeError)
    await assert.rejects(solvePow({ seed: seed.subarray(2), servicePub, effort: 1 }), RangeError)
    await assert.rejects(solvePow({ seed, servicePub: servicePub.subarray(2), effort: 1 }), RangeError)
  })

  it('effort E takes about E times the hashes and time of effort 1', async () => {
    const seed = randomBytes(32)
    const effort1 = await solvePow({ seed, servicePub, effort: 1 })
    assert.equal(effort1.attempts, 1)
    const run = async (effort: number, n: number): Promise<{ attempts: number, ms: number }> => {
      let attempts = 0
      // CPU time, not wall time: other processes share the machine's cores
      const t0 = process.cpuUsage()
      for (let i = 0; i < n; i++) attempts += (await solvePow({ seed, servicePub, effort })).attempts
      const t = process.cpuUsage(t0)
      return { attempts: attempts / n, ms: (t.user + t.system) / 1000 / n }
    }
    // the mean of n geometric draws has a relative deviation of 1/√n: bounds of ±50 % at n = 60
    const n = 60
    const low = await run(1000, n)
    const high = await run(8000, n)
    assert.ok(low.attempts > 500 && low.attempts < 1500, `mean hashes at effort 1000: ${low.attempts}`)
    assert.ok(high.attempts > 4000 && high.attempts < 12000, `mean hashes at effort 8000: ${high.attempts}`)
    // expected 8; the bounds allow for the sampling spread of both means and a noisy clock
    const ratio = high.ms / low.ms
    assert.ok(ratio > 3 && ratio < 24, `time at effort 8000 / effort 1000 = ${ratio.toFixed(2)} (${high.ms.toFixed(2)} / ${low.ms.toFixed(2)} ms)`)
  })

  it('keeps the event loop running while solving, reports progress, and aborts', async () => {
    const seed = randomBytes(32)
    let ticks = 0
    const timer = setInterval(() => { ticks++ }, 2)
    const ac = new AbortController()
    let progress = 0
    const solving = solvePow({ seed, servicePub, effort: POW_MAX_EFFORT, signal: ac.signal, onProgress: (a) => { progress = a } })
    await new Promise((resolve) => setTimeout(resolve, 150))
    ac.abort(new Error('enough'))
    await assert.rejects(solving, /enough/)
    clearInterval(timer)
    assert.ok(ticks >= 5, `a 2 ms timer fired ${ticks} times in 150 ms of solving`)
    assert.ok(progress > 1000, `progress reported ${progress} hashes`)
  })

  it('PowSeeds accepts a proof once, names seeds by their head, and refuses replays', async () => {
    const seeds = new PowSeeds()
    const sol = await solvePow({ seed: seeds.current, servicePub, effort: 500 })
    assert.equal(seeds.verify(servicePub, sol), 'ok')
    assert.equal(seeds.verify(servicePub, sol), 'replay')
    assert.equal(seeds.remembered, 1)
    assert.equal(seeds.verify(servicePub, { ...sol, effort: 0 }), 'no-proof')
    assert.equal(seeds.verify(servicePub, { ...sol, seedHead: flip(sol.seedHead) }), 'unknown-seed')
    assert.equal(seeds.verify(servicePub, { ...sol, seedHead: sol.seedHead.subarray(1) }), 'unknown-seed')
    assert.equal(seeds.verify(servicePub, { ...sol, nonce: sol.nonce.subarray(1) }), 'bad-proof')
    const { nonce: other } = await solvePow({ seed: seeds.current, servicePub, effort: 3000 })
    // the effort is hashed in: the same nonce claimed at 3001 passes only by a 1-in-3001 chance
    assert.equal(seeds.verify(servicePub, { nonce: other, effort: 3001, seedHead: sol.seedHead }), 'bad-proof')
    assert.equal(seeds.verify(flip(servicePub), { nonce: other, effort: 3000, seedHead: sol.seedHead }), 'bad-proof')
    // a refused proof is not remembered: the real one still goes through
    assert.equal(seeds.verify(servicePub, { nonce: other, effort: 3000, seedHead: sol.seedHead }), 'ok')
  })

  it('rotation keeps the previous seed valid for one more period and its replays refused', async () => {
    let now = 1_000_000
    let rotations = 0
    const seeds = new PowSeeds({ now: () => now, rotateMinMs: 60_000, rotateMaxMs: 60_000, onRotate: () => { rotations++ } })
    assert.equal(seeds.previous, undefined)
    assert.equal(seeds.expiresAt, now + 60_000)
    const first = seeds.current
    const sol = await solvePow({ seed: first, servicePub, effort: 100 })
    assert.equal(seeds.verify(servicePub, sol), 'ok')
    assert.equal(seeds.maybeRotate(), false)
    now += 60_000
    assert.equal(seeds.maybeRotate(), true)
    assert.equal(rotations, 1)
    assert.deepEqual(seeds.previous, first)
    assert.notDeepEqual(seeds.current.subarray(0, 4), first.subarray(0, 4))
    assert.equal(seeds.verify(servicePub, sol), 'replay')
    const late = await solvePow({ seed: first, servicePub, effort: 100 })
    assert.equal(seeds.verify(servicePub, late), 'ok')
    seeds.rotate()
    assert.equal(seeds.verify(servicePub, late), 'unknown-seed')
    assert.equal(seeds.remembered, 0)
  })

  it('rotates on its own timer once started', async () => {
    let rotations = 0
    const seeds = new PowSeeds({ rotateMinMs: 20, rotateMaxMs: 30, onRotate: () => { rotations++ } })
    seeds.start()
    await new Promise((resolve) => setTimeout(resolve, 150))
    seeds.stop()
    const seen = rotations
    assert.ok(seen >= 2 && seen <= 8, `${seen} rotations in 150 ms with a 20–30 ms lifetime`)
    await new Promise((resolve) => setTimeout(resolve, 60))
    assert.equal(rotations, seen)
  })

  it('a full replay memory forgets its lowest effort only for a higher one, and refuses the rest', async () => {
    const seeds = new PowSeeds({ maxRemembered: 3 })
    const seed = seeds.current
    const at = async (effort: number) => await solvePow({ seed, servicePub, effort })
    const s10 = await at(10)
    const s20 = await at(20)
    const s30 = await at(30)
    for (const s of [s10, s20, s30]) assert.equal(seeds.verify(servicePub, s), 'ok')
    assert.equal(seeds.verify(servicePub, await at(10)), 'replay-cache-full')
    assert.equal(seeds.verify(servicePub, await at(5)), 'replay-cache-full')
    assert.equal(seeds.verify(servicePub, await at(40)), 'ok') // forgets s10
    assert.equal(seeds.remembered, 3)
    assert.equal(seeds.verify(servicePub, s20), 'replay')
    assert.equal(seeds.verify(servicePub, s30), 'replay')
    // s10 was forgotten, but to reuse it a proof of more than 10 had to be paid for
    assert.equal(seeds.verify(servicePub, s10), 'replay-cache-full')
  })
})
