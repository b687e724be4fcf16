import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { sha256 } from '@noble/hashes/sha2.js'
import type { SigCheck } from '../../../../src/cash/consensus/coins.ts'
import { packSigChecks, SigPool, unpackSigChecks } from '../../../../src/cash/chain/sig-pool.ts'
import { signSchnorr, xOnlyPublicKey } from '../../../utils/schnorr.ts'

function makeChecks (n: number): SigCheck[] {
  const out: SigCheck[] = []
  for (let i = 0; i < n; i++) {
    const sk = sha256(new TextEncoder().encode(`sig-pool key ${i % 7}`))
    const msg = sha256(new TextEncoder().encode(`message ${i}`))
    out.push({ sig: signSchnorr(msg, sk, new Uint8Array(32)), msg, pubkey: xOnlyPublicKey(sk) })
  }
  return out
}

function corrupt (c: SigCheck): SigCheck {
  const sig = Uint8Array.from(c.sig)
  sig[10] = (sig[10] as number) ^ 1
  return { ...c, sig }
}

describe('SigPool', () => {
  let checks: SigCheck[]
  before(() => { checks = makeChecks(300) })

  it('packs and unpacks checks', () => {
    const back = unpackSigChecks(packSigChecks(checks, 5, 9), 4)
    assert.equal(back.length, 4)
    back.forEach((c, i) => {
      assert.deepEqual(Uint8Array.from(c.sig), checks[5 + i]?.sig)
      assert.deepEqual(Uint8Array.from(c.msg), checks[5 + i]?.msg)
      assert.deepEqual(Uint8Array.from(c.pubkey), checks[5 + i]?.pubkey)
    })
  })

  describe('with two workers', () => {
    const pool = new SigPool({ size: 2 })
    after(async () => { await pool.close() })

    it('accepts a batch of valid signatures on the workers (loaded from .ts sources)', async () => {
      assert.equal(await pool.verify(checks), -1)
      assert.equal(pool.degraded, false, 'the worker file failed to load')
      assert.equal(pool.running, 2)
    })

    it('reports the first invalid signature across batches', async () => {
      for (const bad of [0, 149, 150, 299]) {
        const copy = checks.slice()
        copy[bad] = corrupt(copy[bad] as SigCheck)
        assert.equal(await pool.verify(copy), bad)
      }
      const two = checks.slice()
      two[260] = corrupt(two[260] as SigCheck)
      two[40] = corrupt(two[40] as SigCheck)
      assert.equal(await pool.verify(two), 40)
    })

    it('treats malformed checks as invalid, after any earlier invalid one', async () => {
      const copy = checks.slice()
      copy[200] = { ...(copy[200] as SigCheck), sig: new Uint8Array(63) }
      assert.equal(await pool.verify(copy), 200)
      copy[100] = corrupt(copy[100] as SigCheck)
      assert.equal(await pool.verify(copy), 100)
    })

    it('verifies small batches inline', async () => {
      const small = checks.slice(0, 10)
      assert.equal(await pool.verify(small), -1)
      small[3] = corrupt(small[3] as SigCheck)
      assert.equal(await pool.verify(small), 3)
      assert.equal(await pool.verify([]), -1)
    })

    it('runs concurrent batches', async () => {
      const copy = checks.slice()
      copy[7] = corrupt(copy[7] as SigCheck)
      const results = await Promise.all([pool.verify(checks), pool.verify(copy), pool.verify(checks)])
      assert.deepEqual(results, [-1, 7, -1])
    })
  })

  it('terminates its workers on close and verifies inline afterwards', async () => {
    const pool = new SigPool({ size: 2 })
    assert.equal(await pool.verify(checks), -1)
    await pool.close()
    assert.equal(pool.running, 0)
    assert.equal(await pool.verify(checks), -1)
  })

  it('falls back to inline verification when a worker cannot start', async () => {
    const pool = new SigPool({ size: 2, workerUrl: new URL('./no-such-worker.ts', import.meta.url) })
    const copy = checks.slice()
    copy[123] = corrupt(copy[123] as SigCheck)
    assert.equal(await pool.verify(copy), 123)
    assert.equal(pool.degraded, true)
    assert.equal(pool.running, 0)
    assert.equal(await pool.verify(checks), -1)
    await pool.close()
  })

  it('size 0 verifies inline', async () => {
    const pool = new SigPool({ size: 0 })
    assert.equal(await pool.verify(checks), -1)
    assert.equal(pool.running, 0)
    await pool.close()
  })
})
